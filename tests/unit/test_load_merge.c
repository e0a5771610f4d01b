/* fanout-report merge's core (bench/load/load_merge.c) and the segmentation rule it relies on: a
 * data set split over several histograms, written as fanout-load writes them and read back, merges
 * bucket for bucket into the histogram of the whole set; windows align on wall-clock time;
 * inputs that do not belong together are refused; N segments deal users and arrivals so that
 * together they are exactly the single process's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_main.h"
#include <jansson.h>

#include "arrivals.h"
#include "fanout/hist.h"
#include "locust.h"
#include "load_merge.h"
#include "output.h"
#include "load_report.h"
#include "schedule.h"

/* A deterministic spread of response times, 1 us to ~4 s, heavy-tailed. */
static uint64_t next_value(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t r = *state >> 33;
    unsigned shift = (unsigned)(r % 22);
    return 1000 + ((r * 2654435761u) & ((UINT64_C(1) << (shift + 10)) - 1));
}

#define PARTS 4
#define VALUES 200000

static void test_split_histograms_merge_into_the_whole(void **state) {
    (void)state;
    fo_hist whole, part[PARTS], merged;
    assert_int_equal(fo_hist_init(&whole), 0);
    assert_int_equal(fo_hist_init(&merged), 0);
    for (int p = 0; p < PARTS; p++)
        assert_int_equal(fo_hist_init(&part[p]), 0);
    uint64_t s = 42;
    for (int i = 0; i < VALUES; i++) {
        uint64_t v = next_value(&s);
        fo_hist_record(&whole, v);
        /* Uneven parts: a segment need not see the same share or the same values. */
        fo_hist_record(&part[(v >> 7) % PARTS == 0 ? 0 : (int)(i % PARTS)], v);
    }
    char err[256];
    for (int p = 0; p < PARTS; p++) {
        json_t *j = fo_load_json_histogram(&part[p]);
        /* Through text, as the files carry it. */
        char *text = json_dumps(j, 0);
        json_t *back = json_loads(text, 0, NULL);
        assert_non_null(back);
        assert_int_equal(fo_hist_add_json(&merged, back, err, sizeof err), 0);
        free(text);
        json_decref(j);
        json_decref(back);
    }
    for (size_t i = 0; i < FO_HIST_BUCKETS; i++)
        if (whole.counts[i] != merged.counts[i]) fail_msg("bucket %zu differs", i);
    assert_int_equal(merged.n, whole.n);
    assert_int_equal(merged.sum_ns, whole.sum_ns);
    assert_int_equal(merged.min_ns, whole.min_ns);
    assert_int_equal(merged.max_ns, whole.max_ns);
    static const double pcts[] = {1, 50, 66, 90, 95, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
        assert_int_equal(fo_hist_percentile(&merged, pcts[i]), fo_hist_percentile(&whole, pcts[i]));
    assert_true(fo_latency_p95_locust_ms(&merged) == fo_latency_p95_locust_ms(&whole));
    fo_latency a, b;
    fo_latency_of(&whole, &a);
    fo_latency_of(&merged, &b);
    assert_memory_equal(&a, &b, sizeof a);
    for (int p = 0; p < PARTS; p++)
        fo_hist_free(&part[p]);
    fo_hist_free(&whole);
    fo_hist_free(&merged);
}

static void test_histogram_layouts_are_checked(void **state) {
    (void)state;
    fo_hist h;
    char err[256];
    assert_int_equal(fo_hist_init(&h), 0);
    json_t *j = json_pack("{s:s,s:i,s:I,s:I,s:I,s:I,s:[[I,I,I]]}", "unit", "ns", "sub_bucket_bits",
                          7, "count", 1, "sum_ns", 5000, "min_ns", 5000, "max_ns", 5000, "buckets",
                          4992, 5024, 1);
    assert_int_equal(fo_hist_add_json(&h, j, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "sub_bucket_bits 7"));
    json_object_set_new(j, "sub_bucket_bits", json_integer(FO_HIST_SUB_BITS));
    /* 4992..5024 is a bucket of 7 sub-bucket bits, not of this build's. */
    assert_int_equal(fo_hist_add_json(&h, j, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "layouts differ"));
    uint64_t lo, hi;
    fo_hist_bucket_bounds(fo_hist_index(5000), &lo, &hi);
    json_object_set_new(j, "buckets", json_pack("[[I,I,I]]", (json_int_t)lo, (json_int_t)hi, 2));
    assert_int_equal(fo_hist_add_json(&h, j, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "count says 1"));
    assert_int_equal(h.n, 0); /* a refused histogram adds nothing */
    json_object_set_new(j, "count", json_integer(2));
    json_object_set_new(j, "sum_ns", json_integer(10001));
    assert_int_equal(fo_hist_add_json(&h, j, err, sizeof err), 0);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.sum_ns, 10001); /* exact, not the bucket bounds */
    assert_int_equal(h.min_ns, 5000);
    json_decref(j);
    fo_hist_free(&h);
}

/* A segment's result as fanout-load writes it, with one value of `ms` per request of each
 * window. */
static json_t *segment_doc(unsigned index, unsigned count, double start_unix,
                           const uint64_t *requests, size_t n_windows, uint64_t ms) {
    fo_hist total, win;
    fo_hist_init(&total);
    fo_hist_init(&win);
    json_t *windows = json_array();
    for (size_t i = 0; i < n_windows; i++) {
        fo_hist_reset(&win);
        for (uint64_t r = 0; r < requests[i]; r++)
            fo_hist_record(&win, ms * 1000000 + r);
        fo_hist_merge(&total, &win);
        json_t *wh = fo_load_json_histogram(&win);
        json_array_append_new(
            windows,
            json_pack("{s:I,s:f,s:I,s:I,s:I,s:f,s:f,s:f,s:I,s:I,s:O}", "t_s", (json_int_t)i,
                      "length_s", 1.0, "users", (json_int_t)index + 1, "requests",
                      (json_int_t)requests[i], "failures", 0, "p50_ms", 0.0, "p95_ms", 0.0,
                      "rps_smoothed", 0.0, "min_ns", (json_int_t)(win.n ? win.min_ns : 0), "max_ns",
                      (json_int_t)win.max_ns, "buckets", json_object_get(wh, "buckets")));
        json_decref(wh);
    }
    json_t *d = json_pack(
        "{s:s,s:i,s:s,s:i,s:i,s:f,s:b,s:f,s:I,s:{s:i,s:i},s:o,s:o,s:[],s:s,s:f,s:{s:i,s:i},"
        "s:{s:s,s:i,s:f,s:f,s:s,s:f,s:f,s:f}}",
        "tool", "fanout-load", "schema", 1, "url", "http://127.0.0.1:1/", "users", 1, "threads", 1,
        "duration_s", (double)n_windows, "interrupted", 0, "spawn_rate", 0.0, "requests",
        (json_int_t)total.n, "failures", "total", 0, "connect", 0, "windows", windows, "histogram",
        fo_load_json_histogram(&total), "stages", "model", "closed", "start_unix", start_unix,
        "segment", "index", (int)index, "count", (int)count, "plan", "model", "closed", "users",
        (int)count, "spawn_rate", 0.0, "rate", 0.0, "stages", "", "total_s", (double)n_windows,
        "wait_min_ms", 0.0, "wait_max_ms", 0.0);
    fo_hist_free(&total);
    fo_hist_free(&win);
    return d;
}

static void test_windows_align_on_wall_clock_and_rps_is_recomputed(void **state) {
    (void)state;
    /* Segment 1 started one second after segment 0 (no common --start-at, and a skew allowed
     * beyond the default): its window 0 is the merged window 1. */
    const uint64_t r0[] = {10, 20, 30, 40, 50}, r1[] = {1, 2, 3, 4, 5};
    json_t *in[2] = {segment_doc(1, 2, 1000.5, r1, 5, 7), segment_doc(0, 2, 999.5, r0, 5, 3)};
    const char *names[2] = {"b.json", "a.json"};
    char err[512] = "";
    json_t *m = fo_load_merge(in, names, 2, 1000, err, sizeof err);
    if (!m) fail_msg("%s", err);
    const json_t *w = json_object_get(m, "windows");
    assert_int_equal(json_array_size(w), 6);
    const uint64_t want[] = {10, 21, 32, 43, 54, 5};
    uint64_t counts[6];
    for (size_t i = 0; i < 6; i++) {
        const json_t *wi = json_array_get(w, i);
        counts[i] = want[i];
        assert_int_equal(json_integer_value(json_object_get(wi, "requests")), want[i]);
        assert_true(json_real_value(json_object_get(wi, "rps_smoothed")) ==
                    fo_locust_current_rps(counts, i + 1, i + 1));
    }
    /* Window 1 holds 20 values at 3 ms and 1 at 7 ms: its p95 is a 3 ms one, its max 7 ms. */
    assert_true(json_real_value(json_object_get(json_array_get(w, 1), "p95_ms")) < 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(w, 1), "max_ns")), 7000000);
    assert_true(json_real_value(json_object_get(m, "max_rps_smoothed")) ==
                fo_locust_max_rps(counts, 6));
    assert_int_equal(json_integer_value(json_object_get(m, "max_rps_raw")), 54);
    assert_int_equal(json_integer_value(json_object_get(m, "requests")), 165);
    assert_true(json_real_value(json_object_get(m, "start_unix")) == 999.5);
    assert_true(json_real_value(json_object_get(m, "duration_s")) == 6.0);
    json_decref(m);

    /* Refusals name the difference. */
    json_object_set_new(json_object_get(in[0], "plan"), "users", json_integer(3));
    assert_null(fo_load_merge(in, names, 2, 1000, err, sizeof err));
    assert_non_null(strstr(err, "users 3 vs 2"));
    json_object_set_new(json_object_get(in[0], "plan"), "users", json_integer(2));
    json_object_set_new(json_object_get(in[0], "segment"), "index", json_integer(0));
    assert_null(fo_load_merge(in, names, 2, 1000, err, sizeof err));
    assert_non_null(strstr(err, "both segment 0 of 2"));
    assert_null(fo_load_merge(in, names, 1, 1000, err, sizeof err));
    assert_non_null(strstr(err, "segment 1 of 2 is missing"));
    json_decref(in[0]);
    json_decref(in[1]);
}

/* Starts are kept exact: segments started 40 ms apart merge by default and say so; 120 ms apart
 * they are refused, naming the first and the last to start and their distance, unless a larger
 * skew is allowed. */
static void test_start_skew_is_exact_and_bounded(void **state) {
    (void)state;
    const uint64_t r[] = {5, 5, 5};
    const char *names[3] = {"s0.json", "s1.json", "s2.json"};
    json_t *in[3] = {segment_doc(0, 3, 1700000000.250, r, 3, 3),
                     segment_doc(1, 3, 1700000000.290, r, 3, 3),
                     segment_doc(2, 3, 1700000000.270, r, 3, 3)};
    char err[512] = "";
    json_t *m = fo_load_merge(in, names, 3, FO_MERGE_MAX_SKEW_MS, err, sizeof err);
    if (!m) fail_msg("%s", err);
    const json_t *merged = json_object_get(m, "merged");
    double skew = json_real_value(json_object_get(merged, "start_skew_ms"));
    assert_true(skew > 39.99 && skew < 40.01);
    const json_t *starts = json_object_get(merged, "starts_ms");
    assert_int_equal(json_array_size(starts), 3);
    assert_true(json_real_value(json_array_get(starts, 0)) == 0);
    double s2 = json_real_value(json_array_get(starts, 2));
    assert_true(s2 > 19.99 && s2 < 20.01);
    assert_true(json_real_value(json_object_get(m, "start_unix")) == 1700000000.250);
    assert_int_equal(json_array_size(json_object_get(m, "windows")), 3);
    json_decref(m);

    json_object_set_new(in[1], "start_unix", json_real(1700000000.370));
    assert_null(fo_load_merge(in, names, 3, FO_MERGE_MAX_SKEW_MS, err, sizeof err));
    assert_non_null(strstr(err, "differ by 120.000 ms, more than 50 ms"));
    assert_non_null(strstr(err, "s1.json (segment 1 of 3) started at 1700000000.370000"));
    assert_non_null(strstr(err, "s0.json (segment 0 of 3) at 1700000000.250000"));
    assert_non_null(strstr(err, "--max-skew-ms"));
    m = fo_load_merge(in, names, 3, 200, err, sizeof err);
    if (!m) fail_msg("%s", err);
    assert_true(json_real_value(json_object_get(json_object_get(m, "merged"), "max_skew_ms")) ==
                200);
    json_decref(m);
    for (size_t k = 0; k < 3; k++)
        json_decref(in[k]);
}

/* The rule --segment relies on: slots segment + N * thread of N * T deal users (and arrivals)
 * so that all segments' threads together run exactly the single process's users. */
static void test_segments_reproduce_the_single_schedule(void **state) {
    (void)state;
    fo_sched s;
    memset(&s, 0, sizeof s);
    fo_sched_add_stage(&s, 7, 2000000000ull);
    fo_sched_add_stage(&s, 23, 3000000000ull);
    fo_sched_add_stage(&s, 4, 1000000000ull);
    fo_sched_finish(&s, 3.0, 0);
    for (unsigned n = 1; n <= 5; n++)
        for (unsigned t = 1; t <= 3; t++)
            for (uint64_t at = 0; at < s.total_ns; at += 250000000ull) {
                uint32_t want = fo_sched_users_at(&s, at), sum = 0;
                for (unsigned seg = 0; seg < n; seg++)
                    for (unsigned th = 0; th < t; th++)
                        sum += fo_sched_share(want, fo_sched_slot(seg, n, th), n * t);
                assert_int_equal(sum, want);
            }
    fo_rates r;
    fo_rates_simple(&r, 37.0, 2000000000ull);
    static unsigned char seen[100];
    assert_true(r.total <= sizeof seen);
    const unsigned n = 3, t = 2;
    for (unsigned seg = 0; seg < n; seg++)
        for (unsigned th = 0; th < t; th++)
            for (uint64_t i = 0; i < fo_sched_share(r.total, fo_sched_slot(seg, n, th), n * t); i++)
                seen[fo_sched_index(fo_sched_slot(seg, n, th), n * t, i)]++;
    for (uint64_t k = 0; k < r.total; k++)
        assert_int_equal(seen[k], 1);
}

TEST_MAIN(cmocka_unit_test(test_split_histograms_merge_into_the_whole),
          cmocka_unit_test(test_histogram_layouts_are_checked),
          cmocka_unit_test(test_windows_align_on_wall_clock_and_rps_is_recomputed),
          cmocka_unit_test(test_start_skew_is_exact_and_bounded),
          cmocka_unit_test(test_segments_reproduce_the_single_schedule))
