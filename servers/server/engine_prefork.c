/* Placeholder until the prefork engine lands (issue 3); replaced by the real engine. */
#include <stdio.h>
#include "engine.h"

static int run_prefork(const fo_server_opts *o, int listen_fd) {
    (void)o;
    (void)listen_fd;
    fprintf(stderr, "fanout-server: the prefork model is not built yet\n");
    return 1;
}

const fo_engine fo_engine_prefork = {.name = "prefork", .help = "(not built yet)", .run = run_prefork};
