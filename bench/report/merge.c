/* fanout-report merge [--max-skew-ms MS] OUT.json IN.json...: reads the --json results of
 * fanout-load processes run as --segment 0/N .. N-1/N, merges them exactly (bench/load/load_merge.h
 * says how), writes the result one process would have written, and prints its figures with the
 * blog's row. */
#include "merge.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/cli.h"

#include "load_merge.h"
#include "load_report.h"

enum { MERGE_OK = 0, MERGE_IO = 1, MERGE_REFUSED = 2 };

static void usage(FILE *f) {
    fputs("usage: fanout-report merge [--max-skew-ms MS] OUT.json IN.json...\n"
          "\n"
          "Merges the --json results of fanout-load processes run with the same options as\n"
          "--segment 0/N .. N-1/N (see fanout-load --help) into OUT.json, the result one process\n"
          "would have written: histograms add bucket for bucket, counts, sums, min and max\n"
          "combine, one-second windows align on wall-clock time (start_unix + t_s), and the\n"
          "percentiles, Locust's smoothed current RPS and both Max RPS are computed again from\n"
          "the merged data. Inputs whose settings, URL, segment count or histogram layout\n"
          "differ, and missing or repeated segments, are refused (exit 2).\n"
          "\n"
          "  --max-skew-ms MS  the most the segments' starts (start_unix, kept exact) may differ\n"
          "                    (default 50: one --start-at on clocks kept by NTP); beyond it the\n"
          "                    merge is refused, naming the first and last segment to start\n",
          f);
}

/* The figures the blog's row wants, from the merged JSON. */
static void print_merged(const json_t *m) {
    fo_load_summary s;
    memset(&s, 0, sizeof s);
    s.min_ms = json_number_value(json_object_get(m, "min_ms"));
    s.p95_ms = json_number_value(json_object_get(m, "p95_ms"));
    s.mean_ms = json_number_value(json_object_get(m, "mean_ms"));
    s.max_rps_smoothed = json_number_value(json_object_get(m, "max_rps_smoothed"));
    const json_t *merged = json_object_get(m, "merged");
    printf("merged %lld segments of %s: %lld requests, %lld failures, %.3g s, %lld users at most, "
           "start skew %.3f ms\n",
           (long long)json_integer_value(json_object_get(merged, "segments")),
           json_string_value(json_object_get(m, "url")),
           (long long)json_integer_value(json_object_get(m, "requests")),
           (long long)json_integer_value(json_object_get(json_object_get(m, "failures"), "total")),
           json_number_value(json_object_get(m, "duration_s")),
           (long long)json_integer_value(json_object_get(m, "users")),
           json_number_value(json_object_get(merged, "start_skew_ms")));
    printf("max RPS %.1f smoothed, %lld raw; p50 %.2f  p99 %.2f  max %.2f ms\n", s.max_rps_smoothed,
           (long long)json_integer_value(json_object_get(m, "max_rps_raw")),
           json_number_value(json_object_get(m, "p50_ms")),
           json_number_value(json_object_get(m, "p99_ms")),
           json_number_value(json_object_get(m, "max_ms")));
    fo_load_print_blog_row(stdout, &s);
}

/* --max-skew-ms's value: a number of ms from 0 to a day. 0, or -1 when it is not one. */
static int parse_skew(const char *text, double *ms) {
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= 0 && v <= 86400000.0)) return -1;
    *ms = v;
    return 0;
}

int fo_report_merge_main(int argc, char **argv) {
    if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        usage(stdout);
        return MERGE_OK;
    }
    double max_skew_ms = FO_MERGE_MAX_SKEW_MS;
    int first = 2; /* the first argument after the options */
    if (argc >= 3 && strcmp(argv[2], "--max-skew-ms") == 0) {
        if (argc < 4 || parse_skew(argv[3], &max_skew_ms) < 0)
            return fo_cli_error("fanout-report merge",
                                "--max-skew-ms must be a number from 0 to 86400000, not '%s'",
                                argc < 4 ? "" : argv[3]);
        first = 4;
    }
    if (argc < first + 2) {
        return fo_cli_error("fanout-report merge", "give OUT.json and at least one IN.json");
    }
    const char *out_path = argv[first];
    char **paths = argv + first + 1;
    size_t n = (size_t)(argc - first - 1);
    json_t **in = calloc(n, sizeof *in);
    if (!in) {
        fprintf(stderr, "fanout-report merge: out of memory\n");
        return MERGE_IO;
    }
    int rc = MERGE_OK;
    for (size_t k = 0; k < n && rc == MERGE_OK; k++) {
        json_error_t jerr;
        in[k] = json_load_file(paths[k], 0, &jerr);
        if (!in[k]) {
            fprintf(stderr, "fanout-report merge: %s: %s (line %d)\n", paths[k], jerr.text,
                    jerr.line);
            rc = MERGE_REFUSED;
        }
    }
    if (rc == MERGE_OK) {
        char err[512] = "";
        json_t *m = fo_load_merge(in, (const char *const *)paths, n, max_skew_ms, err, sizeof err);
        if (!m) {
            fprintf(stderr, "fanout-report merge: %s\n", err);
            rc = MERGE_REFUSED;
        } else if (json_dump_file(m, out_path, JSON_INDENT(1) | JSON_PRESERVE_ORDER) != 0) {
            fprintf(stderr, "fanout-report merge: cannot write %s\n", out_path);
            rc = MERGE_IO;
        } else {
            print_merged(m);
        }
        json_decref(m);
    }
    for (size_t k = 0; k < n; k++)
        json_decref(in[k]);
    free(in);
    return rc;
}
