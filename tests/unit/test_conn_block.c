/* Tests for conn_block.c over a socketpair: the test writes the client's bytes first (the
 * socket buffers them), runs fo_conn_block_serve in the same thread, then reads everything the
 * server sent. The fan-out path runs against a closed port, so it answers 502 at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fanout/conn_block.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_net.h"

typedef struct pair {
    int client, server;
} pair;

static pair open_pair(void) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    return (pair){.client = sv[0], .server = sv[1]};
}

/* Reads what the server sent until it closes; the caller frees the string. */
static char *read_all(int fd) {
    size_t len = 0, cap = 65536;
    char *out = malloc(cap);
    assert_non_null(out);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t n = read(fd, out + len, cap - len - 1);
        if (n <= 0) break;
        len += (size_t)n;
        assert_true(len < cap - 1);
    }
    out[len] = '\0';
    return out;
}

static int count(const char *haystack, const char *needle) {
    int n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Sends text as the client, optionally says it is done sending, serves, checks that the server
 * answered want_answered requests, and returns the answer bytes (to free). */
static char *serve(const char *text, int client_done, int max_requests, int timeout_ms,
                   fo_upstream_block *up, int want_answered) {
    pair p = open_pair();
    size_t len = strlen(text);
    assert_int_equal(write(p.client, text, len), (ssize_t)len);
    if (client_done) shutdown(p.client, SHUT_WR);
    /* A client that half-closes counts as gone during a fan-out; these tests want the answers
     * to what it sent, as a server that does not cancel gives them. */
    fo_conn_block_opts o = {
        .header_timeout_ms = timeout_ms, .max_requests = max_requests, .no_cancel = client_done};
    assert_int_equal(fo_conn_block_serve(p.server, up, &o), want_answered);
    char *out = read_all(p.client);
    close(p.client);
    return out;
}

static void test_answer_without_fanout(void **state) {
    (void)state;
    char *out = serve("GET /nope/x HTTP/1.1\r\nHost: t\r\n\r\n", 1, 0, 1000, NULL, 1);
    assert_non_null(strstr(out, "HTTP/1.1 404 Not Found\r\n"));
    free(out);
}

static void test_pipelined_requests_answered_in_order(void **state) {
    (void)state;
    char *out = serve("GET /nope HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\n\r\nGET /-5/ HTTP/1.1\r\n\r\n",
                      1, 0, 1000, NULL, 3);
    char *a = strstr(out, " 404 "), *b = strstr(out, " 405 "), *c = strstr(out, " 400 ");
    assert_true(a && b && c && a < b && b < c);
    assert_int_equal(count(out, "Connection: close"), 0);
    free(out);
}

static void test_max_requests_one_closes_after_first(void **state) {
    (void)state;
    char *out = serve("GET /nope HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n", 1, 1, 1000, NULL, 1);
    assert_int_equal(count(out, "HTTP/1.1 "), 1);
    assert_non_null(strstr(out, "Connection: close\r\n"));
    free(out);
}

static void test_client_asks_to_close(void **state) {
    (void)state;
    char *out = serve("GET /nope HTTP/1.1\r\nConnection: close\r\n\r\nGET /nope HTTP/1.1\r\n\r\n",
                      1, 0, 1000, NULL, 1);
    assert_non_null(strstr(out, "Connection: close\r\n"));
    free(out);
}

static void test_garbage_is_400_and_close(void **state) {
    (void)state;
    char *out = serve("HELLO THERE\r\n\r\n", 1, 0, 1000, NULL, 1);
    assert_non_null(strstr(out, "HTTP/1.1 400 "));
    assert_non_null(strstr(out, "Connection: close\r\n"));
    free(out);
}

static void test_slow_request_is_408(void **state) {
    (void)state;
    char *out = serve("GET / HTTP/1.1\r\nHost:", 0, 0, 100, NULL, 1);
    assert_non_null(strstr(out, "HTTP/1.1 408 "));
    free(out);
}

static void test_silent_client_gets_no_answer(void **state) {
    (void)state;
    char *out = serve("", 0, 0, 100, NULL, 0);
    assert_string_equal(out, "");
    free(out);
}

static void test_half_request_then_close_gets_no_answer(void **state) {
    (void)state;
    char *out = serve("GET / HTTP/1.1\r\n", 1, 0, 1000, NULL, 0);
    assert_string_equal(out, "");
    free(out);
}

static void test_fanout_runs_and_failure_is_502(void **state) {
    (void)state;
    fo_upstream_cfg cfg = {.base_url = "http://127.0.0.1:1", .timeout_ms = 2000};
    fo_upstream_block *up = fo_upstream_block_new(&cfg);
    assert_non_null(up);
    char *out = serve("GET /10/ HTTP/1.1\r\n\r\nGET /10/ HTTP/1.1\r\n\r\n", 1, 0, 1000, up, 2);
    assert_int_equal(count(out, "HTTP/1.1 502 Bad Gateway\r\n"), 2);
    assert_non_null(strstr(out, "upstream"));
    free(out);
    fo_upstream_block_free(up);
}

/* Serves text (the client sends nothing more, but stays) with a stop descriptor that is
 * already readable, as a prefork worker's lifeline is once its parent has died, and a header
 * timeout of 10 s: the wait for a request must end at once (well under those 10 s), having
 * answered want_answered requests. Returns the answer (to free). */
static char *serve_stopping(const char *text, int want_answered) {
    pair p = open_pair();
    size_t len = strlen(text);
    if (len) assert_int_equal(write(p.client, text, len), (ssize_t)len);
    int life[2];
    assert_int_equal(pipe(life), 0);
    close(life[1]); /* the parent is gone: end of file */
    fo_conn_block_opts o = {
        .header_timeout_ms = 10000, .max_requests = 1, .watch_stop = 1, .stop_fd = life[0]};
    uint64_t t0 = fo_now_ns();
    assert_int_equal(fo_conn_block_serve(p.server, NULL, &o), want_answered);
    assert_true(fo_now_ns() - t0 < 2000 * 1000000ull);
    close(life[0]);
    char *out = read_all(p.client);
    close(p.client);
    return out;
}

static void test_stop_ends_the_wait_for_a_request(void **state) {
    (void)state;
    char *out = serve_stopping("", 0);
    assert_string_equal(out, "");
    free(out);
}

static void test_stop_mid_request_is_503(void **state) {
    (void)state;
    char *out = serve_stopping("GET / HTTP/1.1\r\nHost:", 1);
    assert_non_null(strstr(out, "HTTP/1.1 503 "));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_without_fanout),
        cmocka_unit_test(test_pipelined_requests_answered_in_order),
        cmocka_unit_test(test_max_requests_one_closes_after_first),
        cmocka_unit_test(test_client_asks_to_close),
        cmocka_unit_test(test_garbage_is_400_and_close),
        cmocka_unit_test(test_slow_request_is_408),
        cmocka_unit_test(test_silent_client_gets_no_answer),
        cmocka_unit_test(test_half_request_then_close_gets_no_answer),
        cmocka_unit_test(test_fanout_runs_and_failure_is_502),
        cmocka_unit_test(test_stop_ends_the_wait_for_a_request),
        cmocka_unit_test(test_stop_mid_request_is_503),
    };
    return cmocka_run_group_tests(tests, test_curl_setup, test_curl_teardown);
}
