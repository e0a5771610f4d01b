/* One process serving on one libuv loop, as the uv, coro and threads engines do: the HTTP server
 * (server_uv) on the shared listening socket, for uv and coro a fan-out runner (upstream_uv) on
 * the same loop, and a graceful stop on SIGTERM or SIGINT (loop_stop). The engines differ only in
 * what they do with a request. */
#ifndef FANOUT_SERVER_LOOP_SERVE_H
#define FANOUT_SERVER_LOOP_SERVE_H

#include <uv.h>

#include "engine.h"
#include "fanout/server_uv.h"
#include "fanout/upstream_uv.h"
#include "loop_stop.h"

typedef struct fo_loop_serve {
    uv_loop_t loop;
    fo_server_uv server;
    fo_upstream_uv *upstream; /* uv, coro: start fan-outs here (NULL for threads) */
    const fo_server_opts *opts;
    fo_loop_stop stop;
    /* The engine's, or NULL: closes the engine's own handles on the loop once the server has
     * drained (threads' wake-up). */
    void (*on_drained)(struct fo_loop_serve *ls);
} fo_loop_serve;

/* Sets up the loop and the server on it, handing every request to on_request(conn, req, data);
 * max_busy as fo_server_uv_opts has it; with_upstream: also a fan-out runner on the loop
 * (ls->upstream). Returns 0, or 1 after saying why it could not. */
int fo_loop_serve_init(fo_loop_serve *ls, const fo_server_opts *opts, int max_busy,
                       int with_upstream, fo_request_cb on_request, void *data);

/* Serves listen_fd on the loop set up by fo_loop_serve_init until a signal has stopped the
 * server. Returns 0 once stopped, or 1 after saying why it could not serve. Afterwards
 * ls->server.pending counts the requests a shutdown timeout abandoned; the loop is closed only
 * when there are none (otherwise the process is about to exit). */
int fo_loop_serve_listen(fo_loop_serve *ls, int listen_fd);

/* Both, with a fan-out runner: what the uv and coro engines do. */
int fo_loop_serve_run(fo_loop_serve *ls, const fo_server_opts *opts, int listen_fd,
                      fo_request_cb on_request, void *data);

/* Answers a request that cannot be served for want of memory: 503, without a body if even that
 * cannot be had, so that the connection never waits forever. */
void fo_loop_serve_refuse(fo_conn_uv *conn);

/* A request being served by a fan-out handed on (uv's callbacks, threads' pool): its connection,
 * the request (valid in it until answered) and the fan-out. */
typedef struct fo_loop_page {
    fo_conn_uv *conn;
    const fo_request *req;
    fo_fanout fanout;
} fo_loop_page;

/* The start of every such on_request: allocates size zeroed bytes for the engine's struct, whose
 * fo_loop_page lies at page_offset, fills the page in and plans its fan-out (fo_handle_begin).
 * Returns the struct, or NULL when the request has been answered already (404, 405, 400, or 503
 * for want of memory). */
void *fo_loop_serve_begin(fo_conn_uv *conn, const fo_request *req, size_t size, size_t page_offset);

/* What the loop engines share in the engine table. Size: --workers, default 1. Needs: each
 * process its own open-files limit, a connection costing its socket and one upstream connection
 * per call (the pool keeps them for the next page). Run: serve(opts, listen_fd) in this process
 * for one worker, under the supervisor for more. */
int fo_loop_engine_size(fo_server_opts *opts);
fo_engine_needs fo_loop_engine_needs(const fo_server_opts *opts);
int fo_loop_engine_run(const fo_server_opts *opts, int listen_fd,
                       int (*serve)(const fo_server_opts *opts, int listen_fd));

/* The engine table's fields that uv and coro share: sized by --workers, one loop a process. */
#define FO_LOOP_ENGINE_SIZING                                                                      \
    .size_flag = "workers", .size_help = "processes, one loop each", .size_default = "1",          \
    .size_caps = 0, .size = fo_loop_engine_size, .needs = fo_loop_engine_needs

#endif
