/* Tests for hist.c: the bucket layout's error bound, exact count/sum/min/max, percentiles of
 * known distributions within 0.1%, and merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"

#include "fanout/hist.h"

#include <stdlib.h>

static void assert_within(double got, double want, double rel) {
    double err = got > want ? got - want : want - got;
    if (err > want * rel) fail_msg("got %.3f, want %.3f within %.4f%%", got, want, rel * 100);
}

/* Every bucket is contiguous with the next, and no wider than 1/1024 of its lower bound. */
static void test_layout(void **state) {
    (void)state;
    uint64_t prev_hi = 0;
    for (size_t i = 0; i < FO_HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        fo_hist_bucket_bounds(i, &lo, &hi);
        assert_int_equal(lo, prev_hi);
        assert_true(hi > lo);
        if (lo >= 2 * FO_HIST_SUB_COUNT) assert_true((hi - lo) * FO_HIST_SUB_COUNT <= lo);
        assert_int_equal(fo_hist_index(lo), i);
        assert_int_equal(fo_hist_index(hi - 1), i);
        prev_hi = hi;
    }
    assert_int_equal(prev_hi - 1, FO_HIST_MAX_NS);
    /* One hour is inside the range; beyond the range goes to the last bucket. */
    assert_true(fo_hist_index(3600ull * 1000000000ull) < FO_HIST_BUCKETS - 1);
    assert_int_equal(fo_hist_index(UINT64_MAX), FO_HIST_BUCKETS - 1);
}

static void test_empty(void **state) {
    (void)state;
    fo_hist h;
    assert_int_equal(fo_hist_init(&h), 0);
    assert_int_equal(h.n, 0);
    assert_int_equal(fo_hist_percentile(&h, 50), 0);
    assert_true(fo_hist_mean(&h) == 0.0);
    fo_hist_free(&h);
}

/* 1..100000 µs uniformly: exact min, max, mean; nearest-rank percentiles within 0.1%. */
static void test_uniform(void **state) {
    (void)state;
    fo_hist h;
    assert_int_equal(fo_hist_init(&h), 0);
    for (uint64_t us = 1; us <= 100000; us++)
        fo_hist_record(&h, us * 1000);
    assert_int_equal(h.n, 100000);
    assert_int_equal(h.min_ns, 1000);
    assert_int_equal(h.max_ns, 100000000);
    assert_int_equal(h.sum_ns, 100000ull * 100001ull / 2 * 1000);
    assert_true(fo_hist_mean(&h) == 50000.5 * 1000);
    static const double ps[] = {1, 10, 50, 90, 95, 99, 99.9, 99.99};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        double want = ps[i] * 1000.0 * 1000.0; /* rank ceil(p% * n) is the value p*1000 µs */
        assert_within((double)fo_hist_percentile(&h, ps[i]), want, 0.001);
    }
    assert_int_equal(fo_hist_percentile(&h, 100), 100000000);
    fo_hist_free(&h);
}

/* Values spread over the whole range, 1 µs to one hour, log-uniformly: every rank's value is
 * within 0.1% of the true one, which a sorted copy gives. */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_wide_range(void **state) {
    (void)state;
    enum { N = 20000 };
    uint64_t *v = malloc(N * sizeof *v);
    fo_hist h;
    assert_non_null(v);
    assert_int_equal(fo_hist_init(&h), 0);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* 1 µs * 2^(31.7 * u): 1 µs .. about 1 hour */
        double u = (double)(x >> 11) / 9007199254740992.0;
        double ns = 1000.0;
        for (double e = u * 31.7; e >= 1; e -= 1)
            ns *= 2;
        v[i] = (uint64_t)ns;
        fo_hist_record(&h, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_u64);
    for (int r = 0; r < N; r += 97)
        assert_within((double)fo_hist_value_at_rank(&h, (uint64_t)r), (double)v[r], 0.001);
    assert_int_equal(h.min_ns, v[0]);
    assert_int_equal(h.max_ns, v[N - 1]);
    free(v);
    fo_hist_free(&h);
}

/* Merging two histograms gives exactly the histogram of both inputs. */
static void test_merge(void **state) {
    (void)state;
    fo_hist a, b, both;
    assert_int_equal(fo_hist_init(&a), 0);
    assert_int_equal(fo_hist_init(&b), 0);
    assert_int_equal(fo_hist_init(&both), 0);
    for (uint64_t i = 0; i < 5000; i++) {
        uint64_t va = 600000000 + i * 1777, vb = 1000 + i * i * 31;
        fo_hist_record(&a, va);
        fo_hist_record(&b, vb);
        fo_hist_record(&both, va);
        fo_hist_record(&both, vb);
    }
    fo_hist_merge(&a, &b);
    assert_int_equal(a.n, both.n);
    assert_int_equal(a.sum_ns, both.sum_ns);
    assert_int_equal(a.min_ns, both.min_ns);
    assert_int_equal(a.max_ns, both.max_ns);
    assert_int_equal(a.lo, both.lo);
    assert_int_equal(a.hi, both.hi);
    for (size_t i = 0; i < FO_HIST_BUCKETS; i++)
        assert_int_equal(a.counts[i], both.counts[i]);
    for (double p = 1; p <= 100; p += 1)
        assert_int_equal(fo_hist_percentile(&a, p), fo_hist_percentile(&both, p));
    /* Merging an empty histogram changes nothing. */
    fo_hist_reset(&b);
    fo_hist_merge(&a, &b);
    assert_int_equal(a.n, both.n);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.min_ns, UINT64_MAX);
    fo_hist_free(&a);
    fo_hist_free(&b);
    fo_hist_free(&both);
}

/* Reset empties only what was used, and the histogram records afresh. */
static void test_reset(void **state) {
    (void)state;
    fo_hist h;
    assert_int_equal(fo_hist_init(&h), 0);
    fo_hist_record(&h, 5);
    fo_hist_record(&h, 123456789);
    fo_hist_reset(&h);
    for (size_t i = 0; i < FO_HIST_BUCKETS; i++)
        assert_int_equal(h.counts[i], 0);
    fo_hist_record(&h, 42);
    assert_int_equal(h.n, 1);
    assert_int_equal(fo_hist_percentile(&h, 50), 42);
    assert_int_equal(h.min_ns, 42);
    assert_int_equal(h.max_ns, 42);
    fo_hist_free(&h);
}

/* A value beyond the range keeps its exact max and sum. */
static void test_beyond_range(void **state) {
    (void)state;
    fo_hist h;
    assert_int_equal(fo_hist_init(&h), 0);
    uint64_t big = FO_HIST_MAX_NS * 3;
    fo_hist_record(&h, big);
    fo_hist_record(&h, 10);
    assert_int_equal(h.max_ns, big);
    assert_int_equal(h.sum_ns, big + 10);
    assert_int_equal(fo_hist_percentile(&h, 100), big);
    fo_hist_free(&h);
}

TEST_MAIN(cmocka_unit_test(test_layout), cmocka_unit_test(test_empty),
          cmocka_unit_test(test_uniform), cmocka_unit_test(test_wide_range),
          cmocka_unit_test(test_merge), cmocka_unit_test(test_reset),
          cmocka_unit_test(test_beyond_range))
