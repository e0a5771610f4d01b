/* Tests for bench/load's summary, JSON and CSV writers over a run built by hand: the JSON has
 * the keys other tools read (scripts/bench.sh, fanout-report), with the right values, and the
 * CSV files have Locust's columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"

#include "output.h"
#include "load_report.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS(x) ((uint64_t)((x)*1e6))

typedef struct fixture {
    fo_load_opts o;
    fo_load_result r;
    char dir[64];
} fixture;

/* What fo_load_print_summary prints for f's run, as a string in text. */
static void summary_text(fixture *f, const fo_load_summary *s, char *text, size_t cap) {
    FILE *out = tmpfile();
    assert_non_null(out);
    fo_load_print_summary(out, &f->o, &f->r, s);
    rewind(out);
    size_t n = fread(text, 1, cap - 1, out);
    text[n] = '\0';
    fclose(out);
}

/* A fixture whose options are fanout-load's for `flag value -d duration` on the API's /600/, its
 * result made for them (the plan in *plan). */
static fixture *fixture_new(const char *flag, const char *value, const char *duration,
                            fo_load_plan *plan) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    char err[256];
    char *argv[] = {(char *)"fanout-load", (char *)flag,     (char *)value,
                    (char *)"-d",          (char *)duration, (char *)"http://127.0.0.1:5000/600/"};
    assert_int_equal(fo_load_opts_parse(&f->o, 6, argv, err, sizeof err), FO_LOAD_OPTS_RUN);
    assert_int_equal(fo_load_result_init(&f->r, &f->o, plan), 0);
    return f;
}

/* Ends f's run after run_s seconds, its windows finished, and makes the folder its outputs go
 * to; f becomes the test's state. */
static int fixture_ready(fixture *f, uint64_t run_s, void **state) {
    f->r.run_ns = run_s * FO_NS_PER_S;
    assert_int_equal(fo_windows_finish(&f->r.windows, f->r.run_ns), run_s);
    snprintf(f->dir, sizeof f->dir, "/tmp/fanout-test-output.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

/* 100 users at once for 5 s; each second 160 successes at 600..615 ms; 2 timeouts in second 3;
 * 7 requests in flight at the end. */
static int setup(void **state) {
    fo_load_plan plan;
    fixture *f = fixture_new("-u", "100", "5s", &plan);
    assert_ptr_equal(f->r.driver, &fo_driver_closed);
    assert_int_equal(plan.with_starts, 0);
    fo_hist h;
    assert_int_equal(fo_hist_init(&h), 0);
    for (uint64_t s = 0; s < 5; s++) {
        fo_hist_reset(&h);
        for (int i = 0; i < 160; i++)
            fo_hist_record(&h, MS(600) + (uint64_t)i * 100000);
        fo_win_part p = {&h, NULL, s == 3 ? 2 : 0, 160 * 33, 0, 0};
        assert_int_equal(fo_windows_flush(&f->r.windows, 0, s, &p, s + 1), 0);
    }
    fo_hist_free(&h);
    f->r.stats.failures[FO_FAIL_TIMEOUT] = 2;
    f->r.stats.dropped = 7;
    return fixture_ready(f, 5, state);
}

static int teardown(void **state) {
    fixture *f = *state;
    char path[128];
    static const char *files[] = {"run.json", "run_stats.csv", "run_stats_history.csv"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", f->dir, files[i]);
        unlink(path);
    }
    rmdir(f->dir);
    fo_load_result_free(&f->r);
    free(f);
    return 0;
}

static double num(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (!v) fail_msg("JSON lacks \"%s\"", key);
    return json_number_value(v);
}

static void test_summary(void **state) {
    fixture *f = *state;
    fo_load_summary s;
    fo_load_summarize(&f->r, &s);
    assert_int_equal(s.requests, 800);
    assert_int_equal(s.failures, 2);
    assert_true(s.min_ms == 600.0);
    assert_true(s.max_ms == 615.9);
    assert_true(s.max_rps_smoothed == 160.0); /* now = 3..5: seconds 0..2, all 160 */
    assert_int_equal(s.max_rps_raw, 160);
    assert_true(s.p95_locust_ms == 620); /* index 760 is 615.2 ms: 620 */
    assert_true(s.failure_ratio == 2.0 / 802.0);
    assert_int_equal(s.in_flight_at_end, 7);
    /* The text says it beside the counts it is not in. */
    char text[4096];
    summary_text(f, &s, text, sizeof text);
    assert_non_null(strstr(text, "requests     800 ok, 160.0/s; failures 2 (0.25%): timeout 2; in "
                                 "flight at the end 7 (neither ok nor failed)\n"));
}

static void test_json(void **state) {
    fixture *f = *state;
    fo_load_summary s;
    char path[128];
    fo_load_summarize(&f->r, &s);
    snprintf(path, sizeof path, "%s/run.json", f->dir);
    assert_int_equal(fo_load_write_json(path, &f->o, &f->r, &s), 0);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    assert_non_null(j);
    assert_true(num(j, "requests") == 800);
    assert_true(num(json_object_get(j, "failures"), "total") == 2);
    assert_true(num(json_object_get(j, "failures"), "timeout") == 2);
    assert_true(num(j, "min_ms") == 600.0);
    assert_true(num(j, "users") == 100);
    assert_true(num(j, "duration_s") == 5);
    assert_true(num(j, "max_rps_smoothed") == 160);
    assert_true(num(j, "max_rps_raw") == 160);
    assert_true(num(j, "in_flight_at_end") == 7);
    static const char *keys[] = {"reconnects", "max_ms", "mean_ms", "p50_ms",        "p90_ms",
                                 "p95_ms",     "p99_ms", "p999_ms", "p95_locust_ms", "spawn_rate"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        (void)num(j, keys[i]);
    json_t *windows = json_object_get(j, "windows");
    assert_int_equal(json_array_size(windows), 5);
    assert_true(num(json_array_get(windows, 3), "failures") == 2);
    assert_true(num(json_array_get(windows, 3), "users") == 100);
    assert_true(num(json_array_get(windows, 4), "length_s") == 1);
    json_t *hist = json_object_get(j, "histogram");
    size_t i;
    json_t *b;
    double total = 0;
    json_array_foreach(json_object_get(hist, "buckets"), i, b) {
        assert_true(json_integer_value(json_array_get(b, 0)) <
                    json_integer_value(json_array_get(b, 1)));
        total += (double)json_integer_value(json_array_get(b, 2));
    }
    assert_true(total == 800);
    assert_int_equal(json_array_size(json_object_get(j, "stages")), 0);
    json_decref(j);
}

static void test_csv(void **state) {
    fixture *f = *state;
    fo_load_summary s;
    char prefix[128], path[160], line[1024];
    fo_load_summarize(&f->r, &s);
    snprintf(prefix, sizeof prefix, "%s/run", f->dir);
    assert_int_equal(fo_load_write_csv(prefix, &f->o, &f->r, &s, 1700000000), 0);
    snprintf(path, sizeof path, "%s_stats.csv", prefix);
    FILE *csv = fopen(path, "r");
    assert_non_null(csv);
    assert_non_null(fgets(line, sizeof line, csv));
    assert_non_null(strstr(line, "\"Type\",\"Name\",\"Request Count\",\"Failure Count\""));
    assert_non_null(strstr(line, ",\"100%\",\"In Flight At End\"\n"));
    assert_non_null(fgets(line, sizeof line, csv));
    assert_non_null(strstr(line, "\"GET\",\"/600/\",802,2,"));
    assert_non_null(strstr(line, ",7\n"));
    assert_non_null(fgets(line, sizeof line, csv));
    assert_non_null(strstr(line, "\"\",\"Aggregated\",802,2,"));
    assert_non_null(strstr(line, ",7\n"));
    fclose(csv);
    snprintf(path, sizeof path, "%s_stats_history.csv", prefix);
    csv = fopen(path, "r");
    assert_non_null(csv);
    int rows = 0;
    while (fgets(line, sizeof line, csv))
        rows++;
    fclose(csv);
    assert_int_equal(rows, 1 + 5);
}

/* The open model, 100/s for 2 s: each second 100 sent (3 late), 100 answered with a response
 * time of 650 ms and a service time of 600 ms; the 200 arrivals all sent. */
static int setup_open(void **state) {
    fo_load_plan plan;
    fixture *f = fixture_new("--rate", "100", "2s", &plan);
    assert_ptr_equal(f->r.driver, &fo_driver_open);
    assert_true(plan.with_starts && plan.arrivals == &f->o.rates &&
                f->r.windows.rates == &f->o.rates);
    fo_hist resp, svc;
    assert_int_equal(fo_hist_init(&resp), 0);
    assert_int_equal(fo_hist_init(&svc), 0);
    for (uint64_t s = 0; s < 2; s++) {
        fo_hist_reset(&resp);
        fo_hist_reset(&svc);
        for (int i = 0; i < 100; i++) {
            fo_hist_record(&resp, MS(650));
            fo_hist_record(&svc, MS(600));
            fo_hist_record(&f->r.stats.lateness, i < 3 ? MS(2) : 1000);
        }
        fo_win_part p = {&resp, &svc, 0, 100 * 33, 100, 3};
        assert_int_equal(fo_windows_flush(&f->r.windows, 0, s, &p, s + 1), 0);
    }
    fo_hist_free(&resp);
    fo_hist_free(&svc);
    f->r.stats.starts = 200;
    f->r.stats.late = 6;
    f->r.stats.connections = 61;
    return fixture_ready(f, 2, state);
}

static void test_open_json(void **state) {
    fixture *f = *state;
    fo_load_summary s;
    char path[128];
    fo_load_summarize(&f->r, &s);
    assert_int_equal(s.sent, 200);
    assert_int_equal(s.arrivals, 200);
    assert_true(s.offered_rps == 100 && s.achieved_rps == 100);
    snprintf(path, sizeof path, "%s/run.json", f->dir);
    assert_int_equal(fo_load_write_json(path, &f->o, &f->r, &s), 0);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "open");
    /* The latency keys the closed model has are the response times; the service times apart. */
    assert_true(num(j, "p95_ms") == 650 && num(j, "min_ms") == 650);
    assert_true(num(json_object_get(j, "response"), "p95_ms") == 650);
    assert_true(num(json_object_get(j, "service"), "p95_ms") == 600);
    assert_true(num(json_object_get(j, "service"), "max_ms") == 600);
    assert_true(num(j, "offered_rps") == 100 && num(j, "achieved_rps") == 100);
    assert_true(num(j, "arrivals") == 200 && num(j, "sent") == 200 && num(j, "unsent") == 0);
    assert_true(num(j, "late_starts") == 6 && num(j, "queued_starts") == 0);
    assert_true(num(j, "connections") == 61 && num(j, "max_connections") == 10000);
    json_t *late = json_object_get(j, "lateness");
    assert_true(num(late, "late_ms") == 1 && num(late, "max_ms") == 2 &&
                num(late, "p50_ms") == 0.001);
    assert_true(num(json_object_get(j, "service_histogram"), "count") == 200);
    json_t *w = json_array_get(json_object_get(j, "windows"), 1);
    assert_true(num(w, "offered") == 100 && num(w, "sent") == 100 && num(w, "late") == 3);
    assert_true(num(w, "p50_ms") == 650 && num(w, "service_p50_ms") == 600);
    (void)num(w, "p99_ms");
    (void)num(w, "service_p95_ms");
    (void)num(w, "service_p99_ms");
    json_decref(j);
}

/* The summary's blog row is made of response times; the live line shows the open figures. */
static void test_open_text(void **state) {
    fixture *f = *state;
    fo_load_summary s;
    char text[8192];
    fo_load_summarize(&f->r, &s);
    summary_text(f, &s, text, sizeof text);
    assert_non_null(strstr(text, "200 offered (100.0/s), 200 sent (100.0/s achieved), 0 unsent"));
    assert_non_null(strstr(text, "6 late"));
    assert_non_null(strstr(text, "\n| 650.00 | 650.00 | 650.00 |"));
    char line[256];
    fo_window w;
    assert_int_equal(fo_windows_get(&f->r.windows, 1, &w), 0);
    fo_load_live_line(line, sizeof line, &w, 1, f->o.sched.total_ns, 0, f->r.driver);
    assert_non_null(strstr(line, "offered 100/s  sent 100/s  done 100/s"));
    assert_non_null(strstr(line, "late 3"));
}

TEST_MAIN(cmocka_unit_test_setup_teardown(test_open_json, setup_open, teardown),
          cmocka_unit_test_setup_teardown(test_open_text, setup_open, teardown),
          cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
          cmocka_unit_test_setup_teardown(test_json, setup, teardown),
          cmocka_unit_test_setup_teardown(test_csv, setup, teardown))
