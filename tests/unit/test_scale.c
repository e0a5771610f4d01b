/* The scale report's judgement: when a model broke at a step, and for want of what. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/scale.h"

/* uv at 10,000 users on /3000/ for 40 s, on 2 cores: on the bound, nothing failed. */
static fo_scale_step held(void) {
    fo_scale_step s = {.model = "uv",
                       .users = 10000,
                       .ms = 3000,
                       .size = 3,
                       .status = FO_STEP_RAN,
                       .requests = 50000,
                       .failures = 0,
                       .in_flight_at_end = 9876,
                       .min_ms = 6000,
                       .p95_ms = 6060,
                       .mean_ms = 6020,
                       .max_rps = 1660,
                       .wall_s = 40,
                       .peak_rss_kib = 300 * 1024,
                       .cpu_s = 30,
                       .peak_threads = 3,
                       .peak_procs = 4,
                       .peak_fds = 40000,
                       .fd_limit = 20000,
                       .api_workers = 2,
                       .api_ports = 2,
                       .load_threads = 2,
                       .api_cpu_s = 8,
                       .load_cpu_s = 6,
                       .api_peak_in_flight = 29000,
                       .mem_kib = 24e6,
                       .cores = 2};
    return s;
}

static void test_ratios(void **state) {
    (void)state;
    fo_scale_step s = held();
    assert_float_equal(fo_scale_floor_ms(&s), 6000, 1e-9);
    assert_float_equal(fo_scale_bound_rps(&s), 10000 / 6.0, 1e-9);
    assert_float_equal(fo_scale_rps_ratio(&s), 1660 / (10000 / 6.0), 1e-9);
    assert_float_equal(fo_scale_p95_ratio(&s), 1.01, 1e-9);
    assert_float_equal(fo_scale_cpu_ms_per_page(&s), 30000.0 / 50000, 1e-9);
    assert_float_equal(fo_scale_api_busy(&s), 8.0 / 40 / 2, 1e-9);
    assert_float_equal(fo_scale_load_busy(&s), 6.0 / 40 / 2, 1e-9);
}

static void test_held(void **state) {
    (void)state;
    fo_scale_step s = held();
    assert_int_equal(fo_scale_judge(&s), 0);
    assert_string_equal(s.cause, "");
}

static void test_failures_break(void **state) {
    (void)state;
    fo_scale_step s = held();
    s.failures = 600; /* 1.2% of 50,600 */
    assert_int_equal(fo_scale_judge(&s), 1);
    assert_string_equal(s.cause, "queueing");
    s.failures = 400; /* 0.8%: holds */
    assert_int_equal(fo_scale_judge(&s), 0);
}

static void test_p95_breaks_and_cpu_is_named(void **state) {
    (void)state;
    fo_scale_step s = held();
    s.p95_ms = 9100; /* 1.52 x the floor */
    s.cpu_s = 66;    /* with the API's 8 and the load's 6: 80 of 80 core-seconds */
    assert_int_equal(fo_scale_judge(&s), 1);
    assert_string_equal(s.cause, "CPU");
    s.p95_ms = 8900; /* 1.48: holds */
    assert_int_equal(fo_scale_judge(&s), 0);
}

static void test_descriptors_and_memory_are_named(void **state) {
    (void)state;
    fo_scale_step s = held();
    s.failures = 5000;
    s.peak_fds = 19000; /* one process at 95% of its limit */
    s.peak_procs = 1;
    assert_int_equal(fo_scale_judge(&s), 1);
    assert_string_equal(s.cause, "descriptors");
    s.peak_fds = -1; /* not measured (macOS): not named */
    s.peak_rss_kib = 13e6;
    assert_int_equal(fo_scale_judge(&s), 1);
    assert_string_equal(s.cause, "memory");
}

static void test_a_saturated_harness_is_named(void **state) {
    (void)state;
    fo_scale_step s = held();
    s.p95_ms = 12000;
    s.api_cpu_s = 76; /* 95% of a core for each of 2 workers */
    assert_int_equal(fo_scale_judge(&s), 1);
    assert_string_equal(s.cause, "harness");
}

static void test_steps_that_did_not_run_are_left_alone(void **state) {
    (void)state;
    fo_scale_step s = {.model = "threads",
                       .users = 10000,
                       .ms = 3000,
                       .status = FO_STEP_REFUSED,
                       .cause = "descriptors"};
    assert_int_equal(fo_scale_judge(&s), 0);
    assert_string_equal(s.cause, "descriptors");
}

static void test_matrix_marks_the_break(void **state) {
    (void)state;
    fo_scale_step steps[3] = {held(), held(), held()};
    steps[0].users = 1000;
    steps[0].ms = 300;
    steps[0].max_rps = 1650;
    steps[0].p95_ms = 606;
    steps[1].p95_ms = 9100;
    steps[1].cpu_s = 66;
    fo_scale_judge(&steps[0]);
    fo_scale_judge(&steps[1]);
    snprintf(steps[2].model, sizeof steps[2].model, "threads");
    steps[2].status = FO_STEP_REFUSED;
    snprintf(steps[2].cause, sizeof steps[2].cause, "descriptors");
    char *md = fo_scale_matrix_md(steps, 3);
    assert_non_null(md);
    assert_non_null(strstr(md, "| model | 1000 users | 10000 users | breaks at |"));
    assert_non_null(strstr(md, "| uv | 0.99 · 1.01 | 1.00 · 1.52 ✗ | 10000 users: broke (CPU) |"));
    assert_non_null(strstr(md, "| threads | | refused | 10000 users: refused (descriptors) |"));
    free(md);
    char *table = fo_scale_table_md(steps, 3);
    assert_non_null(table);
    assert_non_null(strstr(table, "| 29000 of 30000 |"));
    /* Requests in flight at the end are in neither count: a column says how many. */
    assert_non_null(strstr(table, "| failures | in flight at end | peak RSS (MiB) |"));
    assert_non_null(strstr(table, "| 0.00% | 9876 | 300.0 |"));
    /* A step that did not run has as many cells as the header. */
    const char *refused = strstr(table, "\n| threads |");
    assert_non_null(refused);
    size_t cells = 0, header = 0;
    for (const char *p = table; *p != '\n'; p++)
        header += *p == '|';
    for (const char *p = refused + 1; *p != '\n'; p++)
        cells += *p == '|';
    assert_int_equal(cells, header);
    free(table);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratios),
        cmocka_unit_test(test_held),
        cmocka_unit_test(test_failures_break),
        cmocka_unit_test(test_p95_breaks_and_cpu_is_named),
        cmocka_unit_test(test_descriptors_and_memory_are_named),
        cmocka_unit_test(test_a_saturated_harness_is_named),
        cmocka_unit_test(test_steps_that_did_not_run_are_left_alone),
        cmocka_unit_test(test_matrix_marks_the_break),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
