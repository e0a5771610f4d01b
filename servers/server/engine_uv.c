/* The uv model: one process, one libuv loop. Connections, the fan-out (libcurl multi driven by
 * the same loop) and the answers all run on that loop; a request waiting on the country API
 * costs a little memory, not a thread. With --workers N, N such processes share the socket. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "engine.h"
#include "fanout/handler.h"
#include "fanout/server_uv.h"
#include "fanout/upstream_uv.h"
#include "loop_stop.h"

typedef struct uv_engine {
    uv_loop_t loop;
    fo_server_uv server;
    fo_upstream_uv *upstream;
    fo_loop_stop stop;
} uv_engine;

/* A page in progress: the request stays valid in its connection until we respond. */
typedef struct page {
    fo_conn_uv *conn;
    const fo_request *req;
    fo_fanout fanout;
} page;

static void on_fanout_done(fo_fanout *f, void *data) {
    page *p = data;
    fo_response resp;
    fo_handle_finish(p->req, f, &resp);
    fo_conn_uv_respond(p->conn, &resp);
    free(p);
}

static void on_request(fo_conn_uv *conn, const fo_request *req, void *data) {
    uv_engine *e = data;
    fo_response resp;
    page *p = calloc(1, sizeof *p);
    if (!p) {
        /* Every request is answered, or the connection would wait forever: without a body if
         * even that cannot be had. */
        if (fo_response_text(&resp, 503, "out of memory\n", 0) != 0)
            resp = (fo_response){.status = 503};
        fo_conn_uv_respond(conn, &resp);
        return;
    }
    if (fo_handle_begin(req, &resp, &p->fanout) == FO_HANDLE_DONE) {
        free(p);
        fo_conn_uv_respond(conn, &resp);
        return;
    }
    p->conn = conn;
    p->req = req;
    if (fo_upstream_uv_start(e->upstream, &p->fanout, on_fanout_done, p) != 0) {
        fo_fanout_release(&p->fanout);
        free(p);
        fo_response_text(&resp, 502, "could not start the upstream calls\n", req->keep_alive);
        fo_conn_uv_respond(conn, &resp);
    }
}

static void on_drained(fo_server_uv *s) {
    uv_engine *e = s->data;
    fo_loop_stop_close(&e->stop);
    fo_upstream_uv_close(e->upstream);
}

/* One loop serving until a signal; used directly (one worker) or in each forked worker. */
static int serve_loop(const fo_server_opts *o, int listen_fd) {
    uv_engine e = {0};
    uv_loop_init(&e.loop);
    fo_server_uv_opts so = {.header_timeout_ms = (uint64_t)o->header_timeout_ms,
                            .keepalive_timeout_ms = (uint64_t)o->keepalive_timeout_ms,
                            .backlog = o->backlog,
                            .max_conns = o->max_conns};
    fo_server_uv_init(&e.server, &e.loop, &so, on_request, &e);
    e.upstream = fo_upstream_uv_new(&e.loop, &o->upstream);
    int rc = e.upstream ? fo_server_uv_listen_fd(&e.server, listen_fd) : UV_ENOMEM;
    if (rc < 0) {
        fprintf(stderr, "fanout-server: cannot serve: %s\n", uv_strerror(rc));
        return 1;
    }
    fo_loop_stop_start(&e.stop, &e.server, (uint64_t)o->shutdown_timeout_ms, on_drained);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    int abandoned = e.server.pending;
    /* After a shutdown timeout the loop still holds handles; the process is about to exit. */
    if (abandoned == 0) uv_loop_close(&e.loop);
    return 0;
}

static int run_uv(const fo_server_opts *o, int listen_fd) {
    if (o->workers <= 1) return serve_loop(o, listen_fd);
    return fo_engine_supervise(o, listen_fd, serve_loop);
}

/* Default: one process, one loop (no fork). */
static int uv_size(fo_server_opts *o, const char **unit) {
    if (o->workers < 1) o->workers = 1;
    *unit = "workers";
    return o->workers;
}

/* A connection costs its socket and, while its page is out, one upstream connection per call
 * (the pool keeps them for the next page). Each process has its own limit. */
static fo_engine_needs uv_needs(const fo_server_opts *o) {
    return (fo_engine_needs){.fds = {.fixed = FO_FD_RESERVE, .per_conn = 1 + FO_FANOUT_CALLS},
                             .min_conns = 1,
                             .tasks = o->workers > 1 ? o->workers + 1 : 1,
                             .caps_conns = 1,
                             .advice = "spread the connections over more --workers"};
}

const fo_engine fo_engine_uv = {
    .name = "uv",
    .help = "one libuv event loop per process (--workers, default 1) runs connections and the "
            "fan-out together, like Uvicorn or gevent.",
    .size = uv_size,
    .needs = uv_needs,
    .run = run_uv,
};
