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
    uint64_t
        header_timeout_ms; /* a request must arrive whole within this; 0 = FO_HEADER_TIMEOUT_MS */
    uint64_t keepalive_timeout_ms; /* an idle keep-alive connection is closed after this; 0 =
                                      FO_KEEPALIVE_TIMEOUT_MS */
    int backlog;                   /* listen backlog; 0 = FO_BACKLOG */
    /* The most connections held at once (like nginx's worker_connections); 0 = no cap. At the
     * cap the server stops accepting, so further clients wait in the listen backlog (or are
     * taken by another process on the same socket) instead of being accepted and failed. */
    long max_conns;
    /* For a process that shares its socket with others and serves a request at a time per
     * thread (threads --workers N): the connections it takes on at most before it leaves new
     * clients to the other processes, counting those whose request is out with the
     * application (fo_server_uv.pending) and those accepted that have not sent a whole first
     * request yet (fo_server_uv.fresh). Without it, one process takes a burst of connections
     * that the others could have served at once. A client that connects and sends nothing
     * counts until the header timeout closes it. 0 = no cap. */
    long max_busy;
} fo_server_uv_opts;

/* How many sockets one server may listen on (the country API spreads over several ports). */
#define FO_SERVER_UV_MAX_LISTENERS 64

/* Why the server is not accepting right now. */
typedef enum fo_accept_state {
    FO_ACCEPTING,      /* watching every listening socket */
    FO_ACCEPT_FULL,    /* at max_conns or max_busy: resumes when a connection closes or a
                        * request is answered */
    FO_ACCEPT_BACKOFF, /* accept failed for want of descriptors or memory: resumes on a timer */
    FO_ACCEPT_STOPPED, /* fo_server_uv_stop: for good */
} fo_accept_state;

struct fo_server_uv {
    uv_loop_t *loop;
    fo_server_uv_opts opts;
    fo_request_cb on_request;
    void *data;
    /* The listening sockets, owned. Accepting runs on a libuv handle over a duplicate of each;
     * pausing closes the handles and keeps these, so the socket and its backlog stay. */
    int listen_fds[FO_SERVER_UV_MAX_LISTENERS];
    uv_tcp_t *listeners[FO_SERVER_UV_MAX_LISTENERS]; /* NULL while not accepting */
    int n_listen;
    int handles_closing; /* listener handles and the backoff timer not yet closed */
    fo_accept_state accept_state;
    uv_timer_t backoff;
    fo_conn_uv *conns; /* every open connection (a doubly linked list) */
    long n_conns;
    long peak_conns; /* the most connections held at once */
    int pending;     /* requests handed out and not answered yet */
    long fresh;      /* connections accepted that have not sent a whole first request yet */
    void (*on_drained)(fo_server_uv *s); /* after stop: called once nothing is left open */
    char *slab; /* the read buffer every connection with nothing buffered reads into */
};

/* Sets the server up on loop; no socket yet. 0 or a negative libuv error. */
int fo_server_uv_init(fo_server_uv *s, uv_loop_t *loop, const fo_server_uv_opts *opts,
                      fo_request_cb on_request, void *data);

/* Accepts on an already bound and listening socket (fo_listen_tcp in fanout/sys.h; it may be
 * shared between processes); the server owns fd from here, even on failure. May be called for up to
 * FO_SERVER_UV_MAX_LISTENERS sockets. 0 or a negative libuv error. */
int fo_server_uv_listen_fd(fo_server_uv *s, int fd);

/* The port the first listening socket is bound to, or a negative libuv error. */
int fo_server_uv_port(fo_server_uv *s);

/* 1 once fo_server_uv_stop has been called (accept_state is FO_ACCEPT_STOPPED). */
int fo_server_uv_stopping(const fo_server_uv *s);

/* Graceful stop: stop accepting, close idle connections, let every request handed out finish
 * and be sent, then close the rest; on_drained (may be NULL) runs once all is closed. */
void fo_server_uv_stop(fo_server_uv *s, void (*on_drained)(fo_server_uv *s));

/* Answers the request given to the callback; takes ownership of resp's body. Exactly once per
 * request handed out (asserted). Whether the connection stays open after it is the server's
 * decision, not the response's: the request's own (HTTP/1.0, "Connection: close"), unless the
 * client has half-closed or the server is stopping. */
void fo_conn_uv_respond(fo_conn_uv *conn, fo_response *resp);

/* Asks, for the request now out on conn, to be told by cb(arg) on the loop if the client closes
 * or resets its connection before the answer: the connection then keeps reading while the
 * request is out (keeping what a pipelining client sends, up to a bound), and on an end of
 * stream or a reset closes and calls cb once, so the application can stop the work nobody
 * will read. A client that half-closes after its request counts as gone, as in nginx. The
 * application must still call fo_conn_uv_respond (its answer is then dropped), from cb or
 * later. fo_conn_uv_respond ends the watch. */
void fo_conn_uv_watch_gone(fo_conn_uv *conn, void (*cb)(void *arg), void *arg);

#endif
