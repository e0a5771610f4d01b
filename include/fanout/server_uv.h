/* An HTTP/1.1 server on a libuv loop: accepts connections, parses requests (keep-alive and
 * pipelining, answered strictly in order), times out slow and idle clients, and hands each
 * complete request to a callback that answers it now or later. Used by the country API and by
 * the uv and threads engines. It runs no loop itself. */
#ifndef FANOUT_SERVER_UV_H
#define FANOUT_SERVER_UV_H

#include <stdint.h>
#include <uv.h>
#include "fanout/http.h"

typedef struct fo_server_uv fo_server_uv;
typedef struct fo_conn_uv fo_conn_uv;

/* A complete request. The callback must call fo_conn_uv_respond(conn, ...) exactly once, now or
 * later on the loop; the connection reads nothing more until then. req stays valid until then. */
typedef void (*fo_request_cb)(fo_conn_uv *conn, const fo_request *req, void *data);

typedef struct fo_server_uv_opts {
    uint64_t header_timeout_ms;    /* a request must arrive whole within this; 0 = 10000 */
    uint64_t keepalive_timeout_ms; /* an idle keep-alive connection is closed after this; 0 = 5000 */
    int backlog;                   /* listen backlog; 0 = 1024 */
} fo_server_uv_opts;

struct fo_server_uv {
    uv_loop_t *loop;
    uv_tcp_t listener;
    fo_server_uv_opts opts;
    fo_request_cb on_request;
    void *data;
    fo_conn_uv *conns;      /* every open connection (a doubly linked list) */
    int n_conns;
    int pending;            /* requests handed out and not answered yet */
    int stopping;           /* set by fo_server_uv_stop */
    void (*on_drained)(fo_server_uv *s); /* after stop: called once nothing is left open */
    uint64_t accept_errors; /* accept failures (e.g. EMFILE) survived */
};

/* Sets the server up on loop; no socket yet. */
void fo_server_uv_init(fo_server_uv *s, uv_loop_t *loop, const fo_server_uv_opts *opts,
                       fo_request_cb on_request, void *data);

/* Binds host:port (port 0 picks one) and listens. Returns 0 or a negative libuv error. */
int fo_server_uv_listen(fo_server_uv *s, const char *host, int port);

/* Listens on an already bound and listening socket (shared between processes). 0 or < 0. */
int fo_server_uv_listen_fd(fo_server_uv *s, int fd);

/* The port the listener is bound to, or a negative libuv error. */
int fo_server_uv_port(fo_server_uv *s);

/* Graceful stop: stop accepting, close idle connections, let every request handed out finish
 * and be sent, then close the rest; on_drained (may be NULL) runs once all is closed. */
void fo_server_uv_stop(fo_server_uv *s, void (*on_drained)(fo_server_uv *s));

/* Answers the request given to the callback; takes ownership of resp's body. */
void fo_conn_uv_respond(fo_conn_uv *conn, fo_response *resp);

#endif
