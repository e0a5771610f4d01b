/* An HTTP/1.1 server on a libuv loop.
 *
 * A connection is in one of three states: reading a request (the header timer runs), waiting
 * for the answer to a request it handed out (it reads nothing more, so a client cannot pile up
 * work), or idle between keep-alive requests (the idle timer runs). Answers are written in the
 * order the requests came. A connection that must close after an answer shuts its sending side
 * down and drains what the client still sends for a moment before closing ("lingering close"),
 * so the client reads the answer instead of a reset: its way out is the conn_phase below, open,
 * flushing, lingering, closed, in that order only.
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


#define READ_CHUNK 16384
#define LINGER_MS 2000
/* Answers queued on a connection and not yet taken by the kernel. A client that pipelines
 * requests but does not read the answers stops being read at this many, instead of making us
 * queue answers without limit. */
#define MAX_QUEUED_WRITES 4
/* After an accept that failed for want of descriptors or memory, the server stops accepting
 * for this long instead of retrying at once (libuv would spin on the listener otherwise). */
#define ACCEPT_BACKOFF_MS 250

typedef enum { TIMER_NONE, TIMER_HEADER, TIMER_IDLE, TIMER_LINGER } timer_kind;

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
    char *buf; /* received bytes not yet parsed (pipelined requests) */
    size_t len, cap;
    timer_kind timer_kind;
    int handles_open; /* tcp and timer: freed when both are closed */
    int waiting;      /* a request is out with the application */
    int in_process;   /* inside process(): respond must not re-enter it */
    int reading;
    int eof;   /* the client will send no more */
    int fresh; /* counted in server->fresh: no whole request received yet */
    conn_phase phase;
    int writes; /* writes queued and not completed */
};

typedef struct write_req {
    uv_write_t req;
    char *data;
} write_req;

static void process(fo_conn_uv *c);
static void conn_close(fo_conn_uv *c);
static void start_reading(fo_conn_uv *c);

static void maybe_drained(fo_server_uv *s) {
    if (s->stopping && s->n_conns == 0 && s->handles_closing == 0 && s->on_drained) {
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
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->n_conns--;
    assert(s->n_conns >= 0);
    not_fresh(c);
    free(c->buf);
    free(c);
    if (s->accept_state == FO_ACCEPT_FULL) resume_accepting(s);
    maybe_drained(s);
}

static void on_handle_closed(uv_handle_t *h) {
    fo_conn_uv *c = h->data;
    if (--c->handles_open == 0 && !c->waiting) conn_free(c);
}

static void conn_close(fo_conn_uv *c) {
    if (c->phase == CONN_CLOSED) return;
    c->phase = CONN_CLOSED;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_timer(uv_timer_t *t) {
    fo_conn_uv *c = t->data;
    if (c->timer_kind == TIMER_HEADER && fo_http_parser_mid_request(&c->parser) && !c->waiting) {
        /* A client too slow to send its request: say so, then close. */
        fo_response r;
        if (fo_response_text(&r, 408, "request timeout\n", 0) == 0) {
            c->waiting = 1; /* fo_conn_uv_respond expects an outstanding request */
            c->server->pending++;
            fo_conn_uv_respond(c, &r);
            return;
        }
    }
    conn_close(c);
}

static void arm_timer(fo_conn_uv *c, timer_kind kind, uint64_t ms) {
    c->timer_kind = kind;
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void stop_reading(fo_conn_uv *c) {
    if (!c->reading) return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

/* The connection closes once its queued answers are written: it reads nothing more, and a
 * client that stops taking them is dropped after the idle timeout. While a request is out with
 * the application the timer waits: the answer arms it (fo_conn_uv_respond comes back here). */
static void close_after_writes(fo_conn_uv *c) {
    assert(c->phase == CONN_OPEN || c->phase == CONN_FLUSHING);
    c->phase = CONN_FLUSHING;
    stop_reading(c);
    if (!c->waiting) arm_timer(c, TIMER_IDLE, c->server->opts.keepalive_timeout_ms);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    fo_conn_uv *c = h->data;
    (void)suggested;
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

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    fo_conn_uv *c = stream->data;
    (void)buf;
    if (nread == 0) return;
    if (c->phase == CONN_LINGERING) {
        /* Draining after our last answer: discard everything until EOF or the linger timer. */
        if (nread < 0)
            conn_close(c);
        else
            c->len = 0;
        return;
    }
    if (nread < 0) {
        stop_reading(c);
        if (nread == UV_EOF) {
            /* A half-close: answer what is complete, then close. */
            c->eof = 1;
            process(c);
            if (!c->waiting && !c->writes)
                conn_close(c);
            else
                close_after_writes(c);
        } else if (!c->waiting) {
            conn_close(c); /* reset: nothing to answer */
        } else {
            c->eof = 1;
            close_after_writes(c);
        }
        return;
    }
    c->len += (size_t)nread;
    if (c->timer_kind != TIMER_HEADER)
        arm_timer(c, TIMER_HEADER, c->server->opts.header_timeout_ms);
    process(c);
}

/* Hands out every complete request in the buffer, one at a time. */
static void process(fo_conn_uv *c) {
    if (c->in_process) return;
    c->in_process = 1;
    while (!c->waiting && c->phase == CONN_OPEN && c->len > 0 &&
           c->writes < MAX_QUEUED_WRITES) {
        size_t used = 0;
        int rc = fo_http_parse(&c->parser, c->buf, c->len, &c->req, &used);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        if (rc == FO_HTTP_NEED_MORE) break;
        c->waiting = 1;
        c->server->pending++;
        not_fresh(c);
        if (rc == FO_HTTP_ERROR) {
            fo_response r;
            if (fo_response_text(&r, c->parser.error_status, c->parser.error_text, 0) != 0) {
                c->waiting = 0;
                c->server->pending--;
                conn_close(c);
                break;
            }
            fo_conn_uv_respond(c, &r);
            break;
        }
        if (c->eof || c->server->stopping) c->req.keep_alive = 0;
        uv_timer_stop(&c->timer);
        c->timer_kind = TIMER_NONE;
        c->server->on_request(c, &c->req, c->server->data);
    }
    c->in_process = 0;
    if (c->phase != CONN_OPEN) return;
    if (c->waiting) {
        stop_reading(c);
        return;
    }
    if (c->eof) {
        if (!c->writes)
            conn_close(c);
        else
            close_after_writes(c);
        return;
    }
    if (c->server->stopping && !fo_http_parser_mid_request(&c->parser)) {
        if (!c->writes)
            conn_close(c);
        else
            close_after_writes(c);
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
    if (fo_http_parser_mid_request(&c->parser) || c->len > 0) {
        if (c->timer_kind != TIMER_HEADER)
            arm_timer(c, TIMER_HEADER, c->server->opts.header_timeout_ms);
    } else if (c->timer_kind != TIMER_IDLE) {
        arm_timer(c, TIMER_IDLE, c->server->opts.keepalive_timeout_ms);
    }
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
    arm_timer(c, TIMER_LINGER, LINGER_MS);
    if (c->eof)
        conn_close(c);
    else
        start_reading(c);
}

/* The queued answers are written: shut the sending side down, then linger. */
static void finish_connection(fo_conn_uv *c) {
    assert(c->phase != CONN_OPEN);
    /* A request still out with the application is answered first: its write comes back here. */
    if (c->phase != CONN_FLUSHING || c->waiting) return;
    stop_reading(c);
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) conn_close(c);
}

static void on_write(uv_write_t *req, int status) {
    write_req *w = (write_req *)req;
    fo_conn_uv *c = req->data;
    free(w->data);
    free(w);
    c->writes--;
    if (c->phase == CONN_CLOSED) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->phase == CONN_FLUSHING && c->writes == 0)
        finish_connection(c);
    else if (c->phase == CONN_OPEN && !c->waiting && c->writes == MAX_QUEUED_WRITES - 1)
        process(c);
}

/* Writes an answer's bytes (data, which it owns and frees) after those already queued. 0 when
 * they went out or are queued (c->writes counts them), -1 when the connection is closing. */
static int send_bytes(fo_conn_uv *c, char *data, size_t len) {
    uv_buf_t b = uv_buf_init(data, (unsigned int)len);
    if (c->writes == 0) {
        /* Nothing is queued before it: offer it to the socket at once. An answer that goes
         * out whole needs no write request and no callback, and spares libuv's completion,
         * which re-registers the descriptor with epoll: a system call per answer (seen as 4%
         * of fanout-api's CPU under wrk). */
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n == (int)len) {
            free(data);
            return 0;
        }
        if (n < 0 && n != UV_EAGAIN) {
            free(data);
            conn_close(c);
            return -1;
        }
        if (n > 0) b = uv_buf_init(data + n, (unsigned int)(len - (size_t)n));
    }
    write_req *w = malloc(sizeof *w);
    if (!w) {
        free(data);
        conn_close(c);
        return -1;
    }
    w->data = data;
    w->req.data = c;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        free(data);
        free(w);
        conn_close(c);
        return -1;
    }
    c->writes++;
    return 0;
}

void fo_conn_uv_respond(fo_conn_uv *c, fo_response *resp) {
    fo_server_uv *s = c->server;
    c->waiting = 0;
    s->pending--;
    if (s->accept_state == FO_ACCEPT_FULL) resume_accepting(s);
    if (c->phase == CONN_CLOSED) {
        fo_response_free(resp);
        if (c->handles_open == 0) conn_free(c);
        return;
    }
    if (c->eof || s->stopping) resp->keep_alive = 0;
    size_t len = 0;
    char *data = fo_response_format(resp, &len);
    fo_response_free(resp);
    if (!data) {
        conn_close(c);
        return;
    }
    if (send_bytes(c, data, len) != 0) return;
    if (!resp->keep_alive) close_after_writes(c);
    if (c->phase == CONN_FLUSHING) {
        if (c->writes == 0) finish_connection(c); /* else on_write does, after the last */
        return;
    }
    process(c);
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
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
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
    arm_timer(c, TIMER_HEADER, s->opts.header_timeout_ms);
    start_reading(c);
    if (at_cap(s)) pause_accepting(s, FO_ACCEPT_FULL);
}

void fo_server_uv_init(fo_server_uv *s, uv_loop_t *loop, const fo_server_uv_opts *opts,
                       fo_request_cb on_request, void *data) {
    memset(s, 0, sizeof *s);
    s->loop = loop;
    if (opts) s->opts = *opts;
    if (!s->opts.header_timeout_ms) s->opts.header_timeout_ms = 10000;
    if (!s->opts.keepalive_timeout_ms) s->opts.keepalive_timeout_ms = 5000;
    if (!s->opts.backlog) s->opts.backlog = 1024;
    s->on_request = on_request;
    s->data = data;
    s->accept_state = FO_ACCEPTING;
    uv_timer_init(loop, &s->backoff);
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
        if (c->phase == CONN_CLOSED || c->waiting || fo_http_parser_mid_request(&c->parser))
            continue;
        if (c->writes && c->phase != CONN_LINGERING)
            close_after_writes(c);
        else
            conn_close(c);
    }
    maybe_drained(s);
}
