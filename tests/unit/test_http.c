/* Unit tests of the request parser and response formatting (src/http.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/http.h"

static fo_request req;

/* Feeds the whole string at once; returns the result and the bytes consumed. */
static int feed(fo_http_parser *p, const char *s, size_t *used) {
    return fo_http_parse(p, s, strlen(s), &req, used);
}

/* Feeds s whole to a fresh parser: what it returns (the request, if any, in req). */
static int feed_fresh(const char *s) {
    fo_http_parser p;
    fo_http_parser_init(&p);
    size_t used;
    return feed(&p, s, &used);
}

static void test_simple_get(void **state) {
    (void)state;
    fo_http_parser p;
    fo_http_parser_init(&p);
    size_t used;
    const char *s = "GET /300/ HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(feed(&p, s, &used), FO_HTTP_REQUEST);
    assert_int_equal(used, strlen(s));
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.path, "/300/");
    assert_int_equal(fo_http_parser_keep_alive(&p), 1);
}

static void test_byte_at_a_time(void **state) {
    (void)state;
    fo_http_parser p;
    fo_http_parser_init(&p);
    const char *s = "GET /a/b?c=d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    size_t n = strlen(s), used;
    for (size_t i = 0; i + 1 < n; i++) {
        assert_int_equal(fo_http_parse(&p, s + i, 1, &req, &used), FO_HTTP_NEED_MORE);
        assert_int_equal(used, 1);
        assert_true(fo_http_parser_mid_request(&p));
    }
    assert_int_equal(fo_http_parse(&p, s + n - 1, 1, &req, &used), FO_HTTP_REQUEST);
    assert_string_equal(req.path, "/a/b?c=d");
    assert_int_equal(fo_http_parser_keep_alive(&p), 0);
    assert_false(fo_http_parser_mid_request(&p));
}

static void test_pipelined_in_order(void **state) {
    (void)state;
    fo_http_parser p;
    fo_http_parser_init(&p);
    const char *s = "GET /1/ HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /2/ HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /3/ HTTP/1.0\r\n\r\n";
    size_t off = 0, used, n = strlen(s);
    const char *want[] = {"/1/", "/2/", "/3/"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fo_http_parse(&p, s + off, n - off, &req, &used), FO_HTTP_REQUEST);
        assert_string_equal(req.path, want[i]);
        off += used;
    }
    assert_int_equal(off, n);
    assert_int_equal(fo_http_parser_keep_alive(&p), 0); /* HTTP/1.0 without keep-alive */
}

/* A request costs its connection the bytes of its target, not room for the longest one: a long
 * target grows the buffer (up to the 8 KiB limit), and the next request reuses it. */
static void test_target_on_the_heap_as_long_as_it_is(void **state) {
    (void)state;
    assert_true(sizeof(fo_request) <= 64);
    fo_request r;
    memset(&r, 0, sizeof r);
    fo_http_parser p;
    fo_http_parser_init(&p);
    size_t n = 6000, used;
    char *s = malloc(n + 64);
    assert_non_null(s);
    s[0] = '/';
    memset(s + 1, 'a', n - 1);
    snprintf(s + n, 64, " HTTP/1.1\r\nHost: x\r\n\r\nGET /3/ HTTP/1.1\r\n\r\n");
    char *line = malloc(n + 80);
    assert_non_null(line);
    snprintf(line, n + 80, "GET %s", s);
    assert_int_equal(fo_http_parse(&p, line, strlen(line), &r, &used), FO_HTTP_REQUEST);
    assert_int_equal(r.path_len, n);
    assert_int_equal(strlen(r.path), n);
    assert_true(r.path_cap >= n + 1 && r.path_cap <= 2 * (n + 1));
    char *kept = r.path;
    size_t off = used;
    assert_int_equal(fo_http_parse(&p, line + off, strlen(line) - off, &r, &used), FO_HTTP_REQUEST);
    assert_string_equal(r.path, "/3/");
    assert_ptr_equal(r.path, kept);
    fo_request_free(&r);
    assert_null(r.path);
    free(line);
    free(s);
}

static void expect_error(const char *s, int status) {
    fo_http_parser p;
    fo_http_parser_init(&p);
    size_t used;
    assert_int_equal(feed(&p, s, &used), FO_HTTP_ERROR);
    assert_int_equal(p.error_status, status);
    assert_non_null(p.error_text);
    /* A spent parser stays spent. */
    assert_int_equal(feed(&p, "GET / HTTP/1.1\r\n\r\n", &used), FO_HTTP_ERROR);
}

static void test_garbage(void **state) {
    (void)state;
    expect_error("\x01\x02garbage\r\n\r\n", 400);
    expect_error("GET / HTTP/1.1\r\nNoColonHere\r\n\r\n", 400);
    expect_error("GET / HTTP/9.1\r\n\r\n", 505);
    expect_error("GET / HTTP/2.0\r\n\r\n", 505);
    expect_error("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
    expect_error("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400);
}

static void test_bodies_refused(void **state) {
    (void)state;
    expect_error("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400);
    expect_error("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                 400);
    expect_error("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 405);
    /* Smuggling shapes: both lengths, or two different ones. */
    expect_error("GET / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
    expect_error("GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 7\r\n\r\n", 400);
}

static void test_zero_length_body_is_fine(void **state) {
    (void)state;
    assert_int_equal(feed_fresh("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), FO_HTTP_REQUEST);
}

static void test_limits(void **state) {
    (void)state;
    size_t n = FO_HTTP_MAX_URL + 100;
    char *s = malloc(n + 64);
    strcpy(s, "GET /");
    memset(s + 5, 'a', n);
    strcpy(s + 5 + n, " HTTP/1.1\r\n\r\n");
    expect_error(s, 414);

    strcpy(s, "GET / HTTP/1.1\r\nX-Big: ");
    size_t h = strlen(s);
    memset(s + h, 'b', n);
    strcpy(s + h + n, "\r\n\r\n");
    expect_error(s, 431);
    free(s);
}

static void test_other_method_passes_through(void **state) {
    (void)state;
    assert_int_equal(feed_fresh("DELETE /x HTTP/1.1\r\n\r\n"), FO_HTTP_REQUEST);
    assert_string_equal(req.method, "DELETE");
}

static void test_format(void **state) {
    (void)state;
    fo_response r;
    assert_int_equal(fo_response_text(&r, 404, "not found\n"), 0);
    size_t len;
    char *out = fo_response_format(&r, 1, &len);
    assert_non_null(out);
    const char *want = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
                       "Content-Length: 10\r\nConnection: keep-alive\r\n\r\nnot found\n";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    free(out);
    fo_response_free(&r);

    assert_int_equal(fo_response_text(&r, 405, "no\n"), 0);
    out = fo_response_format(&r, 0, &len);
    assert_non_null(strstr(out, "Allow: GET\r\n"));
    assert_non_null(strstr(out, "Connection: close\r\n"));
    free(out);
    fo_response_free(&r);
    assert_string_equal(fo_http_reason(504), "Gateway Timeout");
}

/* The head alone, for a body written after it from its own buffer; a head that does not fit is
 * refused, never cut short. */
static void test_head(void **state) {
    (void)state;
    fo_response r = {.status = 200, .content_type = "text/html", .body_len = 700};
    char head[FO_HTTP_HEAD_MAX];
    int n = fo_response_head(&r, 1, head, sizeof head);
    const char *want = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 700\r\n"
                       "Connection: keep-alive\r\n\r\n";
    assert_int_equal(n, (int)strlen(want));
    assert_memory_equal(head, want, (size_t)n);
    assert_int_equal(fo_response_head(&r, 1, head, strlen(want)), -1);
    assert_int_equal(fo_response_head(&r, 1, head, strlen(want) + 1), (int)strlen(want));
}

TEST_MAIN(cmocka_unit_test(test_head), cmocka_unit_test(test_simple_get),
          cmocka_unit_test(test_target_on_the_heap_as_long_as_it_is),
          cmocka_unit_test(test_byte_at_a_time), cmocka_unit_test(test_pipelined_in_order),
          cmocka_unit_test(test_garbage), cmocka_unit_test(test_bodies_refused),
          cmocka_unit_test(test_zero_length_body_is_fine), cmocka_unit_test(test_limits),
          cmocka_unit_test(test_other_method_passes_through), cmocka_unit_test(test_format))
