/* The benchmark's tables and its regression check. */
#include "fanout/report.h"
#include "fanout/settings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double fo_bench_floor_ms(const fo_bench_row *r) {
    return FO_FLOOR_MS((double)r->ms);
}

int fo_bench_capacity(const fo_bench_row *r) {
    if (!r->size_caps) return r->users;
    return r->size < r->users ? r->size : r->users;
}

double fo_bench_bound_rps(const fo_bench_row *r) {
    double floor_s = fo_bench_floor_ms(r) / 1000.0;
    return floor_s > 0 ? fo_bench_capacity(r) / floor_s : 0;
}

double fo_model_mem_kib(double pss_kib, double kernel_kib) {
    if (pss_kib < 0) return -1;
    return pss_kib + (kernel_kib > 0 ? kernel_kib : 0);
}

double fo_bench_mem_kib(const fo_bench_row *r) {
    return fo_model_mem_kib(r->pss_kib, r->kernel_kib);
}

double fo_bench_rps_ratio(const fo_bench_row *r) {
    double b = fo_bench_bound_rps(r);
    return b > 0 ? r->load.max_rps / b : 0;
}

double fo_bench_p95_ratio(const fo_bench_row *r) {
    double f = fo_bench_floor_ms(r);
    return f > 0 ? r->load.p95_ms / f : 0;
}

double fo_bench_failure_ratio(const fo_bench_row *r) {
    uint64_t all = r->load.requests + r->load.failures;
    return all ? (double)r->load.failures / (double)all : 0;
}

double fo_cpu_ms_per_page(double cpu_s, uint64_t pages) {
    return pages && cpu_s > 0 ? 1000.0 * cpu_s / (double)pages : 0;
}

double fo_bench_cpu_ms_per_page(const fo_bench_row *r) {
    return fo_cpu_ms_per_page(r->cpu_s,
                              r->cpu_pages ? r->cpu_pages : r->load.requests + r->load.failures);
}

double fo_bench_cores_left(const fo_bench_row *r) {
    if (r->wall_s <= 0 || r->cpus <= 0) return 0;
    double others = (r->api_cpu_s > 0 ? r->api_cpu_s : 0) + (r->load_cpu_s > 0 ? r->load_cpu_s : 0);
    double left = r->cpus - others / r->wall_s;
    return left > 0 ? left : 0;
}

double fo_bench_cpu_bound_rps(const fo_bench_row *r) {
    double per_page_s = fo_bench_cpu_ms_per_page(r) / 1000.0;
    return per_page_s > 0 ? fo_bench_cores_left(r) / per_page_s : 0;
}

double fo_bench_cores_busy(const fo_bench_row *r) {
    return r->wall_s > 0 ? r->cpu_s / r->wall_s : 0;
}

double fo_bench_lower_bound_rps(const fo_bench_row *r) {
    double little = fo_bench_bound_rps(r), cpu = fo_bench_cpu_bound_rps(r);
    if (cpu <= 0) return little;
    if (little <= 0) return cpu;
    return cpu < little ? cpu : little;
}

double fo_bench_lower_ratio(const fo_bench_row *r) {
    double b = fo_bench_lower_bound_rps(r);
    return b > 0 ? r->load.max_rps / b : 0;
}

const char *fo_bench_limit(const fo_bench_row *r) {
    double lower = fo_bench_lower_bound_rps(r), cpu = fo_bench_cpu_bound_rps(r);
    if (lower <= 0 || r->load.max_rps < FO_BENCH_EXPLAINED * lower) return "other";
    return cpu > 0 && cpu <= fo_bench_bound_rps(r) ? "cpu" : "concurrency";
}

const char *fo_bench_limit_text(const fo_bench_row *r, char *buf, size_t len) {
    const char *limit = fo_bench_limit(r);
    if (strcmp(limit, "cpu") == 0)
        snprintf(buf, len, "CPU: %.1f ms a page", fo_bench_cpu_ms_per_page(r));
    else if (strcmp(limit, "concurrency") == 0)
        snprintf(buf, len, "concurrency: %d %s", fo_bench_capacity(r),
                 fo_bench_capacity(r) < r->users ? "at once (its size)" : "users");
    else
        snprintf(buf, len, "other: %.2f cores busy", fo_bench_cores_busy(r));
    return buf;
}

/* A growing string for the tables. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        if (b->oom) return;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
}

static char *sb_take(sbuf *b) {
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

/* KiB as MiB with one decimal, or "n/a" when not measured (< 0). */
static const char *mib_or_na(double kib, char *buf, size_t len) {
    if (kib < 0)
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, "%.1f", kib / 1024);
    return buf;
}

/* A rate, or "n/a" when not measured (0). */
static const char *rps_or_na(double rps, char *buf, size_t len) {
    if (rps <= 0)
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, "%.1f", rps);
    return buf;
}

char *fo_bench_table_md(const fo_bench_row *rows, size_t n) {
    sbuf b = {0};
    sb_printf(&b, "| Configuration | Min (ms) | 95%%-ile (ms) | Average (ms) | Max RPS | Bound RPS "
                  "| RPS / bound | CPU bound RPS | RPS / lower bound | Limit | p95 / floor "
                  "| Failures | In flight at end | Memory (MiB, PSS + kernel) "
                  "| RSS sum (MiB, as top) | CPU (s) | CPU / page (ms) | Cores busy |\n"
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|-"
                  "--:|---:|\n");
    int targets = 0;
    for (size_t i = 0; i < n; i++) {
        const fo_bench_row *r = &rows[i];
        char mem[32], rss[32], cpub[32], limit[64];
        sb_printf(&b,
                  "| %s | %.0f | %.0f | %.2f | %.1f | %.1f | %.2f | %s | %.2f | %s | %.2f | %llu | "
                  "%llu | %s | %s | %.2f | %.3f | %.2f |\n",
                  r->config, r->load.min_ms, r->load.p95_ms, r->load.mean_ms, r->load.max_rps,
                  fo_bench_bound_rps(r), fo_bench_rps_ratio(r),
                  rps_or_na(fo_bench_cpu_bound_rps(r), cpub, sizeof cpub), fo_bench_lower_ratio(r),
                  fo_bench_limit_text(r, limit, sizeof limit), fo_bench_p95_ratio(r),
                  (unsigned long long)r->load.failures,
                  (unsigned long long)r->load.in_flight_at_end,
                  mib_or_na(fo_bench_mem_kib(r), mem, sizeof mem),
                  mib_or_na(r->rss_sum_kib, rss, sizeof rss), r->cpu_s, fo_bench_cpu_ms_per_page(r),
                  fo_bench_cores_busy(r));
        targets += r->version[0] != '\0';
    }
    if (targets) {
        sb_printf(&b, "\nThe targets' own stacks:\n\n");
        for (size_t i = 0; i < n; i++)
            if (rows[i].version[0])
                sb_printf(&b, "- %s: %s; %s\n", rows[i].config, rows[i].row[0] ? rows[i].row : "-",
                          rows[i].version);
    }
    return sb_take(&b);
}

/* The blog's table, from shared/seed/django-sync-or-async.md (Apple M2; 100 users, spawn rate
 * 10, 30 s, pages at 300/600/150 ms). */
static const struct {
    const char *config, *closest;
    double min_ms, p95_ms, mean_ms, max_rps;
} blog[] = {
    {"uWSGI, 1 process, 2 threads", "threads:2", 783, 22000, 12107.87, 3},
    {"uWSGI, 1 process, 100 threads", "threads:100", 613, 950, 782.45, 131},
    {"uWSGI, 1 process, gevent", "coro:1", 614, 1100, 857.1, 110},
    {"Gunicorn, 1 process, 100 threads", "threads:100", 612, 1000, 716.69, 140},
    {"Gunicorn, 1 process, gevent", "coro:1", 619, 1400, 1038.78, 91},
    {"Uvicorn, 1 process, async", "uv:1", 616, 1000, 853.56, 115},
};

/* The row of rows whose `row` is blog_row followed by suffix; NULL when none ran. */
static const fo_bench_row *find_target(const fo_bench_row *rows, size_t n, const char *blog_row,
                                       const char *suffix) {
    size_t len = strlen(blog_row);
    for (size_t i = 0; i < n; i++)
        if (strncmp(rows[i].row, blog_row, len) == 0 && strcmp(rows[i].row + len, suffix) == 0)
            return &rows[i];
    return NULL;
}

/* The row of rows whose config is config; NULL when none ran. */
static const fo_bench_row *find_config(const fo_bench_row *rows, size_t n, const char *config) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].config, config) == 0) return &rows[i];
    return NULL;
}

/* "Max RPS (RPS / lower bound, limit)" of a measured row, or "-". */
static void measured_cell(sbuf *b, const fo_bench_row *r) {
    char limit[64];
    if (!r) {
        sb_printf(b, " - |");
        return;
    }
    sb_printf(b, " %.1f (%.2f; %s) |", r->load.max_rps, fo_bench_lower_ratio(r),
              fo_bench_limit_text(r, limit, sizeof limit));
}

char *fo_bench_blog_md(const fo_bench_row *rows, size_t n) {
    sbuf b = {0};
    sb_printf(&b, "| Configuration (the blog: Apple M2, Python) | closest here | Min (ms) | "
                  "95%%-ile (ms) | Average (ms) | Max RPS | RPS / bound | here: the stack, Max RPS "
                  "(RPS / lower bound; limit) | here: one client per process | here: the closest "
                  "model |\n"
                  "|---|---|---:|---:|---:|---:|---:|---|---|---|\n");
    for (size_t i = 0; i < sizeof blog / sizeof blog[0]; i++) {
        /* The blog's bound: 100 users, or 2 threads, over the 600 ms floor. */
        double bound = strcmp(blog[i].closest, "threads:2") == 0 ? 2 / 0.6 : 100 / 0.6;
        sb_printf(&b, "| %s | %s | %.0f | %.0f | %.2f | %.0f | %.2f |", blog[i].config,
                  blog[i].closest, blog[i].min_ms, blog[i].p95_ms, blog[i].mean_ms, blog[i].max_rps,
                  blog[i].max_rps / bound);
        measured_cell(&b, find_target(rows, n, blog[i].config, ""));
        measured_cell(&b, find_target(rows, n, blog[i].config, FO_BENCH_REUSE_ROW));
        measured_cell(&b, find_config(rows, n, blog[i].closest));
        sb_printf(&b, "\n");
    }
    return sb_take(&b);
}

json_t *fo_bench_baseline(const fo_bench_row *rows, size_t n) {
    json_t *configs = json_object();
    for (size_t i = 0; i < n; i++) {
        const fo_bench_row *r = &rows[i];
        json_object_set_new(configs, r->config,
                            json_pack("{s:f, s:f, s:f}", "rps_ratio", fo_bench_rps_ratio(r),
                                      "p95_ratio", fo_bench_p95_ratio(r), "failure_ratio",
                                      fo_bench_failure_ratio(r)));
    }
    int users = n ? rows[0].users : 0, ms = n ? rows[0].ms : 0;
    return json_pack("{s:i, s:i, s:o}", "users", users, "ms", ms, "configs", configs);
}

static void msg_add(char *msg, size_t msglen, const char *fmt, ...) {
    size_t used = strlen(msg);
    if (used + 1 >= msglen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + used, msglen - used, fmt, ap);
    va_end(ap);
}

int fo_bench_compare(const fo_bench_row *rows, size_t n, const json_t *baseline, double tolerance,
                     char *msg, size_t msglen) {
    int regressions = 0;
    if (msglen) msg[0] = '\0';
    json_t *configs = json_object_get(baseline, "configs");
    if (!json_is_object(configs)) {
        msg_add(msg, msglen, "the baseline has no \"configs\" object\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        const fo_bench_row *r = &rows[i];
        json_t *base = json_object_get(configs, r->config);
        if (!json_is_object(base)) {
            msg_add(msg, msglen,
                    "%s: MISSING from the baseline: run only the baseline's configurations, or "
                    "write a new baseline on purpose\n",
                    r->config);
            regressions++;
            continue;
        }
        double b_rps = json_number_value(json_object_get(base, "rps_ratio"));
        double b_p95 = json_number_value(json_object_get(base, "p95_ratio"));
        double b_fail = json_number_value(json_object_get(base, "failure_ratio"));
        double rps = fo_bench_rps_ratio(r), p95 = fo_bench_p95_ratio(r);
        double fail = fo_bench_failure_ratio(r);
        int bad = 0;
        if (rps < b_rps * (1 - tolerance)) {
            msg_add(msg, msglen,
                    "%s: RPS / bound %.3f is below the baseline's %.3f by more than %.0f%%\n",
                    r->config, rps, b_rps, 100 * tolerance);
            bad = 1;
        }
        if (p95 > b_p95 * (1 + tolerance)) {
            msg_add(msg, msglen,
                    "%s: p95 / floor %.3f is above the baseline's %.3f by more than %.0f%%\n",
                    r->config, p95, b_p95, 100 * tolerance);
            bad = 1;
        }
        if (fail > b_fail + 0.01) {
            msg_add(msg, msglen,
                    "%s: failure ratio %.4f is above the baseline's %.4f by more than 1 point\n",
                    r->config, fail, b_fail);
            bad = 1;
        }
        if (!bad)
            msg_add(msg, msglen, "%s: ok (RPS / bound %.3f vs %.3f, p95 / floor %.3f vs %.3f)\n",
                    r->config, rps, b_rps, p95, b_p95);
        regressions += bad;
    }
    const char *key;
    json_t *v;
    json_object_foreach(configs, key, v) {
        int found = 0;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(rows[i].config, key) == 0;
        if (found) continue;
        msg_add(msg, msglen,
                "%s: MISSING from the run: the baseline has it, this run did not measure it\n",
                key);
        regressions++;
    }
    return regressions;
}
