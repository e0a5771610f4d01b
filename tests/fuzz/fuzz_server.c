/* libFuzzer target over the real server path: src/server_uv.c's accept, reads, parsing, header,
 * idle and linger timers and queued writes, on a real libuv loop over a loopback TCP connection,
 * with the real handler (fo_handle_begin / fo_handle_finish) behind it and the fan-out's
 * outcomes faked from the input.
 *
 * The input is read as
 *   byte 0      the client sends its bytes in pieces of this many bytes (0 = all at once);
 *   byte 1      low 3 bits: how upstream call 1 ends (fake_call); high 5 bits: pauses between
 *               pieces (pause_ms);
 *   byte 2      low 3 bits: call 2; high 5 bits: how the handler answers (answer_plan);
 *   byte 3      low 3 bits: call 3; high 5 bits: how the client ends (end_plan, cli_end);
 *   bytes 4, 5  L, the length of the upstream body that follows (little-endian, up to 64 KiB);
 *   L bytes     the body the country API "answered", also a curl error or a raw country name;
 *   the rest    the bytes the client sends: possibly several pipelined requests.
 * With the high bits at 0 (the seeds of the older request-path target), the client sends at
 * once, the handler answers at once and the client half-closes after its last byte.
 *
 * The server runs with a 5 ms header timeout and an 8 ms keep-alive timeout, so that pauses
 * reach its timers. After each input the loop runs until the connection is over on both sides,
 * then checks: the server holds no connection and no request out (and, when the input stopped
 * it, has drained, calling on_drained once; it starts afresh for the next); every answer the
 * client read is well-formed HTTP/1.1, in request order (the handler's answers, then at most one
 * error answer from the server itself), with nothing after a "Connection: close"; it all ended
 * within WATCHDOG_MS; and, while the client sends, no request takes longer than its header
 * timeout to arrive whole without the server answering or closing (check_deadline). A broken
 * invariant aborts (a finding); leaks are LeakSanitizer's. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "fanout/handler.h"
#include "fanout/server_uv.h"
#include "fanout/sys.h"
#include "fanout/upstream.h"

#define HEADER_BYTES 6
#define HEADER_TIMEOUT_MS 5
#define KEEPALIVE_TIMEOUT_MS 8
/* Longer than any input can legitimately keep a connection: its pauses (MAX_PAUSES of at most
 * 20 ms), answers given later (10 ms at most each), the server's timers, and its lingering close
 * (FO_LINGER_MS), which our client ends early by closing once it reads the server's EOF. */
#define WATCHDOG_MS 5000
#define MAX_PAUSES 16
#define MAX_ANSWERS 4096
#define MAX_RECEIVED (64u << 20)
#define BIG_BODY (512u << 10)

static void fail(const char *what) {
    fprintf(stderr, "fuzz_server: invariant broken: %s\n", what);
    abort();
}

/* One answer as the handler gave it or the client read it. */
typedef struct answer_rec {
    int status;
    uint64_t body_len;
} answer_rec;

/* The state of one input's run. */
typedef struct run {
    const uint8_t *modes; /* bytes 1..3: call outcomes in the low bits */
    const uint8_t *body;
    size_t body_len;
    const uint8_t *in;
    size_t in_len, fed;
    size_t chunk;
    unsigned pause_plan, answer_plan, end_plan;
    unsigned pieces, pauses;
    int requests;      /* handed to the handler */
    int answers_later; /* handler answers waiting on their timer */
    answer_rec sent[MAX_ANSWERS];
    int n_sent;
    /* The header deadline: when the client sent its first byte with no request out with the
     * application since the last one was handed out or answered (0 = not running). */
    uint64_t deadline_from;
    /* The client. */
    uv_tcp_t cli;
    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    uv_timer_t pause;
    int cli_closed, pause_closed, cli_reading, sending_done;
    char *recv;
    size_t recv_len, recv_cap;
    int watchdog_fired;
} run;

static uv_loop_t loop;
static fo_server_uv server;
static struct sockaddr_in server_addr;
static uv_timer_t watchdog;
static int server_running; /* not stopped by an input (end_plan bit 3) */
static int server_drained; /* its on_drained ran */

static void on_drained(fo_server_uv *s) {
    (void)s;
    if (server_drained) fail("on_drained called twice");
    server_drained = 1;
}

/* Makes call end the way mode says, as fo_call_finish would have left it. */
static void fake_call(fo_call *call, uint8_t mode, const uint8_t *body, size_t body_len) {
    const char *why = NULL;
    size_t n;
    switch (mode % 8) {
    case 0: /* 200 with the fuzzed body */
        call->body = malloc(body_len + 1);
        if (!call->body) fail("out of memory");
        if (body_len) memcpy(call->body, body, body_len);
        call->body[body_len] = '\0';
        call->body_len = call->body_cap = body_len;
        call->http_status = 200;
        if (fo_country_parse(call->body, body_len, call->country, sizeof call->country, &why) ==
            0) {
            call->outcome = FO_CALL_OK;
            if (strlen(call->country) >= sizeof call->country) fail("country name not terminated");
        } else {
            if (!why) fail("a refused body without a reason");
            call->outcome = FO_CALL_BAD_BODY;
            snprintf(call->error, sizeof call->error, "%s", why);
        }
        break;
    case 1: /* a valid country */
        call->outcome = FO_CALL_OK;
        call->http_status = 200;
        snprintf(call->country, sizeof call->country, "%s", "C\xc3\xb4te d'Ivoire <&>");
        break;
    case 2:
        call->outcome = FO_CALL_CONNECT;
        snprintf(call->error, sizeof call->error, "%s", "Connection refused");
        break;
    case 3:
        call->outcome = FO_CALL_TIMEOUT;
        break;
    case 4:
        call->outcome = FO_CALL_HTTP_STATUS;
        call->http_status = body_len ? (long)body[0] * 3 : 500;
        break;
    case 5: /* an I/O error whose message is the fuzzed bytes */
        call->outcome = FO_CALL_IO;
        n = body_len < sizeof call->error - 1 ? body_len : sizeof call->error - 1;
        memcpy(call->error, body, n);
        call->error[n] = '\0';
        break;
    case 6: /* a country name of raw fuzzed bytes: the page must escape it */
        call->outcome = FO_CALL_OK;
        n = body_len < sizeof call->country - 1 ? body_len : sizeof call->country - 1;
        memcpy(call->country, body, n);
        call->country[n] = '\0';
        break;
    default:
        break; /* FO_CALL_PENDING: never finished */
    }
}

/* The server side: the handler. */

/* An answer the handler gives later, from a timer, as a fan-out on the loop would. */
typedef struct later {
    uv_timer_t timer;
    fo_conn_uv *conn;
    fo_response resp;
    run *r;
} later;

static void respond(run *r, fo_conn_uv *conn, fo_response *resp) {
    if (resp->status < 200 || resp->status > 599) fail("status out of range");
    if (resp->body_len && !resp->body) fail("a body length without a body");
    if (r->n_sent < MAX_ANSWERS) r->sent[r->n_sent++] = (answer_rec){resp->status, resp->body_len};
    r->deadline_from = 0;
    fo_conn_uv_respond(conn, resp);
}

static void on_later_closed(uv_handle_t *h) {
    later *l = h->data;
    l->r->answers_later--;
    free(l);
}

static void on_later(uv_timer_t *t) {
    later *l = t->data;
    respond(l->r, l->conn, &l->resp);
    uv_close((uv_handle_t *)&l->timer, on_later_closed);
}

/* The client left while its answer was to come later (fo_conn_uv_watch_gone): the work stops
 * and the answer is given at once, as the engines do; the connection drops it. */
static void on_gone(void *data) {
    later *l = data;
    uv_timer_stop(&l->timer);
    on_later(&l->timer);
}

/* How request n is answered, from the 5 bits of answer_plan: bit 0 later (from a timer) rather
 * than at once, flipped on odd requests when bit 4 is set; bits 1-2 the timer's delay, and with
 * bit 1 set the handler asks to hear of a client that leaves meanwhile; bit 3 unused (it was
 * the handler's own "Connection: close": keep-alive is the server's alone to decide now). */
static const uint64_t later_ms[4] = {0, 1, 3, 10};

static void on_request(fo_conn_uv *conn, const fo_request *req, void *data) {
    run *r = data;
    unsigned plan = r->answer_plan;
    int n = r->requests++;
    r->deadline_from = 0;
    if (n == 0 && (r->end_plan & 8)) {
        /* A graceful stop while this request is out with the application: it must still be
         * answered (with "Connection: close"), then everything closes and on_drained runs. */
        server_running = 0;
        server_drained = 0;
        fo_server_uv_stop(&server, on_drained);
    }
    if (req->path_len > FO_HTTP_MAX_URL || strlen(req->path) != req->path_len)
        fail("request target length");
    if (strlen(req->method) >= sizeof req->method) fail("method not terminated");
    fo_response resp;
    fo_fanout fanout;
    if (fo_handle_begin(req, &resp, &fanout) == FO_HANDLE_FANOUT) {
        for (int i = 0; i < FO_FANOUT_CALLS; i++) {
            if (fanout.calls[i].outcome != FO_CALL_PENDING) fail("a planned call is not pending");
            fake_call(&fanout.calls[i], r->modes[i], r->body, r->body_len);
        }
        fanout.start_ns = 1000;
        fanout.end_ns = 1000 + (uint64_t)r->modes[0] * 1000003u;
        fo_handle_finish(req, &fanout, &resp);
        for (int i = 0; i < FO_FANOUT_CALLS; i++)
            if (fanout.calls[i].body) fail("fo_handle_finish left a body behind");
        int st = resp.status;
        if (st != 200 && st != 502 && st != 504 && st != 500) fail("a fan-out answered oddly");
    }
    if (r->end_plan & 16) {
        /* Large answers: loopback takes megabytes before a write blocks, so a few of these
         * are what makes the server queue answers for a client that does not read. */
        free(resp.body);
        resp.body = malloc(BIG_BODY);
        if (!resp.body) fail("out of memory");
        memset(resp.body, 'x', BIG_BODY);
        resp.body_len = BIG_BODY;
    }
    int answer_later = (plan & 1) ^ ((plan & 16) && (n & 1));
    if (!answer_later) {
        respond(r, conn, &resp);
        return;
    }
    later *l = malloc(sizeof *l);
    if (!l) fail("out of memory");
    l->conn = conn;
    l->resp = resp;
    l->r = r;
    if (uv_timer_init(&loop, &l->timer) != 0) fail("uv_timer_init");
    l->timer.data = l;
    r->answers_later++;
    uv_timer_start(&l->timer, on_later, later_ms[(plan >> 1) & 3], 0);
    if (plan & 2) fo_conn_uv_watch_gone(conn, on_gone, l);
}

/* The client side. */

/* How the client ends, from the 5 bits of end_plan: bits 0-1 what it does after its last byte
 * (half-close and read to EOF; reset; stay open and read until the server closes; close
 * without reading the rest); bit 2 it reads no answer before its last byte is sent, with a
 * small receive buffer (so that answers pile up in the server's queue); bit 3 the server is
 * stopped (fo_server_uv_stop) when the first request is handed out; bit 4 the handler's
 * answers have a BIG_BODY body. */
enum { END_HALF_CLOSE, END_RESET, END_STAY, END_CLOSE };

static void send_next(run *r);

static void on_cli_closed(uv_handle_t *h) {
    run *r = h->data;
    r->cli_closed = 1;
}

static void on_pause_closed(uv_handle_t *h) {
    run *r = h->data;
    r->pause_closed = 1;
}

static void close_pause(run *r) {
    if (!uv_is_closing((uv_handle_t *)&r->pause))
        uv_close((uv_handle_t *)&r->pause, on_pause_closed);
}

static void cli_close(run *r) {
    if (!uv_is_closing((uv_handle_t *)&r->cli)) uv_close((uv_handle_t *)&r->cli, on_cli_closed);
    close_pause(r);
}

static void on_cli_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    run *r = h->data;
    (void)suggested;
    if (r->recv_cap - r->recv_len < 65536) {
        size_t cap = r->recv_cap ? r->recv_cap * 2 : 65536;
        char *p = realloc(r->recv, cap);
        if (!p) fail("out of memory");
        r->recv = p;
        r->recv_cap = cap;
    }
    *buf = uv_buf_init(r->recv + r->recv_len, (unsigned)(r->recv_cap - r->recv_len));
}

static void on_cli_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    run *r = s->data;
    (void)buf;
    if (nread > 0) {
        r->recv_len += (size_t)nread;
        if (r->recv_len > MAX_RECEIVED) fail("the server sent far more than it was asked");
        return;
    }
    if (nread < 0) cli_close(r); /* the server closed or reset: the client is done */
}

static void cli_read(run *r) {
    if (r->cli_reading || uv_is_closing((uv_handle_t *)&r->cli)) return;
    if (uv_read_start((uv_stream_t *)&r->cli, on_cli_alloc, on_cli_read) == 0) r->cli_reading = 1;
}

static void on_cli_shutdown(uv_shutdown_t *req, int status) {
    (void)req;
    (void)status; /* a failed shutdown means the server is gone: the read sees it */
}

static void cli_end(run *r) {
    r->sending_done = 1;
    if (uv_is_closing((uv_handle_t *)&r->cli)) return;
    switch (r->end_plan & 3) {
    case END_HALF_CLOSE:
        cli_read(r);
        if (uv_shutdown(&r->shutdown_req, (uv_stream_t *)&r->cli, on_cli_shutdown) != 0)
            cli_close(r);
        break;
    case END_RESET:
        close_pause(r);
        if (uv_tcp_close_reset(&r->cli, on_cli_closed) != 0) cli_close(r);
        break;
    case END_STAY:
        cli_read(r);
        break;
    default:
        cli_close(r);
        break;
    }
}

static void on_pause_over(uv_timer_t *t) {
    send_next(t->data);
}

/* Pauses after every ((plan & 3) + 1)-th piece, MAX_PAUSES at most: short ones trickle, the
 * longer ones outlast the header (5 ms) or keep-alive (8 ms) timeout. */
static uint64_t pause_ms(run *r) {
    static const uint64_t ms[8] = {0, 0, 1, 2, 4, 7, 12, 20};
    unsigned plan = r->pause_plan;
    if (!plan || r->pauses >= MAX_PAUSES) return 0;
    if (r->pieces % ((plan & 3) + 1) != 0) return 0;
    uint64_t p = ms[(plan >> 2) & 7];
    if (p) r->pauses++;
    return p;
}

static void on_cli_write(uv_write_t *req, int status) {
    run *r = req->data;
    if (uv_is_closing((uv_handle_t *)&r->cli)) return;
    if (status < 0) {
        /* The server closed: read what it said, then the read's EOF or error closes us. */
        r->sending_done = 1;
        cli_read(r);
        return;
    }
    r->pieces++;
    uint64_t p = r->fed < r->in_len ? pause_ms(r) : 0;
    if (p)
        uv_timer_start(&r->pause, on_pause_over, p, 0);
    else
        send_next(r);
}

/* The server must not keep reading a request past its header timeout: from the first byte
 * after the last request was handed out or answered, a request arrives whole within
 * HEADER_TIMEOUT_MS or the server answers 408 or closes, whatever the bytes are (line breaks
 * included). So a client still sending DEADLINE_SLACK times later, to a server that has sent
 * nothing since and not closed, is a finding. The peek makes this safe on a busy machine: a
 * late loop runs the server's (earlier) timer before the client's pause, and its answer or FIN
 * is then already waiting in the client's socket. */
#define DEADLINE_SLACK 4

static void check_deadline(run *r) {
    if (r->requests != r->n_sent) return; /* a request is out with the application */
    uint64_t now = uv_now(&loop);
    if (r->deadline_from == 0) {
        r->deadline_from = now;
        return;
    }
    if (now - r->deadline_from <= DEADLINE_SLACK * HEADER_TIMEOUT_MS) return;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&r->cli, &fd) != 0) return;
    char byte;
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        fail("the server kept reading a request past its header timeout");
}

static void send_next(run *r) {
    if (uv_is_closing((uv_handle_t *)&r->cli) || r->sending_done) return;
    if (r->fed == r->in_len) {
        cli_end(r);
        return;
    }
    check_deadline(r);
    size_t n = r->chunk == 0 ? r->in_len - r->fed : r->chunk;
    if (n > r->in_len - r->fed) n = r->in_len - r->fed;
    uv_buf_t b = uv_buf_init((char *)r->in + r->fed, (unsigned)n);
    r->fed += n;
    r->write_req.data = r;
    if (uv_write(&r->write_req, (uv_stream_t *)&r->cli, &b, 1, on_cli_write) != 0) {
        r->sending_done = 1;
        cli_read(r);
    }
}

static void on_cli_connect(uv_connect_t *req, int status) {
    run *r = req->data;
    if (status < 0) fail("cannot connect to the server on loopback");
    if (!(r->end_plan & 4)) cli_read(r);
    send_next(r);
}

/* The checks on what the client read. */

typedef struct reader {
    answer_rec got[MAX_ANSWERS + 1];
    int n;
    int close_seen; /* the last complete answer said "Connection: close" */
} reader;

static int on_resp_headers(llhttp_t *p) {
    reader *rd = p->data;
    if (rd->n <= MAX_ANSWERS) rd->got[rd->n] = (answer_rec){p->status_code, 0};
    return 0;
}

static int on_resp_body(llhttp_t *p, const char *at, size_t len) {
    reader *rd = p->data;
    (void)at;
    if (rd->n <= MAX_ANSWERS) rd->got[rd->n].body_len += len;
    return 0;
}

static int on_resp_complete(llhttp_t *p) {
    reader *rd = p->data;
    rd->close_seen = !llhttp_should_keep_alive(p);
    rd->n++;
    return 0;
}

static int is_error_answer(int status) {
    return status == 400 || status == 405 || status == 408 || status == 414 || status == 431 ||
           status == 505;
}

static void check_answers(const run *r) {
    if (r->recv_len == 0) return; /* nothing read (and llhttp must not be given NULL) */
    static reader rd;
    memset(&rd, 0, sizeof rd);
    llhttp_settings_t settings;
    llhttp_settings_init(&settings);
    settings.on_headers_complete = on_resp_headers;
    settings.on_body = on_resp_body;
    settings.on_message_complete = on_resp_complete;
    llhttp_t p;
    llhttp_init(&p, HTTP_RESPONSE, &settings);
    p.data = &rd;
    llhttp_errno_t e = llhttp_execute(&p, r->recv, r->recv_len);
    if (e == HPE_CLOSED_CONNECTION) fail("bytes after an answer with \"Connection: close\"");
    if (e != HPE_OK) fail("the server sent bytes that are not an HTTP/1.1 answer");
    if (rd.n > r->n_sent + 1) fail("more answers than requests");
    for (int i = 0; i < rd.n && i <= MAX_ANSWERS; i++) {
        if (i < r->n_sent) {
            if (rd.got[i].status != r->sent[i].status || rd.got[i].body_len != r->sent[i].body_len)
                fail("an answer out of order, or not the one the handler gave");
        } else if (!is_error_answer(rd.got[i].status) || !rd.close_seen) {
            fail("an answer the handler did not give, other than a closing error");
        }
    }
}

static void on_watchdog(uv_timer_t *t) {
    run *r = t->data;
    r->watchdog_fired = 1;
}

/* The loop, once; the server, once and again after an input stopped it. */
static void setup(void) {
    static int loop_ready;
    if (!loop_ready) {
        loop_ready = 1;
        /* As the servers and fanout-load do: a write to a closed connection is an error, not
         * a signal that ends the process. */
        signal(SIGPIPE, SIG_IGN);
        if (uv_loop_init(&loop) != 0) fail("uv_loop_init");
        if (uv_timer_init(&loop, &watchdog) != 0) fail("uv_timer_init");
    }
    if (server_running) return;
    server_running = 1;
    fo_server_uv_opts opts = {.header_timeout_ms = HEADER_TIMEOUT_MS,
                              .keepalive_timeout_ms = KEEPALIVE_TIMEOUT_MS};
    if (fo_server_uv_init(&server, &loop, &opts, on_request, NULL) != 0) fail("fo_server_uv_init");
    char err[256];
    int port = 0;
    int fd = fo_listen_tcp("127.0.0.1", 0, 128, &port, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "fuzz_server: %s\n", err);
        abort();
    }
    if (fo_server_uv_listen_fd(&server, fd) != 0) fail("the server cannot accept");
    uv_ip4_addr("127.0.0.1", port, &server_addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < HEADER_BYTES) return 0;
    setup();
    static run r;
    memset(&r, 0, sizeof r);
    r.chunk = data[0];
    r.modes = data + 1;
    r.pause_plan = data[1] >> 3;
    r.answer_plan = data[2] >> 3;
    r.end_plan = data[3] >> 3;
    r.body_len = (size_t)data[4] | (size_t)data[5] << 8;
    if (r.body_len > size - HEADER_BYTES) r.body_len = size - HEADER_BYTES;
    r.body = data + HEADER_BYTES;
    r.in = r.body + r.body_len;
    r.in_len = size - HEADER_BYTES - r.body_len;
    server.data = &r;

    if (uv_tcp_init(&loop, &r.cli) != 0 || uv_timer_init(&loop, &r.pause) != 0) fail("uv init");
    if (r.end_plan & 4) {
        /* A client that does not read, with a small window: the server's writes back up. */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int small = 2048;
        if (fd < 0) fail("socket");
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        if (uv_tcp_open(&r.cli, (uv_os_sock_t)fd) != 0) fail("uv_tcp_open");
    }
    r.cli.data = &r;
    r.pause.data = &r;
    r.connect_req.data = &r;
    if (uv_tcp_connect(&r.connect_req, &r.cli, (const struct sockaddr *)&server_addr,
                       on_cli_connect) != 0)
        fail("uv_tcp_connect");
    watchdog.data = &r;
    uv_timer_start(&watchdog, on_watchdog, WATCHDOG_MS, 0);
    /* Until the connection is over on both sides and every late answer is given. The server's
     * listener keeps the loop alive, so the condition, not uv_run's return, ends this. */
    while (!(r.cli_closed && r.pause_closed && server.n_conns == 0 && r.answers_later == 0 &&
             (server_running || server_drained))) {
        uv_run(&loop, UV_RUN_ONCE);
        if (r.watchdog_fired) fail("the connection was still open after WATCHDOG_MS");
    }
    uv_timer_stop(&watchdog);

    if (server.pending != 0) fail("a request is still out with the application");
    if (server_running && server.accept_state != FO_ACCEPTING) fail("the server stopped accepting");
    check_answers(&r);
    free(r.recv);
    return 0;
}
