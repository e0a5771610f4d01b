/* A client connection (see conn.h). */
#include "conn.h"

#include <assert.h>
#include <netinet/in.h>
#include <string.h>

enum after_close {
    AC_NONE = 0,    /* nothing: the run is over, or the connection was idle */
    AC_DONE = 1,    /* the request is over: tell the owner */
    AC_CONNECT = 2, /* the current request needs a new connection */
    AC_OPEN = 3,    /* an open (no request) is waiting for the old connection to close */
};

static void request_connect(fo_conn *c);
static void open_connect(fo_conn *c);

static void tell_done(fo_conn *c) {
    if (!c->cl->stopping) c->done(c);
}

static void on_closed(uv_handle_t *h) {
    fo_conn *c = h->data;
    unsigned next = c->after_close;
    c->tcp_open = 0;
    c->after_close = AC_NONE;
    if (c->cl->stopping) return;
    if (next == AC_DONE)
        tell_done(c);
    else if (next == AC_CONNECT)
        request_connect(c);
    else if (next == AC_OPEN)
        open_connect(c);
}

/* Closes the connection (if open) and does `next` once it is closed. */
static void close_conn(fo_conn *c, enum after_close next) {
    c->connected = 0;
    if (c->tcp_open) {
        c->after_close = next;
        if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    if (next == AC_DONE)
        tell_done(c);
    else if (next == AC_CONNECT)
        request_connect(c);
}

/* An open without a request is over, unconnected: close, then tell the owner why. */
static void open_failed(fo_conn *c, fo_fail_kind kind) {
    c->opening = 0;
    c->open_error = kind;
    close_conn(c, AC_DONE);
}

static void fail(fo_conn *c, fo_fail_kind kind) {
    c->in_request = 0;
    fo_recorder_failure(c->cl->rec, kind, uv_hrtime());
    close_conn(c, AC_DONE);
}

static void finish(fo_conn *c) {
    uint64_t now = uv_hrtime();
    c->in_request = 0;
    if (c->status >= 400)
        fo_recorder_failure(c->cl->rec, FO_FAIL_HTTP, now);
    else
        fo_recorder_success(c->cl->rec, now, c->intended_ns, c->start_ns, c->body_bytes);
    if (c->keep_alive)
        tell_done(c);
    else
        close_conn(c, AC_DONE);
}

/* The connection broke during a request, before its response was complete. */
static void conn_lost(fo_conn *c) {
    if (!c->got_bytes && c->reused && !c->retried) {
        c->retried = 1;
        close_conn(c, AC_CONNECT);
        return;
    }
    fail(c, FO_FAIL_CLOSED);
}

static void reset_response(fo_conn *c) {
    llhttp_init(&c->parser, HTTP_RESPONSE, &c->cl->settings);
    c->parser.data = c;
    c->status = 0;
    c->body_bytes = 0;
    c->got_bytes = 0;
    c->complete = 0;
    c->keep_alive = 0;
}

static void on_write(uv_write_t *req, int status) {
    fo_conn *c = req->data;
    if (status < 0 && status != UV_ECANCELED && c->in_request) conn_lost(c);
}

static void send_request(fo_conn *c) {
    fo_client *cl = c->cl;
    uv_buf_t buf = uv_buf_init((char *)cl->request, (unsigned)cl->request_len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    if (n == (int)cl->request_len) return;
    if (n < 0 && n != UV_EAGAIN) {
        conn_lost(c);
        return;
    }
    if (n < 0) n = 0;
    buf = uv_buf_init((char *)cl->request + n, (unsigned)(cl->request_len - (size_t)n));
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_write) < 0) conn_lost(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    fo_conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->cl->rbuf, (unsigned)c->cl->rbuf_len);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    fo_conn *c = s->data;
    if (nread == 0) return;
    if (!c->in_request) {
        /* Bytes or EOF on an idle connection: the server closed it (or talks out of turn).
         * Either way it cannot carry the next request. */
        close_conn(c, AC_NONE);
        return;
    }
    if (nread > 0) {
        c->got_bytes = 1;
        llhttp_errno_t e = llhttp_execute(&c->parser, buf->base, (size_t)nread);
        if (e == HPE_OK) return;
        if (e == HPE_PAUSED && c->complete) {
            /* Bytes after the response were not asked for: do not reuse the connection. */
            if (llhttp_get_error_pos(&c->parser) < buf->base + nread) c->keep_alive = 0;
            finish(c);
            return;
        }
        fail(c, FO_FAIL_MALFORMED);
        return;
    }
    if (nread == UV_EOF && c->got_bytes) {
        /* A response without a length ends at EOF; any other is cut short. */
        llhttp_finish(&c->parser);
        if (c->complete) {
            c->keep_alive = 0;
            finish(c);
            return;
        }
    }
    conn_lost(c);
}

static void on_connect(uv_connect_t *req, int status) {
    fo_conn *c = req->data;
    if (status == UV_ECANCELED || !(c->in_request || c->opening)) return;
    if (status >= 0 && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        status = UV_ENOTCONN;
    if (status < 0) {
        if (c->opening)
            open_failed(c, FO_FAIL_CONNECT);
        else
            fail(c, FO_FAIL_CONNECT);
        return;
    }
    c->connected = 1;
    if (c->connects++ > 0) fo_recorder_reconnect(c->cl->rec);
    uv_tcp_nodelay(&c->tcp, 1);
    if (c->opening) {
        c->opening = 0;
        tell_done(c);
        return;
    }
    send_request(c);
}

/* A plain bind would take a source port for good, out of one range for every target. Linux's
 * IP_BIND_ADDRESS_NO_PORT leaves the port to connect, which picks one free for this target's
 * address and port: the whole range again for each. Elsewhere the plain bind still works, for
 * as many connections as the range holds. */
int fo_conn_bind_source(uv_tcp_t *tcp, const struct sockaddr *source) {
#ifdef IP_BIND_ADDRESS_NO_PORT
    uv_os_fd_t fd;
    int one = 1;
    if (uv_fileno((const uv_handle_t *)tcp, &fd) == 0)
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    return uv_tcp_bind(tcp, source, 0);
}

/* 0, or uv_tcp_init_ex's error: then nothing is open and nothing was recorded (the callers
 * count it as a failed connect). Without --source that cannot happen, as connect makes the
 * socket; with it the socket is made here, to be bound, and may find no descriptor free. A
 * failed bind counts as a failed connect too. */
static int start_connect(fo_conn *c) {
    fo_client *cl = c->cl;
    reset_response(c);
    c->reused = 0;
    int rc = uv_tcp_init_ex(cl->loop, &c->tcp, cl->source ? cl->source->sa_family : AF_UNSPEC);
    if (rc < 0) return rc;
    c->tcp_open = 1;
    c->tcp.data = c;
    c->connect_req.data = c;
    if ((cl->source && fo_conn_bind_source(&c->tcp, cl->source) < 0) ||
        uv_tcp_connect(&c->connect_req, &c->tcp, cl->addr, on_connect) < 0) {
        if (c->opening)
            open_failed(c, FO_FAIL_CONNECT);
        else
            fail(c, FO_FAIL_CONNECT);
    }
    return 0;
}

/* A request's connect: on the rare init failure, record it and leave the connection out of use
 * rather than spin (the owner is never told it is done). */
static void request_connect(fo_conn *c) {
    if (start_connect(c) < 0) {
        fo_recorder_failure(c->cl->rec, FO_FAIL_CONNECT, uv_hrtime());
        c->in_request = 0;
    }
}

void fo_conn_init(fo_conn *c, fo_client *cl, fo_conn_cb done, void *data) {
    memset(c, 0, sizeof *c);
    c->cl = cl;
    c->done = done;
    c->data = data;
    c->write_req.data = c;
    c->connect_req.data = c;
}

void fo_conn_request(fo_conn *c, uint64_t intended_ns, uint64_t now) {
    assert(!c->in_request && intended_ns <= now);
    c->in_request = 1;
    c->retried = 0;
    c->intended_ns = intended_ns;
    c->start_ns = now;
    if (c->connected) {
        reset_response(c);
        c->reused = 1;
        send_request(c);
    } else if (c->tcp_open) {
        /* The old connection is still closing: connect once it is closed. */
        c->after_close = AC_CONNECT;
    } else {
        request_connect(c);
    }
}

/* An open's connect, once the old connection (if any) is closed. */
static void open_connect(fo_conn *c) {
    if (start_connect(c) < 0) open_failed(c, FO_FAIL_CONNECT);
}

int fo_conn_open(fo_conn *c, uint64_t now) {
    assert(!c->in_request && !c->opening && !c->connected);
    c->opening = 1;
    c->start_ns = now;
    if (c->tcp_open) {
        /* Closed by the server while idle, its handle still closing: connect once closed. */
        c->after_close = AC_OPEN;
        return 0;
    }
    int rc = start_connect(c);
    if (rc < 0) c->opening = 0;
    return rc;
}

void fo_conn_close(fo_conn *c) {
    assert(!c->in_request);
    close_conn(c, AC_NONE);
}

void fo_conn_abort(fo_conn *c) {
    if (c->in_request) fo_recorder_dropped(c->cl->rec);
    c->in_request = 0;
    c->opening = 0;
    c->connected = 0;
    c->after_close = AC_NONE;
    if (c->tcp_open && !uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void fo_conn_check_timeout(fo_conn *c, uint64_t now) {
    if (!(c->in_request || c->opening) || now - c->start_ns < c->cl->timeout_ns) return;
    if (c->opening)
        open_failed(c, FO_FAIL_TIMEOUT);
    else
        fail(c, FO_FAIL_TIMEOUT);
}

/* The parser's callbacks, shared by every connection of a worker through its client. */
static int on_headers_complete(llhttp_t *p) {
    fo_conn *c = p->data;
    c->status = p->status_code;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
    fo_conn *c = p->data;
    (void)at;
    c->body_bytes += len;
    return 0;
}

static int on_message_complete(llhttp_t *p) {
    fo_conn *c = p->data;
    c->complete = 1;
    c->keep_alive = llhttp_should_keep_alive(p) != 0;
    /* Stop here: whatever follows is not an answer to anything this connection asked. */
    return HPE_PAUSED;
}

void fo_conn_settings(llhttp_settings_t *s) {
    llhttp_settings_init(s);
    s->on_headers_complete = on_headers_complete;
    s->on_body = on_body;
    s->on_message_complete = on_message_complete;
}
