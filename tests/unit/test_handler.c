/* Unit tests for handler.c: the immediate answers, the planned fan-out, and the page, 502 or
 * 504 built from the calls' outcomes (set here by hand, without any network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"

#include "fanout/handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fo_request request(const char *method, const char *path) {
    fo_request req;
    memset(&req, 0, sizeof req);
    snprintf(req.method, sizeof req.method, "%s", method);
    req.path = (char *)path; /* only read: the handler never writes or frees a request */
    req.path_len = strlen(path);
    return req;
}

/* The body as a NUL-terminated copy, for strstr. */
static char *body_of(const fo_response *resp) {
    char *s = malloc(resp->body_len + 1);
    assert_non_null(s);
    if (resp->body_len) memcpy(s, resp->body, resp->body_len);
    s[resp->body_len] = '\0';
    return s;
}

static void expect_done(const char *method, const char *path, int status, const char *text) {
    fo_request req = request(method, path);
    fo_response resp;
    fo_fanout f;
    memset(&f, 0, sizeof f);
    assert_int_equal(fo_handle_begin(&req, &resp, &f), FO_HANDLE_DONE);
    assert_int_equal(resp.status, status);
    char *body = body_of(&resp);
    assert_non_null(strstr(body, text));
    free(body);
    fo_response_free(&resp);
}

static void test_method_not_allowed(void **state) {
    expect_done("POST", "/", 405, "GET");
    expect_done("HEAD", "/300/", 405, "GET");
}

static void test_not_found(void **state) {
    expect_done("GET", "/favicon.ico", 404, "not found");
    expect_done("GET", "/300/extra", 404, "not found");
}

static void test_bad_request(void **state) {
    expect_done("GET", "/-5/", 400, "bad delay");
    expect_done("GET", "/12a/", 400, "bad delay");
    expect_done("GET", "/60001/", 400, "60000");
}

static void expect_plan(const char *path, int ms) {
    fo_request req = request("GET", path);
    fo_response resp;
    fo_fanout f;
    assert_int_equal(fo_handle_begin(&req, &resp, &f), FO_HANDLE_FANOUT);
    assert_int_equal(f.calls[0].ms, ms);
    assert_int_equal(f.calls[1].ms, 2 * ms);
    assert_int_equal(f.calls[2].ms, ms / 2);
    for (int i = 0; i < FO_FANOUT_CALLS; i++)
        assert_int_equal(f.calls[i].outcome, FO_CALL_PENDING);
    assert_int_equal(f.done, 0);
    fo_fanout_release(&f);
}

static void test_fanout_planned(void **state) {
    expect_plan("/", 300);
    expect_plan("/300/", 300);
    expect_plan("/100?x=y", 100);
}

/* A fan-out for "/" whose three calls succeeded, 0.612 s in all; bodies allocated so that
 * fo_handle_finish's release is checked by the sanitizers. */
static void completed(fo_fanout *f) {
    const char *names[FO_FANOUT_CALLS] = {"C\xc3\xb4te d'Ivoire", "Albania", "France"};
    fo_fanout_plan(f, 300);
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        fo_call *call = &f->calls[i];
        call->outcome = FO_CALL_OK;
        call->http_status = 200;
        snprintf(call->country, sizeof call->country, "%s", names[i]);
        call->body = strdup("{\"name\": \"...\"}");
        call->body_len = strlen(call->body);
        call->body_cap = call->body_len + 1;
    }
    f->start_ns = 1000000000u;
    f->end_ns = f->start_ns + 612000000u;
    f->done = FO_FANOUT_CALLS;
}

/* Finishes a completed fan-out of three good calls for req: a 200 page in *resp. */
static void finish_completed(const fo_request *req, fo_fanout *f, fo_response *resp) {
    completed(f);
    fo_handle_finish(req, f, resp);
    assert_int_equal(resp->status, 200);
}

static void test_finish_ok_renders_the_first_country(void **state) {
    fo_request req = request("GET", "/");
    fo_fanout f;
    fo_response resp;
    finish_completed(&req, &f, &resp);
    assert_string_equal(resp.content_type, "text/html; charset=utf-8");
    char *body = body_of(&resp);
    assert_non_null(strstr(body, "<h1>C\xc3\xb4te d&#39;Ivoire</h1>"));
    assert_null(strstr(body, "Albania"));
    assert_non_null(strstr(body, "duration: 0.612"));
    free(body);
    fo_response_free(&resp);
    for (int i = 0; i < FO_FANOUT_CALLS; i++)
        assert_null(f.calls[i].body);
}

/* Finishes a completed fan-out whose call i ended with outcome; checks status and body text. */
static void expect_failure(int i, fo_call_outcome outcome, long http_status, const char *error,
                           int status, const char *text) {
    fo_request req = request("GET", "/");
    fo_fanout f;
    fo_response resp;
    completed(&f);
    f.calls[i].outcome = outcome;
    f.calls[i].http_status = http_status;
    f.calls[i].country[0] = '\0';
    snprintf(f.calls[i].error, sizeof f.calls[i].error, "%s", error);
    fo_handle_finish(&req, &f, &resp);
    assert_int_equal(resp.status, status);
    char *body = body_of(&resp);
    if (!strstr(body, text)) fail_msg("body \"%s\" lacks \"%s\"", body, text);
    free(body);
    fo_response_free(&resp);
    for (int k = 0; k < FO_FANOUT_CALLS; k++)
        assert_null(f.calls[k].body);
}

static void test_finish_timeout_is_504(void **state) {
    expect_failure(1, FO_CALL_TIMEOUT, 0, "Operation timed out", 504, "upstream timed out");
    expect_failure(1, FO_CALL_TIMEOUT, 0, "", 504, "/600/");
}

static void test_timeout_wins_over_other_failures(void **state) {
    fo_request req = request("GET", "/");
    fo_fanout f;
    fo_response resp;
    completed(&f);
    f.calls[0].outcome = FO_CALL_CONNECT;
    f.calls[2].outcome = FO_CALL_TIMEOUT;
    fo_handle_finish(&req, &f, &resp);
    assert_int_equal(resp.status, 504);
    fo_response_free(&resp);
}

static void test_finish_failures_are_502(void **state) {
    expect_failure(1, FO_CALL_CONNECT, 0, "Connection refused", 502,
                   "upstream /600/: could not connect");
    expect_failure(0, FO_CALL_HTTP_STATUS, 500, "HTTP 500", 502, "upstream /300/: HTTP 500");
    expect_failure(2, FO_CALL_BAD_BODY, 200, "invalid country JSON: not JSON", 502,
                   "upstream /150/: invalid country JSON");
    expect_failure(2, FO_CALL_IO, 0, "Recv failure", 502, "Recv failure");
    expect_failure(0, FO_CALL_PENDING, 0, "", 502, "/300/");
}

TEST_MAIN(cmocka_unit_test(test_method_not_allowed), cmocka_unit_test(test_not_found),
          cmocka_unit_test(test_bad_request), cmocka_unit_test(test_fanout_planned),
          cmocka_unit_test(test_finish_ok_renders_the_first_country),
          cmocka_unit_test(test_finish_timeout_is_504),
          cmocka_unit_test(test_timeout_wins_over_other_failures),
          cmocka_unit_test(test_finish_failures_are_502))
