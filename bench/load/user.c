/* One user: a closed loop of requests on one HTTP/1.1 keep-alive connection (see worker.h).
 *
 * The timing of a request starts when it is issued: just before its bytes are written on a
 * connection that is already open, or just before the connect when one is needed (a first
 * request, or after the server answered "Connection: close" or dropped the idle connection), so
 * a connect counts in that request's response time, as in Locust. It ends when the parser has
 * seen the response's last byte. A response cut short never counts as a success.
 *
 * A request written on a reused connection that the server had just closed (it gets EOF or a
 * reset before any byte of answer) is resent once on a new connection, as HTTP clients do for a
 * stale keep-alive connection; its time keeps running across the reconnect.
 *
 * Handles are closed, never reinitialised while closing: what comes after a close waits for the
 * close callback, as after_close says. */
#include <string.h>
#include "worker.h"

enum after_close {
    AC_NONE = 0,    /* nothing: the user is stopping, or the connection was idle */
    AC_NEXT = 1,    /* the request is over: go on with the next one */
    AC_CONNECT = 2, /* the current request needs a new connection */
};

static void schedule_next(fo_user *u);
static void start_connect(fo_user *u);

static void on_closed(uv_handle_t *h) {
    fo_user *u = h->data;
    unsigned next = u->after_close;
    u->tcp_open = 0;
    u->after_close = AC_NONE;
    if (u->w->stopping) return;
    if (next == AC_NEXT)
        schedule_next(u);
    else if (next == AC_CONNECT)
        start_connect(u);
}

/* Closes the connection (if open) and does `next` once it is closed. */
static void close_conn(fo_user *u, enum after_close next) {
    u->connected = 0;
    if (u->tcp_open) {
        u->after_close = next;
        if (!uv_is_closing((uv_handle_t *)&u->tcp)) uv_close((uv_handle_t *)&u->tcp, on_closed);
        return;
    }
    if (next == AC_NEXT)
        schedule_next(u);
    else if (next == AC_CONNECT)
        start_connect(u);
}

static void fail(fo_user *u, fo_fail_kind kind) {
    u->in_request = 0;
    fo_worker_failure(u->w, kind, uv_hrtime());
    close_conn(u, AC_NEXT);
}

static void finish(fo_user *u) {
    uint64_t now = uv_hrtime();
    u->in_request = 0;
    if (u->status >= 400)
        fo_worker_failure(u->w, FO_FAIL_HTTP, now);
    else
        fo_worker_success(u->w, u->start_ns, now, u->body_bytes);
    if (u->keep_alive)
        schedule_next(u);
    else
        close_conn(u, AC_NEXT);
}

/* The connection broke during a request, before its response was complete. */
static void conn_lost(fo_user *u) {
    if (!u->got_bytes && u->reused && !u->retried) {
        u->retried = 1;
        close_conn(u, AC_CONNECT);
        return;
    }
    fail(u, FO_FAIL_CLOSED);
}

static void reset_response(fo_user *u) {
    llhttp_init(&u->parser, HTTP_RESPONSE, &u->w->settings);
    u->parser.data = u;
    u->status = 0;
    u->body_bytes = 0;
    u->got_bytes = 0;
    u->complete = 0;
    u->keep_alive = 0;
}

static void on_write(uv_write_t *req, int status) {
    fo_user *u = req->data;
    if (status < 0 && status != UV_ECANCELED && u->in_request) conn_lost(u);
}

static void send_request(fo_user *u) {
    fo_worker *w = u->w;
    uv_buf_t buf = uv_buf_init((char *)w->request, (unsigned)w->request_len);
    int n = uv_try_write((uv_stream_t *)&u->tcp, &buf, 1);
    if (n == (int)w->request_len) return;
    if (n < 0 && n != UV_EAGAIN) {
        conn_lost(u);
        return;
    }
    if (n < 0) n = 0;
    buf = uv_buf_init((char *)w->request + n, (unsigned)(w->request_len - (size_t)n));
    if (uv_write(&u->write_req, (uv_stream_t *)&u->tcp, &buf, 1, on_write) < 0) conn_lost(u);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    fo_user *u = h->data;
    (void)suggested;
    /* One buffer per worker: each read is parsed completely inside on_read. */
    *buf = uv_buf_init(u->w->rbuf, (unsigned)u->w->rbuf_len);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    fo_user *u = s->data;
    if (nread == 0) return;
    if (!u->in_request) {
        /* Bytes or EOF on an idle connection: the server closed it (or talks out of turn).
         * Either way it cannot carry the next request. */
        close_conn(u, AC_NONE);
        return;
    }
    if (nread > 0) {
        u->got_bytes = 1;
        llhttp_errno_t e = llhttp_execute(&u->parser, buf->base, (size_t)nread);
        if (e == HPE_OK) return;
        if (e == HPE_PAUSED && u->complete) {
            /* Bytes after the response were not asked for: do not reuse the connection. */
            if (llhttp_get_error_pos(&u->parser) < buf->base + nread) u->keep_alive = 0;
            finish(u);
            return;
        }
        fail(u, FO_FAIL_MALFORMED);
        return;
    }
    if (nread == UV_EOF && u->got_bytes) {
        /* A response without a length ends at EOF; any other is cut short. */
        llhttp_finish(&u->parser);
        if (u->complete) {
            u->keep_alive = 0;
            finish(u);
            return;
        }
    }
    conn_lost(u);
}

static void on_connect(uv_connect_t *req, int status) {
    fo_user *u = req->data;
    fo_worker *w = u->w;
    if (status == UV_ECANCELED || !u->in_request) return;
    if (status < 0) {
        fail(u, FO_FAIL_CONNECT);
        return;
    }
    u->connected = 1;
    if (u->connects++ > 0) w->stats.reconnects++;
    uv_tcp_nodelay(&u->tcp, 1);
    if (uv_read_start((uv_stream_t *)&u->tcp, on_alloc, on_read) < 0) {
        fail(u, FO_FAIL_CLOSED);
        return;
    }
    send_request(u);
}

static void start_connect(fo_user *u) {
    fo_worker *w = u->w;
    reset_response(u);
    u->reused = 0;
    if (uv_tcp_init(&w->loop, &u->tcp) < 0) {
        /* Cannot happen with a plain init (the socket is made by connect); stop the user
         * rather than spin. */
        fo_worker_failure(w, FO_FAIL_CONNECT, uv_hrtime());
        u->in_request = 0;
        u->running = 0;
        return;
    }
    u->tcp_open = 1;
    u->tcp.data = u;
    u->connect_req.data = u;
    if (uv_tcp_connect(&u->connect_req, &u->tcp, w->addr, on_connect) < 0) fail(u, FO_FAIL_CONNECT);
}

static void issue(fo_user *u) {
    u->in_request = 1;
    u->retried = 0;
    u->start_ns = uv_hrtime();
    if (u->connected) {
        reset_response(u);
        u->reused = 1;
        send_request(u);
    } else if (u->tcp_open) {
        /* The old connection is still closing: connect once it is closed. */
        u->after_close = AC_CONNECT;
    } else {
        start_connect(u);
    }
}

static void on_wait(uv_timer_t *t) {
    fo_user *u = t->data;
    u->waiting = 0;
    if (u->w->stopping) return;
    if (!u->active) {
        u->running = 0;
        close_conn(u, AC_NONE);
        return;
    }
    issue(u);
}

static void schedule_next(fo_user *u) {
    fo_worker *w = u->w;
    if (w->stopping) return;
    if (!u->active) {
        u->running = 0;
        close_conn(u, AC_NONE);
        return;
    }
    uint64_t wait = u->wait_init ? fo_worker_wait_ns(w) : 0;
    if (wait) {
        u->waiting = 1;
        uv_timer_start(&u->wait_timer, on_wait, (wait + 999999) / 1000000, 0);
        return;
    }
    issue(u);
}

void fo_user_init(fo_user *u, fo_worker *w) {
    memset(u, 0, sizeof *u);
    u->w = w;
    u->write_req.data = u;
    u->connect_req.data = u;
    if (w->opts->wait_max_ns > 0 && uv_timer_init(&w->loop, &u->wait_timer) == 0) {
        u->wait_timer.data = u;
        u->wait_init = 1;
    }
}

void fo_user_activate(fo_user *u) {
    u->active = 1;
    if (u->running) return;
    u->running = 1;
    issue(u);
}

void fo_user_deactivate(fo_user *u) {
    u->active = 0;
    if (u->waiting) {
        uv_timer_stop(&u->wait_timer);
        u->waiting = 0;
        u->running = 0;
        close_conn(u, AC_NONE);
    }
    /* A request under way finishes first; schedule_next then stops the user. */
}

void fo_user_abort(fo_user *u) {
    if (u->in_request) u->w->stats.dropped++;
    u->in_request = 0;
    u->active = 0;
    u->running = 0;
    u->connected = 0;
    u->after_close = AC_NONE;
    if (u->tcp_open && !uv_is_closing((uv_handle_t *)&u->tcp))
        uv_close((uv_handle_t *)&u->tcp, on_closed);
    if (u->wait_init) {
        u->wait_init = 0;
        uv_close((uv_handle_t *)&u->wait_timer, NULL);
    }
}

void fo_user_check_timeout(fo_user *u, uint64_t now) {
    if (u->in_request && now - u->start_ns >= u->w->opts->timeout_ns) fail(u, FO_FAIL_TIMEOUT);
}

/* The parser's callbacks, shared by every user of a worker through w->settings. */
static int on_headers_complete(llhttp_t *p) {
    fo_user *u = p->data;
    u->status = p->status_code;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
    fo_user *u = p->data;
    (void)at;
    u->body_bytes += len;
    return 0;
}

static int on_message_complete(llhttp_t *p) {
    fo_user *u = p->data;
    u->complete = 1;
    u->keep_alive = llhttp_should_keep_alive(p) != 0;
    /* Stop here: whatever follows is not an answer to anything this user asked. */
    return HPE_PAUSED;
}

void fo_user_settings(llhttp_settings_t *s) {
    llhttp_settings_init(s);
    s->on_headers_complete = on_headers_complete;
    s->on_body = on_body;
    s->on_message_complete = on_message_complete;
}
