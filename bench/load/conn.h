/* A client connection of fanout-load: one HTTP/1.1 keep-alive connection that carries one
 * request at a time, connecting when it needs to, and records each outcome through the
 * worker's recorder. The closed model's users (user.c) and the open model's connection pool
 * (open.c) are both made of these; only who asks for the next request differs.
 *
 * A request's service time starts when it is issued: just before its bytes are written on a
 * connection that is already open, or just before the connect when one is needed (a first
 * request, or after the server answered "Connection: close" or dropped the idle connection), so
 * a connect counts in it, as in Locust. Its response time starts at the time the caller says it
 * was meant to start (the same time in the closed model; the intended arrival in the open one).
 * Both end when the parser has seen the response's last byte. A response cut short never counts
 * as a success.
 *
 * A request written on a reused connection that the server had just closed (it gets EOF or a
 * reset before any byte of answer) is resent once on a new connection, as HTTP clients do for a
 * stale keep-alive connection; its time keeps running across the reconnect.
 *
 * A connection can also be opened ahead of any request (fo_conn_open), as the open model's pool
 * does: it then records nothing itself, and tells its owner when it is connected and idle, or
 * closed with the reason in open_error.
 *
 * Handles are closed, never reinitialised while closing: what comes after a close waits for the
 * close callback. Everything runs on the worker's loop thread. */
#ifndef FANOUT_LOAD_CONN_H
#define FANOUT_LOAD_CONN_H

#include <llhttp.h>
#include <stdint.h>
#include <uv.h>
#include "recorder.h"

/* What every connection of a worker shares. */
typedef struct fo_client {
    uv_loop_t *loop;
    const struct sockaddr *addr;
    const struct sockaddr *source; /* the local address to connect from (--source), or NULL */
    const char *request;           /* the request's bytes, shared read-only by all workers */
    size_t request_len;
    char *rbuf; /* one read buffer: each read is parsed completely in its callback */
    size_t rbuf_len;
    llhttp_settings_t settings; /* from fo_conn_settings */
    fo_recorder *rec;
    uint64_t timeout_ns;
    int stopping; /* the run is over: connections do nothing more */
} fo_client;

typedef struct fo_conn fo_conn;

/* Called when a request is over, its outcome recorded, and the connection can take the next,
 * or when an open (fo_conn_open) is over: it is then either connected and idle, or closed.
 * Never called once the client is stopping. */
typedef void (*fo_conn_cb)(fo_conn *c);

struct fo_conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    llhttp_t parser;
    fo_client *cl;
    fo_conn_cb done;
    void *data;               /* the owner's */
    uint64_t intended_ns;     /* when the current request was meant to start (uv_hrtime) */
    uint64_t start_ns;        /* when it was issued (its connect or its write), or the open began */
    uint64_t body_bytes;      /* of the current response */
    unsigned connects;        /* successful connects so far */
    int status;               /* the current response's status code */
    fo_fail_kind open_error;  /* why the last open failed: FO_FAIL_CONNECT or FO_FAIL_TIMEOUT */
    unsigned in_request : 1;  /* a request is timed and not yet finished */
    unsigned opening : 1;     /* an open (no request) is connecting */
    unsigned tcp_open : 1;    /* tcp is initialised and its close callback has not run */
    unsigned connected : 1;   /* tcp is connected and usable for the next request */
    unsigned reused : 1;      /* the current request went out on a connection used before */
    unsigned retried : 1;     /* the current request was already resent once */
    unsigned got_bytes : 1;   /* the current request received response bytes */
    unsigned complete : 1;    /* the parser saw the end of the response */
    unsigned keep_alive : 1;  /* the response allows another request on the connection */
    unsigned after_close : 2; /* what tcp's close callback does next: see conn.c */
};

/* The response parser's callbacks, for fo_client.settings. */
void fo_conn_settings(llhttp_settings_t *s);

void fo_conn_init(fo_conn *c, fo_client *cl, fo_conn_cb done, void *data);
/* Issues a request now (hrtime `now`), meant to start at intended_ns <= now. The connection
 * must be idle (no request in flight). */
void fo_conn_request(fo_conn *c, uint64_t intended_ns, uint64_t now);
/* Connects an unconnected connection (never connected, or closed) with no request (start_ns =
 * now); the owner's callback says when it is over. 0, or a libuv error when no connect could
 * start (the callback is not called then, and the connection stays closed). */
int fo_conn_open(fo_conn *c, uint64_t now);
/* Closes an idle connection, if open. */
void fo_conn_close(fo_conn *c);
/* The run is over: a request in flight is counted dropped, the connection closed. */
void fo_conn_abort(fo_conn *c);
/* Fails the request in flight, or the open, when it has run --timeout or more. */
void fo_conn_check_timeout(fo_conn *c, uint64_t now);
/* Binds an initialised, unconnected tcp (its socket made: uv_tcp_init_ex with source's family)
 * to source's address, leaving the port to the connect that follows. 0 or a libuv error. */
int fo_conn_bind_source(uv_tcp_t *tcp, const struct sockaddr *source);

#endif
