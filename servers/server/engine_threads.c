/* Placeholder until the threads engine lands (issue 3); replaced by the real engine. */
#include <stdio.h>
#include "engine.h"

static int run_threads(const fo_server_opts *o, int listen_fd) {
    (void)o;
    (void)listen_fd;
    fprintf(stderr, "fanout-server: the threads model is not built yet\n");
    return 1;
}

const fo_engine fo_engine_threads = {.name = "threads", .help = "(not built yet)", .run = run_threads};
