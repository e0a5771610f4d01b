#include "fanout/scale.h"

#include "fanout/report.h"
#include "fanout/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double fo_scale_floor_ms(const fo_scale_step *s) {
    return FO_FLOOR_MS((double)s->ms);
}

double fo_scale_bound_rps(const fo_scale_step *s) {
    return s->ms > 0 ? s->users / (fo_scale_floor_ms(s) / 1000.0) : 0;
}

double fo_scale_rps_ratio(const fo_scale_step *s) {
    double b = fo_scale_bound_rps(s);
    return b > 0 ? s->load.max_rps / b : 0;
}

double fo_scale_p95_ratio(const fo_scale_step *s) {
    return s->ms > 0 ? s->load.p95_ms / fo_scale_floor_ms(s) : 0;
}

double fo_scale_failure_ratio(const fo_scale_step *s) {
    uint64_t pages = s->load.requests + s->load.failures;
    return pages ? (double)s->load.failures / (double)pages : 0;
}

double fo_scale_cpu_ms_per_page(const fo_scale_step *s) {
    return fo_cpu_ms_per_page(s->cpu_s, s->load.requests + s->load.failures);
}

double fo_scale_mem_kib(const fo_scale_step *s) {
    return fo_model_mem_kib(s->pss_kib, s->kernel_kib);
}

double fo_scale_mem_per_user_kib(const fo_scale_step *s) {
    double m = fo_scale_mem_kib(s);
    return m >= 0 && s->users > 0 ? m / s->users : -1;
}

double fo_scale_project_mem_kib(const fo_scale_step *prev, int users) {
    double per_user = fo_scale_mem_per_user_kib(prev);
    if (per_user < 0 && prev->rss_sum_kib > 0 && prev->users > 0)
        per_user = prev->rss_sum_kib / prev->users;
    return per_user < 0 ? -1 : per_user * users * FO_SCALE_MEM_MARGIN;
}

int fo_scale_guard(const fo_scale_step *prev, int users, char *reason, size_t len) {
    double projected = fo_scale_project_mem_kib(prev, users);
    double limit = prev->mem_kib * FO_SCALE_MAX_MEM_SHARE;
    if (projected < 0 || limit <= 0 || projected <= limit) {
        if (len) reason[0] = '\0';
        return 0;
    }
    int pss = fo_scale_mem_kib(prev) >= 0;
    snprintf(reason, len,
             "memory: %d users would take about %.1f GiB (%s %.0f KiB a user at %d users, "
             "x %.1f), more than %.0f%% of the RAM (%.1f GiB)",
             users, projected / 1048576, pss ? "PSS + kernel" : "the RSS sum",
             pss ? fo_scale_mem_per_user_kib(prev) : prev->rss_sum_kib / prev->users, prev->users,
             FO_SCALE_MEM_MARGIN, 100 * FO_SCALE_MAX_MEM_SHARE, limit / 1048576);
    return 1;
}

static double busy(double cpu_s, double wall_s, int units) {
    return wall_s > 0 && units > 0 ? cpu_s / wall_s / units : 0;
}

double fo_scale_api_busy(const fo_scale_step *s) {
    return busy(s->api_cpu_s, s->wall_s, s->api_workers);
}

double fo_scale_load_busy(const fo_scale_step *s) {
    return busy(s->load_cpu_s, s->wall_s, s->load_threads);
}

static void set_cause(fo_scale_step *s, const char *cause) {
    snprintf(s->cause, sizeof s->cause, "%s", cause);
}

int fo_scale_judge(fo_scale_step *s) {
    if (s->status != FO_STEP_RAN) return 0;
    int broke = fo_scale_failure_ratio(s) > FO_SCALE_MAX_FAILURE_RATIO ||
                fo_scale_p95_ratio(s) > FO_SCALE_MAX_P95_RATIO || s->load.requests == 0;
    if (!broke) {
        s->cause[0] = '\0';
        return 0;
    }
    long procs = s->peak_procs > 0 ? s->peak_procs : 1;
    /* The CPU is full when the server, the API and the load used 90% of the cores, or the
     * machine was that busy: what the kernel does for thousands of processes (its page
     * scanner walking 3,000 address spaces took 15% at prefork:3000) is in no process's
     * count, and the cores are as full. */
    double all_busy = busy(s->cpu_s + s->api_cpu_s + s->load_cpu_s, s->wall_s, s->cores);
    if (s->machine_busy > all_busy) all_busy = s->machine_busy;
    /* The model's costs before the machine's settings: a model that ran out of memory or CPU
     * while near the open-files limit would not have held with a higher limit. */
    if (s->mem_kib > 0 && fo_scale_mem_kib(s) >= s->mem_kib * FO_SCALE_MAX_MEM_SHARE)
        set_cause(s, "memory");
    else if (fo_scale_api_busy(s) >= 0.9 || fo_scale_load_busy(s) >= 0.9)
        set_cause(s, "harness");
    else if (all_busy >= 0.9)
        set_cause(s, "CPU");
    else if (s->peak_fds >= 0 && s->fd_limit > 0 &&
             s->peak_fds >= 0.9 * (double)s->fd_limit * procs)
        set_cause(s, "descriptors");
    else
        set_cause(s, "queueing");
    return 1;
}

static const char *status_word(const fo_scale_step *s) {
    switch (s->status) {
    case FO_STEP_RAN:
        return s->cause[0] ? "broke" : "held";
    case FO_STEP_REFUSED:
        return "refused";
    case FO_STEP_SKIPPED:
        return "skipped";
    case FO_STEP_NOT_RUN:
        return "not run";
    }
    return "?";
}

/* A figure in KiB over unit (1024: MiB), one decimal, or "n/a" when not measured (< 0). */
static const char *fig(double kib, double unit, char *buf, size_t len) {
    if (kib < 0)
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, "%.1f", kib / unit);
    return buf;
}

void fo_scale_line(const fo_scale_step *s, char *out, size_t len) {
    if (s->status != FO_STEP_RAN) {
        snprintf(out, len, "%s %d: %s (%s): %s", s->model, s->users, status_word(s),
                 s->cause[0] ? s->cause : "-", s->reason);
        return;
    }
    char mem[24], rss[24];
    snprintf(out, len,
             "%s %d: RPS / bound %.2f, p95 / floor %.2f, failures %.2f%%, memory %s MiB (PSS + "
             "kernel; RSS sum %s), CPU %.2f ms/page; API %.0f%%, load %.0f%% of a core: %s%s%s",
             s->model, s->users, fo_scale_rps_ratio(s), fo_scale_p95_ratio(s),
             100 * fo_scale_failure_ratio(s), fig(fo_scale_mem_kib(s), 1024, mem, sizeof mem),
             fig(s->rss_sum_kib, 1024, rss, sizeof rss), fo_scale_cpu_ms_per_page(s),
             100 * fo_scale_api_busy(s), 100 * fo_scale_load_busy(s), status_word(s),
             s->cause[0] ? ": " : "", s->cause);
}

/* Builds a string with printf calls into an open_memstream. */
typedef struct out {
    FILE *f;
    char *buf;
    size_t len;
} out;

static int out_open(out *o) {
    o->buf = NULL;
    o->len = 0;
    o->f = open_memstream(&o->buf, &o->len);
    return o->f ? 0 : -1;
}

static char *out_take(out *o) {
    if (fclose(o->f) != 0) {
        free(o->buf);
        return NULL;
    }
    return o->buf;
}

/* The distinct users of the ladder, in order of first appearance, and the distinct models. */
static size_t distinct_users(const fo_scale_step *steps, size_t n, int *users, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < k && users[j] != steps[i].users)
            j++;
        if (j == k && k < cap) users[k++] = steps[i].users;
    }
    /* Ascending: the ladder rises. */
    for (size_t a = 1; a < k; a++)
        for (size_t b = a; b > 0 && users[b - 1] > users[b]; b--) {
            int t = users[b];
            users[b] = users[b - 1];
            users[b - 1] = t;
        }
    return k;
}

/* A break's cause as the matrix says it: the descriptor limit is named as this machine's. */
static void print_cause(FILE *f, const fo_scale_step *s) {
    if (strcmp(s->cause, "descriptors") != 0)
        fputs(s->cause[0] ? s->cause : "-", f);
    else if (s->fd_limit > 0)
        fprintf(f, "descriptors: this machine's open-files hard limit %ld", s->fd_limit);
    else
        fputs("descriptors: this machine's open-files limit", f);
}

char *fo_scale_matrix_md(const fo_scale_step *steps, size_t n) {
    int users[32];
    size_t nu = distinct_users(steps, n, users, 32);
    out o;
    if (out_open(&o) != 0) return NULL;
    fprintf(o.f, "| model |");
    for (size_t u = 0; u < nu; u++)
        fprintf(o.f, " %d users |", users[u]);
    fprintf(o.f, " breaks at |\n|---|");
    for (size_t u = 0; u < nu; u++)
        fprintf(o.f, "---:|");
    fprintf(o.f, "---|\n");
    for (size_t i = 0; i < n;) {
        size_t end = i;
        while (end < n && strcmp(steps[end].model, steps[i].model) == 0)
            end++;
        fprintf(o.f, "| %s |", steps[i].model);
        const fo_scale_step *brk = NULL;
        for (size_t u = 0; u < nu; u++) {
            const fo_scale_step *s = NULL;
            for (size_t j = i; j < end; j++)
                if (steps[j].users == users[u]) s = &steps[j];
            if (!s)
                fprintf(o.f, " |");
            else if (s->status == FO_STEP_RAN)
                fprintf(o.f, " %.2f · %.2f%s |", fo_scale_rps_ratio(s), fo_scale_p95_ratio(s),
                        s->cause[0] ? " ✗" : "");
            else
                fprintf(o.f, " %s |", status_word(s));
            if (s && !brk &&
                (s->cause[0] || s->status == FO_STEP_REFUSED || s->status == FO_STEP_SKIPPED))
                brk = s;
        }
        if (brk) {
            fprintf(o.f, " %d users: %s (", brk->users, status_word(brk));
            print_cause(o.f, brk);
            fprintf(o.f, ") |\n");
        } else
            fprintf(o.f, " held at every step |\n");
        i = end;
    }
    return out_take(&o);
}

char *fo_scale_table_md(const fo_scale_step *steps, size_t n) {
    out o;
    if (out_open(&o) != 0) return NULL;
    fprintf(
        o.f,
        "| model | users | page | size | Min (ms) | 95%%-ile (ms) | Average (ms) | Max RPS | "
        "RPS / bound | p95 / floor | failures | in flight at end | memory (MiB, PSS + kernel) | "
        "memory / user (KiB) | kernel (MiB) | RSS sum (MiB, as top) | sockets (MiB, system) | "
        "CPU / page (ms) | descriptors | threads | processes | API CPU | API in flight | "
        "load CPU | verdict |\n"
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        "---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (size_t i = 0; i < n; i++) {
        const fo_scale_step *s = &steps[i];
        if (s->status != FO_STEP_RAN) {
            fprintf(
                o.f, "| %s | %d | /%d/ | %d | | | | | | | | | | | | | | | | | | | | | %s (%s): ",
                s->model, s->users, s->ms, s->size, status_word(s), s->cause[0] ? s->cause : "-");
            /* The reason's own words, without what would break the table. */
            for (const char *p = s->reason; *p; p++)
                fputc(*p == '|' || *p == '\n' ? ' ' : *p, o.f);
            fprintf(o.f, " |\n");
            continue;
        }
        char fds[24] = "n/a", threads[24] = "n/a", mem[24], per_user[24], kernel[24], rss[24],
             sockets[24], load_procs[32] = "";
        if (s->load_procs > 1)
            snprintf(load_procs, sizeof load_procs, " in %d processes", s->load_procs);
        if (s->peak_fds >= 0) snprintf(fds, sizeof fds, "%ld", s->peak_fds);
        if (s->peak_threads >= 0) snprintf(threads, sizeof threads, "%ld", s->peak_threads);
        fprintf(
            o.f,
            "| %s | %d | /%d/ | %d | %.0f | %.0f | %.1f | %.1f | %.2f | %.2f | %.2f%% | %llu | %s "
            "| "
            "%s | %s | %s | %s | %.3f | %s | %s | %ld | %.0f%% of %d | %ld of %d | %.0f%% of %d%s "
            "| %s%s%s |\n",
            s->model, s->users, s->ms, s->size, s->load.min_ms, s->load.p95_ms, s->load.mean_ms,
            s->load.max_rps, fo_scale_rps_ratio(s), fo_scale_p95_ratio(s),
            100 * fo_scale_failure_ratio(s), (unsigned long long)s->load.in_flight_at_end,
            fig(fo_scale_mem_kib(s), 1024, mem, sizeof mem),
            fig(fo_scale_mem_per_user_kib(s), 1, per_user, sizeof per_user),
            fig(s->kernel_kib, 1024, kernel, sizeof kernel),
            fig(s->rss_sum_kib, 1024, rss, sizeof rss),
            fig(s->sockets_kib, 1024, sockets, sizeof sockets), fo_scale_cpu_ms_per_page(s), fds,
            threads, s->peak_procs, 100 * fo_scale_api_busy(s), s->api_workers,
            s->api_peak_in_flight, FO_FANOUT_CALLS * s->users, 100 * fo_scale_load_busy(s),
            s->load_threads, load_procs, status_word(s), s->cause[0] ? ": " : "", s->cause);
    }
    return out_take(&o);
}
