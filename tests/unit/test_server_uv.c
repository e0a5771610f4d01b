/* Unit tests for server_uv.c on a real libuv loop over loopback, in the manner of libuv's own
 * test/test-tcp-*.c: the server and its clients are handles on one loop, each callback records
 * what happened, the test runs the loop until what it waits for has happened (or a deadline has
 * passed) and then asserts on the records. Every test ends by stopping the server, closing its
 * clients and checking that the loop closes with no handle left open.
 *
 * The application here (on_request) either answers at once with the request's target as the
 * body, or holds the request for the test to answer later (fo_conn_uv_respond from the test),
 * optionally asking to hear of a client that leaves (fo_conn_uv_watch_gone). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fanout/server_uv.h"
#include "fanout/sys.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HELD 8
/* How long a test waits for something that should take milliseconds on loopback. */
#define WAIT_MS 3000

typedef struct test_ctx {
    uv_loop_t loop;
    uv_timer_t tick; /* wakes the loop so that run_until sees its deadline */
    fo_server_uv server;
    int port;
    int hold;       /* hold requests for the test to answer, instead of answering at once */
    int watch_gone; /* and ask to hear of their clients leaving */
    int requests;   /* requests handed to on_request */
    fo_conn_uv *held[MAX_HELD];
    char held_path[MAX_HELD][32];
    int n_held;
    int gone;    /* gone callbacks */
    int drained; /* on_drained calls */
} test_ctx;

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_shutdown_t shutdown;
    test_ctx *t;
    const char *send; /* written once connected */
    int half_close;   /* shut the sending side down after send */
    int connect_status;
    int connected;
    char recv[8192];
    size_t recv_len;
    int eof;    /* the server closed (an end of stream or a reset) */
    int closed; /* our handle's close callback ran */
} client;

static test_ctx *the_ctx;

static void answer(fo_conn_uv *conn, const char *body) {
    fo_response r;
    assert_int_equal(fo_response_text(&r, 200, body), 0);
    fo_conn_uv_respond(conn, &r);
}

static void on_gone(void *arg) {
    test_ctx *t = arg;
    t->gone++;
}

static void on_request(fo_conn_uv *conn, const fo_request *req, void *data) {
    test_ctx *t = data;
    t->requests++;
    if (!t->hold) {
        answer(conn, req->path);
        return;
    }
    assert_true(t->n_held < MAX_HELD);
    t->held[t->n_held] = conn;
    snprintf(t->held_path[t->n_held], sizeof t->held_path[0], "%s", req->path);
    t->n_held++;
    if (t->watch_gone) fo_conn_uv_watch_gone(conn, on_gone, t);
}

static void on_tick(uv_timer_t *h) {
    (void)h;
}

static void setup_server(test_ctx *t, const fo_server_uv_opts *opts) {
    memset(t, 0, sizeof *t);
    the_ctx = t;
    assert_int_equal(uv_loop_init(&t->loop), 0);
    assert_int_equal(uv_timer_init(&t->loop, &t->tick), 0);
    uv_timer_start(&t->tick, on_tick, 5, 5);
    assert_int_equal(fo_server_uv_init(&t->server, &t->loop, opts, on_request, t), 0);
    char err[128];
    int fd = fo_listen_tcp("127.0.0.1", 0, 64, &t->port, err, sizeof err);
    if (fd < 0) fail_msg("%s", err);
    assert_int_equal(fo_server_uv_listen_fd(&t->server, fd), 0);
    assert_int_equal(fo_server_uv_port(&t->server), t->port);
}

/* Runs the loop until done(arg) or WAIT_MS pass; returns done(arg). */
static int run_until(test_ctx *t, int (*done)(void *arg), void *arg) {
    uint64_t deadline = uv_hrtime() + (uint64_t)WAIT_MS * 1000000u;
    while (!done(arg) && uv_hrtime() < deadline)
        uv_run(&t->loop, UV_RUN_ONCE);
    return done(arg);
}

/* Runs the loop for ms, whatever happens. */
static void run_for(test_ctx *t, int ms) {
    uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000u;
    while (uv_hrtime() < deadline)
        uv_run(&t->loop, UV_RUN_ONCE);
}

static void on_client_closed(uv_handle_t *h) {
    client *c = h->data;
    c->closed = 1;
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    client *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->recv + c->recv_len, (unsigned)(sizeof c->recv - 1 - c->recv_len));
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    client *c = s->data;
    (void)buf;
    if (nread > 0) {
        c->recv_len += (size_t)nread;
        c->recv[c->recv_len] = '\0';
        assert_true(c->recv_len < sizeof c->recv - 1);
    } else if (nread < 0) {
        c->eof = 1;
        uv_read_stop(s);
    }
}

static void on_client_written(uv_write_t *w, int status) {
    client *c = w->data;
    assert_int_equal(status, 0);
    if (c->half_close) {
        c->shutdown.data = c;
        assert_int_equal(uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, NULL), 0);
    }
}

static void client_send(client *c, const char *bytes) {
    uv_buf_t b = uv_buf_init((char *)bytes, (unsigned)strlen(bytes));
    c->write.data = c;
    assert_int_equal(uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_client_written), 0);
}

static void on_client_connected(uv_connect_t *req, int status) {
    client *c = req->data;
    c->connect_status = status;
    c->connected = 1;
    if (status < 0) return;
    assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, on_client_alloc, on_client_read), 0);
    if (c->send) client_send(c, c->send);
}

/* Connects c to the server and, once connected, writes send (may be NULL). */
static void client_open(test_ctx *t, client *c, const char *send) {
    memset(c, 0, sizeof *c);
    c->t = t;
    c->send = send;
    assert_int_equal(uv_tcp_init(&t->loop, &c->tcp), 0);
    c->tcp.data = c;
    c->connect.data = c;
    struct sockaddr_in addr;
    assert_int_equal(uv_ip4_addr("127.0.0.1", t->port, &addr), 0);
    assert_int_equal(
        uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, on_client_connected),
        0);
}

static void client_close(client *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}

/* How many complete answers c has, counted by their status lines. */
static int answers(const client *c) {
    int n = 0;
    for (const char *p = c->recv; (p = strstr(p, "HTTP/1.1 ")) != NULL; p++)
        n++;
    return n;
}

static int c_eof(void *arg) {
    return ((client *)arg)->eof;
}
static int c_connected(void *arg) {
    return ((client *)arg)->connected;
}
static int c_one_answer(void *arg) {
    return answers(arg) >= 1 && strstr(((client *)arg)->recv, "\r\n\r\n") != NULL;
}
static int t_held(void *arg) {
    return the_ctx->n_held >= *(int *)arg;
}
static int t_gone(void *arg) {
    return ((test_ctx *)arg)->gone > 0;
}
static int t_drained(void *arg) {
    return ((test_ctx *)arg)->drained > 0;
}
static int t_no_conns(void *arg) {
    return ((test_ctx *)arg)->server.n_conns == 0;
}

static void on_drained(fo_server_uv *s) {
    (void)s;
    the_ctx->drained++;
}

/* Stops the server, closes the clients, and checks that nothing is left on the loop. */
static void teardown(test_ctx *t, client **clients, int n) {
    for (int i = 0; i < n; i++)
        client_close(clients[i]);
    fo_server_uv_stop(&t->server, on_drained);
    assert_true(run_until(t, t_drained, t));
    assert_int_equal(t->server.n_conns, 0);
    assert_int_equal(t->server.pending, 0);
    uv_close((uv_handle_t *)&t->tick, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < n; i++)
        assert_true(clients[i]->closed);
    assert_int_equal(uv_loop_close(&t->loop), 0);
}

/* Accepts a client and answers its request: 200, the body, and the connection kept. */
static void test_accept_and_answer(void **state) {
    (void)state;
    test_ctx t;
    client c;
    setup_server(&t, NULL);
    client_open(&t, &c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(run_until(&t, c_one_answer, &c));
    assert_int_equal(c.connect_status, 0);
    assert_int_equal(t.requests, 1);
    assert_non_null(strstr(c.recv, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(c.recv, "Connection: keep-alive\r\n"));
    assert_non_null(strstr(c.recv, "\r\n\r\n/hello"));
    run_for(&t, 30);
    assert_false(c.eof); /* kept alive */
    assert_int_equal(t.server.n_conns, 1);
    assert_int_equal(t.server.peak_conns, 1);
    client *all[] = {&c};
    teardown(&t, all, 1);
}

/* Three pipelined requests in one write: handed out one at a time (the next only once the
 * previous is answered), answered in the order they came. */
static void test_pipelining_in_order(void **state) {
    (void)state;
    test_ctx t;
    client c;
    setup_server(&t, NULL);
    t.hold = 1;
    client_open(&t, &c, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
    for (int i = 1; i <= 3; i++) {
        assert_true(run_until(&t, t_held, &i));
        run_for(&t, 10);
        assert_int_equal(t.requests, i); /* no second request out before the first's answer */
        assert_int_equal(t.server.pending, 1);
        char want[8];
        snprintf(want, sizeof want, "/%d", i);
        assert_string_equal(t.held_path[i - 1], want);
        answer(t.held[i - 1], t.held_path[i - 1]);
    }
    run_for(&t, 20);
    assert_int_equal(answers(&c), 3);
    const char *a1 = strstr(c.recv, "\r\n\r\n/1"), *a2 = strstr(c.recv, "\r\n\r\n/2"),
               *a3 = strstr(c.recv, "\r\n\r\n/3");
    assert_true(a1 && a2 && a3 && a1 < a2 && a2 < a3);
    client *all[] = {&c};
    teardown(&t, all, 1);
}

/* A keep-alive request, then one that says "Connection: close": the first answer keeps the
 * connection, the second says close and the server closes after it. The application has no say. */
static void test_keep_alive_then_close(void **state) {
    (void)state;
    test_ctx t;
    client c;
    setup_server(&t, NULL);
    client_open(&t, &c, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_true(run_until(&t, c_eof, &c));
    assert_int_equal(answers(&c), 2);
    const char *second = strstr(c.recv, "\r\n\r\n/a");
    assert_non_null(second);
    assert_non_null(strstr(c.recv, "Connection: keep-alive\r\n"));
    assert_true(strstr(c.recv, "Connection: keep-alive\r\n") < second);
    assert_non_null(strstr(second, "Connection: close\r\n"));
    assert_non_null(strstr(second, "\r\n\r\n/b"));

    /* HTTP/1.0 without keep-alive: answered with "Connection: close", then closed. */
    client c10, half;
    client_open(&t, &c10, "GET /old HTTP/1.0\r\n\r\n");
    assert_true(run_until(&t, c_eof, &c10));
    assert_non_null(strstr(c10.recv, "Connection: close\r\n\r\n/old"));

    /* A client that half-closes after its request still gets its answer, then the close. */
    t.hold = 1;
    client_open(&t, &half, "GET /half HTTP/1.1\r\n\r\n");
    half.half_close = 1;
    int one = 1;
    assert_true(run_until(&t, t_held, &one));
    run_for(&t, 20);
    assert_false(half.eof);
    answer(t.held[0], t.held_path[0]);
    assert_true(run_until(&t, c_eof, &half));
    assert_non_null(strstr(half.recv, "\r\n\r\n/half"));
    assert_true(run_until(&t, t_no_conns, &t));
    client *all[] = {&c, &c10, &half};
    teardown(&t, all, 3);
}

/* A request that does not arrive whole within the header timeout is answered 408 and closed;
 * an idle keep-alive connection is closed after the keep-alive timeout, with nothing sent. */
static void test_header_and_idle_timeouts(void **state) {
    (void)state;
    test_ctx t;
    client slow, idle;
    fo_server_uv_opts o = {.header_timeout_ms = 100, .keepalive_timeout_ms = 150};
    setup_server(&t, &o);
    uint64_t start = uv_hrtime();
    client_open(&t, &slow, "GET /slow HTTP/1.1\r\nHost:");
    assert_true(run_until(&t, c_eof, &slow));
    uint64_t ms = (uv_hrtime() - start) / 1000000u;
    assert_true(ms >= 90);
    assert_int_equal(t.requests, 0);
    assert_non_null(strstr(slow.recv, "HTTP/1.1 408 Request Timeout\r\n"));
    assert_non_null(strstr(slow.recv, "Connection: close\r\n"));

    client_open(&t, &idle, "GET /x HTTP/1.1\r\n\r\n");
    assert_true(run_until(&t, c_one_answer, &idle));
    size_t answered = idle.recv_len;
    start = uv_hrtime();
    assert_true(run_until(&t, c_eof, &idle));
    ms = (uv_hrtime() - start) / 1000000u;
    assert_true(ms >= 120);
    assert_int_equal(idle.recv_len, answered); /* closed without a word */
    client *all[] = {&slow, &idle};
    teardown(&t, all, 2);
}

/* A client that leaves while its request is out: the application that asked is told at once,
 * the connection closes, and the answer given later is dropped without harm. */
static void test_watch_gone(void **state) {
    (void)state;
    test_ctx t;
    client c;
    setup_server(&t, NULL);
    t.hold = 1;
    t.watch_gone = 1;
    client_open(&t, &c, "GET /long HTTP/1.1\r\n\r\n");
    int one = 1;
    assert_true(run_until(&t, t_held, &one));
    run_for(&t, 20);
    assert_int_equal(t.gone, 0); /* still there */
    client_close(&c);
    assert_true(run_until(&t, t_gone, &t));
    assert_int_equal(t.gone, 1);
    assert_int_equal(t.server.pending, 1); /* still owed its answer */
    answer(t.held[0], "nobody reads this");
    assert_int_equal(t.server.pending, 0);
    assert_true(run_until(&t, t_no_conns, &t));
    client *all[] = {&c};
    teardown(&t, all, 1);
}

/* A graceful stop: idle connections close at once, new clients are refused, the request out is
 * still answered (with "Connection: close"), and on_drained runs only once it has gone. */
static void test_graceful_stop_drains(void **state) {
    (void)state;
    test_ctx t;
    client busy, idle, late;
    setup_server(&t, NULL);
    client_open(&t, &idle, "GET /idle HTTP/1.1\r\n\r\n");
    assert_true(run_until(&t, c_one_answer, &idle));
    t.hold = 1;
    client_open(&t, &busy, "GET /busy HTTP/1.1\r\n\r\n");
    int one = 1;
    assert_true(run_until(&t, t_held, &one));

    fo_server_uv_stop(&t.server, on_drained);
    assert_true(fo_server_uv_stopping(&t.server));
    assert_true(run_until(&t, c_eof, &idle));
    client_open(&t, &late, "GET /late HTTP/1.1\r\n\r\n");
    assert_true(run_until(&t, c_connected, &late));
    assert_int_equal(late.connect_status, UV_ECONNREFUSED);
    run_for(&t, 20);
    assert_int_equal(t.drained, 0);
    assert_false(busy.eof);

    answer(t.held[0], t.held_path[0]);
    assert_true(run_until(&t, c_eof, &busy));
    assert_non_null(strstr(busy.recv, "Connection: close\r\n\r\n/busy"));
    assert_true(run_until(&t, t_drained, &t));
    assert_int_equal(t.drained, 1);
    client *all[] = {&busy, &idle, &late};
    teardown(&t, all, 3);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_and_answer),
        cmocka_unit_test(test_pipelining_in_order),
        cmocka_unit_test(test_keep_alive_then_close),
        cmocka_unit_test(test_header_and_idle_timeouts),
        cmocka_unit_test(test_watch_gone),
        cmocka_unit_test(test_graceful_stop_drains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
