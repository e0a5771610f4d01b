/* End-to-end tests for upstream_block.c against a small HTTP server run inside this test: each
 * request "GET /<ms>/" is answered after ms milliseconds, with keep-alive, one thread per
 * connection, and the server counts the connections it accepted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fanout/upstream_block.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test_net.h"

#define MAX_CONNS 16

typedef struct slow_server {
    int fd, port;
    pthread_t acceptor;
    pthread_t conns[MAX_CONNS];
    int conn_fds[MAX_CONNS];
    pthread_mutex_t lock;
    int accepted; /* guarded by lock */
    int stop;     /* guarded by lock */
    char base_url[64];
} slow_server;

typedef struct conn_arg {
    slow_server *s;
    int fd;
} conn_arg;

static int stopping(slow_server *s) {
    pthread_mutex_lock(&s->lock);
    int stop = s->stop;
    pthread_mutex_unlock(&s->lock);
    return stop;
}

/* Waits up to ms for fd to be readable, waking every 50 ms to see whether the test is over. */
static int wait_readable(slow_server *s, int fd) {
    while (!stopping(s))
        if (test_readable(fd, 50)) return 1;
    return 0;
}

/* Sleeps ms in short steps, so that stopping the server never waits for a long delay. */
static void delay(slow_server *s, int ms) {
    for (int left = ms; left > 0 && !stopping(s); left -= 10) {
        struct timespec ts = {0, (left < 10 ? left : 10) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Serves requests on one connection until the client closes it or the test ends. */
static void *serve_conn(void *p) {
    conn_arg *a = p;
    slow_server *s = a->s;
    int c = a->fd;
    free(a);
    char buf[4096];
    size_t got = 0;
    while (wait_readable(s, c)) {
        ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        int ms = 0;
        if (sscanf(buf, "GET /%d/", &ms) != 1) ms = 0;
        delay(s, ms);
        char body[64], head[256];
        int blen = snprintf(body, sizeof body, "{\"name\": \"Country %d\", \"code\": \"XX\"}", ms);
        int hlen = snprintf(head, sizeof head,
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Content-Length: %d\r\n\r\n",
                            blen);
        test_write_all(c, head, (size_t)hlen);
        test_write_all(c, body, (size_t)blen);
        /* Keep whatever followed this request's headers (GETs have no body). */
        size_t used = (size_t)(end + 4 - buf);
        memmove(buf, buf + used, got - used);
        got -= used;
    }
    return NULL;
}

static void *accept_loop(void *p) {
    slow_server *s = p;
    while (wait_readable(s, s->fd)) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) continue;
        pthread_mutex_lock(&s->lock);
        int i = s->accepted;
        if (i < MAX_CONNS) s->accepted++;
        pthread_mutex_unlock(&s->lock);
        if (i >= MAX_CONNS) {
            close(c);
            continue;
        }
        conn_arg *a = malloc(sizeof *a);
        a->s = s;
        a->fd = c;
        s->conn_fds[i] = c;
        pthread_create(&s->conns[i], NULL, serve_conn, a);
    }
    return NULL;
}

static void server_start(slow_server *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->fd = test_listen(16, &s->port);
    snprintf(s->base_url, sizeof s->base_url, "http://127.0.0.1:%d", s->port);
    assert_int_equal(pthread_create(&s->acceptor, NULL, accept_loop, s), 0);
}

static int server_accepted(slow_server *s) {
    pthread_mutex_lock(&s->lock);
    int n = s->accepted;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void server_stop(slow_server *s) {
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->acceptor, NULL);
    for (int i = 0; i < s->accepted; i++) {
        pthread_join(s->conns[i], NULL);
        close(s->conn_fds[i]);
    }
    close(s->fd);
    pthread_mutex_destroy(&s->lock);
}

static double elapsed_ms(const fo_fanout *f) {
    return (double)(f->end_ns - f->start_ns) / 1e6;
}

static void expect_all_ok(const fo_fanout *f) {
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        char want[64];
        snprintf(want, sizeof want, "Country %d", f->calls[i].ms);
        if (f->calls[i].outcome != FO_CALL_OK) {
            fail_msg("call %d (/%d/): outcome %d, %s", i, f->calls[i].ms, f->calls[i].outcome,
                     f->calls[i].error);
        }
        assert_string_equal(f->calls[i].country, want);
    }
    assert_int_equal(f->done, FO_FANOUT_CALLS);
}

/* A runner on *cfg, which it keeps using: cfg must outlive it. */
static fo_upstream_block *new_runner(fo_upstream_cfg *cfg, const char *base_url, long timeout_ms) {
    *cfg = (fo_upstream_cfg){.base_url = base_url, .timeout_ms = timeout_ms};
    fo_upstream_block *u = fo_upstream_block_new(cfg);
    assert_non_null(u);
    return u;
}

/* A slow server and a runner calling it, whose calls time out at the rig's timeout. */
typedef struct rig {
    slow_server s;
    fo_upstream_cfg cfg; /* the runner keeps using it */
    fo_upstream_block *u;
} rig;

static void rig_start(rig *r, long timeout_ms) {
    server_start(&r->s);
    r->u = new_runner(&r->cfg, r->s.base_url, timeout_ms);
}

static void rig_stop(rig *r) {
    fo_upstream_block_free(r->u);
    server_stop(&r->s);
}

/* Plans a fan-out for ms and runs it to its end on u. */
static void run_fanout(fo_upstream_block *u, fo_fanout *f, int ms) {
    fo_fanout_plan(f, ms);
    assert_int_equal(fo_upstream_block_run(u, f, NULL), 0);
}

static void test_calls_run_concurrently_and_reuse_connections(void **state) {
    rig r;
    rig_start(&r, 10000);
    fo_fanout f;

    run_fanout(r.u, &f, 300);
    expect_all_ok(&f);
    /* 300, 600 and 150 ms one after the other would take 1050 ms; at once, 600 ms and a bit. */
    double ms = elapsed_ms(&f);
    if (ms < 600 || ms >= 1000) fail_msg("fan-out took %.1f ms, expected 600..1000", ms);
    assert_int_equal(server_accepted(&r.s), 3);
    fo_fanout_release(&f);

    /* The second fan-out finds three idle connections in the runner's cache. */
    run_fanout(r.u, &f, 100);
    expect_all_ok(&f);
    assert_true(elapsed_ms(&f) >= 200);
    assert_int_equal(server_accepted(&r.s), 3);
    fo_fanout_release(&f);

    rig_stop(&r);
}

static void test_connect_refused(void **state) {
    fo_upstream_cfg cfg;
    fo_upstream_block *u = new_runner(&cfg, "http://127.0.0.1:1/", 5000);
    fo_fanout f;
    run_fanout(u, &f, 300);
    for (int i = 0; i < FO_FANOUT_CALLS; i++)
        assert_int_equal(f.calls[i].outcome, FO_CALL_CONNECT);
    assert_int_equal(f.done, FO_FANOUT_CALLS);
    assert_true(f.end_ns >= f.start_ns);
    fo_fanout_release(&f);
    fo_upstream_block_free(u);
}

static void test_timeout_fails_only_the_slow_calls(void **state) {
    /* 1000, 2000 and 500 ms against an 800 ms limit: the margins are wide on purpose. */
    rig r;
    rig_start(&r, 800);
    fo_fanout f;
    run_fanout(r.u, &f, 1000);
    /* The two slow calls reach the same 800 ms deadline; whichever libcurl reports first
     * decides the page, and the other is either reported timed out in the same pass or
     * stopped as the page's other call (a loaded machine splits them over two passes). */
    int timed_out = 0;
    for (int i = 0; i < 2; i++) {
        assert_true(f.calls[i].outcome == FO_CALL_TIMEOUT ||
                    f.calls[i].outcome == FO_CALL_CANCELLED);
        timed_out += f.calls[i].outcome == FO_CALL_TIMEOUT;
    }
    assert_true(timed_out >= 1);
    assert_int_equal(f.calls[2].outcome, FO_CALL_OK);
    assert_string_equal(f.calls[2].country, "Country 500");
    assert_true(elapsed_ms(&f) < 2000);
    fo_fanout_release(&f);

    /* The runner stays usable after timeouts: fresh connections replace the dropped ones. */
    run_fanout(r.u, &f, 50);
    expect_all_ok(&f);
    fo_fanout_release(&f);

    rig_stop(&r);
}

int main(void) {
    /* The server writes answers to clients that may have given up already. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_run_concurrently_and_reuse_connections),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_timeout_fails_only_the_slow_calls),
    };
    return cmocka_run_group_tests(tests, test_curl_setup, test_curl_teardown);
}
