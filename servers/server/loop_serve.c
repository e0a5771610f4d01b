/* One process serving on one libuv loop (see loop_serve.h). */
#include "loop_serve.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "fanout/handler.h"

static void on_drained(fo_server_uv *s) {
    fo_loop_serve *ls = (fo_loop_serve *)((char *)s - offsetof(fo_loop_serve, server));
    fo_loop_stop_close(&ls->stop);
    if (ls->upstream) fo_upstream_uv_close(ls->upstream);
    if (ls->on_drained) ls->on_drained(ls);
}

int fo_loop_serve_init(fo_loop_serve *ls, const fo_server_opts *o, int max_busy, int with_upstream,
                       fo_request_cb on_request, void *data) {
    ls->opts = o;
    int rc = uv_loop_init(&ls->loop);
    if (rc < 0) {
        fprintf(stderr, "fanout-server: cannot set up the event loop: %s\n", uv_strerror(rc));
        return 1;
    }
    fo_server_uv_opts so = {.header_timeout_ms = (uint64_t)o->header_timeout_ms,
                            .keepalive_timeout_ms = (uint64_t)o->keepalive_timeout_ms,
                            .backlog = o->backlog,
                            .max_conns = o->max_conns,
                            .max_busy = max_busy};
    rc = fo_server_uv_init(&ls->server, &ls->loop, &so, on_request, data);
    if (rc < 0) {
        fprintf(stderr, "fanout-server: cannot serve: %s\n", uv_strerror(rc));
        return 1;
    }
    ls->upstream = NULL;
    if (with_upstream && !(ls->upstream = fo_upstream_uv_new(&ls->loop, &o->upstream))) {
        fprintf(stderr, "fanout-server: cannot set up the upstream client: out of memory\n");
        return 1;
    }
    return 0;
}

int fo_loop_serve_listen(fo_loop_serve *ls, int listen_fd) {
    int rc = fo_server_uv_listen_fd(&ls->server, listen_fd);
    if (rc == 0)
        rc = fo_loop_stop_start(&ls->stop, &ls->server, "fanout-server",
                                (uint64_t)ls->opts->shutdown_timeout_ms, on_drained);
    if (rc < 0) {
        fprintf(stderr, "fanout-server: cannot serve: %s\n", uv_strerror(rc));
        return 1; /* the process exits; the loop's handles die with it */
    }
    uv_run(&ls->loop, UV_RUN_DEFAULT);
    if (ls->server.pending == 0) uv_loop_close(&ls->loop);
    return 0;
}

int fo_loop_serve_run(fo_loop_serve *ls, const fo_server_opts *o, int listen_fd,
                      fo_request_cb on_request, void *data) {
    if (fo_loop_serve_init(ls, o, 0, 1, on_request, data) != 0) return 1;
    return fo_loop_serve_listen(ls, listen_fd);
}

void fo_loop_serve_refuse(fo_conn_uv *conn) {
    fo_response resp;
    if (fo_response_text(&resp, 503, "out of memory\n") != 0) resp = (fo_response){.status = 503};
    fo_conn_uv_respond(conn, &resp);
}

void *fo_loop_serve_begin(fo_conn_uv *conn, const fo_request *req, size_t size,
                          size_t page_offset) {
    assert(page_offset + sizeof(fo_loop_page) <= size);
    char *mem = calloc(1, size);
    if (!mem) {
        fo_loop_serve_refuse(conn); /* every request is answered */
        return NULL;
    }
    fo_loop_page *pg = (fo_loop_page *)(mem + page_offset);
    fo_response resp;
    if (fo_handle_begin(req, &resp, &pg->fanout) == FO_HANDLE_FANOUT) {
        pg->conn = conn;
        pg->req = req;
        return mem;
    }
    free(mem);
    fo_conn_uv_respond(conn, &resp);
    return NULL;
}

int fo_loop_engine_size(fo_server_opts *o) {
    if (o->workers < 1) o->workers = 1;
    return o->workers;
}

fo_engine_needs fo_loop_engine_needs(const fo_server_opts *o) {
    return (fo_engine_needs){.fds = {.fixed = FO_FD_RESERVE, .per_conn = 1 + FO_FANOUT_CALLS},
                             .min_conns = 1,
                             .tasks =
                                 o->workers > 1 ? fo_engine_supervised_tasks(o->workers, 1, 0) : 1,
                             .caps_conns = 1,
                             .advice = "spread the connections over more --workers"};
}

int fo_loop_engine_run(const fo_server_opts *o, int listen_fd,
                       int (*serve)(const fo_server_opts *opts, int listen_fd)) {
    if (o->workers <= 1) return serve(o, listen_fd);
    return fo_engine_supervise(o, listen_fd, serve, 0);
}
