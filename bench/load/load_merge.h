/* Merging the --json results of N fanout-load processes run as --segment 0/N .. N-1/N into the
 * result one process would have written (fanout-report merge is the command).
 *
 * Exact by construction: histograms add bucket for bucket (the whole run's, each window's, each
 * stage's, the open model's service and lateness), counts and sums add, minima and maxima
 * combine, and every figure derived from them (percentiles, Locust's p95, the smoothed current
 * RPS and both Max RPS) is computed again from the merged data by the same functions that
 * fanout-load uses. Windows align on wall-clock time: input k's window t_s covers
 * start_unix_k + t_s, so it lands in merged window round(start_unix_k - start) + t_s, start
 * being the earliest start (processes started with one --start-at share it to the millisecond).
 * Starts are kept exact, and the merged result records each segment's (merged.starts_ms, from
 * the earliest) and their spread (merged.start_skew_ms).
 *
 * Inputs are refused, with a line naming the difference, when their settings (plan, URL, model,
 * segment count, histogram layout) differ, when a segment is missing or given twice, or when
 * their starts differ by more than the skew allowed (FO_MERGE_MAX_SKEW_MS unless told
 * otherwise): windows a second long would otherwise add requests of different moments, and
 * segments started apart do not make the single process's ramp. */
#ifndef FANOUT_LOAD_MERGE_H
#define FANOUT_LOAD_MERGE_H

#include <jansson.h>
#include <stddef.h>
#include "fanout/hist.h"

/* Adds the buckets of a JSON histogram ({"unit": "ns", "sub_bucket_bits", "count", "sum_ns",
 * "min_ns", "max_ns", "buckets": [[lo_ns, hi_ns, count], ...]}) to h, with its exact count, sum,
 * minimum and maximum. 0, or -EINVAL with a one-line reason (another layout, a bucket that is not
 * one of fo_hist's, counts that do not add up), h then unchanged. */
int fo_hist_add_json(fo_hist *h, const json_t *obj, char *err, size_t errlen);

/* The largest spread of the segments' starts merged by default, in ms: processes started with
 * one --start-at on clocks kept by NTP start within a few ms of each other. */
#define FO_MERGE_MAX_SKEW_MS 50.0

/* Merges n parsed inputs (names[i] is input i's file name, for messages), whose starts may
 * differ by max_skew_ms at most. Returns the merged result (a new reference), or NULL with a
 * one-line reason in err. */
json_t *fo_load_merge(json_t *const *in, const char *const *names, size_t n, double max_skew_ms,
                      char *err, size_t errlen);

#endif
