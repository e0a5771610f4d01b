/* Tests for bench/load/schedule.c: Locust's spawn schedule, stages with ramps both ways,
 * next-change times, and the dealing of users over threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"

#include "schedule.h"

#include <string.h>

#define S(x) ((uint64_t)((x)*1e9))

/* The users running at a time, in seconds from the run's start. */
typedef struct users_at {
    double s;
    uint32_t users;
} users_at;

/* Checks fo_sched_users_at at each of want's n times; a failure names the time. */
static void assert_users(const fo_sched *s, const users_at *want, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t got = fo_sched_users_at(s, S(want[i].s));
        if (got != want[i].users)
            fail_msg("at %.3f s: %u users, not %u", want[i].s, (unsigned)got,
                     (unsigned)want[i].users);
    }
}
#define ASSERT_USERS(s, ...)                                                                       \
    assert_users(s, (const users_at[]){__VA_ARGS__},                                               \
                 sizeof((const users_at[]){__VA_ARGS__}) / sizeof(users_at))

/* --users 100 --spawn-rate 10 -t 30s: 10 users at t = 0, 20 at 1 s, ... 100 at 9 s. */
static void test_locust_ramp(void **state) {
    (void)state;
    fo_sched s;
    fo_sched_simple(&s, 100, 10, S(30));
    assert_int_equal(s.total_ns, S(30));
    assert_int_equal(s.batch, 10);
    ASSERT_USERS(&s, {0, 10}, {0.999, 10}, {1, 20}, {8.5, 90}, {9, 100}, {29.9, 100}, {30, 0});
    assert_int_equal(fo_sched_next_change(&s, 0), S(1));
    assert_int_equal(fo_sched_next_change(&s, S(8.2)), S(9));
    assert_int_equal(fo_sched_next_change(&s, S(9)), UINT64_MAX);
}

/* Fractional rates: batches of max(1, floor(rate)) every batch / rate seconds. */
static void test_fractional_rates(void **state) {
    (void)state;
    fo_sched s;
    fo_sched_simple(&s, 5, 0.5, S(60)); /* 1 user every 2 s */
    ASSERT_USERS(&s, {0, 1}, {1.9, 1}, {2, 2}, {8, 5});
    fo_sched_simple(&s, 7, 2.5, S(60)); /* 2 users every 0.8 s, the last batch (2.4 s) partial */
    ASSERT_USERS(&s, {0, 2}, {0.8, 4}, {1.6, 6}, {2.4, 7});
    /* No rate: everyone at once. */
    fo_sched_simple(&s, 50, 0, S(5));
    assert_int_equal(fo_sched_users_at(&s, 0), 50);
    assert_int_equal(fo_sched_next_change(&s, 0), UINT64_MAX);
}

/* A duration shorter than the ramp cuts the ramp. */
static void test_short_duration(void **state) {
    (void)state;
    fo_sched s;
    fo_sched_simple(&s, 100, 10, S(3));
    assert_int_equal(s.total_ns, S(3));
    assert_int_equal(fo_sched_users_at(&s, S(2.5)), 30);
    assert_int_equal(fo_sched_next_change(&s, S(2.5)), UINT64_MAX);
}

/* "10:5s,50:10s,20:5s" at 10 users/s: ramp 0->10 (one batch), hold 5 s; ramp 10->50 (4 batches,
 * 3 s), hold 10 s; ramp down 50->20 (3 batches, 2 s), hold 5 s. */
static void test_stages(void **state) {
    (void)state;
    fo_sched s;
    memset(&s, 0, sizeof s);
    assert_int_equal(fo_sched_add_stage(&s, 10, S(5)), 0);
    assert_int_equal(fo_sched_add_stage(&s, 50, S(10)), 0);
    assert_int_equal(fo_sched_add_stage(&s, 20, S(5)), 0);
    fo_sched_finish(&s, 10, 0);
    assert_int_equal(s.max_users, 50);
    assert_int_equal(s.stages[0].hold_start_ns, 0);
    assert_int_equal(s.stages[0].end_ns, S(5));
    assert_int_equal(s.stages[1].hold_start_ns, S(8));
    assert_int_equal(s.stages[1].end_ns, S(18));
    assert_int_equal(s.stages[2].hold_start_ns, S(20));
    assert_int_equal(s.total_ns, S(25));
    ASSERT_USERS(&s, {4.9, 10}, {5, 20}, {7.5, 40}, {8, 50}, {18, 40}, {19, 30}, {20, 20}, {25, 0});
    /* Results are per hold. */
    assert_int_equal(fo_sched_stage_at(&s, S(1)), 0);
    assert_int_equal(fo_sched_stage_at(&s, S(6)), -1);
    assert_int_equal(fo_sched_stage_at(&s, S(8)), 1);
    assert_int_equal(fo_sched_stage_at(&s, S(24.9)), 2);
    assert_int_equal(fo_sched_stage_at(&s, S(25)), -1);
    /* Every change is found, in order, and nothing else. */
    uint64_t t = 0, changes = 0;
    while ((t = fo_sched_next_change(&s, t)) != UINT64_MAX) {
        assert_int_not_equal(fo_sched_users_at(&s, t), fo_sched_users_at(&s, t - 1));
        changes++;
    }
    assert_int_equal(changes, 4 + 3);
    /* A cap shortens the run. */
    fo_sched_finish(&s, 10, S(12));
    assert_int_equal(s.total_ns, S(12));
    assert_int_equal(fo_sched_users_at(&s, S(11)), 50);
}

/* Stages without a rate jump at once; a stage that keeps the count changes nothing. */
static void test_stages_at_once(void **state) {
    (void)state;
    fo_sched s;
    memset(&s, 0, sizeof s);
    fo_sched_add_stage(&s, 10, S(2));
    fo_sched_add_stage(&s, 10, S(2));
    fo_sched_add_stage(&s, 30, S(2));
    fo_sched_finish(&s, 0, 0);
    assert_int_equal(s.total_ns, S(6));
    ASSERT_USERS(&s, {3, 10}, {4, 30});
    assert_int_equal(fo_sched_next_change(&s, 0), S(4));
    assert_int_equal(fo_sched_stage_at(&s, S(2.5)), 1);
}

static void test_full(void **state) {
    (void)state;
    fo_sched s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < FO_SCHED_MAX_STAGES; i++)
        assert_int_equal(fo_sched_add_stage(&s, 1, S(1)), 0);
    assert_true(fo_sched_add_stage(&s, 1, S(1)) < 0);
}

/* Users (and the open model's arrivals) are dealt round-robin: the shares add up, and differ by
 * at most one; thread k's i-th is global item i * n + k; counts beyond 32 bits are dealt too. */
static void test_share(void **state) {
    (void)state;
    assert_int_equal(fo_sched_share(100, 0, 1), 100);
    assert_int_equal(fo_sched_share(10000000002ull, 1, 4), 2500000001ull);
    assert_int_equal(fo_sched_index(2, 3, 4), 14);
    assert_int_equal(fo_sched_share(10, 0, 3), 4);
    assert_int_equal(fo_sched_share(10, 1, 3), 3);
    assert_int_equal(fo_sched_share(10, 2, 3), 3);
    assert_int_equal(fo_sched_share(1, 1, 2), 0);
    assert_int_equal(fo_sched_share(0, 0, 2), 0);
    for (uint32_t total = 0; total < 50; total++) {
        uint64_t sum = 0;
        for (unsigned k = 0; k < 4; k++)
            sum += fo_sched_share(total, k, 4);
        assert_int_equal(sum, total);
    }
}

TEST_MAIN(cmocka_unit_test(test_locust_ramp), cmocka_unit_test(test_fractional_rates),
          cmocka_unit_test(test_short_duration), cmocka_unit_test(test_stages),
          cmocka_unit_test(test_stages_at_once), cmocka_unit_test(test_full),
          cmocka_unit_test(test_share))
