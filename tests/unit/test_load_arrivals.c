/* Tests for bench/load/arrivals.c: the open model's arrival schedule. Arrivals are evenly
 * spaced per stage, stages follow each other as a staircase, a --duration cap cuts the run,
 * and the threads' round-robin shares merge into exactly the global sequence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"

#include "arrivals.h"
#include "schedule.h"

#include <stdlib.h>
#include <string.h>

#define S(x) ((uint64_t)((x)*1e9))

/* 150/s for 2 s: 300 arrivals, 1/150 s apart to the nanosecond, the last before the end. */
static void test_even_spacing(void **state) {
    (void)state;
    fo_rates r;
    fo_rates_simple(&r, 150, S(2));
    assert_int_equal(r.total, 300);
    assert_int_equal(r.total_ns, S(2));
    assert_int_equal(fo_rates_at(&r, 0), 0);
    assert_int_equal(fo_rates_at(&r, 3), 20000000); /* 3/150 s exactly */
    assert_int_equal(fo_rates_at(&r, 150), S(1));
    assert_int_equal(fo_rates_at(&r, 299), 1993333333);
    assert_int_equal(fo_rates_at(&r, 300), UINT64_MAX);
    for (uint64_t k = 1; k < r.total; k++) {
        uint64_t gap = fo_rates_at(&r, k) - fo_rates_at(&r, k - 1);
        assert_true(gap == 6666666 || gap == 6666667);
        /* No drift: arrival k is within 1 ns of k/150 s. */
        double exact = (double)k * 1e9 / 150;
        assert_true((double)fo_rates_at(&r, k) <= exact && (double)fo_rates_at(&r, k) > exact - 1);
    }
    assert_int_equal(fo_rates_count_before(&r, 0), 0);
    assert_int_equal(fo_rates_count_before(&r, 1), 1);
    assert_int_equal(fo_rates_count_before(&r, S(1)), 150);
    assert_int_equal(fo_rates_count_before(&r, S(1) + 1), 151);
    assert_int_equal(fo_rates_count_before(&r, S(5)), 300);
    /* Below one a second, and a rate that does not divide a second. */
    fo_rates_simple(&r, 0.5, S(5));
    assert_int_equal(r.total, 3); /* 0, 2, 4 s */
    assert_int_equal(fo_rates_at(&r, 2), S(4));
    fo_rates_simple(&r, 0.3, S(10));
    assert_int_equal(r.total, 3); /* 0, 3.33, 6.67 s: 10 s is not reached */
}

/* "50:10s,200:20s,0:1s,10:1s": 500 arrivals, then 4000 from 10 s on, a pause, then 10. */
static void test_stages(void **state) {
    (void)state;
    fo_rates r;
    memset(&r, 0, sizeof r);
    assert_int_equal(fo_rates_add_stage(&r, 50, S(10)), 0);
    assert_int_equal(fo_rates_add_stage(&r, 200, S(20)), 0);
    assert_int_equal(fo_rates_add_stage(&r, 0, S(1)), 0);
    assert_int_equal(fo_rates_add_stage(&r, 10, S(1)), 0);
    fo_rates_finish(&r, 0);
    assert_int_equal(r.total_ns, S(32));
    assert_int_equal(r.total, 500 + 4000 + 0 + 10);
    assert_true(r.max_rate == 200);
    assert_int_equal(fo_rates_at(&r, 499), S(9.98));
    assert_int_equal(fo_rates_at(&r, 500), S(10));
    assert_int_equal(fo_rates_at(&r, 501), S(10.005));
    assert_int_equal(fo_rates_at(&r, 4500), S(31));
    assert_int_equal(fo_rates_at(&r, 4509), S(31.9));
    assert_int_equal(fo_rates_stage_at(&r, S(9.99)), 0);
    assert_int_equal(fo_rates_stage_at(&r, S(10)), 1);
    assert_int_equal(fo_rates_stage_at(&r, S(30.5)), 2);
    assert_int_equal(fo_rates_stage_at(&r, S(32)), -1);
    assert_int_equal(fo_rates_count_before(&r, S(11)), 700);
    assert_int_equal(fo_rates_count_before(&r, S(30.5)), 4500);
    /* Times are non-decreasing across every stage boundary. */
    for (uint64_t k = 1; k < r.total; k++)
        assert_true(fo_rates_at(&r, k) > fo_rates_at(&r, k - 1));
    /* A --duration cap ends the run inside the second stage. */
    fo_rates_finish(&r, S(12));
    assert_int_equal(r.total_ns, S(12));
    assert_int_equal(r.total, 500 + 400);
    assert_int_equal(r.stages[2].count, 0);
    assert_int_equal(fo_rates_stage_at(&r, S(12)), -1);
}

static void test_full(void **state) {
    (void)state;
    fo_rates r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < FO_RATES_MAX_STAGES; i++)
        assert_int_equal(fo_rates_add_stage(&r, 1, S(1)), 0);
    assert_true(fo_rates_add_stage(&r, 1, S(1)) < 0);
}

/* Split round-robin over n threads, the arrivals merged in time order are exactly the global
 * sequence, each thread's own times are evenly spaced n times further apart, and the shares
 * add up, for rates below, at and above the thread count. */
static void test_split_reproduces_global(void **state) {
    (void)state;
    const double rates[] = {1, 3, 7.5, 100, 1234.5};
    for (size_t ri = 0; ri < sizeof rates / sizeof rates[0]; ri++) {
        for (unsigned n = 1; n <= 4; n++) {
            fo_rates r;
            memset(&r, 0, sizeof r);
            fo_rates_add_stage(&r, rates[ri], S(2));
            fo_rates_add_stage(&r, rates[ri] * 2, S(1));
            fo_rates_finish(&r, 0);
            uint64_t *next = calloc(n, sizeof *next); /* each thread's next own index */
            uint64_t shares = 0;
            for (unsigned t = 0; t < n; t++)
                shares += fo_sched_share(r.total, t, n);
            assert_int_equal(shares, r.total);
            /* Merge: repeatedly take the earliest next arrival among the threads (ties go to
             * the lower thread, which holds the lower global index). */
            for (uint64_t k = 0; k < r.total; k++) {
                unsigned best = n;
                uint64_t best_at = UINT64_MAX;
                for (unsigned t = 0; t < n; t++) {
                    if (next[t] >= fo_sched_share(r.total, t, n)) continue;
                    uint64_t at = fo_rates_at(&r, fo_sched_index(t, n, next[t]));
                    if (at < best_at) {
                        best_at = at;
                        best = t;
                    }
                }
                assert_true(best < n);
                assert_int_equal(fo_sched_index(best, n, next[best]), k);
                assert_int_equal(best_at, fo_rates_at(&r, k));
                next[best]++;
            }
            free(next);
        }
    }
}

TEST_MAIN(cmocka_unit_test(test_even_spacing), cmocka_unit_test(test_stages),
          cmocka_unit_test(test_full), cmocka_unit_test(test_split_reproduces_global))
