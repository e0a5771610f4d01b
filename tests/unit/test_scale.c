/* The scale report's judgement: when a model broke at a step, and for want of what. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_main.h"

#include "fanout/scale.h"

/* uv at 10,000 users on /3000/ for 40 s, on 2 cores: on the bound, nothing failed. */
static fo_scale_step held(void) {
    fo_scale_step s = {.model = "uv",
                       .users = 10000,
                       .ms = 3000,
                       .size = 3,
                       .status = FO_STEP_RAN,
                       .load.requests = 50000,
                       .load.failures = 0,
                       .load.in_flight_at_end = 9876,
                       .load.min_ms = 6000,
                       .load.p95_ms = 6060,
                       .load.mean_ms = 6020,
                       .load.max_rps = 1660,
                       .wall_s = 40,
                       .pss_kib = 220 * 1024,
                       .kernel_kib = 30 * 1024,
                       .rss_sum_kib = 300 * 1024,
                       .sockets_kib = 90 * 1024,
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
                       .cores = 2,
                       .machine_busy = -1};
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

/* Judges s and checks the verdict: broke (1) or held (0), and the cause named (unless NULL). */
static void assert_judged(fo_scale_step *s, int broke, const char *cause) {
    assert_int_equal(fo_scale_judge(s), broke);
    if (cause) assert_string_equal(s->cause, cause);
}

static void test_held(void **state) {
    (void)state;
    fo_scale_step s = held();
    assert_judged(&s, 0, "");
}

static void test_failures_break(void **state) {
    (void)state;
    fo_scale_step s = held();
    s.load.failures = 600; /* 1.2% of 50,600 */
    assert_judged(&s, 1, "queueing");
    s.load.failures = 400; /* 0.8%: holds */
    assert_judged(&s, 0, NULL);
}

static void test_p95_breaks_and_cpu_is_named(void **state) {
    (void)state;
    fo_scale_step s = held();
    s.load.p95_ms = 9100; /* 1.52 x the floor */
    s.cpu_s = 66;         /* with the API's 8 and the load's 6: 80 of 80 core-seconds */
    assert_judged(&s, 1, "CPU");
    s.load.p95_ms = 8900; /* 1.48: holds */
    assert_judged(&s, 0, NULL);
    /* The processes counted used 74% of the cores, but the machine was 97% busy (the kernel's
     * own threads working for the server's thousands of processes): CPU, not queueing. */
    s.load.p95_ms = 9100;
    s.cpu_s = 45;
    assert_judged(&s, 1, "queueing");
    s.machine_busy = 0.97;
    assert_judged(&s, 1, "CPU");
    s.machine_busy = 0.5; /* a machine less busy than the processes' count changes nothing */
    assert_judged(&s, 1, "queueing");
}

static void test_descriptors_and_memory_are_named(void **state) {
    (void)state;
    fo_scale_step s = held();
    s.load.failures = 5000;
    s.peak_fds = 19000; /* one process at 95% of its limit */
    s.peak_procs = 1;
    assert_judged(&s, 1, "descriptors");
    s.peak_fds = -1; /* not measured (macOS): not named */
    s.pss_kib = 11e6;
    s.kernel_kib = 1.5e6; /* 12.5 of 24 GB: past half of the RAM with the kernel's part */
    assert_judged(&s, 1, "memory");
    /* A large RSS sum is not memory used: shared pages are counted in it once per process. */
    s.pss_kib = 0.5e6;
    s.kernel_kib = 0.2e6;
    s.rss_sum_kib = 13e6;
    assert_judged(&s, 1, "queueing");
}

/* The step before's memory per user is PSS + kernel; the RSS sum is only shown beside it. */
static void test_memory_per_user(void **state) {
    (void)state;
    fo_scale_step s = held();
    assert_float_equal(fo_scale_mem_kib(&s), 250 * 1024, 1e-9);
    assert_float_equal(fo_scale_mem_per_user_kib(&s), 250 * 1024 / 10000.0, 1e-9);
    char line[512];
    fo_scale_line(&s, line, sizeof line);
    assert_non_null(strstr(line, "memory 250.0 MiB (PSS + kernel; RSS sum 300.0)"));
    s.kernel_kib = -1; /* macOS: the kernel's part is unknown and counts 0 */
    assert_float_equal(fo_scale_mem_kib(&s), 220 * 1024, 1e-9);
    s.pss_kib = -1; /* not measured */
    assert_true(fo_scale_mem_kib(&s) < 0 && fo_scale_mem_per_user_kib(&s) < 0);
    fo_scale_line(&s, line, sizeof line);
    assert_non_null(strstr(line, "memory n/a MiB (PSS + kernel; RSS sum 300.0)"));
}

/* prefork at 1,000 users as measured on the 2-core, 24 GiB VM: 201 MiB of PSS, ~80 MiB of page
 * tables, stacks and task structs, against an RSS sum of 4,221 MiB. */
static fo_scale_step prefork_1000(void) {
    fo_scale_step s = held();
    snprintf(s.model, sizeof s.model, "prefork");
    s.users = 1000;
    s.ms = 300;
    s.size = 1000;
    s.pss_kib = 201 * 1024;
    s.kernel_kib = 80 * 1024;
    s.rss_sum_kib = 4221 * 1024;
    s.mem_kib = 24 * 1048576.0;
    return s;
}

static void test_projection_uses_pss_and_kernel(void **state) {
    (void)state;
    fo_scale_step prev = prefork_1000();
    /* 281 MiB at 1,000 users: 3,000 users project to 281 x 3 x 1.1 MiB = 927 MiB. */
    assert_float_equal(fo_scale_project_mem_kib(&prev, 3000), 281 * 1024 * 3 * 1.1, 1e-6);
    char reason[256];
    /* The RSS sum projected 13.6 GiB and skipped 3,000 users; PSS + kernel runs it, and
     * 10,000 users (3.0 GiB) too. */
    assert_int_equal(fo_scale_guard(&prev, 3000, reason, sizeof reason), 0);
    assert_string_equal(reason, "");
    assert_int_equal(fo_scale_guard(&prev, 10000, reason, sizeof reason), 0);
    /* 50,000 users would take 15.1 GiB of 24: skipped, saying so with the figures. */
    assert_int_equal(fo_scale_guard(&prev, 50000, reason, sizeof reason), 1);
    assert_string_equal(reason, "memory: 50000 users would take about 15.1 GiB (PSS + kernel "
                                "288 KiB a user at 1000 users, x 1.1), more than 50% of the RAM "
                                "(12.0 GiB)");
}

static void test_projection_without_pss(void **state) {
    (void)state;
    /* A step measured without fanout-mem (an older folder): its RSS sum stands in, which
     * errs high, on the safe side. */
    fo_scale_step prev = prefork_1000();
    prev.pss_kib = prev.kernel_kib = -1;
    char reason[256];
    assert_float_equal(fo_scale_project_mem_kib(&prev, 3000), 4221 * 1024 * 3 * 1.1, 1e-6);
    assert_int_equal(fo_scale_guard(&prev, 3000, reason, sizeof reason), 1);
    assert_non_null(strstr(reason, "(the RSS sum 4322 KiB a user at 1000 users, x 1.1)"));
    /* Nothing measured at all: no projection, and the step runs. */
    prev.rss_sum_kib = -1;
    assert_true(fo_scale_project_mem_kib(&prev, 3000) < 0);
    assert_int_equal(fo_scale_guard(&prev, 3000, reason, sizeof reason), 0);
}

/* Near the open-files limit as well as out of memory or CPU: the model's own cost is named, the
 * machine's setting only when nothing else ran out (a higher limit would not have saved it). */
static void test_the_models_cost_comes_before_the_machines_limit(void **state) {
    (void)state;
    fo_scale_step s = held();
    s.load.failures = 5000;
    s.peak_fds = 19000;
    s.peak_procs = 1;
    s.pss_kib = 12e6; /* with the kernel's part, past half of the 24 GiB */
    s.kernel_kib = 1e6;
    assert_judged(&s, 1, "memory");
    s.pss_kib = 300 * 1024;
    s.cpu_s = 66; /* 80 of 80 core-seconds with the API and the load */
    assert_judged(&s, 1, "CPU");
    s.cpu_s = 30;
    assert_judged(&s, 1, "descriptors");
}

static void test_a_saturated_harness_is_named(void **state) {
    (void)state;
    fo_scale_step s = held();
    s.load.p95_ms = 12000;
    s.api_cpu_s = 76; /* 95% of a core for each of 2 workers */
    assert_judged(&s, 1, "harness");
}

static void test_steps_that_did_not_run_are_left_alone(void **state) {
    (void)state;
    fo_scale_step s = {.model = "threads",
                       .users = 10000,
                       .ms = 3000,
                       .status = FO_STEP_REFUSED,
                       .cause = "descriptors"};
    assert_judged(&s, 0, "descriptors");
}

static void test_matrix_marks_the_break(void **state) {
    (void)state;
    fo_scale_step steps[3] = {held(), held(), held()};
    steps[0].users = 1000;
    steps[0].ms = 300;
    steps[0].load.max_rps = 1650;
    steps[0].load.p95_ms = 606;
    steps[1].load.p95_ms = 9100;
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
    assert_non_null(strstr(md, "| threads | | refused | 10000 users: refused (descriptors: this "
                               "machine's open-files hard limit 20000) |"));
    free(md);
    steps[2].fd_limit = 0; /* not recorded */
    md = fo_scale_matrix_md(steps, 3);
    assert_non_null(md);
    assert_non_null(strstr(md, "10000 users: refused (descriptors: this machine's open-files "
                               "limit) |"));
    free(md);
    steps[1].load_procs = 2; /* the load split in two segments */
    char *table = fo_scale_table_md(steps, 3);
    assert_non_null(table);
    assert_non_null(strstr(table, "| 29000 of 30000 |"));
    /* Memory is PSS + kernel (250 MiB, 256 KiB a user at 1,000), the kernel's part, the RSS sum and
     * the system's sockets beside it. */
    assert_non_null(strstr(table, "| memory (MiB, PSS + kernel) | memory / user (KiB) | kernel "
                                  "(MiB) | RSS sum (MiB, as top) | sockets (MiB, system) |"));
    assert_non_null(
        strstr(table, "| 0.00% | 9876 | 250.0 | 256.0 | 30.0 | 300.0 | 90.0 | 0.600 |"));
    /* Requests in flight at the end are in neither count: a column says how many. */
    assert_non_null(strstr(table, "| failures | in flight at end | memory (MiB, PSS + kernel) |"));
    /* Every row has as many cells as the header, the refused one too. */
    size_t cells[4] = {0};
    int row = 0;
    for (const char *p = table; *p && row < 4; p++) {
        if (*p == '|') cells[row]++;
        if (*p == '\n') row++;
    }
    assert_int_equal(cells[1], cells[0]);
    assert_int_equal(cells[2], cells[0]);
    assert_int_equal(cells[3], cells[0]);
    assert_non_null(strstr(table, "| 8% of 2 | held |")); /* steps[0]: one process */
    assert_non_null(strstr(table, "| 8% of 2 in 2 processes | broke: CPU |"));
    free(table);
}

TEST_MAIN(cmocka_unit_test(test_ratios), cmocka_unit_test(test_held),
          cmocka_unit_test(test_failures_break), cmocka_unit_test(test_p95_breaks_and_cpu_is_named),
          cmocka_unit_test(test_descriptors_and_memory_are_named),
          cmocka_unit_test(test_the_models_cost_comes_before_the_machines_limit),
          cmocka_unit_test(test_a_saturated_harness_is_named),
          cmocka_unit_test(test_memory_per_user),
          cmocka_unit_test(test_projection_uses_pss_and_kernel),
          cmocka_unit_test(test_projection_without_pss),
          cmocka_unit_test(test_steps_that_did_not_run_are_left_alone),
          cmocka_unit_test(test_matrix_marks_the_break))
