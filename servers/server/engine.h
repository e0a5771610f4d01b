/* A concurrency model is an engine: it takes the listening socket and serves requests on it
 * with the shared handler (fanout/handler.h) until told to stop. Only who calls the handler
 * differs between engines, as with Apache's MPMs. */
#ifndef FANOUT_SERVER_ENGINE_H
#define FANOUT_SERVER_ENGINE_H

#include "fanout/upstream.h"

typedef struct fo_server_opts {
    const char *model;
    const char *host;
    int port;
    fo_upstream_cfg upstream;
    int workers;             /* prefork: processes; uv: processes, one loop each (< 1: default) */
    int threads;             /* threads: requests served at once (< 1: default) */
    int backlog;
    int keepalive_timeout_ms;
    int header_timeout_ms;
    int shutdown_timeout_ms; /* how long in-flight requests get to finish on SIGTERM/SIGINT */
} fo_server_opts;

typedef struct fo_engine {
    const char *name;
    const char *help; /* one sentence for --help */
    /* Fills in the size the user left unset (workers or threads below 1) with the model's
     * default, and returns that size, setting *unit to what it counts ("workers", "threads")
     * for the start-up banner. */
    int (*size)(fo_server_opts *opts, const char **unit);
    /* Serves on listen_fd (bound, listening, blocking) until SIGTERM or SIGINT, then stops
     * gracefully. The engine owns listen_fd and closes it. Returns the process exit code. */
    int (*run)(const fo_server_opts *opts, int listen_fd);
} fo_engine;

extern const fo_engine fo_engine_prefork;
extern const fo_engine fo_engine_threads;
extern const fo_engine fo_engine_uv;

#endif
