/* Serves requests on one connected socket with blocking I/O, in the calling thread: read a
 * request, run the handler (its fan-out with upstream_block), write the answer. For prefork. */
#ifndef FANOUT_CONN_BLOCK_H
#define FANOUT_CONN_BLOCK_H

#include "fanout/upstream_block.h"

typedef struct fo_conn_block_opts {
    /* A request must arrive whole within this (0: FO_HEADER_TIMEOUT_MS): the first from the
     * connection's start, the next ones from their first byte, whatever it is (bare line breaks
     * count). */
    int header_timeout_ms;
    int keepalive_timeout_ms; /* how long an idle connection waits for a next request; 0:
                                 FO_KEEPALIVE_TIMEOUT_MS */
    int max_requests; /* requests served on the connection before closing it; 1 = close after each
                       */
    int no_cancel;    /* 1: a client that leaves mid-page does not stop its fan-out */
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
