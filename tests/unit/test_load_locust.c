/* Tests for bench/load/locust.c: Locust's rounding (halves to even), its percentile index
 * rule, and its smoothed current RPS with the Max RPS peak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"

#include "locust.h"

static void test_rounding(void **state) {
    (void)state;
    /* Below 100 ms: to 1 ms, halves to even. */
    assert_true(fo_locust_round(0.4) == 0);
    assert_true(fo_locust_round(0.5) == 0);
    assert_true(fo_locust_round(1.5) == 2);
    assert_true(fo_locust_round(2.5) == 2);
    assert_true(fo_locust_round(2.51) == 3);
    assert_true(fo_locust_round(99.4) == 99);
    /* Below 1000 ms: to 10 ms. */
    assert_true(fo_locust_round(145) == 140);
    assert_true(fo_locust_round(155) == 160);
    assert_true(fo_locust_round(145.01) == 150);
    assert_true(fo_locust_round(604) == 600);
    assert_true(fo_locust_round(605) == 600);
    assert_true(fo_locust_round(615) == 620);
    assert_true(fo_locust_round(999) == 1000);
    /* Below 10 s: to 100 ms; above: to 1 s. */
    assert_true(fo_locust_round(1250) == 1200);
    assert_true(fo_locust_round(1350) == 1400);
    assert_true(fo_locust_round(9949) == 9900);
    assert_true(fo_locust_round(12500) == 12000);
    assert_true(fo_locust_round(13500) == 14000);
    assert_true(fo_locust_round(22222) == 22000);
}

static void test_index(void **state) {
    (void)state;
    assert_int_equal(fo_locust_index(0, 0.95), 0);
    assert_int_equal(fo_locust_index(1, 0.95), 0);
    assert_int_equal(fo_locust_index(10, 0.95), 9); /* floor(9.5) */
    assert_int_equal(fo_locust_index(100, 0.95), 95);
    assert_int_equal(fo_locust_index(20, 0.95), 19); /* floor(19) */
    assert_int_equal(fo_locust_index(21, 0.95), 19); /* floor(19.95) */
    assert_int_equal(fo_locust_index(7, 1.0), 6);    /* capped at n - 1 */
    assert_int_equal(fo_locust_index(1000, 0.5), 500);
}

/* Current RPS at second `now` is the mean of seconds [max(now-12, 0), now-3]. */
static void test_current_rps(void **state) {
    (void)state;
    uint64_t c[30];
    for (int i = 0; i < 30; i++)
        c[i] = (uint64_t)(i + 1) * 10; /* 10, 20, ..., 300 */
    assert_true(fo_locust_current_rps(c, 30, 0) == 0);
    assert_true(fo_locust_current_rps(c, 30, 2) == 0);
    assert_true(fo_locust_current_rps(c, 30, 3) == 10); /* second 0 alone */
    assert_true(fo_locust_current_rps(c, 30, 5) == (10 + 20 + 30) / 3.0);
    /* now = 20: seconds 8..17, values 90..180, mean 135. */
    assert_true(fo_locust_current_rps(c, 30, 20) == 135);
    /* Seconds beyond the data count 0: now = 31 over 19..28 with n = 25 sees 19..24 only. */
    assert_true(fo_locust_current_rps(c, 25, 31) == (200 + 210 + 220 + 230 + 240 + 250) / 10.0);
}

/* A ramp to a steady 166 a second: the smoothed peak is the plateau, while a single spike
 * raises the raw peak but barely moves the smoothed one. */
static void test_max_rps(void **state) {
    (void)state;
    uint64_t c[30];
    for (int i = 0; i < 30; i++)
        c[i] = i < 10 ? (uint64_t)(i + 1) * 16 : 166;
    assert_true(fo_locust_max_rps(c, 30) == 166);
    c[25] = 1166;
    double smoothed = fo_locust_max_rps(c, 30);
    assert_true(smoothed == 266); /* (9 * 166 + 1166) / 10 */
    assert_true(fo_locust_max_rps(c, 0) == 0);
}

TEST_MAIN(cmocka_unit_test(test_rounding), cmocka_unit_test(test_index),
          cmocka_unit_test(test_current_rps), cmocka_unit_test(test_max_rps))
