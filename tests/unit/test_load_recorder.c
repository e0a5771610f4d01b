/* Tests for bench/load/recorder.c: where a result lands. Successes carry a response time (from
 * the intended start) and a service time (from the send); the open model's starts are counted,
 * late ones (over FO_LATE_NS after their intended time) and queued ones apart, with every
 * start's lateness in a histogram; results go to their second's window and their stage; nothing
 * after the run's end or after close is counted, except as dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"

#include "recorder.h"

#define MS(x) ((uint64_t)((x)*1e6))
#define T0 (UINT64_C(5000) * FO_NS_PER_S) /* an hrtime for the run's start */

typedef struct fixture {
    fo_sched sched;
    fo_rates rates;
    fo_windows windows;
    fo_span spans[2];
    fo_recorder rec;
} fixture;

/* A 3 s open run at 100/s, two stages [0, 1 s) and [1 s, 3 s). */
static int setup(void **state) {
    fixture *f = test_calloc(1, sizeof *f);
    fo_sched_simple(&f->sched, 0, 0, 3 * FO_NS_PER_S);
    fo_rates_simple(&f->rates, 100, 3 * FO_NS_PER_S);
    assert_int_equal(fo_windows_init(&f->windows, 1, &f->sched), 0);
    f->windows.rates = &f->rates;
    f->spans[0] = (fo_span){0, FO_NS_PER_S};
    f->spans[1] = (fo_span){FO_NS_PER_S, 3 * FO_NS_PER_S};
    assert_int_equal(fo_recorder_init(&f->rec, &f->windows, 0, T0, 3 * FO_NS_PER_S, f->spans, 2, 1),
                     0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fo_recorder_free(&f->rec);
    fo_load_stats_free(&f->rec.stats);
    fo_windows_free(&f->windows);
    test_free(f);
    return 0;
}

static void test_late_starts(void **state) {
    fixture *f = *state;
    fo_recorder *r = &f->rec;
    /* Intended at 0.1 s; sent on time, 0.5 ms, exactly 1 ms (not late), 1.5 ms and 300 ms
     * late, the last one having waited for a connection. */
    uint64_t at = T0 + MS(100);
    fo_recorder_start(r, at, at, 0);
    fo_recorder_start(r, at + MS(0.5), at, 0);
    fo_recorder_start(r, at + FO_LATE_NS, at, 0);
    fo_recorder_start(r, at + MS(1.5), at, 0);
    fo_recorder_start(r, at + MS(300), at, 1);
    /* One in the next second: its own window. */
    fo_recorder_start(r, T0 + MS(1200), T0 + MS(1100), 1);
    assert_int_equal(r->stats.starts, 6);
    assert_int_equal(r->stats.late, 3);
    assert_int_equal(r->stats.queued, 2);
    assert_int_equal(r->stats.lateness.n, 6);
    assert_int_equal(r->stats.lateness.min_ns, 0);
    assert_int_equal(r->stats.lateness.max_ns, MS(300));
    assert_int_equal(r->stats.lateness.sum_ns, MS(0.5) + FO_LATE_NS + MS(1.5) + MS(300) + MS(100));
    /* After the run's end, and after close, nothing is counted. */
    fo_recorder_start(r, T0 + 3 * FO_NS_PER_S, T0 + MS(2990), 1);
    assert_int_equal(r->stats.starts, 6);
    fo_recorder_close(r);
    fo_recorder_start(r, T0 + MS(2000), T0 + MS(2000), 0);
    assert_int_equal(r->stats.starts, 6);
    /* The windows: 5 starts (3 late) in second 0, 1 (late) in second 1; 100 offered in each. */
    assert_int_equal(fo_windows_finish(&f->windows, 3 * FO_NS_PER_S), 3);
    assert_int_equal(f->windows.win[0].starts, 5);
    assert_int_equal(f->windows.win[0].late, 2);
    assert_int_equal(f->windows.win[1].starts, 1);
    assert_int_equal(f->windows.win[1].late, 1);
    assert_int_equal(f->windows.win[2].starts, 0);
    assert_int_equal(f->windows.win[0].offered, 100);
    assert_int_equal(f->windows.win[2].offered, 100);
}

/* A run interrupted at 1.25 s: its last window is a quarter second, with 25 arrivals offered. */
static void test_partial_window(void **state) {
    fixture *f = *state;
    fo_recorder_start(&f->rec, T0 + MS(1200), T0 + MS(1200), 0);
    fo_recorder_close(&f->rec);
    assert_int_equal(fo_windows_finish(&f->windows, MS(1250)), 2);
    assert_int_equal(f->windows.win[0].offered, 100);
    assert_int_equal(f->windows.win[1].offered, 25);
    assert_int_equal(f->windows.win[1].starts, 1);
    assert_true(f->windows.win[1].length_s == 0.25);
}

static void test_two_latencies(void **state) {
    fixture *f = *state;
    fo_recorder *r = &f->rec;
    /* Meant for 0.5 s, sent at 0.8 s (it waited), answered at 0.81 s: a visitor waited 310 ms,
     * the server took 10. */
    fo_recorder_success(r, T0 + MS(810), T0 + MS(500), T0 + MS(800), 33);
    /* In the second stage: meant for 1.5 s, sent on time, answered at 1.52 s. */
    fo_recorder_success(r, T0 + MS(1520), T0 + MS(1500), T0 + MS(1500), 33);
    fo_recorder_failure(r, FO_FAIL_TIMEOUT, T0 + MS(1600));
    /* After the end: dropped, counted nowhere else. */
    fo_recorder_success(r, T0 + MS(3001), T0 + MS(2990), T0 + MS(2990), 33);
    fo_recorder_failure(r, FO_FAIL_CLOSED, T0 + MS(3002));
    assert_int_equal(r->stats.dropped, 2);
    assert_int_equal(r->stats.failures[FO_FAIL_TIMEOUT], 1);
    assert_int_equal(r->stats.failures[FO_FAIL_CLOSED], 0);
    assert_int_equal(r->stats.stages[0].hist.n, 1);
    assert_int_equal(r->stats.stages[0].hist.max_ns, MS(310)); /* stages keep response times */
    assert_int_equal(r->stats.stages[1].hist.n, 1);
    assert_int_equal(r->stats.stages[1].failures, 1);
    fo_recorder_close(r);
    assert_int_equal(fo_windows_finish(&f->windows, 3 * FO_NS_PER_S), 3);
    assert_int_equal(f->windows.total.n, 2);
    assert_int_equal(f->windows.total.max_ns, MS(310));
    assert_int_equal(f->windows.service_total.n, 2);
    assert_int_equal(f->windows.service_total.max_ns, MS(20));
    assert_int_equal(f->windows.service_total.min_ns, MS(10));
    assert_int_equal(f->windows.win[0].pct_ns[0], MS(310));
    assert_int_equal(f->windows.win[0].service_pct_ns[0], MS(10));
    assert_int_equal(f->windows.win[1].failures, 1);
    assert_int_equal(f->windows.win[0].bytes + f->windows.win[1].bytes, 66);
}

/* The closed model keeps no service times and no starts: response time is service time. */
static void test_closed(void **state) {
    (void)state;
    fo_sched s;
    fo_windows w;
    fo_recorder r;
    fo_sched_simple(&s, 10, 0, 2 * FO_NS_PER_S);
    assert_int_equal(fo_windows_init(&w, 1, &s), 0);
    assert_int_equal(fo_recorder_init(&r, &w, 0, T0, 2 * FO_NS_PER_S, NULL, 0, 0), 0);
    fo_recorder_success(&r, T0 + MS(700), T0 + MS(100), T0 + MS(100), 10);
    fo_recorder_tick(&r, T0 + MS(1100)); /* hands second 0 over */
    assert_int_equal(fo_windows_finalize(&w, UINT64_MAX), 1);
    assert_int_equal(w.win[0].requests, 1);
    assert_int_equal(w.win[0].pct_ns[0], MS(600));
    assert_int_equal(w.service_total.n, 0);
    assert_int_equal(r.stats.with_starts, 0);
    fo_recorder_close(&r);
    fo_recorder_free(&r);
    fo_load_stats_free(&r.stats);
    fo_windows_free(&w);
}

/* The open model's pool counts what it left unsent and the connections it used at its end and
 * after (fo_pool_abort, fo_pool_settle), through the recorder, which adds them even once closed. */
static void test_unsent_after_close(void **state) {
    fixture *f = *state;
    fo_recorder_close(&f->rec);
    fo_recorder_unsent(&f->rec, 3);
    fo_recorder_connections(&f->rec, 5);
    fo_recorder_unsent(&f->rec, 2);
    fo_recorder_connections(&f->rec, 1);
    assert_int_equal(f->rec.stats.unsent, 5);
    assert_int_equal(f->rec.stats.connections, 6);
}

TEST_MAIN(cmocka_unit_test_setup_teardown(test_late_starts, setup, teardown),
          cmocka_unit_test_setup_teardown(test_two_latencies, setup, teardown),
          cmocka_unit_test_setup_teardown(test_partial_window, setup, teardown),
          cmocka_unit_test(test_closed),
          cmocka_unit_test_setup_teardown(test_unsent_after_close, setup, teardown))
