/* fanout-report: turns a results folder of scripts/bench.sh into the answer.
 *
 * Reads, for each name listed in DIR/configs.txt, NAME.load.json (fanout-load --json) and
 * NAME.server.json (what bench.sh measured of the server: model, size, memory, CPU). Writes
 * summary.md, summary.json, summary.dat and NAME.series.dat (for scripts/plot.gp) and
 * index.html; prints the table with the blog's figures under it; optionally checks the run
 * against a baseline or writes a new one. */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fanout/cli.h"
#include "fanout/report.h"
#include "html.h"
#include "json_num.h"
#include "merge.h"
#include "scale.h"

#define MAX_CONFIGS 64

typedef struct config {
    char name[64];
    fo_bench_row row;
    json_t *load; /* the fanout-load JSON */
    int open;     /* the open model (fanout-load --rate): its latency keys are response times */
} config;

static const char *dir; /* --dir */

static FILE *open_out(const char *file) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) {
        fprintf(stderr, "fanout-report: path too long: %s/%s\n", dir, file);
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "fanout-report: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

static json_t *load_json(const char *name, const char *suffix) {
    char path[4096];
    json_error_t err;
    if (snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix) >= (int)sizeof path) {
        fprintf(stderr, "fanout-report: path too long: %s/%s%s\n", dir, name, suffix);
        return NULL;
    }
    json_t *j = json_load_file(path, 0, &err);
    if (!j) fprintf(stderr, "fanout-report: %s: %s (line %d)\n", path, err.text, err.line);
    return j;
}

static int read_config(config *c) {
    json_t *srv = load_json(c->name, ".server.json");
    c->load = load_json(c->name, ".load.json");
    if (!srv || !c->load) {
        json_decref(srv);
        return -1;
    }
    fo_bench_row *r = &c->row;
    const char *cfg = json_string_value(json_object_get(srv, "config"));
    const char *model = json_string_value(json_object_get(srv, "model"));
    if (!cfg || !model || strlen(cfg) >= sizeof r->config || strlen(model) >= sizeof r->model) {
        fprintf(stderr, "fanout-report: %s/%s.server.json lacks a valid config or model\n", dir,
                c->name);
        json_decref(srv);
        return -1;
    }
    memcpy(r->config, cfg, strlen(cfg) + 1);
    memcpy(r->model, model, strlen(model) + 1);
    r->size = (int)fo_json_num(srv, "size");
    /* Whether the size caps concurrency is the engine's fact (fanout-server --list-models);
     * bench.sh records it, so that no model name is known here. */
    const json_t *caps = json_object_get(srv, "size_caps");
    if (!json_is_integer(caps) ||
        (json_integer_value(caps) != 0 && json_integer_value(caps) != 1)) {
        fprintf(stderr,
                "fanout-report: %s/%s.server.json lacks size_caps (0 or 1); it comes from "
                "fanout-server --list-models through scripts/bench.sh\n",
                dir, c->name);
        json_decref(srv);
        return -1;
    }
    r->size_caps = (int)json_integer_value(caps);
    r->users = (int)fo_json_num(srv, "users");
    r->ms = (int)fo_json_num(srv, "ms");
    /* Memory from fanout-mem; a folder from before it has only the RSS sum, as peak_rss_kib. */
    r->pss_kib = fo_json_num_or(srv, "pss_kib", -1);
    r->kernel_kib = fo_json_num_or(srv, "kernel_kib", -1);
    r->rss_sum_kib = fo_json_num_or(srv, "rss_sum_kib", fo_json_num_or(srv, "peak_rss_kib", -1));
    r->cpu_s = fo_json_num(srv, "cpu_s");
    /* The CPU bound's inputs, and a target's row and version; absent from older folders. */
    r->wall_s = fo_json_num_or(srv, "wall_s", 0);
    r->api_cpu_s = fo_json_num_or(srv, "api_cpu_s", -1);
    r->load_cpu_s = fo_json_num_or(srv, "load_cpu_s", -1);
    r->cpu_pages = (uint64_t)fo_json_num_or(srv, "cpu_pages", 0);
    r->cpus = (int)fo_json_num_or(srv, "cpus", 0);
    const char *row = json_string_value(json_object_get(srv, "row"));
    const char *version = json_string_value(json_object_get(srv, "version"));
    snprintf(r->row, sizeof r->row, "%s", row ? row : "");
    snprintf(r->version, sizeof r->version, "%s", version ? version : "");
    r->upstream_peak = (int)fo_json_num(srv, "upstream_peak_in_flight");
    json_decref(srv);

    const json_t *l = c->load;
    const char *mode = json_string_value(json_object_get(l, "model"));
    c->open = mode && strcmp(mode, "open") == 0;
    r->load = fo_json_load_figures(l);
    return 0;
}

/* NAME.series.dat: t users rps rps_locust failures p50_ms p95_ms, one line a second; in the
 * open model also offered/s sent/s late p99_ms service_p50_ms service_p95_ms service_p99_ms
 * (columns 8 to 14; the latencies of columns 6, 7 and 11 are response times). */
static int write_series(const config *c) {
    char file[128];
    if (snprintf(file, sizeof file, "%s.series.dat", c->name) >= (int)sizeof file) return -1;
    FILE *f = open_out(file);
    if (!f) return -1;
    if (c->open)
        fprintf(f, "# %s: %g arrivals/s offered, page /%d/ (floor %.0f ms)\n", c->row.config,
                fo_json_num(c->load, "offered_rps"), c->row.ms, fo_bench_floor_ms(&c->row));
    else
        fprintf(f, "# %s: %d users, page /%d/ (floor %.0f ms)\n", c->row.config, c->row.users,
                c->row.ms, fo_bench_floor_ms(&c->row));
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(c->load, "windows"), i, w) {
        double len = fo_json_num(w, "length_s");
        double req = fo_json_num(w, "requests");
        double rps = len > 0 ? req / len : 0;
        if (req > 0)
            fprintf(f, "%zu %d %.3f %.3f %.0f %.3f %.3f", i, (int)fo_json_num(w, "users"), rps,
                    fo_json_num(w, "rps_smoothed"), fo_json_num(w, "failures"),
                    fo_json_num(w, "p50_ms"), fo_json_num(w, "p95_ms"));
        else
            fprintf(f, "%zu %d %.3f %.3f %.0f nan nan", i, (int)fo_json_num(w, "users"), rps,
                    fo_json_num(w, "rps_smoothed"), fo_json_num(w, "failures"));
        if (c->open && req > 0)
            fprintf(f, " %.3f %.3f %.0f %.3f %.3f %.3f %.3f",
                    len > 0 ? fo_json_num(w, "offered") / len : 0,
                    len > 0 ? fo_json_num(w, "sent") / len : 0, fo_json_num(w, "late"),
                    fo_json_num(w, "p99_ms"), fo_json_num(w, "service_p50_ms"),
                    fo_json_num(w, "service_p95_ms"), fo_json_num(w, "service_p99_ms"));
        else if (c->open)
            fprintf(f, " %.3f %.3f %.0f nan nan nan nan",
                    len > 0 ? fo_json_num(w, "offered") / len : 0,
                    len > 0 ? fo_json_num(w, "sent") / len : 0, fo_json_num(w, "late"));
        fputc('\n', f);
    }
    return fclose(f);
}

static int write_index(const config *cs, size_t n, const char *table, const char *blog,
                       const char *settings) {
    FILE *f = open_out("index.html");
    if (!f) return -1;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>fanout: which concurrency model?</title>\n<style>\n"
          "body { font-family: sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }\n"
          "table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }\n"
          "th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }\n"
          "th:first-child, td:first-child { text-align: left; }\n"
          "th { background: #f0f0f0; } img { max-width: 100%; border: 1px solid #eee; }\n"
          "</style></head><body>\n<h1>fanout: which concurrency model serves a page that waits on "
          "slow APIs?</h1>\n",
          f);
    fprintf(f, "<p>");
    fo_html_put(f, settings);
    fprintf(f, "</p>\n<h2>This machine</h2>\n");
    fo_html_md_table(f, table);
    fputs(
        "<p>Bound RPS is Little's law: the requests a configuration can work on at once, over the "
        "page's floor (its slowest call). The CPU bound is the cores left to the server (the "
        "machine's, less what the API and the load generator used in the same time) over its "
        "CPU per page, both counted over the 10 seconds with the most pages; the lower "
        "bound limits the row, and the Limit column names it, or says "
        "other when Max RPS is under 0.8 of it. Ratios near 1 are perfect. Memory is what a "
        "configuration adds to the machine: the PSS of its processes plus the kernel's part "
        "for its tasks (page tables, kernel stacks, task structs); the RSS sum counts shared "
        "pages once per process, as top does, and is there only for comparison.</p>\n"
        "<img src=\"compare.svg\" alt=\"p95 and Max RPS per configuration\">\n"
        "<h2>The blog's figures</h2>\n",
        f);
    fo_html_md_table(f, blog);
    fputs("<h2>Each configuration over time</h2>\n", f);
    if (n && cs[0].open)
        fputs("<p>The open model: visitors arrive at the offered rate whatever the server does. "
              "Response time runs from a visitor's intended arrival, service time from the "
              "request's actual send; the gap between them is the queue a capped model "
              "builds.</p>\n",
              f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "<h3>%s</h3>\n<img src=\"%s.svg\" alt=\"%s over time\">\n<p>", cs[i].row.config,
                cs[i].name, cs[i].row.config);
        fprintf(f,
                "<a href=\"%s.load.json\">JSON</a> · <a href=\"%s_stats.csv\">stats CSV</a> · "
                "<a href=\"%s_stats_history.csv\">history CSV</a></p>\n",
                cs[i].name, cs[i].name, cs[i].name);
    }
    fputs(
        "<p><a href=\"summary.md\">summary.md</a> · <a href=\"summary.json\">summary.json</a></p>\n"
        "</body></html>\n",
        f);
    return fclose(f);
}

static json_t *summary_json(const config *cs, size_t n, const char *mach) {
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        const fo_bench_row *r = &cs[i].row;
        json_t *o = json_pack(
            "{s:s, s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "config",
            r->config, "model", r->model, "size", r->size, "size_caps", r->size_caps, "users",
            r->users, "ms", r->ms, "requests", (json_int_t)r->load.requests, "failures",
            (json_int_t)r->load.failures, "min_ms", r->load.min_ms, "p95_ms", r->load.p95_ms,
            "p95_locust_ms", r->load.p95_locust_ms, "mean_ms", r->load.mean_ms, "max_ms",
            r->load.max_ms, "max_rps", r->load.max_rps, "max_rps_raw", r->load.max_rps_raw);
        json_object_update_new(
            o, json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:i}",
                         "bound_rps", fo_bench_bound_rps(r), "rps_ratio", fo_bench_rps_ratio(r),
                         "p95_ratio", fo_bench_p95_ratio(r), "failure_ratio",
                         fo_bench_failure_ratio(r), "floor_ms", fo_bench_floor_ms(r), "memory_kib",
                         fo_bench_mem_kib(r), "pss_kib", r->pss_kib, "kernel_kib", r->kernel_kib,
                         "rss_sum_kib", r->rss_sum_kib, "cpu_s", r->cpu_s, "cpu_ms_per_page",
                         fo_bench_cpu_ms_per_page(r), "upstream_peak_in_flight", r->upstream_peak));
        json_object_set_new(o, "in_flight_at_end",
                            json_integer((json_int_t)r->load.in_flight_at_end));
        json_object_update_new(
            o, json_pack("{s:f, s:f, s:f, s:f, s:f, s:s, s:f, s:f, s:f, s:f}", "little_bound_rps",
                         fo_bench_bound_rps(r), "cpu_bound_rps", fo_bench_cpu_bound_rps(r),
                         "lower_bound_rps", fo_bench_lower_bound_rps(r), "lower_ratio",
                         fo_bench_lower_ratio(r), "cores_busy", fo_bench_cores_busy(r), "limit",
                         fo_bench_limit(r), "cores_left", fo_bench_cores_left(r), "wall_s",
                         r->wall_s, "api_cpu_s", r->api_cpu_s, "load_cpu_s", r->load_cpu_s));
        if (r->version[0])
            json_object_update_new(o,
                                   json_pack("{s:s, s:s}", "version", r->version, "row", r->row));
        if (cs[i].open) {
            const json_t *l = cs[i].load;
            json_object_update_new(
                o, json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "mode", "open",
                             "offered_rps", fo_json_num(l, "offered_rps"), "achieved_rps",
                             fo_json_num(l, "achieved_rps"), "response_p99_ms",
                             fo_json_num(l, "p99_ms"), "service_p95_ms",
                             fo_json_num(json_object_get(l, "service"), "p95_ms"), "service_p99_ms",
                             fo_json_num(json_object_get(l, "service"), "p99_ms"), "late_starts",
                             (json_int_t)fo_json_num(l, "late_starts"), "unsent",
                             (json_int_t)fo_json_num(l, "unsent")));
        }
        json_array_append_new(rows, o);
    }
    return json_pack("{s:s, s:o}", "machine", mach, "configs", rows);
}

/* fanout-report's command line (the --scale and merge forms parse their own). */
typedef struct report_args {
    const char *dir, *baseline, *write_baseline;
    double tolerance;
} report_args;

#define FIELD(f) .field = offsetof(report_args, f)

/* fanout-report's options: each one's flag, field, bounds, default and help, once. */
static const fo_cli_opt opt_rows[] = {
    {FO_CLI_STR, "dir", 0, FIELD(dir), .def_str = ".", .arg = "DIR",
     .help = "the results folder to read and write"},
    {FO_CLI_STR, "baseline", 0, FIELD(baseline), .arg = "FILE",
     .help = "exit 1 when a configuration's RPS / bound, p95 / floor or\nfailure ratio is worse "
             "than FILE's beyond the tolerance,\nor when a configuration is in FILE or in DIR "
             "but not both"},
    {FO_CLI_DOUBLE, "tolerance", 0, FIELD(tolerance), .dmin = 0, .dmax = 10, .ddef = 0.25,
     .arg = "X", .help = "relative tolerance for --baseline"},
    {FO_CLI_STR, "write-baseline", 0, FIELD(write_baseline), .arg = "FILE",
     .help = "write this run's ratios as a baseline"},
    {FO_CLI_ACTION, "help", 'h', .action = FO_CLI_HELP, .help = "this help"},
    {.kind = FO_CLI_END},
};

static const fo_cli cli = {
    .prog = "fanout-report",
    .rows = opt_rows,
    .col = 25,
    .synopsis =
        "usage: fanout-report --dir DIR [--baseline FILE [--tolerance X]] [--write-baseline FILE]\n"
        "\n"
        "Summarises a results folder of scripts/bench.sh: prints the table and writes\n"
        "summary.md, summary.json, the chart data and index.html into DIR.\n",
    .epilog = "       fanout-report --scale --dir DIR | --scale-step DIR/NAME\n"
              "  the same for a results folder of scripts/bench-scale.sh (see --scale --help)\n"
              "       fanout-report merge [--max-skew-ms MS] OUT.json IN.json...\n"
              "  the exact merge of fanout-load --segment results (see merge --help)\n",
};

int main(int argc, char **argv) {
    if (argc > 1 && strncmp(argv[1], "--scale", 7) == 0) return fo_report_scale_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "merge") == 0) return fo_report_merge_main(argc, argv);
    report_args o;
    fo_cli_result res;
    int exit_now;
    fo_cli_main(&cli, &o, argc, argv, &res, &exit_now);
    if (exit_now >= 0) return exit_now;
    dir = o.dir;
    const char *baseline = o.baseline, *write_baseline = o.write_baseline;
    double tolerance = o.tolerance;

    char path[4096], name[64];
    FILE *list = fo_report_open(dir, "configs.txt", path, sizeof path);
    if (!list) return 2;
    static config cs[MAX_CONFIGS];
    size_t n = 0;
    while (n < MAX_CONFIGS && fscanf(list, "%63s", name) == 1) {
        snprintf(cs[n].name, sizeof cs[n].name, "%s", name);
        if (read_config(&cs[n]) != 0) {
            fclose(list);
            return 1;
        }
        n++;
    }
    fclose(list);
    if (n == 0) {
        fprintf(stderr, "fanout-report: %s lists no configuration\n", path);
        return 2;
    }

    fo_bench_row rows[MAX_CONFIGS];
    for (size_t i = 0; i < n; i++)
        rows[i] = cs[i].row;
    char *table = fo_bench_table_md(rows, n);
    char *blog = fo_bench_blog_md(rows, n);
    char mach[256], settings[640], stamp[64];
    fo_machine_line(mach, sizeof mach);
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M", localtime(&now));
    const json_t *l0 = cs[0].load;
    char load[160];
    if (cs[0].open)
        snprintf(load, sizeof load,
                 "the open model at %g arrivals/s offered (response times from the intended "
                 "arrival)",
                 fo_json_num(l0, "offered_rps"));
    else
        snprintf(load, sizeof load, "%d users (spawn rate %g/s)", rows[0].users,
                 fo_json_num(l0, "spawn_rate"));
    snprintf(settings, sizeof settings,
             "%s on %s: %s, %.0f s per configuration, page /%d/ "
             "(calls of %d, %d and %d ms; floor %d ms)",
             stamp, mach, load, fo_json_num(l0, "duration_s"), rows[0].ms, rows[0].ms,
             2 * rows[0].ms, rows[0].ms / 2, 2 * rows[0].ms);
    if (!table || !blog) {
        fprintf(stderr, "fanout-report: out of memory\n");
        return 1;
    }

    int rc = 0;
    FILE *f = open_out("summary.md");
    if (f) {
        fprintf(f, "# fanout results\n\n%s\n\n## This machine\n\n%s\n## The blog's figures\n\n%s",
                settings, table, blog);
        rc |= fclose(f);
    } else {
        rc = 1;
    }
    f = open_out("summary.dat");
    if (f) {
        for (size_t i = 0; i < n; i++) {
            /* Memory per user, PSS + kernel; nan (gnuplot's missing) where not measured. */
            double mem = fo_bench_mem_kib(&rows[i]);
            char per_user[32] = "nan";
            if (mem >= 0 && rows[i].users > 0)
                snprintf(per_user, sizeof per_user, "%.2f", mem / rows[i].users);
            fprintf(f, "%zu \"%s\" %.3f %.3f %.3f %.1f %s\n", i, rows[i].config,
                    rows[i].load.p95_ms, rows[i].load.max_rps, fo_bench_bound_rps(&rows[i]),
                    fo_bench_floor_ms(&rows[i]), per_user);
        }
        rc |= fclose(f);
    } else {
        rc = 1;
    }
    for (size_t i = 0; i < n; i++)
        rc |= write_series(&cs[i]) != 0;
    /* Which charts scripts/plot.gp draws. */
    f = open_out("mode.dat");
    if (f) {
        fprintf(f, "%s\n", cs[0].open ? "open" : "closed");
        rc |= fclose(f);
    } else {
        rc = 1;
    }
    json_t *sum = summary_json(cs, n, mach);
    snprintf(path, sizeof path, "%s/summary.json", dir);
    rc |= json_dump_file(sum, path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0;
    json_decref(sum);
    rc |= write_index(cs, n, table, blog, settings) != 0;
    if (rc) fprintf(stderr, "fanout-report: some files of %s could not be written\n", dir);

    printf("\n%s\n\n%s\nThe blog's figures (Apple M2, Python stacks):\n\n%s", settings, table,
           blog);

    if (write_baseline) {
        json_t *b = fo_bench_baseline(rows, n);
        if (json_dump_file(b, write_baseline, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0) {
            fprintf(stderr, "fanout-report: cannot write %s\n", write_baseline);
            rc = 1;
        } else {
            printf("\nbaseline written to %s\n", write_baseline);
        }
        json_decref(b);
    }
    if (baseline) {
        json_error_t err;
        json_t *b = json_load_file(baseline, 0, &err);
        if (!b) {
            fprintf(stderr, "fanout-report: baseline %s: %s\n", baseline, err.text);
            rc = 2;
        } else {
            char msg[8192];
            int bad = fo_bench_compare(rows, n, b, tolerance, msg, sizeof msg);
            printf("\nAgainst the baseline %s (tolerance %.0f%%):\n%s", baseline, 100 * tolerance,
                   msg);
            if (bad) {
                printf("REGRESSION: %d configuration%s worse than the baseline or missing from one "
                       "side\n",
                       bad, bad == 1 ? "" : "s");
                rc = 1;
            } else {
                printf("no regression\n");
            }
            json_decref(b);
        }
    }
    for (size_t i = 0; i < n; i++)
        json_decref(cs[i].load);
    free(table);
    free(blog);
    return rc;
}
