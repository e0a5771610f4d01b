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

/* What the loop engines share in the engine table. Size: --workers, default 1. Needs: each
 * process its own open-files limit, a connection costing its socket and one upstream connection
 * per call (the pool keeps them for the next page). Run: serve(opts, listen_fd) in this process
 * for one worker, under the supervisor for more. */
int fo_loop_engine_size(fo_server_opts *opts);
fo_engine_needs fo_loop_engine_needs(const fo_server_opts *opts);
int fo_loop_engine_run(const fo_server_opts *opts, int listen_fd,
                       int (*serve)(const fo_server_opts *opts, int listen_fd));

#endif
