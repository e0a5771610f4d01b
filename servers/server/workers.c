/* The multi-process engines (prefork; uv, coro and threads with --workers N) run their workers
 * under the supervisor (servers/common/supervisor.h), each serving the one listening socket. */
#include "engine.h"
#include "supervisor.h"

typedef struct worker_args {
    const fo_server_opts *opts;
    int listen_fd;
    int (*serve)(const fo_server_opts *opts, int listen_fd);
} worker_args;

static int run_worker(void *arg) {
    const worker_args *a = arg;
    return a->serve(a->opts, a->listen_fd);
}

int fo_engine_supervise(const fo_server_opts *o, int listen_fd,
                        int (*serve)(const fo_server_opts *opts, int listen_fd),
                        int watches_lifeline) {
    worker_args args = {.opts = o, .listen_fd = listen_fd, .serve = serve};
    fo_supervisor_cfg cfg = {.prog = "fanout-server",
                             .workers = o->workers,
                             .shutdown_timeout_ms = o->shutdown_timeout_ms,
                             .listen_fds = &listen_fd,
                             .n_listen_fds = 1,
                             .child_fds = o->worker_fds,
                             .child = run_worker,
                             .arg = &args,
                             .child_watches_lifeline = watches_lifeline};
    return fo_supervise(&cfg);
}

long fo_engine_supervised_tasks(int workers, long worker_tasks, int watches_lifeline) {
    long lifeline_thread = watches_lifeline ? 0 : 1;
    return (long)workers * (worker_tasks + lifeline_thread) + 1;
}
