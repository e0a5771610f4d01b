/* Tests for bench/load's summary, JSON and CSV writers over a run built by hand: the JSON has
 * the keys other tools read (scripts/bench.sh, fanout-report), with the right values, and the
 * CSV files have Locust's columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "output.h"
#include "report.h"

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

/* 100 users at once for 5 s; each second 160 successes at 600..615 ms; 2 timeouts in second 3. */
static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    char *argv[] = {(char *)"fanout-load", (char *)"-u", (char *)"100",
                    (char *)"-d",          (char *)"5s", (char *)"http://127.0.0.1:5000/600/"};
    assert_int_equal(fo_load_opts_parse(&f->o, 6, argv, err, sizeof err), FO_LOAD_OPTS_RUN);
    assert_int_equal(fo_windows_init(&f->r.windows, 1, &f->o.sched), 0);
    assert_int_equal(fo_load_stats_init(&f->r.stats, 0, 0), 0);
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
    f->r.run_ns = 5 * FO_NS_PER_S;
    assert_int_equal(fo_windows_finish(&f->r.windows, f->r.run_ns), 5);
    snprintf(f->dir, sizeof f->dir, "/tmp/fanout-test-output.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
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
    assert_non_null(fgets(line, sizeof line, csv));
    assert_non_null(strstr(line, "\"GET\",\"/600/\",802,2,"));
    assert_non_null(fgets(line, sizeof line, csv));
    assert_non_null(strstr(line, "\"\",\"Aggregated\",802,2,"));
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
