/* The uv model: one process, one libuv loop. Connections, the fan-out (libcurl multi driven by
 * the same loop) and the answers all run on that loop; a request waiting on the country API
 * costs a little memory, not a thread. With --workers N, N such processes share the socket. */
#include <stddef.h>
#include <stdlib.h>
#include <uv.h>

#include "engine.h"
#include "fanout/handler.h"
#include "loop_serve.h"

/* A page in progress: the request stays valid in its connection until we respond. */
typedef struct page {
    fo_loop_page pg;
    fo_loop_serve *ls;
} page;

static void on_fanout_done(fo_fanout *f, void *data) {
    page *p = data;
    fo_response resp;
    fo_handle_finish(p->pg.req, f, &resp);
    fo_conn_uv_respond(p->pg.conn, &resp);
    free(p);
}

/* The client left while its page waited on the API: stop the calls; the page's answer, a
 * 502 nobody reads, is dropped by the connection. */
static void on_client_gone(void *data) {
    page *p = data;
    fo_upstream_uv_cancel(p->ls->upstream, &p->pg.fanout, "the client left");
}

static void on_request(fo_conn_uv *conn, const fo_request *req, void *data) {
    fo_loop_serve *ls = data;
    page *p = fo_loop_serve_begin(conn, req, sizeof *p, offsetof(page, pg));
    if (!p) return; /* answered already */
    p->ls = ls;
    if (fo_upstream_uv_start(ls->upstream, &p->pg.fanout, on_fanout_done, p) != 0) {
        fo_fanout_release(&p->pg.fanout);
        free(p);
        fo_response resp;
        fo_response_text(&resp, 502, "could not start the upstream calls\n");
        fo_conn_uv_respond(conn, &resp);
        return;
    }
    if (!ls->opts->upstream.no_cancel) fo_conn_uv_watch_gone(conn, on_client_gone, p);
}

/* One loop serving until a signal; used directly (one worker) or in each forked worker. */
static int serve_loop(const fo_server_opts *o, int listen_fd) {
    fo_loop_serve ls = {0};
    return fo_loop_serve_run(&ls, o, listen_fd, on_request, &ls);
}

static int run_uv(const fo_server_opts *o, int listen_fd) {
    return fo_loop_engine_run(o, listen_fd, serve_loop);
}

const fo_engine fo_engine_uv = {
    .name = "uv",
    .help = "one libuv event loop per process (--workers, default 1) runs connections and the "
            "fan-out together, like Uvicorn.",
    FO_LOOP_ENGINE_SIZING,
    .run = run_uv,
};
