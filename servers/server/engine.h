/* A concurrency model is an engine: it takes the listening socket and serves requests on it
 * with the shared handler (fanout/handler.h) until told to stop. Only who calls the handler
 * differs between engines, as with Apache's MPMs. */
#ifndef FANOUT_SERVER_ENGINE_H
#define FANOUT_SERVER_ENGINE_H

#include "fanout/sys.h"
#include "fanout/upstream.h"

typedef struct fo_server_opts {
    const char *model;
    const char *host;
    int port;
    fo_upstream_cfg upstream;
    int workers; /* prefork: processes; uv, coro: processes, one loop each; threads: processes of
                  * --threads threads each (< 1: default) */
    int threads; /* threads: requests one process serves at once (< 1: default) */
    int backlog;
    int keepalive_timeout_ms;
    int header_timeout_ms;
    int shutdown_timeout_ms; /* how long in-flight requests get to finish on SIGTERM/SIGINT */
    long max_conns;          /* connections one process holds at once (< 1: what the limit fits) */
    long
        worker_fds; /* descriptors a capped worker holds at most (set by the plan; 0: not capped) */
    int stack_size; /* coro: bytes of each request's coroutine stack */
} fo_server_opts;

/* What one process of a configuration needs of the machine, checked before it starts. */
typedef struct fo_engine_needs {
    fo_fd_need fds;     /* descriptors of one serving process */
    long min_conns;     /* connections one process must be able to hold to be worth starting */
    long tasks;         /* processes and threads the configuration starts (RLIMIT_NPROC) */
    int caps_conns;     /* 1: the engine honours max_conns (an event loop that accepts freely) */
    const char *advice; /* what else to do when the limit is too low: "use fewer --threads" */
} fo_engine_needs;

typedef struct fo_engine {
    const char *name;
    const char *help; /* one sentence for --help */
    /* The flag that sizes the model, without its dashes: "workers" (--workers N, opts->workers)
     * or "threads" (--threads N, opts->threads), the two main.c parses. It names the size in
     * the start-up banner and in --list-models. */
    const char *size_flag;
    const char *size_help;    /* what N counts, for --help: "processes, one loop each" */
    const char *size_default; /* the default as --help says it: "1", "2 x cores" */
    /* For an engine sized by --threads that also takes --workers N (processes, default 1): what
     * a process is, for --help ("processes of --threads threads each"); NULL when it does not. */
    const char *workers_help;
    /* 1 when the size caps the requests served at once (prefork's processes, threads' threads);
     * 0 when every process takes all it is given and the size only spreads the load. The
     * benchmark's Little's-law bound depends on it (scripts read it from --list-models). */
    int size_caps;
    /* Fills in the size the user left unset (opts->workers or opts->threads below 1, as
     * size_flag says) with the model's default, and returns the size. */
    int (*size)(fo_server_opts *opts);
    /* What one process of the configuration in opts (sized) needs; see fo_engine_needs. */
    fo_engine_needs (*needs)(const fo_server_opts *opts);
    /* Serves on listen_fd (bound, listening, blocking) until SIGTERM or SIGINT, then stops
     * gracefully. The engine owns listen_fd and closes it. Returns the process exit code. */
    int (*run)(const fo_server_opts *opts, int listen_fd);
} fo_engine;

/* Runs o->workers processes, each calling serve(o, listen_fd), under the supervisor: replaced
 * when they die, stopped gracefully on SIGTERM/SIGINT. watches_lifeline: 1 when serve watches
 * the supervisor's lifeline in its own waits (fo_supervisor_lifeline), 0 to have a thread in
 * each worker watch it. Returns the parent's exit code. */
int fo_engine_supervise(const fo_server_opts *o, int listen_fd,
                        int (*serve)(const fo_server_opts *opts, int listen_fd),
                        int watches_lifeline);

/* The tasks (processes and threads) of workers supervised processes that each run worker_tasks
 * of their own: those, the lifeline's watching thread in each unless watches_lifeline, and the
 * parent. */
long fo_engine_supervised_tasks(int workers, long worker_tasks, int watches_lifeline);

extern const fo_engine fo_engine_prefork;
extern const fo_engine fo_engine_threads;
extern const fo_engine fo_engine_uv;
extern const fo_engine fo_engine_coro;

#endif
