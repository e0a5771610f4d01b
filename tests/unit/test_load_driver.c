/* Tests for bench/load's driver interface (driver.h): the options pick the model's table once;
 * each model's plan gives the stages' spans (the closed model's holds, the open model's whole
 * rate stages), whether the recorder keeps starts, and the arrivals the windows offer; its stage
 * hook gives each stage's level and span; and both tables are complete, so that the callers
 * that no longer ask which model runs never find a hole. The runs themselves are tested by the
 * integration tests (tests/integration/test_load_*.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <uv.h>
#include "driver.h"
#include "load_report.h"

#define S(x) ((uint64_t)(x)*FO_NS_PER_S)

static void parse(fo_load_opts *o, int argc, char **argv) {
    char err[256];
    assert_int_equal(fo_load_opts_parse(o, argc, argv, err, sizeof err), FO_LOAD_OPTS_RUN);
}

static void test_pick(void **state) {
    (void)state;
    fo_load_opts o;
    char *closed[] = {"fanout-load", "-u", "10", "-d", "2s", "http://127.0.0.1:5000/"};
    char *open[] = {"fanout-load", "--rate", "10", "-d", "2s", "http://127.0.0.1:5000/"};
    parse(&o, 6, closed);
    assert_ptr_equal(fo_driver_of(&o), &fo_driver_closed);
    assert_string_equal(fo_driver_of(&o)->name, "closed");
    parse(&o, 6, open);
    assert_ptr_equal(fo_driver_of(&o), &fo_driver_open);
    assert_string_equal(fo_driver_of(&o)->name, "open");
}

/* --stages ramps at 2 users a second: each stage's figures are taken over its hold only. */
static void test_closed_plan(void **state) {
    (void)state;
    fo_load_opts o;
    fo_load_plan p;
    fo_stage_summary st;
    char *argv[] = {"fanout-load", "--stages", "2:2s,6:3s", "-r", "2", "http://127.0.0.1:5000/"};
    parse(&o, 6, argv);
    fo_driver_closed.plan(&o, &p);
    assert_int_equal(p.n_stages, 2);
    assert_int_equal(p.with_starts, 0);
    assert_null(p.arrivals);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(p.spans[i].start_ns, o.sched.stages[i].hold_start_ns);
        assert_int_equal(p.spans[i].end_ns, o.sched.stages[i].end_ns);
        memset(&st, 0, sizeof st);
        fo_span span = fo_driver_closed.stage(&o, i, &st);
        assert_memory_equal(&span, &p.spans[i], sizeof span);
        assert_true(st.level == (double)st.users);
    }
    /* The second stage ramps from 2 to 6 users at 2 a second: its hold starts after that. */
    assert_true(p.spans[1].start_ns > S(2) &&
                p.spans[1].start_ns > o.sched.stages[1].ramp_start_ns);
    fo_driver_closed.stage(&o, 1, &st);
    assert_int_equal(st.users, 6);
}

static void test_open_plan(void **state) {
    (void)state;
    fo_load_opts o;
    fo_load_plan p;
    fo_stage_summary st;
    char *argv[] = {"fanout-load", "--rate-stages", "50:2s,100:3s", "http://127.0.0.1:5000/"};
    parse(&o, 4, argv);
    fo_driver_open.plan(&o, &p);
    assert_int_equal(p.n_stages, 2);
    assert_int_equal(p.with_starts, 1);
    assert_ptr_equal(p.arrivals, &o.rates);
    assert_int_equal(p.spans[0].start_ns, 0);
    assert_int_equal(p.spans[0].end_ns, S(2));
    assert_int_equal(p.spans[1].start_ns, S(2));
    assert_int_equal(p.spans[1].end_ns, S(5));
    memset(&st, 0, sizeof st);
    fo_span span = fo_driver_open.stage(&o, 1, &st);
    assert_int_equal(span.end_ns, S(5));
    assert_true(st.rate == 100 && st.level == 100);
}

/* Without stages no span is planned. */
static void test_unstaged(void **state) {
    (void)state;
    fo_load_opts o;
    fo_load_plan p;
    char *closed[] = {"fanout-load", "-u", "10", "-d", "2s", "http://127.0.0.1:5000/"};
    char *open[] = {"fanout-load", "--rate", "10", "-d", "2s", "http://127.0.0.1:5000/"};
    parse(&o, 6, closed);
    fo_driver_closed.plan(&o, &p);
    assert_int_equal(p.n_stages, 0);
    parse(&o, 6, open);
    fo_driver_open.plan(&o, &p);
    assert_int_equal(p.n_stages, 0);
    assert_int_equal(p.with_starts, 1);
}

/* Every entry of both tables is filled: the callers call them without looking. */
static void test_complete(void **state) {
    (void)state;
    const fo_driver *d[] = {&fo_driver_closed, &fo_driver_open};
    for (size_t i = 0; i < 2; i++) {
        assert_non_null(d[i]->name);
        assert_non_null(d[i]->plan);
        assert_non_null(d[i]->plan_fds);
        assert_non_null(d[i]->init);
        assert_non_null(d[i]->start);
        assert_non_null(d[i]->check_timeouts);
        assert_non_null(d[i]->abort);
        assert_non_null(d[i]->settle);
        assert_non_null(d[i]->free);
        assert_non_null(d[i]->summarize);
        assert_non_null(d[i]->stage);
        assert_non_null(d[i]->print_plan);
        assert_non_null(d[i]->print_figures);
        assert_non_null(d[i]->stage_title);
        assert_non_null(d[i]->stage_level_head);
        assert_non_null(d[i]->stage_span_head);
        assert_non_null(d[i]->live_line);
        assert_non_null(d[i]->json_root);
        assert_non_null(d[i]->json_window);
        assert_non_null(d[i]->json_stage);
        assert_non_null(d[i]->csv_stats_heads);
        assert_non_null(d[i]->csv_history_heads);
        assert_non_null(d[i]->csv_stats_row);
        assert_non_null(d[i]->csv_history_row);
    }
}

/* A timer's delay to a run time: rounded up, 0 once it has come. */
static void test_ms_until(void **state) {
    (void)state;
    uint64_t t0 = uv_hrtime();
    uint64_t ms = fo_ms_until(t0, S(10));
    assert_true(ms > 9000 && ms <= 10000);
    assert_int_equal(fo_ms_until(t0 - S(1), 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick),      cmocka_unit_test(test_closed_plan),
        cmocka_unit_test(test_open_plan), cmocka_unit_test(test_unstaged),
        cmocka_unit_test(test_complete),  cmocka_unit_test(test_ms_until),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
