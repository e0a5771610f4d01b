/* An HTTP/1.1 server on a libuv loop.
 *
 * What a connection is doing with its requests is its serve_state (below): idle between
 * requests (the idle timer runs), reading one (the header deadline runs, from the first byte
 * after idle, whatever the bytes are), or waiting for the answer to a request it handed out
 * (no timer; it parses nothing more, so a client cannot pile up work). Only a whole request
 * moves a connection out of reading, so a client that trickles bare line breaks, which llhttp
 * skips without starting a message, is still dropped at the header deadline. Answers are
 * written in the order the requests came.
 *
 * While a request is out, the connection keeps reading when the application asked to hear of
 * a client that leaves (fo_conn_uv_watch_gone): an end of stream or a reset then closes the
 * connection and tells the application at once, so that it stops the work (the fan-out's calls)
 * nobody will read. Bytes that come meanwhile (a pipelined request) are kept, up to
 * GONE_READ_MAX; past that the connection stops reading until the answer.
 *
 * A connection that must close after an answer shuts its sending side down and drains what the
 * client still sends for a moment before closing ("lingering close"), so the client reads the
 * answer instead of a reset: its way out is the conn_phase below, open, flushing, lingering,
 * closed, in that order only.
 *
 * Reading: libuv asks for a buffer before each read. A connection with nothing buffered reads
 * into the server's one slab and keeps only what the parser left over (the start of the next
 * request), so an idle or waiting connection holds no read buffer at all.
 *
 * Memory: a connection is freed only once both of its handles are closed and no request of it
 * is still out with the application. */
#include "fanout/server_uv.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fanout/settings.h"

/* The server's shared read buffer, and what a connection adds to its own buffer when a request
 * arrives in pieces. */
#define SLAB_BYTES 65536
#define READ_CHUNK 4096
/* Bytes kept from a client while its request is out with the application, before reading
 * stops until the answer. */
#define GONE_READ_MAX 16384
/* Answers queued on a connection and not yet taken by the kernel. A client that pipelines
 * requests but does not read the answers stops being read at this many, instead of making us
 * queue answers without limit. */
#define MAX_QUEUED_WRITES 4
/* After an accept that failed for want of descriptors or memory, the server stops accepting
 * for this long instead of retrying at once (libuv would spin on the listener otherwise). */
#define ACCEPT_BACKOFF_MS 250

typedef enum { TIMER_NONE, TIMER_HEADER, TIMER_IDLE, TIMER_LINGER } timer_kind;

/* What a connection is doing with its requests, while it is open. */
typedef enum {
    SERVE_IDLE,    /* no byte of the next request yet: the idle (keep-alive) timer runs */
    SERVE_READING, /* a request is arriving: the header deadline runs from its first byte */
    SERVE_WAITING, /* a request is out with the application until fo_conn_uv_respond */
} serve_state;

/* Where a connection is on its way out; it only moves forward. */
typedef enum {
    CONN_OPEN,      /* serving requests */
    CONN_FLUSHING,  /* closes once its queued answers are written: reads nothing more */
    CONN_LINGERING, /* answers written, sending side shut down: drains input, then closes */
    CONN_CLOSED,    /* its handles are closing: nothing more happens on it */
} conn_phase;

struct fo_conn_uv {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    fo_server_uv *server;
    fo_conn_uv *prev, *next;
    fo_http_parser parser;
    fo_request req;
    char *buf; /* received bytes not yet parsed (pipelined requests), or the server's slab */
    size_t len, cap;
    int in_slab; /* buf is the server's slab, for the length of one on_read */
    timer_kind timer_kind;
    serve_state serve;
    int fresh; /* counted in server->fresh: no whole request received yet */
    conn_phase phase;
    int handles_open; /* tcp and timer: freed when both are closed */
    int in_process;   /* inside process(): an answer must not re-enter it */
    int reading;
    int eof;    /* the client will send no more */
    int writes; /* writes queued and not completed */
    /* While a request is out: told if the client leaves (fo_conn_uv_watch_gone). */
    void (*gone_cb)(void *arg);
    void *gone_arg;
};

/* An answer the socket did not take at once: the rest of its head (a copy) and its body (the
 * response's own buffer, freed once written). */
typedef struct write_req {
    uv_write_t req;
    char *body;
    char head[FO_HTTP_HEAD_MAX];
} write_req;

static void process(fo_conn_uv *c);
static void conn_close(fo_conn_uv *c);
static void start_reading(fo_conn_uv *c);

static void maybe_drained(fo_server_uv *s) {
    if (s->stopping && s->n_conns == 0 && s->handles_closing == 0 && s->on_drained) {
        free(s->slab); /* nothing reads any more */
        s->slab = NULL;
        void (*cb)(fo_server_uv *) = s->on_drained;
        s->on_drained = NULL;
        cb(s);
    }
}

static void resume_accepting(fo_server_uv *s);

/* At max_conns connections, or max_busy taken on: accepting waits. */
static int at_cap(const fo_server_uv *s) {
    return (s->opts.max_conns > 0 && s->n_conns >= s->opts.max_conns) ||
           (s->opts.max_busy > 0 && s->pending + s->fresh >= s->opts.max_busy);
}

/* The connection has had its first request, or is going: it no longer counts as fresh. */
static void not_fresh(fo_conn_uv *c) {
    if (!c->fresh) return;
    c->fresh = 0;
    c->server->fresh--;
    assert(c->server->fresh >= 0);
}

static void conn_free(fo_conn_uv *c) {
    fo_server_uv *s = c->server;
    assert(!c->in_slab);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->n_conns--;
    assert(s->n_conns >= 0);
    not_fresh(c);
    fo_request_free(&c->req);
    free(c->buf);
    free(c);
    if (s->accept_state == FO_ACCEPT_FULL) resume_accepting(s);
    maybe_drained(s);
}

static void on_handle_closed(uv_handle_t *h) {
    fo_conn_uv *c = h->data;
    if (--c->handles_open == 0 && c->serve != SERVE_WAITING) conn_free(c);
}

static void conn_close(fo_conn_uv *c) {
    if (c->phase == CONN_CLOSED) return;
    c->phase = CONN_CLOSED;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void write_answer(fo_conn_uv *c, fo_response *resp);

/* The server's own last answer on a connection (408, or 400 and its kind for bytes that are
 * not HTTP): no request is out for it, so it does not go through fo_conn_uv_respond. */
static void answer_and_close(fo_conn_uv *c, int status, const char *text) {
    assert(c->serve != SERVE_WAITING);
    fo_response r;
    if (fo_response_text(&r, status, text, 0) != 0) {
        conn_close(c);
        return;
    }
    write_answer(c, &r);
}

static void on_timer(uv_timer_t *t) {
    fo_conn_uv *c = t->data;
    c->timer_kind = TIMER_NONE;
    /* A client too slow to send its request: say so, then close. Bare line breaks are no
     * request begun: nobody to answer. */
    if (c->phase == CONN_OPEN && c->serve == SERVE_READING &&
        fo_http_parser_mid_request(&c->parser)) {
        answer_and_close(c, 408, "request timeout\n");
        return;
    }
    conn_close(c);
}

static void arm_timer(fo_conn_uv *c, timer_kind kind, uint64_t ms) {
    c->timer_kind = kind;
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void stop_timer(fo_conn_uv *c) {
    uv_timer_stop(&c->timer);
    c->timer_kind = TIMER_NONE;
}

static void stop_reading(fo_conn_uv *c) {
    if (!c->reading) return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

/* The connection closes once its queued answers are written: it reads nothing more, and a
 * client that stops taking them is dropped after the idle timeout. While a request is out with
 * the application the timer waits: the answer arms it (write_answer comes back here). */
static void close_after_writes(fo_conn_uv *c) {
    assert(c->phase == CONN_OPEN || c->phase == CONN_FLUSHING);
    c->phase = CONN_FLUSHING;
    stop_reading(c);
    if (c->serve != SERVE_WAITING) arm_timer(c, TIMER_IDLE, c->server->opts.keepalive_timeout_ms);
}

/* Closes now when nothing is queued, else once the queued answers are written. */
static void close_when_flushed(fo_conn_uv *c) {
    if (!c->writes && c->serve != SERVE_WAITING)
        conn_close(c);
    else
        close_after_writes(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    fo_conn_uv *c = h->data;
    fo_server_uv *s = c->server;
    (void)suggested;
    assert(!c->in_slab);
    if (c->len == 0 && s->slab) {
        *buf = uv_buf_init(s->slab, SLAB_BYTES);
        return;
    }
    if (c->cap - c->len < READ_CHUNK) {
        size_t cap = c->len + READ_CHUNK;
        char *p = realloc(c->buf, cap);
        if (!p) {
            *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
            return;
        }
        c->buf = p;
        c->cap = cap;
    }
    *buf = uv_buf_init(c->buf + c->len, (unsigned int)(c->cap - c->len));
}

/* After a read into the slab: what the parser left moves to a buffer of the connection's own,
 * of its size; the slab is free for the next read. */
static void leave_slab(fo_conn_uv *c) {
    if (!c->in_slab) return;
    c->in_slab = 0;
    char *slab = c->buf;
    c->buf = NULL;
    c->cap = 0;
    if (c->len == 0 || c->phase == CONN_CLOSED) {
        c->len = 0;
        return;
    }
    char *own = malloc(c->len);
    if (!own) {
        c->len = 0;
        conn_close(c);
        return;
    }
    memcpy(own, slab, c->len);
    c->buf = own;
    c->cap = c->len;
}

/* The client closed or reset while its request was out: the connection closes, and the
 * application, if it asked (fo_conn_uv_watch_gone), hears of it and stops working on it. Its
 * answer, when it comes, is dropped. */
static void client_gone(fo_conn_uv *c) {
    void (*cb)(void *) = c->gone_cb;
    void *arg = c->gone_arg;
    c->gone_cb = NULL;
    c->server->gone++;
    conn_close(c);
    cb(arg);
}

static void on_read_error(fo_conn_uv *c, ssize_t nread) {
    stop_reading(c);
    if (c->serve == SERVE_WAITING && c->gone_cb) {
        client_gone(c);
        return;
    }
    if (nread == UV_EOF) {
        /* A half-close: answer what is complete, then close. */
        c->eof = 1;
        process(c);
        if (c->phase == CONN_OPEN) close_when_flushed(c);
    } else if (c->serve != SERVE_WAITING) {
        conn_close(c); /* reset: nothing to answer */
    } else {
        c->eof = 1;
        close_after_writes(c);
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    fo_conn_uv *c = stream->data;
    if (nread == 0) return;
    if (nread > 0 && buf->base == c->server->slab) {
        assert(c->len == 0);
        free(c->buf); /* empty: the slab takes its place for this read */
        c->buf = c->server->slab;
        c->cap = SLAB_BYTES;
        c->in_slab = 1;
    } else if (nread > 0) {
        assert(buf->base == c->buf + c->len);
    }
    if (c->phase == CONN_LINGERING) {
        /* Draining after our last answer: discard everything until EOF or the linger timer. */
        c->len = 0;
        leave_slab(c);
        if (nread < 0) conn_close(c);
        return;
    }
    if (nread < 0) {
        on_read_error(c, nread);
        return;
    }
    c->len += (size_t)nread;
    if (c->serve == SERVE_IDLE) {
        /* The first byte after idle starts the header deadline, whatever it is. */
        c->serve = SERVE_READING;
        arm_timer(c, TIMER_HEADER, c->server->opts.header_timeout_ms);
    }
    process(c);
    leave_slab(c);
}

/* Hands out every complete request in the buffer, one at a time, then decides what the
 * connection waits for next. */
static void process(fo_conn_uv *c) {
    if (c->in_process) return;
    c->in_process = 1;
    while (c->serve != SERVE_WAITING && c->phase == CONN_OPEN && c->len > 0 &&
           c->writes < MAX_QUEUED_WRITES) {
        size_t used = 0;
        int rc = fo_http_parse(&c->parser, c->buf, c->len, &c->req, &used);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        if (rc == FO_HTTP_NEED_MORE) break;
        not_fresh(c);
        if (rc == FO_HTTP_ERROR) {
            answer_and_close(c, c->parser.error_status, c->parser.error_text);
            break;
        }
        if (c->eof || c->server->stopping) c->req.keep_alive = 0;
        stop_timer(c);
        c->serve = SERVE_WAITING;
        c->server->pending++;
        c->server->on_request(c, &c->req, c->server->data);
    }
    c->in_process = 0;
    if (c->phase != CONN_OPEN) return;
    if (c->serve == SERVE_WAITING) {
        /* Reading goes on only to hear of a client that leaves, and not without bound. */
        if (c->gone_cb && !c->eof && c->len < GONE_READ_MAX)
            start_reading(c);
        else
            stop_reading(c);
        return;
    }
    if (c->eof || (c->server->stopping && !fo_http_parser_mid_request(&c->parser))) {
        close_when_flushed(c);
        return;
    }
    if (c->writes >= MAX_QUEUED_WRITES) {
        /* The client does not read its answers: read nothing more until on_write sees them
         * go out, and drop the connection if they do not go out within the idle timeout. */
        stop_reading(c);
        if (c->timer_kind != TIMER_IDLE)
            arm_timer(c, TIMER_IDLE, c->server->opts.keepalive_timeout_ms);
        return;
    }
    if (c->serve == SERVE_READING && c->timer_kind != TIMER_HEADER)
        arm_timer(c, TIMER_HEADER, c->server->opts.header_timeout_ms);
    else if (c->serve == SERVE_IDLE && c->timer_kind != TIMER_IDLE)
        arm_timer(c, TIMER_IDLE, c->server->opts.keepalive_timeout_ms);
    start_reading(c);
}

static void start_reading(fo_conn_uv *c) {
    if (c->reading || c->phase == CONN_CLOSED) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
    else
        conn_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    fo_conn_uv *c = req->data;
    if (c->phase == CONN_CLOSED) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    /* Drain briefly, so the client reads our answer rather than a reset. */
    assert(c->phase == CONN_FLUSHING);
    c->phase = CONN_LINGERING;
    c->len = 0;
    arm_timer(c, TIMER_LINGER, FO_LINGER_MS);
    if (c->eof)
        conn_close(c);
    else
        start_reading(c);
}

/* The queued answers are written: shut the sending side down, then linger. */
static void finish_connection(fo_conn_uv *c) {
    assert(c->phase != CONN_OPEN);
    /* A request still out with the application is answered first: its write comes back here. */
    if (c->phase != CONN_FLUSHING || c->serve == SERVE_WAITING) return;
    stop_reading(c);
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) conn_close(c);
}

static void on_write(uv_write_t *req, int status) {
    write_req *w = (write_req *)req;
    fo_conn_uv *c = req->data;
    free(w->body);
    free(w);
    c->writes--;
    if (c->phase == CONN_CLOSED) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->phase == CONN_FLUSHING && c->writes == 0)
        finish_connection(c);
    else if (c->phase == CONN_OPEN && c->serve != SERVE_WAITING &&
             c->writes == MAX_QUEUED_WRITES - 1)
        process(c);
}

/* Drops the first n bytes of the head-and-body pair bufs[0..1] that a write has taken. */
static void skip_written(uv_buf_t *bufs, size_t n) {
    for (int i = 0; i < 2; i++) {
        size_t k = n < bufs[i].len ? n : bufs[i].len;
        bufs[i].base += k;
        bufs[i].len -= k;
        n -= k;
    }
}

/* Writes an answer, its head (head_len bytes of head) then its body (which it owns and frees),
 * after those already queued, with one gathering write and no copy of the body. 0 when it went
 * out or is queued (c->writes counts it), -1 when the connection is closing. */
static int send_answer(fo_conn_uv *c, const char *head, size_t head_len, char *body,
                       size_t body_len) {
    uv_buf_t b[2] = {uv_buf_init((char *)head, (unsigned int)head_len),
                     uv_buf_init(body, (unsigned int)body_len)};
    if (c->writes == 0) {
        /* Nothing is queued before it: offer it to the socket at once. An answer that goes
         * out whole needs no write request and no callback, and spares libuv's completion,
         * which re-registers the descriptor with epoll: a system call per answer (seen as 4%
         * of fanout-api's CPU under wrk). */
        int n = uv_try_write((uv_stream_t *)&c->tcp, b, 2);
        if (n == (int)(head_len + body_len)) {
            free(body);
            return 0;
        }
        if (n < 0 && n != UV_EAGAIN) {
            free(body);
            conn_close(c);
            return -1;
        }
        if (n > 0) skip_written(b, (size_t)n);
    }
    write_req *w = malloc(sizeof *w);
    if (!w) {
        free(body);
        conn_close(c);
        return -1;
    }
    /* What is left of the head moves into the request; the body stays where it is. */
    memcpy(w->head, b[0].base, b[0].len);
    b[0].base = w->head;
    w->body = body;
    w->req.data = c;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, b, 2, on_write) != 0) {
        free(body);
        free(w);
        conn_close(c);
        return -1;
    }
    c->writes++;
    return 0;
}

/* Sends resp (and frees it) on a connection that has no request out, then carries on: closes
 * after it when it does not keep the connection alive, else serves what is buffered. A
 * connection already flushing (the client half-closed, or the server is stopping) still gets
 * the answer to the request it had out, as its last. */
static void write_answer(fo_conn_uv *c, fo_response *resp) {
    assert((c->phase == CONN_OPEN || c->phase == CONN_FLUSHING) && c->serve != SERVE_WAITING);
    if (c->eof || c->server->stopping || c->phase == CONN_FLUSHING) resp->keep_alive = 0;
    int keep_alive = resp->keep_alive;
    char head[FO_HTTP_HEAD_MAX];
    int head_len = fo_response_head(resp, head, sizeof head);
    char *body = resp->body;
    size_t body_len = resp->body_len;
    resp->body = NULL; /* send_answer owns it now */
    fo_response_free(resp);
    if (head_len < 0) {
        free(body);
        conn_close(c);
        return;
    }
    if (send_answer(c, head, (size_t)head_len, body, body_len) != 0) return;
    if (!keep_alive) close_after_writes(c);
    if (c->phase == CONN_FLUSHING) {
        if (c->writes == 0) finish_connection(c); /* else on_write does, after the last */
        return;
    }
    process(c);
}

void fo_conn_uv_respond(fo_conn_uv *c, fo_response *resp) {
    fo_server_uv *s = c->server;
    assert(c->serve == SERVE_WAITING); /* exactly one answer per request handed out */
    assert(s->pending > 0);
    /* Bytes that came while the request was out are the next request's beginning. */
    c->serve = c->len > 0 ? SERVE_READING : SERVE_IDLE;
    c->gone_cb = NULL;
    s->pending--;
    if (s->accept_state == FO_ACCEPT_FULL) resume_accepting(s);
    if (c->phase == CONN_CLOSED) {
        fo_response_free(resp);
        if (c->handles_open == 0) conn_free(c);
        return;
    }
    write_answer(c, resp);
}

void fo_conn_uv_watch_gone(fo_conn_uv *c, void (*cb)(void *arg), void *arg) {
    assert(c->serve == SERVE_WAITING && cb);
    c->gone_cb = cb;
    c->gone_arg = arg;
    /* Inside process() (the request callback), process decides about reading once it returns;
     * from later on, start reading now. */
    if (!c->in_process && c->phase == CONN_OPEN && !c->eof && c->len < GONE_READ_MAX)
        start_reading(c);
}

/* Accepting: libuv watches a listening socket through a handle, and offers no way to stop
 * watching it but closing the handle. So each socket is kept open by the server and accepting
 * runs on a handle over a duplicate of it: pausing closes the handles (the socket, its port and
 * its backlog stay), resuming opens new ones. */

static void on_connection(uv_stream_t *listener, int status);

static void on_handle_freed(uv_handle_t *h) {
    fo_server_uv *s = h->data;
    if (h->type == UV_TCP) free(h);
    s->handles_closing--;
    maybe_drained(s);
}

static void close_listeners(fo_server_uv *s) {
    for (int i = 0; i < s->n_listen; i++) {
        if (!s->listeners[i]) continue;
        s->handles_closing++;
        uv_close((uv_handle_t *)s->listeners[i], on_handle_freed);
        s->listeners[i] = NULL;
    }
}

/* Starts accepting on listening socket i. 0 or a negative libuv error. */
static int open_listener(fo_server_uv *s, int i) {
    assert(s->listeners[i] == NULL);
    uv_tcp_t *h = malloc(sizeof *h);
    if (!h) return UV_ENOMEM;
    int fd = dup(s->listen_fds[i]);
    if (fd < 0) {
        int rc = uv_translate_sys_error(errno);
        free(h);
        return rc;
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    int rc = uv_tcp_init(s->loop, h);
    if (rc < 0) {
        close(fd);
        free(h);
        return rc;
    }
    h->data = s;
    rc = uv_tcp_open(h, (uv_os_sock_t)fd);
    if (rc < 0)
        close(fd); /* not adopted by the handle */
    else
        rc = uv_listen((uv_stream_t *)h, s->opts.backlog, on_connection);
    if (rc < 0) {
        s->handles_closing++;
        uv_close((uv_handle_t *)h, on_handle_freed); /* closes fd once adopted */
        return rc;
    }
    s->listeners[i] = h;
    return 0;
}

/* Stops accepting until resume_accepting: at the cap, or for ACCEPT_BACKOFF_MS. */
static void pause_accepting(fo_server_uv *s, fo_accept_state why) {
    assert(why == FO_ACCEPT_FULL || why == FO_ACCEPT_BACKOFF);
    if (s->accept_state != FO_ACCEPTING) return;
    s->accept_state = why;
    s->pauses++;
    close_listeners(s);
}

static void on_backoff_over(uv_timer_t *t) {
    resume_accepting(t->data);
}

static void resume_accepting(fo_server_uv *s) {
    if (s->accept_state == FO_ACCEPTING || s->accept_state == FO_ACCEPT_STOPPED) return;
    if (at_cap(s)) {
        s->accept_state = FO_ACCEPT_FULL;
        return;
    }
    s->accept_state = FO_ACCEPTING;
    for (int i = 0; i < s->n_listen; i++) {
        if (open_listener(s, i) == 0) continue;
        /* Out of descriptors or memory even for a handle: try again after the backoff. */
        s->accept_errors++;
        close_listeners(s);
        s->accept_state = FO_ACCEPT_BACKOFF;
        uv_timer_start(&s->backoff, on_backoff_over, ACCEPT_BACKOFF_MS, 0);
        return;
    }
}

static void on_connection(uv_stream_t *listener, int status) {
    fo_server_uv *s = listener->data;
    if (status < 0) {
        /* EMFILE and friends: libuv has shed the connection. Retrying at once would find the
         * same shortage, so accepting pauses and resumes on a timer. */
        s->accept_errors++;
        if (status == UV_EMFILE || status == UV_ENFILE || status == UV_ENOBUFS ||
            status == UV_ENOMEM) {
            pause_accepting(s, FO_ACCEPT_BACKOFF);
            uv_timer_start(&s->backoff, on_backoff_over, ACCEPT_BACKOFF_MS, 0);
        }
        return;
    }
    assert(s->accept_state == FO_ACCEPTING);
    fo_conn_uv *c = calloc(1, sizeof *c);
    if (!c) {
        /* Leave the connection in libuv's hands: it stops watching the listener until an
         * accept, so pause (which closes the handle, and the connection with it) and retry. */
        s->accept_errors++;
        pause_accepting(s, FO_ACCEPT_BACKOFF);
        uv_timer_start(&s->backoff, on_backoff_over, ACCEPT_BACKOFF_MS, 0);
        return;
    }
    c->server = s;
    /* Neither can fail on a live loop (libuv only zeroes fields); asserted, not ignored. */
    int rc = uv_tcp_init(s->loop, &c->tcp);
    assert(rc == 0);
    rc = uv_timer_init(s->loop, &c->timer);
    assert(rc == 0);
    (void)rc;
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    fo_http_parser_init(&c->parser);
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    if (++s->n_conns > s->peak_conns) s->peak_conns = s->n_conns;
    c->fresh = 1;
    s->fresh++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        s->accept_errors++;
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    /* A new connection's first request must arrive within the header timeout. */
    c->serve = SERVE_READING;
    arm_timer(c, TIMER_HEADER, s->opts.header_timeout_ms);
    start_reading(c);
    if (at_cap(s)) pause_accepting(s, FO_ACCEPT_FULL);
}

void fo_server_uv_init(fo_server_uv *s, uv_loop_t *loop, const fo_server_uv_opts *opts,
                       fo_request_cb on_request, void *data) {
    memset(s, 0, sizeof *s);
    s->loop = loop;
    if (opts) s->opts = *opts;
    if (!s->opts.header_timeout_ms) s->opts.header_timeout_ms = FO_HEADER_TIMEOUT_MS;
    if (!s->opts.keepalive_timeout_ms) s->opts.keepalive_timeout_ms = FO_KEEPALIVE_TIMEOUT_MS;
    if (!s->opts.backlog) s->opts.backlog = FO_BACKLOG;
    s->on_request = on_request;
    s->data = data;
    s->accept_state = FO_ACCEPTING;
    /* Without the slab (no memory for it) each connection reads into a buffer of its own. */
    s->slab = malloc(SLAB_BYTES);
    int rc = uv_timer_init(loop, &s->backoff);
    assert(rc == 0);
    (void)rc;
    s->backoff.data = s;
}

int fo_server_uv_listen_fd(fo_server_uv *s, int fd) {
    if (s->n_listen >= FO_SERVER_UV_MAX_LISTENERS) {
        close(fd);
        return UV_EINVAL;
    }
    int i = s->n_listen++;
    s->listen_fds[i] = fd;
    if (s->accept_state != FO_ACCEPTING) return 0; /* watched once accepting resumes */
    int rc = open_listener(s, i);
    if (rc < 0) {
        close(fd);
        s->n_listen--;
    }
    return rc;
}

int fo_server_uv_port(fo_server_uv *s) {
    if (s->n_listen == 0) return UV_EINVAL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(s->listen_fds[0], (struct sockaddr *)&ss, &len) != 0)
        return uv_translate_sys_error(errno);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void fo_server_uv_stop(fo_server_uv *s, void (*on_drained)(fo_server_uv *s)) {
    if (s->stopping) return;
    s->stopping = 1;
    s->on_drained = on_drained;
    s->accept_state = FO_ACCEPT_STOPPED;
    close_listeners(s);
    /* The sockets themselves close too: with no process accepting, new clients are refused at
     * once instead of waiting in a backlog nobody reads. */
    for (int i = 0; i < s->n_listen; i++)
        close(s->listen_fds[i]);
    s->n_listen = 0;
    s->handles_closing++;
    uv_close((uv_handle_t *)&s->backoff, on_handle_freed);
    for (fo_conn_uv *c = s->conns, *next; c; c = next) {
        next = c->next;
        /* A request being read or served is finished first (it is answered with
         * "Connection: close"); idle connections close now, or once their answers are out. */
        if (c->phase == CONN_CLOSED || c->serve == SERVE_WAITING ||
            fo_http_parser_mid_request(&c->parser))
            continue;
        if (c->writes && c->phase != CONN_LINGERING)
            close_after_writes(c);
        else
            conn_close(c);
    }
    maybe_drained(s);
}
