/* Placeholder until the supervisor lands (issue 3). */
#include <stdio.h>
#include "supervisor.h"

int fo_supervise(const fo_server_opts *opts, int listen_fd, int workers,
                 int (*child)(const fo_server_opts *opts, int listen_fd)) {
    (void)opts; (void)listen_fd; (void)workers; (void)child;
    fprintf(stderr, "fanout-server: multi-process serving is not built yet\n");
    return 1;
}
