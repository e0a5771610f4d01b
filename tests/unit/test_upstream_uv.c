/* Unit tests for upstream_uv.c on a real libuv loop over loopback, in the manner of libuv's own
 * test/test-tcp-*.c: the runner and a fake country API are handles on the same loop, and the
 * test runs the loop until the fan-out's callback has run, then asserts on what each side saw.
 *
 * The fake API is a fo_server_uv answering "GET /<ms>/" after ms milliseconds with one
 * country; it counts the requests it holds at once and the clients that left before their
 * answer (fo_conn_uv_watch_gone), so a test can see concurrency and cancellation from the
 * upstream's side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fanout/server_uv.h"
#include "fanout/sys.h"
#include "fanout/upstream_uv.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 5000
#define COUNTRY "{\"name\":\"Albania\",\"code\":\"AL\"}"

typedef struct fake_api {
    fo_server_uv server;
    int port;
    int in_flight, peak; /* requests held now, and the most at once */
    int left;            /* clients that left before their answer */
    int drained;
} fake_api;

/* One request the fake API holds until its delay is over. */
typedef struct held {
    uv_timer_t timer;
    fake_api *api;
    fo_conn_uv *conn;
} held;

typedef struct test_ctx {
    uv_loop_t loop;
    uv_timer_t tick;
    fake_api api;
    fo_upstream_cfg cfg;
    char base_url[64];
    fo_upstream_uv *up;
    fo_fanout f;
    int done;         /* fan-out callbacks */
    int done_in_call; /* callbacks that ran inside fo_upstream_uv_start */
    int starting;
    int wave_done; /* fan-outs of a wave (test_waves_reuse_handles) that have ended */
} test_ctx;

static void on_held_closed(uv_handle_t *h) {
    free(h->data);
}

static void held_end(held *h, int status, const char *body) {
    fo_response r;
    assert_int_equal(fo_response_text(&r, status, body), 0);
    r.content_type = "application/json";
    h->api->in_flight--;
    fo_conn_uv_respond(h->conn, &r);
    uv_close((uv_handle_t *)&h->timer, on_held_closed);
}

static void on_delay_over(uv_timer_t *t) {
    held_end(t->data, 200, COUNTRY);
}

static void on_client_left(void *arg) {
    held *h = arg;
    h->api->left++;
    uv_timer_stop(&h->timer);
    held_end(h, 499, "gone\n");
}

static void api_request(fo_conn_uv *conn, const fo_request *req, void *data) {
    fake_api *api = data;
    int ms = 0;
    if (sscanf(req->path, "/%d/", &ms) != 1 || ms < 0) {
        fo_response r;
        assert_int_equal(fo_response_text(&r, 404, "not found\n"), 0);
        fo_conn_uv_respond(conn, &r);
        return;
    }
    held *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->api = api;
    h->conn = conn;
    assert_int_equal(uv_timer_init(api->server.loop, &h->timer), 0);
    h->timer.data = h;
    uv_timer_start(&h->timer, on_delay_over, (uint64_t)ms, 0);
    if (++api->in_flight > api->peak) api->peak = api->in_flight;
    fo_conn_uv_watch_gone(conn, on_client_left, h);
}

static void on_tick(uv_timer_t *t) {
    (void)t;
}

/* A loop, the fake API on an ephemeral port, and a runner pointed at base (NULL: the API). */
static void setup(test_ctx *t, const char *base, long timeout_ms) {
    memset(t, 0, sizeof *t);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    assert_int_equal(uv_timer_init(&t->loop, &t->tick), 0);
    uv_timer_start(&t->tick, on_tick, 5, 5);
    assert_int_equal(fo_server_uv_init(&t->api.server, &t->loop, NULL, api_request, &t->api), 0);
    char err[128];
    int fd = fo_listen_tcp("127.0.0.1", 0, 512, &t->api.port, err, sizeof err);
    if (fd < 0) fail_msg("%s", err);
    assert_int_equal(fo_server_uv_listen_fd(&t->api.server, fd), 0);
    if (base)
        snprintf(t->base_url, sizeof t->base_url, "%s", base);
    else
        snprintf(t->base_url, sizeof t->base_url, "http://127.0.0.1:%d", t->api.port);
    t->cfg = (fo_upstream_cfg){.base_url = t->base_url, .timeout_ms = timeout_ms, .pool = 16};
    t->up = fo_upstream_uv_new(&t->loop, &t->cfg);
    assert_non_null(t->up);
}

static void on_fanout_done(fo_fanout *f, void *data) {
    test_ctx *t = data;
    assert_ptr_equal(f, &t->f);
    t->done++;
    if (t->starting) t->done_in_call++;
}

static void start(test_ctx *t, int ms) {
    fo_fanout_plan(&t->f, ms);
    t->starting = 1;
    assert_int_equal(fo_upstream_uv_start(t->up, &t->f, on_fanout_done, t), 0);
    t->starting = 0;
    assert_int_equal(t->done, 0); /* never from inside the call */
}

static int fanout_done(test_ctx *t) {
    return t->done > 0;
}

/* The API holds no request and no connection any more. */
static int api_idle(test_ctx *t) {
    return t->api.in_flight == 0 && t->api.server.n_conns == 0;
}

static int api_holds_all(test_ctx *t) {
    return t->api.in_flight == FO_FANOUT_CALLS;
}

/* Runs the loop until done(t) or WAIT_MS pass; returns done(t). */
static int run_until(test_ctx *t, int (*done)(test_ctx *t)) {
    uint64_t deadline = uv_hrtime() + (uint64_t)WAIT_MS * 1000000u;
    while (!done(t) && uv_hrtime() < deadline)
        uv_run(&t->loop, UV_RUN_ONCE);
    return done(t);
}

static int ms_since(uint64_t start_ns) {
    return (int)((uv_hrtime() - start_ns) / 1000000u);
}

/* Starts a page of ms (its calls ms, 2 * ms and ms / 2) and runs the loop until its fan-out is
 * done; returns how long that took, in ms. */
static int run_page(test_ctx *t, int ms) {
    uint64_t t0 = uv_hrtime();
    start(t, ms);
    assert_true(run_until(t, fanout_done));
    return ms_since(t0);
}

/* A failed page: every call ended as `failed` or was stopped with the page (cancelled), and
 * one at least failed so; none succeeded. */
static void assert_failed_as(const test_ctx *t, fo_call_outcome failed) {
    int n = 0;
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        fo_call_outcome o = t->f.calls[i].outcome;
        assert_true(o == failed || o == FO_CALL_CANCELLED);
        n += o == failed;
    }
    assert_true(n >= 1);
}

static void on_api_drained(fo_server_uv *s) {
    fake_api *api = s->data;
    api->drained = 1;
}

/* Closes the runner and the API and checks that nothing is left on the loop. */
static void teardown(test_ctx *t) {
    assert_int_equal(t->done, 1); /* exactly once */
    fo_fanout_release(&t->f);
    fo_upstream_uv_close(t->up);
    fo_server_uv_stop(&t->api.server, on_api_drained);
    uv_close((uv_handle_t *)&t->tick, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    assert_true(t->api.drained);
    assert_int_equal(uv_loop_close(&t->loop), 0);
}

/* The three calls of a page at 100 ms (100, 200 and 50 ms) run at once: the API holds all three
 * together, every call ends with the country, and the page takes the slowest call's time. */
static void test_three_calls_at_once(void **state) {
    (void)state;
    test_ctx t;
    setup(&t, NULL, 0);
    int ms = run_page(&t, 100);
    assert_int_equal(t.api.peak, FO_FANOUT_CALLS);
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        assert_int_equal(t.f.calls[i].outcome, FO_CALL_OK);
        assert_int_equal(t.f.calls[i].http_status, 200);
        assert_string_equal(t.f.calls[i].country, "Albania");
    }
    assert_true(ms >= 200);
    assert_true(t.f.end_ns >= t.f.start_ns + 200 * 1000000ull);
    teardown(&t);
}

/* Nothing listens: the calls fail to connect, and the fan-out ends once, with no call left
 * pending and none successful. */
static void test_refused(void **state) {
    (void)state;
    char err[128];
    int port = 0;
    int fd = fo_listen_tcp("127.0.0.1", 0, 1, &port, err, sizeof err);
    if (fd < 0) fail_msg("%s", err);
    close(fd); /* the port is free again: connecting is refused */
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    test_ctx t;
    setup(&t, base, 0);
    run_page(&t, 100);
    assert_failed_as(&t, FO_CALL_CONNECT);
    teardown(&t);
}

/* Calls slower than the timeout (300, 600 and 150 ms against 100 ms): one times out, the
 * others are stopped with it, none succeeds, and the page ends well before the slowest call. */
static void test_timeout(void **state) {
    (void)state;
    test_ctx t;
    setup(&t, NULL, 100);
    int ms = run_page(&t, 300);
    assert_failed_as(&t, FO_CALL_TIMEOUT);
    assert_true(ms >= 90 && ms < 600);
    assert_true(run_until(&t, api_idle)); /* the calls' connections closed */
    teardown(&t);
}

/* A page whose client left: cancel ends its calls at once as cancelled, with the reason, and
 * the API sees their connections close before their answers. */
static void test_cancel(void **state) {
    (void)state;
    test_ctx t;
    setup(&t, NULL, 0);
    start(&t, 400); /* 400, 800 and 200 ms */
    assert_true(run_until(&t, api_holds_all));
    uint64_t t0 = uv_hrtime();
    fo_upstream_uv_cancel(t.up, &t.f, "client left");
    assert_int_equal(t.done, 1); /* before cancel returns */
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        assert_int_equal(t.f.calls[i].outcome, FO_CALL_CANCELLED);
        assert_non_null(strstr(t.f.calls[i].error, "client left"));
    }
    assert_true(run_until(&t, api_idle));
    assert_true(ms_since(t0) < 150); /* well before the first answer was due */
    assert_int_equal(t.api.left, FO_FANOUT_CALLS);
    teardown(&t);
}

static void on_wave_fanout_done(fo_fanout *f, void *data) {
    test_ctx *t = data;
    for (int i = 0; i < FO_FANOUT_CALLS; i++)
        assert_int_equal(f->calls[i].outcome, FO_CALL_OK);
    fo_fanout_release(f);
    t->wave_done++;
}

/* Fan-outs at once in a wave: 270 calls, more than a runner once kept idle (256). */
#define WAVE 90

static int wave_over(test_ctx *t) {
    return t->wave_done == WAVE;
}

/* Two waves of pages, one after the other: the second runs on the first's easy handles, every
 * one of them kept idle in between, and the runner makes no new one. */
static void test_waves_reuse_handles(void **state) {
    (void)state;
    test_ctx t;
    setup(&t, NULL, 0);
    fo_fanout *pages = calloc(WAVE, sizeof *pages);
    assert_non_null(pages);
    for (int wave = 0; wave < 2; wave++) {
        t.wave_done = 0;
        for (int i = 0; i < WAVE; i++) {
            fo_fanout_plan(&pages[i], 20);
            assert_int_equal(fo_upstream_uv_start(t.up, &pages[i], on_wave_fanout_done, &t), 0);
        }
        assert_true(run_until(&t, wave_over));
        assert_int_equal(fo_upstream_uv_idle_easy(t.up), WAVE * FO_FANOUT_CALLS);
        assert_int_equal(fo_upstream_uv_easy_made(t.up), WAVE * FO_FANOUT_CALLS);
    }
    free(pages);
    t.done = 1; /* the single page of teardown's count was never started */
    teardown(&t);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_calls_at_once),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_waves_reuse_handles),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
