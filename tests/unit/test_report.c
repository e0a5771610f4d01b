/* Unit tests of the benchmark report (src/report.c): Little's-law bounds, ratios, the tables
 * and the baseline comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"
#include <stdlib.h>
#include <string.h>

#include "fanout/report.h"

static fo_bench_row row(const char *config, const char *model, int size, int caps, double max_rps,
                        double p95) {
    fo_bench_row r = {.size = size,
                      .size_caps = caps,
                      .users = 100,
                      .ms = 300,
                      .load.requests = 1000,
                      .load.max_rps = max_rps,
                      .load.p95_ms = p95,
                      .load.min_ms = 601,
                      .load.mean_ms = 610};
    strcpy(r.config, config);
    strcpy(r.model, model);
    return r;
}

static void test_bounds(void **state) {
    (void)state;
    fo_bench_row uv = row("uv:1", "uv", 1, 0, 160, 630);
    fo_bench_row t2 = row("threads:2", "threads", 2, 1, 3.2, 22000);
    fo_bench_row p200 = row("prefork:200", "prefork", 200, 1, 160, 620);
    assert_true(fo_bench_floor_ms(&uv) == 600.0);
    /* 100 users over a 600 ms floor: 166.7 RPS; 2 threads: 3.33 RPS. */
    assert_int_equal(fo_bench_capacity(&uv), 100);
    assert_int_equal(fo_bench_capacity(&t2), 2);
    assert_int_equal(fo_bench_capacity(&p200), 100);
    /* The cap is the row's size_caps, whatever the model is called. */
    fo_bench_row coro4 = row("coro:4", "coro", 4, 0, 160, 620);
    fo_bench_row capped = row("newmodel:4", "newmodel", 4, 1, 6, 620);
    assert_int_equal(fo_bench_capacity(&coro4), 100);
    assert_int_equal(fo_bench_capacity(&capped), 4);
    assert_true(fo_bench_bound_rps(&uv) > 166.66 && fo_bench_bound_rps(&uv) < 166.67);
    assert_true(fo_bench_bound_rps(&t2) > 3.33 && fo_bench_bound_rps(&t2) < 3.34);
    assert_true(fo_bench_rps_ratio(&uv) > 0.95 && fo_bench_rps_ratio(&uv) < 0.97);
    assert_true(fo_bench_p95_ratio(&uv) == 1.05);
    uv.load.failures = 10;
    assert_true(fo_bench_failure_ratio(&uv) > 0.0099 && fo_bench_failure_ratio(&uv) < 0.0100);
    uv.ms = 0; /* no floor, no bound: ratios are undefined and say 0 */
    assert_true(fo_bench_bound_rps(&uv) == 0 && fo_bench_rps_ratio(&uv) == 0);
}

static void test_tables(void **state) {
    (void)state;
    fo_bench_row rows[] = {row("threads:2", "threads", 2, 1, 3.2, 22000),
                           row("uv:1", "uv", 1, 0, 160, 630)};
    rows[1].load.in_flight_at_end = 97;
    char *t = fo_bench_table_md(rows, 2);
    assert_non_null(t);
    assert_non_null(
        strstr(t, "| Configuration | Min (ms) | 95%-ile (ms) | Average (ms) | Max RPS |"));
    /* Requests in flight at the end are in neither count: a column says how many. */
    assert_non_null(strstr(t, "| Failures | In flight at end | Memory (MiB, PSS + kernel) |"));
    assert_non_null(strstr(t, "| threads:2 | 601 | 22000 | 610.00 | 3.2 | 3.3 | 0.96 |"));
    /* No CPU measured (wall_s 0): no CPU bound, Little's law alone is the lower bound. */
    assert_non_null(strstr(t, "| uv:1 | 601 | 630 | 610.00 | 160.0 | 166.7 | 0.96 | n/a | 0.96 | "
                              "concurrency: 100 users | 1.05 | 0 | 97 |"));
    assert_non_null(strstr(t,
                           "| threads:2 | 601 | 22000 | 610.00 | 3.2 | 3.3 | 0.96 | n/a | 0.96 | "
                           "concurrency: 2 at once (its size) |"));
    assert_null(strstr(t, "The targets' own stacks"));
    free(t);
    char *b = fo_bench_blog_md(NULL, 0);
    assert_non_null(strstr(b, "| Uvicorn, 1 process, async | uv:1 | 616 | 1000 | 853.56 | 115 |"));
    /* gevent's green threads are the coro model's. */
    assert_non_null(strstr(b, "| uWSGI, 1 process, gevent | coro:1 | 614 | 1100 | 857.10 | 110 |"));
    assert_non_null(strstr(b, "| Gunicorn, 1 process, gevent | coro:1 |"));
    assert_non_null(
        strstr(b, "| uWSGI, 1 process, 2 threads | threads:2 | 783 | 22000 | 12107.87 | 3 |"));
    assert_non_null(strstr(b, "| 0.69 | - | - | - |\n"));
    free(b);
}

/* A row measured with its CPU: the Python stack of the issue, 58 ms a page with 1.7 of 2 cores
 * left, is capped at 29.3 pages a second, far below Little's 166.7. */
static fo_bench_row python_row(double max_rps) {
    fo_bench_row r = row("uwsgi-threads:100", "uwsgi-threads", 100, 1, max_rps, 3000);
    snprintf(r.row, sizeof r.row, "uWSGI, 1 process, 100 threads");
    snprintf(r.version, sizeof r.version, "uWSGI 2.0.21");
    r.load.requests = 1000;
    r.cpu_s = 58; /* 58 ms a page */
    r.wall_s = 30;
    r.api_cpu_s = 3;  /* 0.1 of a core */
    r.load_cpu_s = 6; /* 0.2 */
    r.cpus = 2;
    return r;
}

static void test_cpu_bound(void **state) {
    (void)state;
    fo_bench_row r = python_row(28);
    assert_true(fo_bench_cpu_ms_per_page(&r) > 57.99 && fo_bench_cpu_ms_per_page(&r) < 58.01);
    assert_true(fo_bench_cores_left(&r) > 1.69 && fo_bench_cores_left(&r) < 1.71);
    assert_true(fo_bench_cpu_bound_rps(&r) > 29.3 && fo_bench_cpu_bound_rps(&r) < 29.32);
    assert_true(fo_bench_lower_bound_rps(&r) == fo_bench_cpu_bound_rps(&r));
    assert_true(fo_bench_cores_busy(&r) > 1.93 && fo_bench_cores_busy(&r) < 1.94);
    assert_string_equal(fo_bench_limit(&r), "cpu");
    char buf[64];
    assert_string_equal(fo_bench_limit_text(&r, buf, sizeof buf), "CPU: 58.0 ms a page");
    /* Under 0.8 of both bounds: neither explains it. */
    r = python_row(20);
    assert_string_equal(fo_bench_limit(&r), "other");
    assert_string_equal(fo_bench_limit_text(&r, buf, sizeof buf), "other: 1.93 cores busy");
    /* Cheap pages: the CPU bound is above Little's, which limits. */
    r = python_row(160);
    r.cpu_s = 5;
    assert_string_equal(fo_bench_limit(&r), "concurrency");
    assert_true(fo_bench_lower_bound_rps(&r) == fo_bench_bound_rps(&r));
    /* Failed pages count; counted over the run's steady part, the CPU is over the pages
     * answered in it (cpu_pages), not over all the run's. */
    r = python_row(28);
    r.load.failures = 160;
    assert_float_equal(fo_bench_cpu_ms_per_page(&r), 58000.0 / 1160, 1e-9);
    r.cpu_pages = 800;
    assert_float_equal(fo_bench_cpu_ms_per_page(&r), 58000.0 / 800, 1e-9);
    assert_float_equal(fo_cpu_ms_per_page(0, 800), 0, 0);
    assert_float_equal(fo_cpu_ms_per_page(58, 0), 0, 0);
    /* The API and the load took every core: nothing left, no CPU bound to claim. */
    r = python_row(28);
    r.load_cpu_s = 60;
    assert_true(fo_bench_cores_left(&r) == 0 && fo_bench_cpu_bound_rps(&r) == 0);

    /* The tables: the CPU columns, the targets' versions, and the blog's rows beside them. */
    fo_bench_row rows[] = {python_row(28), python_row(29),
                           row("threads:100", "threads", 100, 1, 160, 620)};
    snprintf(rows[1].config, sizeof rows[1].config, "uwsgi-threads-reuse:100");
    snprintf(rows[1].row, sizeof rows[1].row, "uWSGI, 1 process, 100 threads" FO_BENCH_REUSE_ROW);
    char *t = fo_bench_table_md(rows, 3);
    assert_non_null(
        strstr(t, "| uwsgi-threads:100 | 601 | 3000 | 610.00 | 28.0 | 166.7 | 0.17 | 29.3 | "
                  "0.96 | CPU: 58.0 ms a page |"));
    assert_non_null(strstr(t, "| 58.00 | 58.000 | 1.93 |\n"));
    assert_non_null(
        strstr(t, "- uwsgi-threads:100: uWSGI, 1 process, 100 threads; uWSGI 2.0.21\n"));
    free(t);
    char *b = fo_bench_blog_md(rows, 3);
    assert_non_null(
        strstr(b, "| uWSGI, 1 process, 100 threads | threads:100 | 613 | 950 | 782.45 | 131 | "
                  "0.79 | 28.0 (0.96; CPU: 58.0 ms a page) | 29.0 (0.99; CPU: 58.0 ms a "
                  "page) | 160.0 (0.96; concurrency: 100 users) |\n"));
    free(b);
}

/* A model's memory is PSS + the kernel's part; the RSS sum is only shown beside it. */
static void test_memory(void **state) {
    (void)state;
    /* prefork:100 at 100 users: 100 processes share libc, libcurl and the binary. */
    fo_bench_row p = row("prefork:100", "prefork", 100, 1, 166, 603);
    p.pss_kib = 24 * 1024;
    p.kernel_kib = 4 * 1024;
    p.rss_sum_kib = 430 * 1024;
    assert_true(fo_bench_mem_kib(&p) == 28 * 1024);
    /* macOS: the kernel's part is unknown and counts 0; no PSS at all: unknown. */
    assert_true(fo_model_mem_kib(1000, -1) == 1000);
    assert_true(fo_model_mem_kib(-1, 50) == -1);
    fo_bench_row old = row("uv:1", "uv", 1, 0, 160, 630);
    old.pss_kib = old.kernel_kib = old.rss_sum_kib = -1;
    fo_bench_row rows[] = {p, old};
    char *t = fo_bench_table_md(rows, 2);
    assert_non_null(t);
    assert_non_null(strstr(t, "| Memory (MiB, PSS + kernel) | RSS sum (MiB, as top) |"));
    assert_non_null(
        strstr(t, "| prefork:100 | 601 | 603 | 610.00 | 166.0 | 166.7 | 1.00 | n/a | 1.00 | "
                  "concurrency: 100 users | 1.00 | 0 | 0 | 28.0 | 430.0 |"));
    assert_non_null(strstr(t, "| uv:1 | 601 | 630 | 610.00 | 160.0 | 166.7 | 0.96 | n/a | 0.96 | "
                              "concurrency: 100 users | 1.05 | 0 | 0 | n/a | n/a |"));
    free(t);
}

static void test_baseline_round_trip(void **state) {
    (void)state;
    fo_bench_row rows[] = {row("threads:2", "threads", 2, 1, 3.2, 22000),
                           row("uv:1", "uv", 1, 0, 160, 630)};
    json_t *base = fo_bench_baseline(rows, 2);
    char msg[2048];
    /* The same run against its own baseline: no regression. */
    assert_int_equal(fo_bench_compare(rows, 2, base, 0.25, msg, sizeof msg), 0);
    assert_non_null(strstr(msg, "uv:1: ok"));

    /* Within tolerance: 20% fewer RPS at 25% tolerance. */
    fo_bench_row run[2] = {rows[0], rows[1]};
    run[1].load.max_rps = 128;
    assert_int_equal(fo_bench_compare(run, 2, base, 0.25, msg, sizeof msg), 0);
    /* Beyond it: 30% fewer. */
    run[1].load.max_rps = 112;
    assert_int_equal(fo_bench_compare(run, 2, base, 0.25, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "uv:1: RPS / bound"));
    /* A p95 50% higher. */
    run[1] = rows[1];
    run[1].load.p95_ms = 945;
    assert_int_equal(fo_bench_compare(run, 2, base, 0.25, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "p95 / floor"));
    /* Failures where there were none. */
    run[1] = rows[1];
    run[1].load.failures = 50;
    assert_int_equal(fo_bench_compare(run, 2, base, 0.25, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "failure ratio"));
    /* A configuration the baseline lacks fails, named, and so does one of the baseline that
     * was not run: a run that compares nothing must not pass. */
    fo_bench_row other = row("prefork:4", "prefork", 4, 1, 6.6, 700);
    fo_bench_row with_other[3] = {rows[0], rows[1], other};
    assert_int_equal(fo_bench_compare(with_other, 3, base, 0.25, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "prefork:4: MISSING from the baseline"));
    assert_int_equal(fo_bench_compare(rows, 1, base, 0.25, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "uv:1: MISSING from the run"));
    assert_non_null(strstr(msg, "threads:2: ok"));
    assert_int_equal(fo_bench_compare(&other, 1, base, 0.25, msg, sizeof msg), 3);
    json_decref(base);

    json_t *broken = json_object();
    assert_int_equal(fo_bench_compare(rows, 2, broken, 0.25, msg, sizeof msg), 1);
    json_decref(broken);
}

TEST_MAIN(cmocka_unit_test(test_bounds), cmocka_unit_test(test_tables),
          cmocka_unit_test(test_cpu_bound), cmocka_unit_test(test_memory),
          cmocka_unit_test(test_baseline_round_trip))
