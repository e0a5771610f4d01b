/* What the unit tests' small in-process servers and clients share: a listening socket on a free
 * loopback port, a bounded wait for input, writing a whole buffer, and libcurl's global set-up
 * as a cmocka group's. Failures fail the test (cmocka). */
#ifndef FANOUT_TEST_NET_H
#define FANOUT_TEST_NET_H

#include <stddef.h>

/* A socket listening on 127.0.0.1 at a port the kernel chose; *port gets it. Returns the fd. */
int test_listen(int backlog, int *port);

/* 1 when fd is readable within ms, 0 otherwise. */
int test_readable(int fd, int ms);

/* Writes all of data, or stops at the first error (a client that left). */
void test_write_all(int fd, const char *data, size_t len);

/* cmocka group set-up and tear-down around tests that run libcurl transfers:
 * cmocka_run_group_tests(tests, test_curl_setup, test_curl_teardown). */
int test_curl_setup(void **state);
int test_curl_teardown(void **state);

#endif
