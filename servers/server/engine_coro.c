/* The coro model: one libuv loop per process, like uv, but each request is served by ordinary
 * blocking-style code on a coroutine of its own (fanout/coro.h), as gevent serves it on a
 * greenlet: begin, run the fan-out, finish, answer, the same path as prefork and threads. The
 * call that would block, the fan-out, starts its calls on the loop (libcurl multi, upstream_uv)
 * and parks the coroutine; the loop resumes it when the three calls have ended.
 *
 * Where the coroutine starts and ends. gevent's servers give a greenlet the whole connection,
 * reading and writing through sockets that park it. Here the connection stays with the loop's
 * HTTP server (server_uv), and a coroutine runs from a complete request to its queued answer:
 *   - every defence the other loop engines have (header and idle timeouts, 408, lingering close,
 *     one request at a time per connection, a cap on answers queued for a client that does not
 *     read, graceful stop, shedding on EMFILE) is server_uv's, reused, not a second copy written
 *     blocking-style, and the same in coro as in uv, so the two differ only in how the handler
 *     waits: a coroutine per page against a callback per page, which is what this model is for;
 *   - an idle keep-alive connection or a slow client holds no stack, only what it holds in uv;
 *   - writing the answer does not park: fo_conn_uv_respond queues it and the loop writes it, as
 *     gevent's sendall returns once the socket buffer has taken a page this small.
 * So the memory this model adds over uv is one stack per page in flight (--stack-size, default
 * 64 KiB of address space, of which only the pages touched become resident).
 *
 * Who resumes whom. The loop's callback (on_request, or the fan-out's end) resumes the
 * coroutine; it runs until it parks or finishes, then control returns to the callback. A
 * coroutine's answer can hand out the connection's next pipelined request at once (server_uv
 * calls on_request from inside fo_conn_uv_respond): that request's coroutine is then started
 * from inside this one and parks back into it, which the coroutines allow. */
#include <stdio.h>

#include "engine.h"
#include "fanout/coro.h"
#include "fanout/handler.h"
#include "loop_serve.h"

/* Stacks of finished coroutines kept for the next requests: enough for a few hundred pages in
 * flight without a mmap each; a burst beyond that maps and unmaps. */
#define IDLE_STACKS 256

typedef struct coro_engine {
    fo_loop_serve ls;
    fo_coro_pool *stacks;
} coro_engine;

/* What a request's coroutine is given; copied onto its stack before it first parks. */
typedef struct request_args {
    coro_engine *e;
    fo_conn_uv *conn;
    const fo_request *req;
} request_args;

static void on_fanout_done(fo_fanout *f, void *data) {
    (void)f;
    fo_coro_resume(data);
}

/* A fan-out parked on: what its client's leaving needs to stop it. */
typedef struct parked_fanout {
    coro_engine *e;
    fo_fanout *f;
} parked_fanout;

/* The client left while the coroutine was parked on its fan-out: stop the calls, which resumes
 * the coroutine (on_fanout_done); its answer, a 502 nobody reads, is dropped. */
static void on_client_gone(void *data) {
    parked_fanout *pf = data;
    fo_upstream_uv_cancel(pf->e->ls.upstream, pf->f, "the client left");
}

/* Runs the planned calls of f, parking the coroutine until all have ended: the blocking call,
 * as fo_upstream_block_run is for prefork and threads. When they cannot even be started every
 * call is failed, so fo_handle_finish answers 502 as it does for a failed blocking run. */
static void run_fanout(coro_engine *e, fo_conn_uv *conn, fo_fanout *f) {
    if (fo_upstream_uv_start(e->ls.upstream, f, on_fanout_done, fo_coro_self()) != 0) {
        for (int i = 0; i < FO_FANOUT_CALLS; i++) {
            f->calls[i].outcome = FO_CALL_IO;
            snprintf(f->calls[i].error, sizeof f->calls[i].error,
                     "could not start the upstream call");
        }
        return;
    }
    parked_fanout pf = {.e = e, .f = f}; /* on this stack, which lives until the resume */
    if (!e->ls.opts->upstream.no_cancel) fo_conn_uv_watch_gone(conn, on_client_gone, &pf);
    fo_coro_park();
}

/* A request's coroutine: the handler, blocking-style. */
static void serve_request(void *arg) {
    request_args a = *(const request_args *)arg;
    fo_response resp;
    fo_fanout fanout;
    if (fo_handle_begin(a.req, &resp, &fanout) == FO_HANDLE_FANOUT) {
        run_fanout(a.e, a.conn, &fanout);
        fo_handle_finish(a.req, &fanout, &resp);
    }
    fo_conn_uv_respond(a.conn, &resp);
}

static void on_request(fo_conn_uv *conn, const fo_request *req, void *data) {
    coro_engine *e = data;
    request_args a = {.e = e, .conn = conn, .req = req};
    fo_coro *co = fo_coro_new(e->stacks, serve_request, &a);
    if (!co) {
        /* No stack to be had (out of memory, or of mappings): answer without one, as the other
         * engines do when memory runs out, so that the connection does not wait forever. */
        fo_loop_serve_refuse(conn);
        return;
    }
    fo_coro_resume(co);
}

/* One loop serving until a signal; used directly (one worker) or in each forked worker. */
static int serve_loop(const fo_server_opts *o, int listen_fd) {
    coro_engine e = {0};
    fo_coro_pool_opts po = {.stack_size = (size_t)o->stack_size,
                            .max_idle = IDLE_STACKS,
                            .who = "fanout-server",
                            .size_name = "--stack-size"};
    e.stacks = fo_coro_pool_new(&po);
    if (!e.stacks) {
        perror("fanout-server: cannot set up coroutine stacks");
        return 1;
    }
    int rc = fo_loop_serve_run(&e.ls, o, listen_fd, on_request, &e);
    /* After a shutdown timeout, parked coroutines are abandoned with the loop: the process is
     * about to exit. */
    if (rc == 0 && e.ls.server.pending == 0) fo_coro_pool_free(e.stacks);
    return rc;
}

static int run_coro(const fo_server_opts *o, int listen_fd) {
    return fo_loop_engine_run(o, listen_fd, serve_loop);
}

const fo_engine fo_engine_coro = {
    .name = "coro",
    .help =
        "one libuv loop per process (--workers, default 1); each request runs blocking-style on "
        "a coroutine of its own, parked while the fan-out waits, like gevent.",
    FO_LOOP_ENGINE_SIZING,
    .run = run_coro,
};
