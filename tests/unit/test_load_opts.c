/* Tests for bench/load/opts.c: durations, URLs, stages, and that bad arguments are refused
 * with a one-line reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"
#include "test_refusal.h"

#include "opts.h"

#include <string.h>

#define S(x) ((uint64_t)((x)*1e9))

static int parse(fo_load_opts *o, char *err, const char *a1, const char *a2, const char *a3,
                 const char *a4, const char *a5, const char *a6) {
    char *argv[8] = {(char *)"fanout-load"};
    int argc = 1;
    const char *args[] = {a1, a2, a3, a4, a5, a6};
    for (int i = 0; i < 6 && args[i]; i++)
        argv[argc++] = (char *)args[i];
    return fo_load_opts_parse(o, argc, argv, err, 256);
}

/* Go-style durations, a bare number being seconds; anything else is refused. */
static void test_durations(void **state) {
    (void)state;
    const struct {
        const char *text;
        uint64_t ns;
    } good[] = {{"30s", S(30)},    {"2m", S(120)}, {"500ms", S(0.5)}, {"1m30s", S(90)},
                {"1.5h", S(5400)}, {"7", S(7)},    {"250us", 250000}};
    static const char *const bad[] = {"", "s", "10x", "-5s", "5 s", "1e30s"};
    uint64_t ns;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(fo_parse_duration(good[i].text, &ns), 0);
        assert_int_equal(ns, good[i].ns);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_true(fo_parse_duration(bad[i], &ns) < 0);
}

static void test_urls(void **state) {
    (void)state;
    fo_load_opts o;
    char err[256];
    memset(&o, 0, sizeof o);
    assert_int_equal(fo_load_parse_url(&o, "http://127.0.0.1:5000/600/", err, sizeof err), 0);
    assert_string_equal(o.host, "127.0.0.1");
    assert_int_equal(o.port, 5000);
    assert_string_equal(o.path, "/600/");
    assert_string_equal(o.host_header, "127.0.0.1:5000");
    assert_int_equal(fo_load_parse_url(&o, "http://localhost", err, sizeof err), 0);
    assert_int_equal(o.port, 80);
    assert_string_equal(o.path, "/");
    assert_string_equal(o.host_header, "localhost");
    assert_int_equal(fo_load_parse_url(&o, "http://[::1]:8080/x?y=1#frag", err, sizeof err), 0);
    assert_string_equal(o.host, "::1");
    assert_string_equal(o.path, "/x?y=1");
    assert_string_equal(o.host_header, "[::1]:8080");
    assert_int_equal(fo_load_parse_url(&o, "http://h:81?q", err, sizeof err), 0);
    assert_string_equal(o.path, "/?q");
    assert_true(fo_load_parse_url(&o, "https://h/", err, sizeof err) < 0);
    assert_non_null(strstr(err, "http://"));
    assert_true(fo_load_parse_url(&o, "http://h:0/", err, sizeof err) < 0);
    assert_true(fo_load_parse_url(&o, "http://h:99999/", err, sizeof err) < 0);
    assert_true(fo_load_parse_url(&o, "http://h:/", err, sizeof err) < 0);
    assert_true(fo_load_parse_url(&o, "http:///x", err, sizeof err) < 0);
    assert_true(fo_load_parse_url(&o, "http://[::1/", err, sizeof err) < 0);
}

static void test_defaults_and_ramp(void **state) {
    (void)state;
    fo_load_opts o;
    char err[256];
    assert_int_equal(parse(&o, err, "http://127.0.0.1:1/", NULL, NULL, NULL, NULL, NULL),
                     FO_LOAD_OPTS_RUN);
    assert_int_equal(o.users, 10);
    assert_int_equal(o.threads, 1);
    assert_int_equal(o.sched.total_ns, S(10));
    assert_int_equal(o.timeout_ns, S(60));
    assert_true(o.max_failure_ratio == 0.01);
    assert_int_equal(
        parse(&o, err, "--users", "100", "--spawn-rate=10", "-d", "30s", "http://127.0.0.1:1/"),
        FO_LOAD_OPTS_RUN);
    assert_int_equal(o.users, 100);
    assert_int_equal(fo_sched_users_at(&o.sched, S(0)), 10);
    assert_int_equal(fo_sched_users_at(&o.sched, S(9)), 100);
    assert_int_equal(o.sched.total_ns, S(30));
    assert_int_equal(parse(&o, err, "-h", NULL, NULL, NULL, NULL, NULL), FO_LOAD_OPTS_HELP);
}

static void test_stages_opt(void **state) {
    (void)state;
    fo_load_opts o;
    char err[256];
    assert_int_equal(
        parse(&o, err, "--stages", "10:5s,50:10s,100:15s", "-r", "20", "http://127.0.0.1:1/", NULL),
        FO_LOAD_OPTS_RUN);
    assert_int_equal(o.staged, 1);
    assert_int_equal(o.sched.n_stages, 3);
    assert_int_equal(o.users, 100);
    /* 0->10 in one batch, 10->50 in 2 batches (1 s), 50->100 in 3 batches (2 s). */
    assert_int_equal(o.sched.total_ns, S(5 + 1 + 10 + 2 + 15));
    assert_int_equal(o.sched.stages[2].users, 100);
    assert_int_equal(o.sched.stages[2].hold_ns, S(15));
}

static void test_wait_and_headers(void **state) {
    (void)state;
    fo_load_opts o;
    char err[256];
    assert_int_equal(
        parse(&o, err, "--wait", "100:500", "-H", "X-A: 1", "http://127.0.0.1:1/", NULL), 0);
    assert_int_equal(o.wait_min_ns, 100000000);
    assert_int_equal(o.wait_max_ns, 500000000);
    assert_string_equal(o.headers, "X-A: 1\r\n");
}

/* --rate and --rate-stages: the open model, its schedule and its pool's cap. */
static void test_rate_opts(void **state) {
    (void)state;
    fo_load_opts o;
    char err[256];
    assert_int_equal(parse(&o, err, "--rate", "150", "-d", "3s", "http://127.0.0.1:1/", NULL),
                     FO_LOAD_OPTS_RUN);
    assert_int_equal(o.open, 1);
    assert_int_equal(o.staged, 0);
    assert_int_equal(o.rates.total, 450);
    assert_int_equal(o.rates.total_ns, S(3));
    assert_int_equal(o.sched.total_ns, S(3)); /* the windows' length */
    assert_int_equal(o.users, 0);
    assert_int_equal(o.max_connections, FO_LOAD_DEFAULT_MAX_CONNECTIONS);
    /* No --duration: 10 s, as the closed model. */
    assert_int_equal(parse(&o, err, "--rate=2.5", "http://127.0.0.1:1/", NULL, NULL, NULL, NULL),
                     FO_LOAD_OPTS_RUN);
    assert_int_equal(o.rates.total, 25);
    assert_int_equal(parse(&o, err, "--rate-stages", "50:10s,200:20s", "--max-connections", "7",
                           "http://127.0.0.1:1/", NULL),
                     FO_LOAD_OPTS_RUN);
    assert_int_equal(o.staged, 1);
    assert_int_equal(o.rates.n_stages, 2);
    assert_int_equal(o.rates.total, 500 + 4000);
    assert_int_equal(o.sched.total_ns, S(30));
    assert_int_equal(o.max_connections, 7);
    /* --duration caps the stages; threads never outnumber the connections. */
    assert_int_equal(parse(&o, err, "--rate-stages=50:10s,200:20s", "-d", "12s", "--threads=4",
                           "--max-connections=2", "http://127.0.0.1:1/"),
                     FO_LOAD_OPTS_RUN);
    assert_int_equal(o.rates.total, 500 + 400);
    assert_int_equal(o.threads, 2);
}

/* Every bad argument is refused with a one-line reason naming the problem. */
static void test_refusals(void **state) {
    (void)state;
    static const char *bad[][3] = {
        {"--users", "0", "users"},
        {"--users", "abc", "users"},
        {"--spawn-rate", "-1", "spawn-rate"},
        {"--duration", "soon", "duration"},
        {"--stages", "10", "stages"},
        {"--stages", "10:5s,", "stages"},
        {"--stages", "x:5s", "stages"},
        {"--wait", "5:1", "wait"},
        {"--timeout", "0s", "timeout"},
        {"--threads", "0", "threads"},
        {"--max-failure-ratio", "2", "max-failure-ratio"},
        {"-H", "NoColon", "header"},
        {"--bogus", "1", "unknown option"},
        {"--rate", "0", "--rate must be a number"},
        {"--rate", "fast", "--rate must be a number"},
        {"--rate", "2e7", "--rate must be a number"},
        {"--rate-stages", "50", "RATE:DURATION"},
        {"--rate-stages", "-5:1s", "not a rate"},
        {"--rate-stages", "5:soon", "not a duration"},
        {"--rate-stages", "0:5s", "never sends"},
        {"--max-connections", "0", "max-connections"},
        {"--max-connections", "5", "for the open model"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fo_load_opts o;
        char err[256] = "";
        assert_refused(
            parse(&o, err, bad[i][0], bad[i][1], "http://127.0.0.1:1/", NULL, NULL, NULL), err,
            bad[i]);
    }
    fo_load_opts o;
    char err[256] = "";
    assert_true(parse(&o, err, NULL, NULL, NULL, NULL, NULL, NULL) < 0);
    assert_non_null(strstr(err, "no URL"));
    assert_true(parse(&o, err, "--users", NULL, NULL, NULL, NULL, NULL) < 0);
    assert_non_null(strstr(err, "needs a value"));
    assert_true(parse(&o, err, "http://a/", "http://b/", NULL, NULL, NULL, NULL) < 0);
    assert_true(parse(&o, err, "--stages", "5:1s", "--users", "3", "http://a/", NULL) < 0);
    /* The open model refuses the closed model's options, whichever comes first. */
    static const char *closed[][2] = {{"--users", "5"},
                                      {"-u", "5"},
                                      {"--spawn-rate", "2"},
                                      {"--stages", "5:1s"},
                                      {"--wait", "1:2"}};
    for (size_t i = 0; i < sizeof closed / sizeof closed[0]; i++) {
        assert_true(parse(&o, err, "--rate", "10", closed[i][0], closed[i][1], "http://a/", NULL) <
                    0);
        if (!strstr(err, "do not go together")) fail_msg("for %s: \"%s\"", closed[i][0], err);
        assert_true(parse(&o, err, closed[i][0], closed[i][1], "--rate-stages", "10:1s",
                          "http://a/", NULL) < 0);
        assert_non_null(strstr(err, "--rate-stages and"));
    }
    assert_true(parse(&o, err, "--rate", "10", "--rate-stages", "10:1s", "http://a/", NULL) < 0);
    assert_non_null(strstr(err, "do not go together"));
}

static void test_segment_and_start_at(void **state) {
    (void)state;
    fo_load_opts o;
    char err[256] = "";
    assert_int_equal(parse(&o, err, "-u", "10", "--segment", "2/4", "http://a/", NULL), 0);
    assert_int_equal(o.seg_index, 2);
    assert_int_equal(o.seg_count, 4);
    assert_int_equal(fo_load_segment_share(&o, 10), 2); /* users 2 and 6 */
    assert_int_equal(o.start_at, FO_START_NOW);
    assert_int_equal(fo_load_start_resolve(&o, 1800000000.0, err, sizeof err), 0);
    assert_true(o.start_unix == 0);
    /* Without --segment: one segment of one. */
    assert_int_equal(parse(&o, err, "http://a/", NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(o.seg_count, 1);
    assert_int_equal(fo_load_segment_share(&o, 10), 10);
    /* Absolute and relative starts; a second late is allowed, more is not. */
    assert_int_equal(parse(&o, err, "--start-at", "1800000000.25", "http://a/", NULL, NULL, NULL),
                     0);
    assert_int_equal(fo_load_start_resolve(&o, 1800000001.0, err, sizeof err), 0);
    assert_true(o.start_unix == 1800000000.25);
    assert_int_equal(fo_load_start_resolve(&o, 1800000001.5, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "in the past"));
    assert_int_equal(parse(&o, err, "--start-at=+2.5s", "http://a/", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(fo_load_start_resolve(&o, 1800000000.0, err, sizeof err), 0);
    assert_true(o.start_unix == 1800000002.5);
    /* Bad values. */
    static const char *bad[][2] = {
        {"--segment", "4/4"},    {"--segment", "1"},     {"--segment", "/4"},
        {"--segment", "0/0"},    {"--segment", "a/4"},   {"--segment", "0/20000"},
        {"--start-at", "+soon"}, {"--start-at", "1700"}, {"--start-at", "noon"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse(&o, err, bad[i][0], bad[i][1], "http://a/", NULL, NULL, NULL) != -EINVAL)
            fail_msg("%s %s was accepted", bad[i][0], bad[i][1]);
    /* More segments than users (or arrivals) leaves a segment with nothing to run. */
    assert_true(parse(&o, err, "-u", "3", "--segment", "0/4", "http://a/", NULL) < 0);
    assert_non_null(strstr(err, "more segments than the run's 3 users"));
    assert_true(parse(&o, err, "--rate=1", "-d", "2s", "--segment", "0/3", "http://a/") < 0);
    assert_non_null(strstr(err, "arrivals"));
}

/* --source takes an IPv4 or IPv6 literal, nothing else; without it the kernel picks. */
static void test_source(void **state) {
    (void)state;
    fo_load_opts o;
    char err[256] = "";
    assert_int_equal(parse(&o, err, "http://a/", NULL, NULL, NULL, NULL, NULL), 0);
    assert_null(o.source);
    assert_int_equal(parse(&o, err, "--source", "127.0.0.2", "http://a/", NULL, NULL, NULL), 0);
    assert_string_equal(o.source, "127.0.0.2");
    assert_int_equal(parse(&o, err, "--source=::1", "http://a/", NULL, NULL, NULL, NULL), 0);
    assert_string_equal(o.source, "::1");
    static const char *bad[] = {"localhost", "127.0.0", "127.0.0.256", "", "1.2.3.4:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(&o, err, "--source", bad[i], "http://a/", NULL, NULL, NULL) != -EINVAL)
            fail_msg("--source \"%s\" was accepted", bad[i]);
        assert_non_null(strstr(err, "--source wants an IP address"));
    }
    assert_true(parse(&o, err, "http://a/", "--source", NULL, NULL, NULL, NULL) < 0);
}

TEST_MAIN(cmocka_unit_test(test_durations), cmocka_unit_test(test_urls),
          cmocka_unit_test(test_defaults_and_ramp), cmocka_unit_test(test_stages_opt),
          cmocka_unit_test(test_wait_and_headers), cmocka_unit_test(test_refusals),
          cmocka_unit_test(test_rate_opts), cmocka_unit_test(test_segment_and_start_at),
          cmocka_unit_test(test_source))
