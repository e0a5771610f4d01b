/* fanout-report --scale: turns a results folder of scripts/bench-scale.sh into the answer.
 *
 * Each step NAME (listed in DIR/steps.txt, ladder order per model) has NAME.step.json (what the
 * script measured, or why the step did not run) and, when it ran, NAME.load.json (fanout-load).
 * --scale-step DIR/NAME judges one step as soon as it has run: prints its line and exits 3 when
 * the model broke there, so the script stops climbing. --scale-guard DIR/PREV USERS is the
 * memory guard before a step (fo_scale_guard). --scale --dir DIR writes scale.md,
 * scale.json, scale.dat (for scripts/plot-scale.gp) and index.html, and prints the tables. */
#include "scale.h"
#include "json_num.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanout/cli.h"

#include "fanout/scale.h"
#include "html.h"

#define MAX_STEPS 128

static void copy_str(char *dst, size_t cap, const json_t *o, const char *key) {
    const char *v = json_string_value(json_object_get(o, key));
    snprintf(dst, cap, "%s", v ? v : "");
}

/* Reads PREFIX.step.json and, for a step that ran, PREFIX.load.json. 0 or -1 (said why). */
static int read_step(const char *prefix, fo_scale_step *s) {
    char path[4096];
    json_error_t err;
    memset(s, 0, sizeof *s);
    snprintf(path, sizeof path, "%s.step.json", prefix);
    json_t *st = json_load_file(path, 0, &err);
    if (!st) {
        fprintf(stderr, "fanout-report: %s: %s\n", path, err.text);
        return -1;
    }
    copy_str(s->model, sizeof s->model, st, "model");
    copy_str(s->cause, sizeof s->cause, st, "cause");
    copy_str(s->reason, sizeof s->reason, st, "reason");
    char status[16];
    copy_str(status, sizeof status, st, "status");
    s->status = strcmp(status, "ran") == 0       ? FO_STEP_RAN
                : strcmp(status, "refused") == 0 ? FO_STEP_REFUSED
                : strcmp(status, "skipped") == 0 ? FO_STEP_SKIPPED
                                                 : FO_STEP_NOT_RUN;
    s->users = (int)fo_json_num(st, "users");
    s->ms = (int)fo_json_num(st, "ms");
    s->size = (int)fo_json_num(st, "size");
    s->wall_s = fo_json_num(st, "wall_s");
    /* Memory (fanout-mem); folders from before it have only the RSS sum, as peak_rss_kib. */
    s->pss_kib = fo_json_num_or(st, "pss_kib", -1);
    s->kernel_kib = fo_json_num_or(st, "kernel_kib", -1);
    s->rss_sum_kib = fo_json_num_or(st, "rss_sum_kib", fo_json_num_or(st, "peak_rss_kib", -1));
    s->sockets_kib = fo_json_num_or(st, "sockets_kib", -1);
    s->cpu_s = fo_json_num(st, "cpu_s");
    s->peak_threads = fo_json_num_or(st, "peak_threads", -1);
    s->peak_procs = fo_json_num_or(st, "peak_procs", 1);
    s->peak_fds = fo_json_num_or(st, "peak_fds", -1);
    s->fd_limit = fo_json_num_or(st, "fd_limit", 0);
    s->api_workers = (int)fo_json_num_or(st, "api_workers", 1);
    s->api_ports = (int)fo_json_num_or(st, "api_ports", 1);
    s->machine_busy = fo_json_num_or(st, "machine_busy", -1);
    s->load_threads = (int)fo_json_num_or(st, "load_threads", 1);
    s->load_procs = (int)fo_json_num_or(st, "load_procs", 1);
    s->api_cpu_s = fo_json_num(st, "api_cpu_s");
    s->load_cpu_s = fo_json_num(st, "load_cpu_s");
    s->api_peak_in_flight = fo_json_num_or(st, "api_peak_in_flight", 0);
    s->mem_kib = fo_json_num(st, "mem_kib");
    s->cores = (int)fo_json_num_or(st, "cores", 1);
    json_decref(st);
    if (!s->model[0] || s->users <= 0) {
        fprintf(stderr, "fanout-report: %s lacks a model or users\n", path);
        return -1;
    }
    if (s->status != FO_STEP_RAN) return 0;

    snprintf(path, sizeof path, "%s.load.json", prefix);
    json_t *l = json_load_file(path, 0, &err);
    if (!l) {
        fprintf(stderr, "fanout-report: %s: %s\n", path, err.text);
        return -1;
    }
    s->load = fo_json_load_figures(l);
    json_decref(l);
    return 0;
}

static json_t *step_json(const fo_scale_step *s) {
    static const char *const words[] = {"ran", "refused", "skipped", "not-run"};
    json_t *o = json_pack("{s:s, s:i, s:i, s:i, s:s, s:s, s:s}", "model", s->model, "users",
                          s->users, "ms", s->ms, "size", s->size, "status", words[s->status],
                          "cause", s->cause, "reason", s->reason);
    if (s->status != FO_STEP_RAN) return o;
    json_object_update_new(
        o, json_pack("{s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
                     "requests", (json_int_t)s->load.requests, "failures",
                     (json_int_t)s->load.failures, "min_ms", s->load.min_ms, "p95_ms",
                     s->load.p95_ms, "mean_ms", s->load.mean_ms, "max_rps", s->load.max_rps,
                     "bound_rps", fo_scale_bound_rps(s), "rps_ratio", fo_scale_rps_ratio(s),
                     "p95_ratio", fo_scale_p95_ratio(s), "failure_ratio", fo_scale_failure_ratio(s),
                     "memory_kib", fo_scale_mem_kib(s), "memory_per_user_kib",
                     fo_scale_mem_per_user_kib(s), "cpu_ms_per_page", fo_scale_cpu_ms_per_page(s)));
    /* The parts as measured (-1: not measured), the RSS sum only for comparison with top. */
    json_object_update_new(o, json_pack("{s:f, s:f, s:f, s:f}", "pss_kib", s->pss_kib, "kernel_kib",
                                        s->kernel_kib, "rss_sum_kib", s->rss_sum_kib, "sockets_kib",
                                        s->sockets_kib));
    json_object_set_new(o, "in_flight_at_end", json_integer((json_int_t)s->load.in_flight_at_end));
    json_object_update_new(o, json_pack("{s:I, s:I, s:I, s:i, s:i, s:f, s:I, s:i, s:i, s:f}",
                                        "peak_fds", (json_int_t)s->peak_fds, "peak_threads",
                                        (json_int_t)s->peak_threads, "peak_procs",
                                        (json_int_t)s->peak_procs, "api_workers", s->api_workers,
                                        "api_ports", s->api_ports, "api_busy", fo_scale_api_busy(s),
                                        "api_peak_in_flight", (json_int_t)s->api_peak_in_flight,
                                        "load_threads", s->load_threads, "load_procs",
                                        s->load_procs, "load_busy", fo_scale_load_busy(s)));
    return o;
}

static int scale_step(const char *prefix) {
    fo_scale_step s;
    if (read_step(prefix, &s) != 0) return 1;
    int broke = fo_scale_judge(&s);
    char line[512];
    fo_scale_line(&s, line, sizeof line);
    printf("  %s\n", line);
    return broke ? 3 : 0;
}

static FILE *open_in(const char *dir, const char *file) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "fanout-report: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

/* scale.dat: one block per model (gnuplot's index), a line per step that ran:
 * users rps_ratio p95_ratio memory_per_user_kib cpu_ms_per_page "model", memory being PSS +
 * kernel (nan where not measured). */
static int write_dat(const char *dir, const fo_scale_step *steps, size_t n) {
    FILE *f = open_in(dir, "scale.dat");
    if (!f) return -1;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(steps[i].model, steps[i - 1].model) != 0) fputs("\n\n", f);
        if (i == 0 || strcmp(steps[i].model, steps[i - 1].model) != 0)
            fprintf(f, "# %s\n", steps[i].model);
        const fo_scale_step *s = &steps[i];
        if (s->status != FO_STEP_RAN) continue;
        char per_user[32] = "nan";
        if (fo_scale_mem_per_user_kib(s) >= 0)
            snprintf(per_user, sizeof per_user, "%.2f", fo_scale_mem_per_user_kib(s));
        fprintf(f, "%d %.4f %.4f %s %.4f \"%s\"\n", s->users, fo_scale_rps_ratio(s),
                fo_scale_p95_ratio(s), per_user, fo_scale_cpu_ms_per_page(s), s->model);
    }
    return fclose(f);
}

static int write_index(const char *dir, const char *settings, const char *matrix,
                       const char *table) {
    FILE *f = open_in(dir, "index.html");
    if (!f) return -1;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>fanout at scale</title>\n<style>\n"
          "body { font-family: sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }\n"
          "table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }\n"
          "th, td { border: 1px solid #ccc; padding: 4px 6px; text-align: right; }\n"
          "th:first-child, td:first-child { text-align: left; }\n"
          "th { background: #f0f0f0; } img { max-width: 100%; border: 1px solid #eee; }\n"
          "</style></head><body>\n<h1>fanout at scale: where each model breaks</h1>\n<p>",
          f);
    fo_html_put(f, settings);
    fputs("</p>\n<h2>Models × users</h2>\n<p>Each cell: RPS / bound · p95 / floor (1 · 1 is "
          "perfect; ✗ marks the step where the model broke: failures above 1% or p95 above 1.5 × "
          "the floor).</p>\n",
          f);
    fo_html_md_table(f, matrix);
    fputs("<img src=\"scale.svg\" alt=\"ratios, memory and CPU against users\">\n"
          "<h2>Every step</h2>\n<p>API CPU is the country API's share of a core per worker, load "
          "CPU fanout-load's per thread: well below 100% shows the harness was not the "
          "limit. Memory is what the model adds to the machine: the PSS of its processes "
          "(shared pages split between them) plus what the kernel holds for its tasks (page "
          "tables, a kernel stack and a task struct per thread), at its peak. The RSS sum "
          "counts every shared page once per process, as top does, and is there only for "
          "comparison; sockets are the system's socket buffers, the same for every model.</p>\n",
          f);
    fo_html_md_table(f, table);
    fputs("<p><a href=\"scale.md\">scale.md</a> · <a href=\"scale.json\">scale.json</a></p>\n"
          "</body></html>\n",
          f);
    return fclose(f);
}

/* DIR/switch.json, what bench-scale.sh measured of a switch between tasks (fanout-switch
 * --tasks), as a clause for the settings line in words, or "" when it is not there. Returns the
 * object (a new reference) for scale.json, or NULL. */
static json_t *read_switch(const char *dir, char *words, size_t cap) {
    char path[4096];
    snprintf(path, sizeof path, "%s/switch.json", dir);
    words[0] = '\0';
    json_t *sw = json_load_file(path, 0, NULL);
    if (!json_is_object(sw)) {
        json_decref(sw);
        return NULL;
    }
    double tasks = fo_json_num_or(sw, "tasks", -1);
    double procs = fo_json_num_or(sw, "process_hop_us", -1);
    double threads = fo_json_num_or(sw, "thread_hop_us", -1);
    if (tasks > 0 && procs > 0 && threads > 0)
        snprintf(words, cap,
                 "; a switch between tasks (fanout-switch --tasks %.0f): %.1f µs a hop between "
                 "%.0f processes, %.1f µs between %.0f threads",
                 tasks, procs, tasks, threads, tasks);
    return sw;
}

static int scale_report(const char *dir) {
    char path[4096], name[128];
    FILE *list = fo_report_open(dir, "steps.txt", path, sizeof path);
    if (!list) return 2;
    static fo_scale_step steps[MAX_STEPS];
    size_t n = 0;
    while (n < MAX_STEPS && fscanf(list, "%127s", name) == 1) {
        char prefix[4096];
        snprintf(prefix, sizeof prefix, "%s/%s", dir, name);
        if (read_step(prefix, &steps[n]) != 0) {
            fclose(list);
            return 1;
        }
        fo_scale_judge(&steps[n]);
        n++;
    }
    fclose(list);
    if (n == 0) {
        fprintf(stderr, "fanout-report: %s lists no step\n", path);
        return 2;
    }
    char *matrix = fo_scale_matrix_md(steps, n);
    char *table = fo_scale_table_md(steps, n);
    if (!matrix || !table) {
        fprintf(stderr, "fanout-report: out of memory\n");
        return 1;
    }
    char mach[256], settings[768], stamp[64], switch_words[256];
    fo_machine_line(mach, sizeof mach);
    json_t *sw = read_switch(dir, switch_words, sizeof switch_words);
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M", localtime(&now));
    /* The offered rate: users / floor of any step, the same on every rung. */
    snprintf(settings, sizeof settings,
             "%s on %s, %.0f GiB: every step offers %.0f pages a second (the page's ms grows with "
             "the users), users spawned over 10 s; open-files hard limit %ld%s",
             stamp, mach, steps[0].mem_kib / 1048576, fo_scale_bound_rps(&steps[0]),
             steps[0].fd_limit, switch_words);

    int rc = 0;
    FILE *f = open_in(dir, "scale.md");
    if (f) {
        fprintf(f,
                "# fanout at scale\n\n%s\n\n## Models × users (RPS / bound · p95 / floor)\n\n%s\n"
                "## Every step\n\n%s",
                settings, matrix, table);
        rc |= fclose(f) != 0;
    } else {
        rc = 1;
    }
    rc |= write_dat(dir, steps, n) != 0;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, step_json(&steps[i]));
    json_t *root =
        json_pack("{s:s, s:s, s:o}", "machine", mach, "settings", settings, "steps", arr);
    if (root && sw) json_object_set(root, "switch", sw);
    json_decref(sw);
    snprintf(path, sizeof path, "%s/scale.json", dir);
    rc |= json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0;
    json_decref(root);
    rc |= write_index(dir, settings, matrix, table) != 0;
    if (rc) fprintf(stderr, "fanout-report: some files of %s could not be written\n", dir);
    printf("\n%s\n\nModels x users (RPS / bound · p95 / floor):\n\n%s\n%s", settings, matrix,
           table);
    free(matrix);
    free(table);
    return rc;
}

/* --scale-guard DIR/PREV USERS: 3 (printing the reason) when the step of USERS users, projected
 * from the step PREV that ran before it, would take too much of the RAM; 0 to run it. */
static int scale_guard(const char *prev_prefix, const char *users_arg) {
    char *end;
    long users = strtol(users_arg, &end, 10);
    if (*end || users <= 0 || users > 10000000) {
        return fo_cli_error("fanout-report", "--scale-guard takes a number of users, not '%s'",
                            users_arg);
    }
    fo_scale_step prev;
    if (read_step(prev_prefix, &prev) != 0) return 1;
    if (prev.status != FO_STEP_RAN) return 0; /* nothing measured to project from */
    char reason[256];
    if (!fo_scale_guard(&prev, (int)users, reason, sizeof reason)) return 0;
    printf("%s\n", reason);
    return 3;
}

int fo_report_scale_main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--scale-step") == 0) return scale_step(argv[2]);
    if (argc == 4 && strcmp(argv[1], "--scale-guard") == 0) return scale_guard(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "--scale") == 0 && strcmp(argv[2], "--dir") == 0)
        return scale_report(argv[3]);
    FILE *f = argc == 3 && strcmp(argv[2], "--help") == 0 ? stdout : stderr;
    fprintf(f,
            "usage: fanout-report --scale --dir DIR     the report of a scripts/bench-scale.sh "
            "folder\n"
            "       fanout-report --scale-step DIR/NAME judge one step: exit 3 when the model "
            "broke\n"
            "       fanout-report --scale-guard DIR/PREV USERS\n"
            "                 before a step of USERS users: exit 3, saying why, when its memory\n"
            "                 (PSS + kernel a user at the step PREV, x USERS x %.1f) would pass\n"
            "                 %.0f%% of the RAM\n",
            FO_SCALE_MEM_MARGIN, 100 * FO_SCALE_MAX_MEM_SHARE);
    return f == stdout ? 0 : 2;
}
