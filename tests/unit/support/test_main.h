/* The main() of a cmocka test program that needs no set-up of its own: runs the tests given,
 *   TEST_MAIN(cmocka_unit_test(test_a), cmocka_unit_test(test_b))
 * and exits with the number that failed. */
#ifndef FANOUT_TEST_MAIN_H
#define FANOUT_TEST_MAIN_H

#define TEST_MAIN(...)                                                                             \
    int main(void) {                                                                               \
        const struct CMUnitTest tests[] = {__VA_ARGS__};                                           \
        return cmocka_run_group_tests(tests, NULL, NULL);                                          \
    }

#endif
