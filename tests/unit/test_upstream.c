/* Unit tests for upstream.c: the plan, the country JSON, and how a real curl transfer's end is
 * recorded. The transfers go to a one-connection server run on a thread inside this test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fanout/upstream.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_net.h"

/* ---- a server for one connection ---------------------------------------------------------- */

typedef enum {
    SERVE_SILENT, /* read the request, never answer, wait for the client to give up */
    SERVE_BODY,   /* answer status with body, then close */
    SERVE_CLOSE,  /* read the request and close without a word */
    SERVE_HUGE,   /* answer 200 with a body larger than any country */
} serve_mode;

typedef struct tiny_server {
    int fd, port;
    serve_mode mode;
    int status;
    const char *body;
    char request_line[256]; /* the first line the client sent */
    pthread_t thread;
} tiny_server;

/* Reads until the end of the request's headers (GETs have no body). */
static void read_request(tiny_server *s, int c) {
    char buf[4096];
    size_t got = 0;
    while (got < sizeof buf - 1 && test_readable(c, 5000)) {
        ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n")) break;
    }
    buf[got] = '\0';
    size_t line = strcspn(buf, "\r\n");
    snprintf(s->request_line, sizeof s->request_line, "%.*s", (int)line, buf);
}

static void answer(int c, int status, const char *body, size_t len) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, len);
    test_write_all(c, head, (size_t)n);
    test_write_all(c, body, len);
}

static void *serve_one(void *arg) {
    tiny_server *s = arg;
    if (!test_readable(s->fd, 5000)) return NULL;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0) return NULL;
    read_request(s, c);
    char drain[512];
    switch (s->mode) {
    case SERVE_SILENT:
        while (test_readable(c, 5000) && read(c, drain, sizeof drain) > 0) {
        }
        break;
    case SERVE_BODY:
        answer(c, s->status, s->body, strlen(s->body));
        break;
    case SERVE_CLOSE:
        break;
    case SERVE_HUGE: {
        size_t len = 70 * 1024;
        char *big = malloc(len);
        memset(big, ' ', len);
        answer(c, 200, big, len);
        free(big);
        break;
    }
    }
    close(c);
    return NULL;
}

static void server_start(tiny_server *s, serve_mode mode, int status, const char *body) {
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->status = status;
    s->body = body;
    s->fd = test_listen(8, &s->port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve_one, s), 0);
}

static void server_stop(tiny_server *s) {
    pthread_join(s->thread, NULL);
    close(s->fd);
}

/* ---- running one call ---------------------------------------------------------------------- */

/* Runs call on easy through fo_call_setup and fo_call_finish with a multi handle, as the runners
 * do. A non-NULL spy replaces the body collector after the setup, with call as its data. */
static void run_call_on(CURL *easy, const char *base_url, long timeout_ms, fo_call *call,
                        curl_write_callback spy) {
    fo_upstream_cfg cfg = {.base_url = base_url, .timeout_ms = timeout_ms};
    CURLM *multi = curl_multi_init();
    assert_non_null(multi);
    assert_int_equal(fo_call_setup(easy, &cfg, call, 0), 0);
    if (spy) assert_int_equal(curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, spy), CURLE_OK);
    assert_int_equal(curl_multi_add_handle(multi, easy), CURLM_OK);
    int running = 1;
    while (running) {
        assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
        if (running) assert_int_equal(curl_multi_poll(multi, NULL, 0, 1000, NULL), CURLM_OK);
    }
    int left;
    CURLMsg *msg = curl_multi_info_read(multi, &left);
    assert_non_null(msg);
    assert_int_equal(msg->msg, CURLMSG_DONE);
    fo_call_finish(call, easy, msg->data.result);
    curl_multi_remove_handle(multi, easy);
    curl_multi_cleanup(multi);
}

static void run_call(const char *base_url, long timeout_ms, fo_call *call) {
    CURL *easy = curl_easy_init();
    assert_non_null(easy);
    run_call_on(easy, base_url, timeout_ms, call, NULL);
    curl_easy_cleanup(easy);
}

/* Runs the first call of a /300/ fan-out against a tiny server answering as mode says (the base
 * URL with a trailing slash when asked), and returns its record, the body released. s->request_line
 * then holds what the server read. */
static fo_call call_against(tiny_server *s, serve_mode mode, int status, const char *body,
                            long timeout_ms, int trailing_slash) {
    server_start(s, mode, status, body);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d%s", s->port, trailing_slash ? "/" : "");
    fo_fanout f;
    fo_fanout_plan(&f, 300);
    run_call(base, timeout_ms, &f.calls[0]);
    server_stop(s);
    fo_call c = f.calls[0];
    assert_null(c.body); /* an ended call holds no answer, only its verdict */
    fo_fanout_release(&f);
    return c;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_plan(void **state) {
    fo_fanout f;
    memset(&f, 0xab, sizeof f);
    fo_fanout_plan(&f, 300);
    assert_int_equal(f.calls[0].ms, 300);
    assert_int_equal(f.calls[1].ms, 600);
    assert_int_equal(f.calls[2].ms, 150);
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        assert_int_equal(f.calls[i].outcome, FO_CALL_PENDING);
        assert_null(f.calls[i].body);
    }
    assert_int_equal(f.done, 0);
    fo_fanout_plan(&f, 1);
    assert_int_equal(f.calls[1].ms, 2);
    assert_int_equal(f.calls[2].ms, 0);
    fo_fanout_release(&f);
}

static int parse(const char *json, char *name, const char **why) {
    return fo_country_parse(json, strlen(json), name, FO_COUNTRY_NAME_MAX, why);
}

static void test_country_valid(void **state) {
    char name[FO_COUNTRY_NAME_MAX];
    const char *why = NULL;
    assert_int_equal(parse("{\"name\": \"Albania\", \"code\": \"AL\"}", name, &why), 0);
    assert_string_equal(name, "Albania");
    assert_int_equal(parse("{\"name\":\"C\\u00f4te d'Ivoire\"}", name, &why), 0);
    assert_string_equal(name, "C\xc3\xb4te d'Ivoire");
    /* Only len bytes are read: the rest of the buffer is not part of the answer. */
    const char *two = "{\"name\":\"France\"}{\"name\":\"Spain\"}";
    assert_int_equal(fo_country_parse(two, 17, name, sizeof name, &why), 0);
    assert_string_equal(name, "France");
}

static void expect_reason(const char *json, const char *reason) {
    char name[FO_COUNTRY_NAME_MAX] = "untouched";
    const char *why = NULL;
    assert_int_equal(parse(json, name, &why), -1);
    assert_non_null(why);
    if (!strstr(why, reason)) fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", json, why, reason);
}

static void test_country_rejected(void **state) {
    expect_reason("", "empty");
    expect_reason("{\"name\": \"Albania\"", "not JSON");
    expect_reason("<html>", "not JSON");
    expect_reason("[\"Albania\"]", "not a JSON object");
    expect_reason("\"Albania\"", "not a JSON object");
    expect_reason("{\"code\": \"AL\"}", "missing");
    expect_reason("{\"name\": 42}", "not a string");
    expect_reason("{\"name\": null}", "not a string");
    expect_reason("{\"name\": \"Albania\", \"code\": 8}", "\"code\" not a string");
    expect_reason("{\"name\": \"\"}", "empty");
    char json[FO_COUNTRY_NAME_MAX + 32];
    snprintf(json, sizeof json, "{\"name\": \"%0*d\"}", FO_COUNTRY_NAME_MAX, 0);
    expect_reason(json, "too long");
}

static void test_country_fits_exactly(void **state) {
    char json[FO_COUNTRY_NAME_MAX + 32];
    char name[FO_COUNTRY_NAME_MAX];
    const char *why = NULL;
    snprintf(json, sizeof json, "{\"name\": \"%0*d\"}", FO_COUNTRY_NAME_MAX - 1, 0);
    assert_int_equal(parse(json, name, &why), 0);
    assert_int_equal(strlen(name), FO_COUNTRY_NAME_MAX - 1);
}

static void test_call_ok(void **state) {
    tiny_server s;
    fo_call c = call_against(&s, SERVE_BODY, 200,
                             "{\"name\": \"C\\u00f4te d'Ivoire\", \"code\": \"CI\"}", 5000, 0);
    assert_int_equal(c.outcome, FO_CALL_OK);
    assert_int_equal(c.http_status, 200);
    assert_string_equal(c.country, "C\xc3\xb4te d'Ivoire");
    assert_string_equal(s.request_line, "GET /300/ HTTP/1.1");
    assert_int_equal(c.body_len, strlen("{\"name\": \"C\\u00f4te d'Ivoire\", \"code\": \"CI\"}"));
}

static void test_call_base_url_with_slash(void **state) {
    tiny_server s;
    fo_call c = call_against(&s, SERVE_BODY, 200, "{\"name\": \"Albania\"}", 5000, 1);
    assert_int_equal(c.outcome, FO_CALL_OK);
    assert_string_equal(s.request_line, "GET /300/ HTTP/1.1");
}

static void test_call_connect_refused(void **state) {
    fo_fanout f;
    fo_fanout_plan(&f, 300);
    run_call("http://127.0.0.1:1", 5000, &f.calls[0]);
    assert_int_equal(f.calls[0].outcome, FO_CALL_CONNECT);
    /* curl's name for the error, and the system's for the socket's */
    assert_non_null(strstr(f.calls[0].error, "connect"));
    assert_non_null(strstr(f.calls[0].error, "(Connection refused)"));
    fo_fanout_release(&f);
}

/* The ways a call fails once connected: what the server does, and the outcome and the words of
 * the error that follow ("" when curl's message may say anything, NULL when there is none). */
static void test_call_failures(void **state) {
    static const struct {
        serve_mode mode;
        int status;
        const char *body;
        long timeout_ms;
        fo_call_outcome outcome;
        const char *error;
    } cases[] = {
        {SERVE_SILENT, 0, NULL, 200, FO_CALL_TIMEOUT, "(after "},
        {SERVE_BODY, 500, "{\"name\": \"Albania\"}", 5000, FO_CALL_HTTP_STATUS, NULL},
        {SERVE_BODY, 200, "<html>oops</html>", 5000, FO_CALL_BAD_BODY, "not JSON"},
        {SERVE_CLOSE, 0, NULL, 5000, FO_CALL_IO, ""},
        {SERVE_HUGE, 0, NULL, 5000, FO_CALL_IO, "body over"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tiny_server s;
        fo_call c =
            call_against(&s, cases[i].mode, cases[i].status, cases[i].body, cases[i].timeout_ms, 0);
        if (c.outcome != cases[i].outcome)
            fail_msg("case %zu: outcome %d, expected %d (%s)", i, c.outcome, cases[i].outcome,
                     c.error);
        if (cases[i].error && !*cases[i].error) assert_true(strlen(c.error) > 0);
        if (cases[i].error && *cases[i].error) assert_non_null(strstr(c.error, cases[i].error));
        assert_string_equal(c.country, ""); /* no name from an answer that failed */
        assert_true(c.body_len <= 64 * 1024);
        if (cases[i].status == 500) assert_int_equal(c.http_status, 500);
    }
}

/* The largest piece of body curl handed over at once, and how many bytes in all. */
static size_t biggest_piece, body_bytes;

static size_t measure_pieces(char *data, size_t size, size_t nmemb, void *userp) {
    (void)data;
    (void)userp;
    size_t n = size * nmemb;
    if (n > biggest_piece) biggest_piece = n;
    body_bytes += n;
    return n;
}

/* curl reads a transfer through a buffer of FO_CALL_BUFFER_BYTES, not its default 16 KiB, and
 * hands the body on in pieces no larger. The handle is the runners' kind of reused handle: one
 * that failed to connect, then was reset as the uv runner resets it; curl must still accept the
 * size for the next call. A 70 KiB answer written at once would come in 16 KiB pieces if the
 * size were not set. */
static void test_call_reads_through_a_small_buffer(void **state) {
    CURL *easy = curl_easy_init();
    assert_non_null(easy);
    fo_fanout f;
    fo_fanout_plan(&f, 300);
    run_call_on(easy, "http://127.0.0.1:1", 5000, &f.calls[0], NULL);
    assert_int_equal(f.calls[0].outcome, FO_CALL_CONNECT);
    curl_easy_reset(easy);

    tiny_server s;
    server_start(&s, SERVE_HUGE, 0, NULL);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", s.port);
    biggest_piece = body_bytes = 0;
    run_call_on(easy, base, 5000, &f.calls[0], measure_pieces);
    server_stop(&s);
    assert_int_equal(f.calls[0].http_status, 200);
    assert_int_equal(body_bytes, 70 * 1024);
    assert_true(biggest_piece > 0);
    assert_true(biggest_piece <= (size_t)FO_CALL_BUFFER_BYTES);
    curl_easy_cleanup(easy);
    fo_fanout_release(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_country_valid),
        cmocka_unit_test(test_country_rejected),
        cmocka_unit_test(test_country_fits_exactly),
        cmocka_unit_test(test_call_ok),
        cmocka_unit_test(test_call_base_url_with_slash),
        cmocka_unit_test(test_call_connect_refused),
        cmocka_unit_test(test_call_failures),
        cmocka_unit_test(test_call_reads_through_a_small_buffer),
    };
    return cmocka_run_group_tests(tests, test_curl_setup, test_curl_teardown);
}
