/* Merging several processes' results into one (see load_merge.h). */
#include "load_merge.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "locust.h"
#include "opts.h"
#include "output.h"
#include "load_report.h"
#include "windows.h"

static double num(const json_t *o, const char *key) {
    return json_number_value(json_object_get(o, key));
}

static uint64_t count_of(const json_t *o, const char *key) {
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t)v : 0;
}

/* Adds [[lo_ns, hi_ns, count], ...] to h (or only checks them, when h is NULL); *total gets
 * their count. 0 or -EINVAL. */
static int add_buckets(fo_hist *h, const json_t *arr, uint64_t *total, char *err, size_t errlen) {
    size_t i;
    const json_t *b;
    *total = 0;
    if (!json_is_array(arr)) return fo_cli_fail(err, errlen, "a histogram has no buckets array");
    json_array_foreach(arr, i, b) {
        json_int_t lo = json_integer_value(json_array_get(b, 0));
        json_int_t hi = json_integer_value(json_array_get(b, 1));
        json_int_t n = json_integer_value(json_array_get(b, 2));
        if (json_array_size(b) != 3 || lo < 0 || hi <= lo || n < 0)
            return fo_cli_fail(err, errlen, "bucket %zu is not [lo_ns, hi_ns, count]", i);
        size_t idx = fo_hist_index((uint64_t)lo);
        uint64_t blo, bhi;
        fo_hist_bucket_bounds(idx, &blo, &bhi);
        if (blo != (uint64_t)lo || bhi != (uint64_t)hi)
            return fo_cli_fail(
                err, errlen,
                "bucket [%lld, %lld) is not one of this build's (histogram layouts differ)",
                (long long)lo, (long long)hi);
        if (h) fo_hist_add_bucket(h, idx, (uint64_t)n);
        *total += (uint64_t)n;
    }
    return 0;
}

int fo_hist_add_json(fo_hist *h, const json_t *obj, char *err, size_t errlen) {
    const char *unit = json_string_value(json_object_get(obj, "unit"));
    const json_t *bits = json_object_get(obj, "sub_bucket_bits");
    if (!unit || strcmp(unit, "ns") != 0 || !json_is_integer(bits) ||
        json_integer_value(bits) != FO_HIST_SUB_BITS)
        return fo_cli_fail(
            err, errlen,
            "histogram layout differs: unit %s, sub_bucket_bits %lld (this build: ns, %d)",
            unit ? unit : "(none)", (long long)json_integer_value(bits), FO_HIST_SUB_BITS);
    uint64_t sum = h->sum_ns, min = h->min_ns, max = h->max_ns, total;
    /* Checked whole before anything is added: a refused histogram leaves h as it was. */
    const json_t *buckets = json_object_get(obj, "buckets");
    if (add_buckets(NULL, buckets, &total, err, errlen) < 0) return -EINVAL;
    if (total != count_of(obj, "count"))
        return fo_cli_fail(err, errlen,
                           "a histogram's buckets hold %llu values, its count says %llu",
                           (unsigned long long)total, (unsigned long long)count_of(obj, "count"));
    int rc = add_buckets(h, buckets, &total, err, errlen);
    assert(rc == 0); /* checked above */
    (void)rc;
    /* The exact figures, in place of the bucket bounds fo_hist_add_bucket used. */
    h->sum_ns = sum + count_of(obj, "sum_ns");
    if (total) {
        uint64_t lo = count_of(obj, "min_ns"), hi = count_of(obj, "max_ns");
        h->min_ns = lo < min ? lo : min;
        h->max_ns = hi > max ? hi : max;
    } else {
        h->min_ns = min;
        h->max_ns = max;
    }
    return 0;
}

/* Adds a window's buckets (key `key`) with its exact minimum and maximum; checks that they hold
 * `expect` values. 0 or -EINVAL. */
static int add_window(fo_hist *h, const json_t *win, const char *key, uint64_t expect, char *err,
                      size_t errlen) {
    uint64_t min = h->min_ns, max = h->max_ns, total;
    if (add_buckets(h, json_object_get(win, key), &total, err, errlen) < 0) return -EINVAL;
    if (total != expect)
        return fo_cli_fail(err, errlen, "a window's %s hold %llu values, its requests say %llu",
                           key, (unsigned long long)total, (unsigned long long)expect);
    if (total && strcmp(key, "buckets") == 0) {
        uint64_t lo = count_of(win, "min_ns"), hi = count_of(win, "max_ns");
        h->min_ns = lo < min ? lo : min;
        h->max_ns = hi > max ? hi : max;
    }
    return 0;
}

/* The settings every segment of one run must share: plan's keys, then the top level's. */
static const char *const plan_keys[] = {"model",  "users",   "spawn_rate",  "rate",
                                        "stages", "total_s", "wait_min_ms", "wait_max_ms"};

static int same_settings(json_t *const *in, const char *const *names, size_t n, char *err,
                         size_t errlen) {
    const json_t *p0 = json_object_get(in[0], "plan");
    for (size_t k = 0; k < n; k++) {
        const char *tool = json_string_value(json_object_get(in[k], "tool"));
        const json_t *seg = json_object_get(in[k], "segment");
        if (!tool || strcmp(tool, "fanout-load") != 0 ||
            !json_is_object(json_object_get(in[k], "plan")) || !json_is_object(seg) ||
            !json_is_number(json_object_get(in[k], "start_unix")) ||
            !json_is_array(json_object_get(in[k], "windows")))
            return fo_cli_fail(
                err, errlen,
                "%s is not a fanout-load --json result with plan, segment and start_unix "
                "(a fanout-load older than --segment?)",
                names[k]);
        if (k == 0) continue;
        const json_t *pk = json_object_get(in[k], "plan");
        for (size_t i = 0; i < sizeof plan_keys / sizeof plan_keys[0]; i++) {
            const json_t *a = json_object_get(p0, plan_keys[i]),
                         *b = json_object_get(pk, plan_keys[i]);
            if (a && b && json_equal(a, b)) continue;
            char *as = a ? json_dumps(a, JSON_ENCODE_ANY) : NULL;
            char *bs = b ? json_dumps(b, JSON_ENCODE_ANY) : NULL;
            fo_cli_fail(err, errlen, "%s and %s were run with different settings: %s %s vs %s",
                        names[0], names[k], plan_keys[i], as ? as : "(none)", bs ? bs : "(none)");
            free(as);
            free(bs);
            return -EINVAL;
        }
        const char *u0 = json_string_value(json_object_get(in[0], "url"));
        const char *uk = json_string_value(json_object_get(in[k], "url"));
        if (!u0 || !uk || strcmp(u0, uk) != 0)
            return fo_cli_fail(err, errlen, "%s and %s ran against different URLs: %s vs %s",
                               names[0], names[k], u0 ? u0 : "(none)", uk ? uk : "(none)");
        if (count_of(json_object_get(in[0], "segment"), "count") != count_of(seg, "count"))
            return fo_cli_fail(
                err, errlen, "%s and %s differ in segment count: %llu vs %llu", names[0], names[k],
                (unsigned long long)count_of(json_object_get(in[0], "segment"), "count"),
                (unsigned long long)count_of(seg, "count"));
        const json_t *h0 = json_object_get(in[0], "histogram"),
                     *hk = json_object_get(in[k], "histogram");
        if (!json_equal(json_object_get(h0, "sub_bucket_bits"),
                        json_object_get(hk, "sub_bucket_bits")) ||
            !json_equal(json_object_get(h0, "unit"), json_object_get(hk, "unit")))
            return fo_cli_fail(err, errlen,
                               "%s and %s differ in histogram layout (unit, sub_bucket_bits)",
                               names[0], names[k]);
        if (json_array_size(json_object_get(in[0], "stages")) !=
            json_array_size(json_object_get(in[k], "stages")))
            return fo_cli_fail(err, errlen, "%s and %s differ in their number of stages", names[0],
                               names[k]);
    }
    return 0;
}

/* Every segment 0..N-1 exactly once; order[i] is the input of segment i. */
static int check_segments(json_t *const *in, const char *const *names, size_t n, size_t *order,
                          char *err, size_t errlen) {
    uint64_t count = count_of(json_object_get(in[0], "segment"), "count");
    if (count == 0) return fo_cli_fail(err, errlen, "%s has a segment count of 0", names[0]);
    size_t *seen = malloc(count * sizeof *seen);
    if (!seen) return fo_cli_fail(err, errlen, "out of memory");
    for (uint64_t i = 0; i < count; i++)
        seen[i] = SIZE_MAX;
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        uint64_t idx = count_of(json_object_get(in[k], "segment"), "index");
        if (idx >= count)
            rc = fo_cli_fail(err, errlen, "%s is segment %llu of %llu: no such segment", names[k],
                             (unsigned long long)idx, (unsigned long long)count);
        else if (seen[idx] != SIZE_MAX)
            rc = fo_cli_fail(err, errlen, "%s and %s are both segment %llu of %llu",
                             names[seen[idx]], names[k], (unsigned long long)idx,
                             (unsigned long long)count);
        else
            seen[idx] = k;
    }
    for (uint64_t i = 0; i < count && rc == 0; i++)
        if (seen[i] == SIZE_MAX)
            rc = fo_cli_fail(err, errlen,
                             "segment %llu of %llu is missing: %zu file%s given for %llu segments",
                             (unsigned long long)i, (unsigned long long)count, n, n == 1 ? "" : "s",
                             (unsigned long long)count);
    /* Every segment present and none twice: count == n. */
    for (size_t i = 0; i < n && rc == 0; i++)
        order[i] = seen[i];
    free(seen);
    return rc;
}

/* Where each input's windows land. Starts are kept exact (start_unix, a double: sub-microsecond
 * at today's Unix times); a window lasts a second, so input k's windows land at the whole
 * second nearest its start's distance from the earliest start. */
typedef struct layout {
    double start;       /* the earliest start_unix */
    size_t first, last; /* the inputs that started first and last */
    double skew_s;      /* the last start's distance from the first: exact */
    double end_s;       /* the latest end (offset + duration) */
    long *offset;       /* per input, whole seconds */
    size_t n_windows;   /* merged */
} layout;

static void lay_out(json_t *const *in, size_t n, layout *l) {
    l->first = l->last = 0;
    for (size_t k = 1; k < n; k++) {
        if (num(in[k], "start_unix") < num(in[l->first], "start_unix")) l->first = k;
        if (num(in[k], "start_unix") > num(in[l->last], "start_unix")) l->last = k;
    }
    l->start = num(in[l->first], "start_unix");
    l->skew_s = num(in[l->last], "start_unix") - l->start;
    l->end_s = 0;
    l->n_windows = 0;
    for (size_t k = 0; k < n; k++) {
        double d = num(in[k], "start_unix") - l->start; /* >= 0 */
        l->offset[k] = (long)(d + 0.5);
        double end = (double)l->offset[k] + num(in[k], "duration_s");
        if (end > l->end_s) l->end_s = end;
        size_t nw = (size_t)l->offset[k] + json_array_size(json_object_get(in[k], "windows"));
        if (nw > l->n_windows) l->n_windows = nw;
    }
}

/* The scratch state of the window merge. */
typedef struct wmerge {
    fo_hist h, service;
    uint64_t *counts;
    fo_window *wins; /* requests and length_s only: for fo_windows_peak_raw */
} wmerge;

static json_t *buckets_of(const fo_hist *h) {
    json_t *ho = fo_load_json_histogram(h);
    json_t *b = json_incref(json_object_get(ho, "buckets"));
    json_decref(ho);
    return b;
}

/* Merged window i, or NULL with err set. */
static json_t *merge_window(json_t *const *in, const char *const *names, size_t n, const layout *l,
                            size_t i, int open, wmerge *m, char *err, size_t errlen) {
    uint64_t requests = 0, failures = 0, users = 0, offered = 0, sent = 0, late = 0;
    fo_hist_reset(&m->h);
    fo_hist_reset(&m->service);
    for (size_t k = 0; k < n; k++) {
        long j = (long)i - l->offset[k];
        const json_t *w = json_array_get(json_object_get(in[k], "windows"), (size_t)j);
        if (j < 0 || !w) continue;
        uint64_t req = count_of(w, "requests");
        char why[200];
        if (add_window(&m->h, w, "buckets", req, why, sizeof why) < 0 ||
            (open && add_window(&m->service, w, "service_buckets", req, why, sizeof why) < 0)) {
            fo_cli_fail(err, errlen, "%s: window %ld: %s", names[k], j, why);
            return NULL;
        }
        requests += req;
        failures += count_of(w, "failures");
        users += count_of(w, "users");
        offered += count_of(w, "offered");
        sent += count_of(w, "sent");
        late += count_of(w, "late");
    }
    double length = l->end_s - (double)i;
    if (length > 1.0 || i + 1 < l->n_windows) length = 1.0;
    m->counts[i] = requests;
    m->wins[i].requests = requests;
    m->wins[i].length_s = length;
    json_t *o = json_pack("{s:I,s:f,s:I,s:I,s:I,s:f,s:f,s:f,s:I,s:I,s:o}", "t_s", (json_int_t)i,
                          "length_s", length, "users", (json_int_t)users, "requests",
                          (json_int_t)requests, "failures", (json_int_t)failures, "p50_ms",
                          (double)fo_hist_percentile(&m->h, fo_window_pcts[0]) / 1e6, "p95_ms",
                          (double)fo_hist_percentile(&m->h, fo_window_pcts[5]) / 1e6,
                          "rps_smoothed", fo_locust_current_rps(m->counts, i + 1, i + 1), "min_ns",
                          (json_int_t)(m->h.n ? m->h.min_ns : 0), "max_ns", (json_int_t)m->h.max_ns,
                          "buckets", buckets_of(&m->h));
    if (open)
        json_object_update_new(
            o,
            json_pack(
                "{s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:o}", "offered", (json_int_t)offered, "sent",
                (json_int_t)sent, "late", (json_int_t)late, "p99_ms",
                (double)fo_hist_percentile(&m->h, fo_window_pcts[7]) / 1e6, "service_p50_ms",
                (double)fo_hist_percentile(&m->service, fo_window_pcts[0]) / 1e6, "service_p95_ms",
                (double)fo_hist_percentile(&m->service, fo_window_pcts[5]) / 1e6, "service_p99_ms",
                (double)fo_hist_percentile(&m->service, fo_window_pcts[7]) / 1e6, "service_buckets",
                buckets_of(&m->service)));
    return o;
}

static json_t *merge_windows(json_t *const *in, const char *const *names, size_t n, const layout *l,
                             int open, wmerge *m, char *err, size_t errlen) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < l->n_windows; i++) {
        json_t *w = merge_window(in, names, n, l, i, open, m, err, errlen);
        if (!w) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, w);
    }
    return arr;
}

/* Sums key (an integer) over the inputs. */
static uint64_t sum_of(json_t *const *in, size_t n, const char *key) {
    uint64_t s = 0;
    for (size_t k = 0; k < n; k++)
        s += count_of(in[k], key);
    return s;
}

/* Merges the histogram under key of every input (obj_key: within that object, or NULL). */
static int merge_hist(fo_hist *h, json_t *const *in, const char *const *names, size_t n,
                      const char *key, char *err, size_t errlen) {
    for (size_t k = 0; k < n; k++) {
        char why[200];
        if (fo_hist_add_json(h, json_object_get(in[k], key), why, sizeof why) < 0)
            return fo_cli_fail(err, errlen, "%s: %s: %s", names[k], key, why);
    }
    return 0;
}

static json_t *merge_stages(json_t *const *in, const char *const *names, size_t n, int open,
                            fo_hist *h, char *err, size_t errlen) {
    json_t *arr = json_array();
    const json_t *s0 = json_object_get(in[0], "stages");
    for (size_t i = 0; i < json_array_size(s0); i++) {
        const json_t *st0 = json_array_get(s0, i);
        uint64_t failures = 0;
        double end_s = 0;
        fo_hist_reset(h);
        for (size_t k = 0; k < n; k++) {
            const json_t *st = json_array_get(json_object_get(in[k], "stages"), i);
            char why[200];
            if (fo_hist_add_json(h, json_object_get(st, "histogram"), why, sizeof why) < 0) {
                json_decref(arr);
                fo_cli_fail(err, errlen, "%s: stage %zu: %s", names[k], i, why);
                return NULL;
            }
            failures += count_of(st, "failures");
            if (num(st, "end_s") > end_s) end_s = num(st, "end_s");
        }
        fo_latency l;
        fo_latency_of(h, &l);
        double start_s = num(st0, "start_s");
        json_t *o = json_pack(
            "{s:f,s:f,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:o}", "start_s", start_s, "end_s", end_s,
            "requests", (json_int_t)h->n, "failures", (json_int_t)failures, "rps",
            end_s > start_s ? (double)h->n / (end_s - start_s) : 0.0, "min_ms", l.min_ms, "mean_ms",
            l.mean_ms, "p50_ms", l.p50_ms, "p95_ms", l.p95_ms, "p99_ms", l.p99_ms, "max_ms",
            l.max_ms, "histogram", fo_load_json_histogram(h));
        json_object_set(o, open ? "rate" : "users", json_object_get(st0, open ? "rate" : "users"));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* The open model's keys (json.c's add_open, from the merged data). */
static int merge_open(json_t *out, json_t *const *in, const char *const *names, size_t n,
                      double duration_s, fo_hist *h, char *err, size_t errlen) {
    uint64_t arrivals = sum_of(in, n, "arrivals"), sent = sum_of(in, n, "sent");
    json_object_set_new(out, "offered_rps",
                        json_real(duration_s > 0 ? (double)arrivals / duration_s : 0));
    json_object_set_new(out, "achieved_rps",
                        json_real(duration_s > 0 ? (double)sent / duration_s : 0));
    static const char *const sums[] = {"arrivals",        "sent",        "unsent",
                                       "max_connections", "connections", "late_starts",
                                       "queued_starts"};
    for (size_t i = 0; i < sizeof sums / sizeof sums[0]; i++)
        json_object_set_new(out, sums[i], json_integer((json_int_t)sum_of(in, n, sums[i])));
    fo_latency l;
    fo_hist_reset(h);
    if (merge_hist(h, in, names, n, "service_histogram", err, errlen) < 0) return -EINVAL;
    fo_latency_of(h, &l);
    json_object_set_new(out, "service", fo_load_json_latency(&l));
    json_object_set_new(out, "service_histogram", fo_load_json_histogram(h));
    fo_hist_reset(h);
    if (merge_hist(h, in, names, n, "lateness_histogram", err, errlen) < 0) return -EINVAL;
    fo_latency_of(h, &l);
    json_object_set_new(out, "lateness",
                        json_pack("{s:O,s:f,s:f,s:f,s:f,s:f,s:f}", "late_ms",
                                  json_object_get(json_object_get(in[0], "lateness"), "late_ms"),
                                  "mean_ms", l.mean_ms, "p50_ms", l.p50_ms, "p90_ms", l.p90_ms,
                                  "p99_ms", l.p99_ms, "p999_ms", l.p999_ms, "max_ms", l.max_ms));
    json_object_set_new(out, "lateness_histogram", fo_load_json_histogram(h));
    return 0;
}

/* The run's totals: histogram, failures, counters and the figures derived from them. */
static int merge_totals(json_t *out, json_t *const *in, const char *const *names, size_t n,
                        double duration_s, fo_hist *h, char *err, size_t errlen) {
    fo_hist_reset(h);
    if (merge_hist(h, in, names, n, "histogram", err, errlen) < 0) return -EINVAL;
    fo_latency l;
    fo_latency_of(h, &l);
    json_t *fail_obj = json_object();
    uint64_t failures = 0;
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(in[0], "failures"), key, v) {
        uint64_t s = 0;
        for (size_t k = 0; k < n; k++)
            s += count_of(json_object_get(in[k], "failures"), key);
        json_object_set_new(fail_obj, key, json_integer((json_int_t)s));
    }
    failures = count_of(fail_obj, "total");
    json_object_set_new(out, "requests", json_integer((json_int_t)h->n));
    json_object_set_new(out, "failures", fail_obj);
    json_object_set_new(
        out, "failure_ratio",
        json_real(h->n + failures ? (double)failures / (double)(h->n + failures) : 0));
    json_object_set_new(out, "reconnects", json_integer((json_int_t)sum_of(in, n, "reconnects")));
    json_object_set_new(out, "in_flight_at_end",
                        json_integer((json_int_t)sum_of(in, n, "in_flight_at_end")));
    json_object_set_new(out, "bytes", json_integer((json_int_t)sum_of(in, n, "bytes")));
    json_object_set_new(out, "min_ms", json_real(l.min_ms));
    json_object_set_new(out, "max_ms", json_real(l.max_ms));
    json_object_set_new(out, "mean_ms", json_real(l.mean_ms));
    json_object_set_new(out, "p50_ms", json_real(l.p50_ms));
    json_object_set_new(out, "p90_ms", json_real(l.p90_ms));
    json_object_set_new(out, "p95_ms", json_real(l.p95_ms));
    json_object_set_new(out, "p99_ms", json_real(l.p99_ms));
    json_object_set_new(out, "p999_ms", json_real(l.p999_ms));
    json_object_set_new(out, "p95_locust_ms", json_real(fo_latency_p95_locust_ms(h)));
    json_object_set_new(out, "rps", json_real(duration_s > 0 ? (double)h->n / duration_s : 0));
    json_object_set_new(out, "histogram", fo_load_json_histogram(h));
    if (json_object_get(out, "response"))
        json_object_set_new(out, "response", fo_load_json_latency(&l));
    return 0;
}

/* Refuses inputs whose starts lie more than max_skew_ms apart, naming the first and the last
 * (in is in segment order). */
static int check_skew(json_t *const *in, const char *const *names, size_t n, const layout *l,
                      double max_skew_ms, char *err, size_t errlen) {
    if (l->skew_s * 1e3 <= max_skew_ms) return 0;
    return fo_cli_fail(err, errlen,
                       "the segments' starts differ by %.3f ms, more than %g ms: %s (segment %zu "
                       "of %zu) started at %.6f and %s (segment %zu of %zu) at %.6f (Unix s); "
                       "start every segment with one --start-at, or allow it with --max-skew-ms",
                       l->skew_s * 1e3, max_skew_ms, names[l->last], l->last, n,
                       num(in[l->last], "start_unix"), names[l->first], l->first, n,
                       num(in[l->first], "start_unix"));
}

static void merge_run_keys(json_t *out, json_t *const *in, const char *const *names, size_t n,
                           const layout *l, double max_skew_ms) {
    int interrupted = 0;
    for (size_t k = 0; k < n; k++)
        interrupted |= json_is_true(json_object_get(in[k], "interrupted"));
    json_object_set_new(out, "users", json_integer((json_int_t)sum_of(in, n, "users")));
    json_object_set_new(out, "threads", json_integer((json_int_t)sum_of(in, n, "threads")));
    json_object_set_new(out, "duration_s", json_real(l->end_s));
    json_object_set_new(out, "interrupted", json_boolean(interrupted));
    json_object_set_new(out, "start_unix", json_real(l->start));
    json_object_set_new(out, "segment", json_pack("{s:i,s:i}", "index", 0, "count", 1));
    json_t *files = json_array(), *starts = json_array();
    for (size_t k = 0; k < n; k++) {
        json_array_append_new(files, json_string(names[k]));
        json_array_append_new(starts, json_real((num(in[k], "start_unix") - l->start) * 1e3));
    }
    json_object_set_new(
        out, "merged",
        json_pack("{s:I,s:o,s:o,s:f,s:f,s:s}", "segments", (json_int_t)n, "files", files,
                  "starts_ms", starts, "start_skew_ms", l->skew_s * 1e3, "max_skew_ms", max_skew_ms,
                  "method",
                  "exact: histograms (run, windows, stages, service, lateness) added bucket for "
                  "bucket; counts, sums, min and max combined; percentiles and RPS recomputed"));
}

json_t *fo_load_merge(json_t *const *in, const char *const *names, size_t n, double max_skew_ms,
                      char *err, size_t errlen) {
    if (n == 0) {
        fo_cli_fail(err, errlen, "no input");
        return NULL;
    }
    size_t *order = calloc(n, sizeof *order);
    const char **sorted_names = calloc(n, sizeof *sorted_names);
    json_t **sorted = calloc(n, sizeof *sorted);
    layout l = {.offset = calloc(n, sizeof(long))};
    wmerge m = {0};
    json_t *out = NULL;
    int ok = order && sorted && sorted_names && l.offset;
    ok = ok && same_settings(in, names, n, err, errlen) == 0 &&
         check_segments(in, names, n, order, err, errlen) == 0;
    if (ok) {
        for (size_t i = 0; i < n; i++) {
            sorted[i] = in[order[i]];
            sorted_names[i] = names[order[i]];
        }
        lay_out(sorted, n, &l);
        ok = check_skew(sorted, sorted_names, n, &l, max_skew_ms, err, errlen) == 0;
    }
    if (ok) {
        m.counts = calloc(l.n_windows + 1, sizeof *m.counts);
        m.wins = calloc(l.n_windows + 1, sizeof *m.wins);
        ok = m.counts && m.wins && fo_hist_init(&m.h) == 0;
        if (ok && fo_hist_init(&m.service) < 0) {
            fo_hist_free(&m.h);
            ok = 0;
        }
        if (!ok) fo_cli_fail(err, errlen, "out of memory");
    }
    if (ok) {
        const char *model = json_string_value(json_object_get(sorted[0], "model"));
        int open = model && strcmp(model, "open") == 0;
        out = json_deep_copy(sorted[0]);
        json_t *windows = merge_windows(sorted, sorted_names, n, &l, open, &m, err, errlen);
        json_t *stages =
            windows ? merge_stages(sorted, sorted_names, n, open, &m.h, err, errlen) : NULL;
        ok = out && windows && stages &&
             merge_totals(out, sorted, sorted_names, n, l.end_s, &m.h, err, errlen) == 0 &&
             (!open || merge_open(out, sorted, sorted_names, n, l.end_s, &m.h, err, errlen) == 0);
        if (ok) {
            json_object_set_new(out, "windows", windows);
            json_object_set_new(out, "stages", stages);
            json_object_set_new(out, "max_rps_smoothed",
                                json_real(fo_locust_max_rps(m.counts, l.n_windows)));
            json_object_set_new(out, "max_rps_raw",
                                json_integer((json_int_t)fo_windows_peak_raw(m.wins, l.n_windows)));
            merge_run_keys(out, sorted, sorted_names, n, &l, max_skew_ms);
        } else {
            json_decref(windows);
            json_decref(stages);
            json_decref(out);
            out = NULL;
        }
        fo_hist_free(&m.h);
        fo_hist_free(&m.service);
    }
    free(m.counts);
    free(m.wins);
    free(l.offset);
    free(order);
    free(sorted);
    free(sorted_names);
    return out;
}
