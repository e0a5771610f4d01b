/* Machine output of a finished run: JSON (json.c) and Locust-compatible CSV (csv.c), and the
 * live line (live.c). */
#ifndef FANOUT_LOAD_OUTPUT_H
#define FANOUT_LOAD_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include "opts.h"
#include "load_report.h"
#include "run.h"

/* Writes the run as JSON to path (schema at the top of json.c and in --help). 0 or -errno. */
int fo_load_write_json(const char *path, const fo_load_opts *o, const fo_load_result *r,
                       const fo_load_summary *s);

/* The JSON's pieces that fanout-report merge writes again: a histogram object
 * {unit, sub_bucket_bits, count, sum_ns, min_ns, max_ns, buckets}, and a latency object
 * {min_ms, mean_ms, p50_ms, p90_ms, p95_ms, p99_ms, p999_ms, max_ms}. NULL on OOM. */
typedef struct json_t json_t;
json_t *fo_load_json_histogram(const fo_hist *h);
json_t *fo_load_json_latency(const fo_latency *l);
/* [[lo_ns, hi_ns, count], ...] of a window's non-empty buckets. NULL on OOM. */
json_t *fo_load_json_buckets(const fo_sparse_hist *h);

/* Writes PREFIX_stats.csv and PREFIX_stats_history.csv with Locust's columns. 0 or -errno.
 * start_unix is the run's start in Unix seconds, for the history's timestamps. */
int fo_load_write_csv(const char *prefix, const fo_load_opts *o, const fo_load_result *r,
                      const fo_load_summary *s, double start_unix);

/* The live line for window `index`: elapsed/total, then the model's figures (d->live_line):
 * users, requests per second in that window, its p50 and p95, and the failures so far; in the
 * open model the arrivals offered, sent and answered per second, the response and service p95,
 * and the late starts. run_ns is the run's length once known (0 before): the last window of an
 * interrupted run is shorter. No newline. */
void fo_load_live_line(char *buf, size_t len, const fo_window *w, size_t index, uint64_t total_ns,
                       uint64_t run_ns, const fo_driver *d);

#endif
