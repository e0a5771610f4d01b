/* Tests for bench/load/windows.c: one-second windows handed over by several threads, final
 * only once every thread has moved past them, exact merged figures, users per window, the
 * partial last window, and both Max RPS figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"

#include "windows.h"

#include <stdlib.h>

#define MS(x) ((uint64_t)((x)*1e6))

/* Hands over a closed-model part: successes h, failures and bytes. */
static int flush(fo_windows *w, unsigned thread, uint64_t idx, const fo_hist *h, uint64_t failures,
                 uint64_t bytes, uint64_t next) {
    fo_win_part p = {h, NULL, failures, bytes, 0, 0};
    return fo_windows_flush(w, thread, idx, &p, next);
}

static void record_n(fo_hist *h, int n, uint64_t ns) {
    for (int i = 0; i < n; i++)
        fo_hist_record(h, ns);
}

/* Two threads of a 20 s run ramping 10 users a second to 100, and a histogram to hand over. */
typedef struct two_threads {
    fo_sched s;
    fo_windows w;
    fo_hist h;
} two_threads;

static int two_threads_setup(void **state) {
    two_threads *f = calloc(1, sizeof *f);
    if (!f) return -1;
    fo_sched_simple(&f->s, 100, 10, 20 * FO_NS_PER_S);
    if (fo_windows_init(&f->w, 2, &f->s) != 0 || fo_hist_init(&f->h) != 0) return -1;
    *state = f;
    return 0;
}

static int two_threads_teardown(void **state) {
    two_threads *f = *state;
    fo_hist_free(&f->h);
    fo_windows_free(&f->w);
    free(f);
    return 0;
}

/* Two threads; a window is final only when both have moved past it. */
static void test_two_threads(void **state) {
    two_threads *f = *state;
    fo_windows *w = &f->w;
    fo_hist *h = &f->h;

    record_n(h, 5, MS(600));
    assert_int_equal(flush(w, 0, 0, h, 1, 500, 1), 0);
    assert_int_equal(fo_windows_finalize(w, UINT64_MAX), 0); /* thread 1 still in window 0 */
    fo_hist_reset(h);
    record_n(h, 3, MS(700));
    assert_int_equal(flush(w, 1, 0, h, 0, 300, 2), 0);
    assert_int_equal(fo_windows_finalize(w, UINT64_MAX), 1);
    const fo_window *w0 = &w->win[0];
    assert_int_equal(w0->requests, 8);
    assert_int_equal(w0->failures, 1);
    assert_int_equal(w0->bytes, 800);
    assert_int_equal(w0->users, 10);
    /* p50 of 5 x 600 ms and 3 x 700 ms is rank 3 (600 ms, to within 0.05%); p95 is the max. */
    assert_true(w0->pct_ns[0] >= MS(600) && w0->pct_ns[0] <= MS(600.3));
    assert_int_equal(w0->pct_ns[5], MS(700));
    /* Locust's median is at index floor(8 * 0.5) = 4 of the sorted times, the last 600. */
    assert_int_equal(w0->locust_pct_ms[0], 600);
    assert_int_equal(w0->locust_pct_ms[5], 700); /* index floor(7.6) = 7 */
    fo_hist_reset(h);

    /* Thread 0 skips second 1 (nothing completed) and reports second 2. */
    record_n(h, 4, MS(650));
    assert_int_equal(flush(w, 0, 2, h, 0, 0, 3), 0);
    assert_int_equal(fo_windows_finalize(w, UINT64_MAX), 2); /* thread 1 is at 2 */
    assert_int_equal(w->win[1].requests, 0);
    assert_int_equal(w->win[1].users, 20);
    assert_int_equal(w->win[1].total_requests, 8);
    /* The workers have stopped: finish finalises the rest, 2.5 s in all. */
    assert_int_equal(fo_windows_finish(w, 2500 * 1000000ull), 3);
    assert_int_equal(w->win[2].requests, 4);
    assert_true(w->win[2].length_s == 0.5);
    assert_int_equal(w->total.n, 12);
    assert_int_equal(w->total.min_ns, MS(600));
    assert_int_equal(w->total.max_ns, MS(700));
    assert_int_equal(w->total_failures, 1);
    /* The partial window is not a raw peak. */
    assert_int_equal(fo_windows_max_rps_raw(w), 8);
}

/* Every thread has closed (said UINT64_MAX) before the run is finished: finalising then stops
 * at the windows that hold something instead of running towards UINT64_MAX (it hung the
 * process), and the run's end is still finish's to set. */
static void test_all_threads_closed(void **state) {
    two_threads *f = *state;
    fo_windows *w = &f->w;
    fo_hist *h = &f->h;
    record_n(h, 2, MS(600));
    assert_int_equal(flush(w, 0, 1, h, 0, 0, UINT64_MAX), 0);
    assert_int_equal(flush(w, 1, 1, NULL, 0, 0, UINT64_MAX), 0);
    assert_int_equal(fo_windows_finalize(w, UINT64_MAX), 2);
    assert_int_equal(fo_windows_finalize(w, UINT64_MAX), 2);
    assert_int_equal(fo_windows_finish(w, 3500 * 1000000ull), 4);
    assert_true(w->win[3].length_s == 0.5);
    assert_int_equal(w->total.n, 2);
}

/* A closed loop at Little's bound, 100 users / 0.6 s: ramp by 10 a second, then 166 or 167 a
 * second; one burst second. Smoothed peak is Locust's 10-second mean, raw is the burst. */
static void test_max_rps(void **state) {
    (void)state;
    fo_sched s;
    fo_windows w;
    fo_hist h;
    fo_sched_simple(&s, 100, 10, 30 * FO_NS_PER_S);
    assert_int_equal(fo_windows_init(&w, 1, &s), 0);
    assert_int_equal(fo_hist_init(&h), 0);
    uint64_t counts[30];
    for (uint64_t i = 0; i < 30; i++) {
        counts[i] = i < 10 ? (i + 1) * 16 : (i % 3 == 0 ? 166 : 167);
        if (i == 20) counts[i] = 300;
        fo_hist_reset(&h);
        record_n(&h, (int)counts[i], MS(600));
        assert_int_equal(flush(&w, 0, i, &h, 0, 0, i + 1), 0);
    }
    assert_int_equal(fo_windows_finish(&w, 30 * FO_NS_PER_S), 30);
    assert_int_equal(fo_windows_max_rps_raw(&w), 300);
    /* The peak is over now = 23..30 (seconds 11..27 hold the burst second 20): the highest
     * 10-second sum among them, computed here by hand. */
    double best = 0;
    for (int now = 3; now <= 30; now++) {
        int first = now >= 12 ? now - 12 : 0;
        double sum = 0;
        for (int k = first; k <= now - 3; k++)
            sum += (double)counts[k];
        double mean = sum / (now - 3 - first + 1);
        if (mean > best) best = mean;
    }
    assert_true(fo_windows_max_rps_smoothed(&w) == best);
    assert_true(best > 166 && best < 185);
    /* Each window carries the smoothed figure for the moment it completed. */
    assert_true(w.win[2].rps_smoothed == 16);
    assert_int_equal(w.win[29].users, 100);
    assert_int_equal(w.win[0].users, 10);
    fo_hist_free(&h);
    fo_windows_free(&w);
}

TEST_MAIN(cmocka_unit_test_setup_teardown(test_two_threads, two_threads_setup,
                                          two_threads_teardown),
          cmocka_unit_test_setup_teardown(test_all_threads_closed, two_threads_setup,
                                          two_threads_teardown),
          cmocka_unit_test(test_max_rps))
