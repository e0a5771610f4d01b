/* libFuzzer target over the load generator's client side (bench/load/conn.c): how a fo_conn
 * reads and judges a server's answers, on a real libuv loop, against a fake server on loopback
 * that answers every request with the input's bytes.
 *
 * The input is read as
 *   byte 0     the fake server sends its bytes in pieces of this many bytes (0 = all at once);
 *   byte 1     bits 0-3: pauses between pieces (pause_ms); bits 4-5: what the server does once
 *              its bytes are out (close, reset, or keep the connection open);
 *   byte 2     how many requests the connection makes, one after the other: 1 + byte % 3;
 *   the rest   the bytes the server sends for each request: one answer, several, or garbage.
 * A reused connection that the server closed is resent once on a new connection (conn.c), so
 * the retry path is reached too; the client gives up on a request after TIMEOUT_MS.
 *
 * Checks: every request has exactly one outcome (a success or one failure), recorded before the
 * connection says it is done; nothing is dropped; the loop ends within WATCHDOG_MS; and when the
 * bytes hold one complete answer below 400 and the server keeps the connection open, the first
 * request is not judged a failure (malformed, closed, HTTP) however the bytes were cut into
 * pieces; only its timeout may end it, as pauses or a busy machine can make it late. A broken
 * invariant aborts. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "conn.h"
#include "fanout/sys.h"
#include "recorder.h"
#include "schedule.h"
#include "windows.h"

#define HEADER_BYTES 3
#define TIMEOUT_MS 10
#define WATCHDOG_MS 5000
#define MAX_PAUSES 6
#define MAX_SERVER_CONNS 8

static void fail(const char *what) {
    fprintf(stderr, "fuzz_response: invariant broken: %s\n", what);
    abort();
}

enum { SERVER_CLOSE, SERVER_RESET, SERVER_STAY };

/* One connection the fake server accepted: it sends the answer bytes once for every request
 * read (rounds), piece by piece. */
typedef struct fake_conn {
    uv_tcp_t tcp;
    uv_timer_t pause;
    uv_write_t write_req;
    struct run *r;
    size_t sent;     /* bytes of the current round sent */
    unsigned rounds; /* requests read and not yet answered in full */
    unsigned pieces, pauses;
    int writing, closing, handles_open;
} fake_conn;

typedef struct run {
    const uint8_t *out;
    size_t out_len, chunk;
    unsigned pause_plan, end_plan, requests;
    int server_conns; /* accepted and not yet freed */
    /* The client. */
    fo_client cl;
    fo_conn conn;
    unsigned issued, done;
    int first_judged_bad; /* the first request failed, other than by its timeout */
    int watchdog_fired;
} run;

static uv_loop_t loop;
static uv_tcp_t listener;
static struct sockaddr_in server_addr;
static uv_timer_t watchdog, ticker;
static char rbuf[65536];
static const char request[] = "GET /300/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
static run *current;

/* The fake server. */

static void on_fake_closed(uv_handle_t *h) {
    fake_conn *f = h->data;
    if (--f->handles_open == 0) {
        f->r->server_conns--;
        free(f);
    }
}

static void fake_close(fake_conn *f, int reset) {
    if (f->closing) return;
    f->closing = 1;
    uv_close((uv_handle_t *)&f->pause, on_fake_closed);
    if (!reset || uv_tcp_close_reset(&f->tcp, on_fake_closed) != 0)
        uv_close((uv_handle_t *)&f->tcp, on_fake_closed);
}

static void fake_send(fake_conn *f);

/* Pauses after every ((plan & 3) + 1)-th piece, MAX_PAUSES at most; the longest outlast the
 * client's timeout. */
static uint64_t pause_ms(fake_conn *f) {
    static const uint64_t ms[4] = {0, 1, 5, TIMEOUT_MS + 10};
    unsigned plan = f->r->pause_plan;
    if (!plan || f->pauses >= MAX_PAUSES || f->pieces % ((plan & 3) + 1) != 0) return 0;
    uint64_t p = ms[(plan >> 2) & 3];
    if (p) f->pauses++;
    return p;
}

static void on_fake_pause(uv_timer_t *t) {
    fake_send(t->data);
}

static void on_fake_write(uv_write_t *req, int status) {
    fake_conn *f = req->data;
    f->writing = 0;
    if (f->closing) return;
    if (status < 0) {
        fake_close(f, 0);
        return;
    }
    f->pieces++;
    uint64_t p = pause_ms(f);
    if (p)
        uv_timer_start(&f->pause, on_fake_pause, p, 0);
    else
        fake_send(f);
}

/* Sends the next piece of the current round; at a round's end, starts the next or ends the
 * way the plan says. */
static void fake_send(fake_conn *f) {
    run *r = f->r;
    if (f->closing || f->writing) return;
    if (f->sent == r->out_len && f->rounds > 0) {
        f->rounds--;
        f->sent = 0;
        if (f->rounds == 0) {
            if (r->end_plan == SERVER_CLOSE)
                fake_close(f, 0);
            else if (r->end_plan == SERVER_RESET)
                fake_close(f, 1);
            return;
        }
    }
    if (f->rounds == 0) return;
    size_t n = r->chunk == 0 ? r->out_len - f->sent : r->chunk;
    if (n > r->out_len - f->sent) n = r->out_len - f->sent;
    uv_buf_t b = uv_buf_init((char *)r->out + f->sent, (unsigned)n);
    f->sent += n;
    f->write_req.data = f;
    f->writing = 1;
    if (uv_write(&f->write_req, (uv_stream_t *)&f->tcp, &b, 1, on_fake_write) != 0) {
        f->writing = 0;
        fake_close(f, 0);
    }
}

static void on_fake_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    static char sink[4096];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(sink, sizeof sink);
}

/* Each read of request bytes is one request (they are small, and the client sends one at a
 * time): answer it with the bytes once more. */
static void on_fake_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    fake_conn *f = s->data;
    (void)buf;
    if (nread < 0) {
        fake_close(f, 0);
        return;
    }
    if (nread == 0) return;
    if (f->rounds++ == 0) f->sent = 0;
    fake_send(f);
}

static void on_fake_connection(uv_stream_t *l, int status) {
    run *r = current;
    if (status < 0) fail("the fake server cannot accept");
    fake_conn *f = calloc(1, sizeof *f);
    if (!f) fail("out of memory");
    f->r = r;
    if (uv_tcp_init(&loop, &f->tcp) != 0 || uv_timer_init(&loop, &f->pause) != 0) fail("uv init");
    f->tcp.data = f;
    f->pause.data = f;
    f->handles_open = 2;
    r->server_conns++;
    if (r->server_conns > MAX_SERVER_CONNS) fail("the client connects again and again");
    if (uv_accept(l, (uv_stream_t *)&f->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&f->tcp, on_fake_alloc, on_fake_read) != 0)
        fake_close(f, 0);
}

/* The client. */

static uint64_t failures(const fo_recorder *rec) {
    uint64_t n = 0;
    for (int k = 0; k < FO_FAIL_KINDS; k++)
        n += rec->stats.failures[k];
    return n;
}

static void on_done(fo_conn *c) {
    run *r = c->data;
    r->done++;
    const fo_recorder *rec = r->cl.rec;
    /* Successes stay in the recorder's current window until its second is over (then the
     * windows hold them): checked here while it is the first, and at the end in any case. */
    if (rec->win_idx == 0 && rec->win_response.n + failures(rec) != r->done)
        fail("a request ended without exactly one outcome");
    if (r->done == 1) r->first_judged_bad = failures(rec) > rec->stats.failures[FO_FAIL_TIMEOUT];
    if (c->in_request) fail("done while a request is in flight");
    if (r->issued < r->requests) {
        r->issued++;
        uint64_t now = uv_hrtime();
        fo_conn_request(c, now, now);
    }
}

static void on_tick(uv_timer_t *t) {
    run *r = t->data;
    fo_conn_check_timeout(&r->conn, uv_hrtime());
}

static void on_watchdog(uv_timer_t *t) {
    run *r = t->data;
    r->watchdog_fired = 1;
}

static void setup_once(void) {
    static int done;
    if (done) return;
    done = 1;
    /* As the servers and fanout-load do: a write to a closed connection is an error, not a
     * signal that ends the process. */
    signal(SIGPIPE, SIG_IGN);
    if (uv_loop_init(&loop) != 0) fail("uv_loop_init");
    char err[256];
    int port = 0;
    int fd = fo_listen_tcp("127.0.0.1", 0, 128, &port, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "fuzz_response: %s\n", err);
        abort();
    }
    if (uv_tcp_init(&loop, &listener) != 0 || uv_tcp_open(&listener, (uv_os_sock_t)fd) != 0 ||
        uv_listen((uv_stream_t *)&listener, 128, on_fake_connection) != 0)
        fail("the fake server cannot listen");
    uv_ip4_addr("127.0.0.1", port, &server_addr);
    if (uv_timer_init(&loop, &watchdog) != 0 || uv_timer_init(&loop, &ticker) != 0)
        fail("uv_timer_init");
}

/* The oracle: do the bytes, parsed whole, hold one complete answer below 400? */
static int oracle_complete;

static int on_oracle_complete(llhttp_t *p) {
    oracle_complete = p->status_code < 400;
    return HPE_PAUSED;
}

static int one_good_answer(const uint8_t *data, size_t len) {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_complete = on_oracle_complete;
    llhttp_t p;
    llhttp_init(&p, HTTP_RESPONSE, &s);
    oracle_complete = 0;
    llhttp_errno_t e = llhttp_execute(&p, (const char *)data, len);
    return (e == HPE_OK || e == HPE_PAUSED) && oracle_complete;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < HEADER_BYTES) return 0;
    setup_once();
    static run r;
    memset(&r, 0, sizeof r);
    current = &r;
    r.chunk = data[0];
    r.pause_plan = data[1] & 15;
    r.end_plan = (data[1] >> 4) & 3;
    if (r.end_plan > SERVER_STAY) r.end_plan = SERVER_STAY;
    r.requests = 1 + data[2] % 3;
    r.out = data + HEADER_BYTES;
    r.out_len = size - HEADER_BYTES;

    /* A recorder for a one-user run long enough for any input. */
    fo_sched sched;
    fo_windows windows;
    fo_recorder rec;
    uint64_t total_ns = 3600 * FO_NS_PER_S;
    fo_sched_simple(&sched, 1, 0, total_ns);
    if (fo_windows_init(&windows, 1, &sched) != 0) fail("fo_windows_init");
    uint64_t t0 = uv_hrtime();
    if (fo_recorder_init(&rec, &windows, 0, t0, total_ns, NULL, 0, 0) != 0)
        fail("fo_recorder_init");

    r.cl.loop = &loop;
    r.cl.addr = (const struct sockaddr *)&server_addr;
    r.cl.request = request;
    r.cl.request_len = sizeof request - 1;
    r.cl.rbuf = rbuf;
    r.cl.rbuf_len = sizeof rbuf;
    fo_conn_settings(&r.cl.settings);
    r.cl.rec = &rec;
    r.cl.timeout_ns = TIMEOUT_MS * 1000000ull;
    fo_conn_init(&r.conn, &r.cl, on_done, &r);

    ticker.data = &r;
    watchdog.data = &r;
    uv_timer_start(&ticker, on_tick, 2, 2);
    uv_timer_start(&watchdog, on_watchdog, WATCHDOG_MS, 0);
    r.issued = 1;
    uint64_t now = uv_hrtime();
    fo_conn_request(&r.conn, now, now);
    /* Until every request has its outcome, then until both sides have closed. */
    while (r.done < r.requests) {
        uv_run(&loop, UV_RUN_ONCE);
        if (r.watchdog_fired) fail("a request had no outcome after WATCHDOG_MS");
    }
    if (r.conn.in_request) fail("a request in flight after the last outcome");
    fo_conn_close(&r.conn);
    r.cl.stopping = 1;
    while (r.conn.tcp_open || r.server_conns > 0) {
        uv_run(&loop, UV_RUN_ONCE);
        if (r.watchdog_fired) fail("a connection was still open after WATCHDOG_MS");
    }
    uv_timer_stop(&ticker);
    uv_timer_stop(&watchdog);

    if (rec.stats.dropped != 0) fail("a request dropped before the end");
    if (r.end_plan == SERVER_STAY && r.first_judged_bad && one_good_answer(r.out, r.out_len))
        fail("one complete answer below 400 judged a failure");
    fo_recorder_close(&rec);
    fo_windows_finish(&windows, uv_hrtime() - t0);
    if (windows.total.n + windows.total_failures != r.requests)
        fail("outcomes and requests differ");
    fo_recorder_free(&rec);
    fo_load_stats_free(&rec.stats);
    fo_windows_free(&windows);
    return 0;
}
