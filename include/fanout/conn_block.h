/* Serves requests on one connected socket with blocking I/O, in the calling thread: read a
 * request, run the handler (its fan-out with upstream_block), write the answer. For prefork. */
#ifndef FANOUT_CONN_BLOCK_H
#define FANOUT_CONN_BLOCK_H

#include "fanout/upstream_block.h"

typedef struct fo_conn_block_opts {
    int header_timeout_ms; /* the whole request must arrive within this */
    int max_requests;      /* requests served on the connection before closing it; 1 = close after each */
    /* When watch_stop is set: a descriptor that becomes readable when the server must stop (a
     * prefork worker's lifeline to its parent). Waiting for a request ends when it does: a
     * request not started is not waited for, a partial one is answered 503. */
    int watch_stop;
    int stop_fd;
} fo_conn_block_opts;

/* Serves fd until the client closes, a timeout, an error or max_requests; closes fd.
 * Returns the number of requests answered. */
int fo_conn_block_serve(int fd, fo_upstream_block *up, const fo_conn_block_opts *opts);

#endif
