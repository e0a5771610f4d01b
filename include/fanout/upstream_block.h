/* Runs a fan-out in the calling thread, blocking: one libcurl multi handle, three easy handles,
 * driven by curl_multi_poll until all three calls end. For the blocking engines (prefork,
 * threads). One runner per worker (process or thread): it keeps its connections alive across
 * fan-outs, and is not shared between threads. */
#ifndef FANOUT_UPSTREAM_BLOCK_H
#define FANOUT_UPSTREAM_BLOCK_H

#include <stdatomic.h>

#include "fanout/upstream.h"

typedef struct fo_upstream_block fo_upstream_block;

/* Descriptors one runner holds: a kept connection for each of the three calls, and its multi
 * handle's wake-up pair. threads uses the pair (fo_upstream_block_wakeup, when a client leaves
 * mid-page); prefork does not, but cannot drop it. libcurl 7.88
 * (lib/multi.c, Curl_multi_handle) makes that pair in every curl_multi_init, for
 * curl_multi_wakeup: a socketpair (a pipe on macOS), with no option to skip it at run time; only
 * a libcurl built with CURL_DISABLE_SOCKETPAIR has none. Closing the descriptors behind curl's
 * back would let curl_multi_cleanup close whatever reuses their numbers. Fewer multi handles
 * would not help either: a runner needs its own, since each thread drives its fan-out alone
 * (a multi handle is used by one thread at a time), and all of them are busy at full load. */
#define FO_UPSTREAM_BLOCK_FDS (2 + FO_FANOUT_CALLS)

/* cfg must outlive the runner. NULL when out of memory or when curl cannot be set up. */
fo_upstream_block *fo_upstream_block_new(const fo_upstream_cfg *cfg);

/* What a run watches besides its calls, to stop early for a client that has left. */
typedef struct fo_upstream_watch {
    /* >= 0: the client's socket, watched while the calls run: its end of stream or a reset
     * stops the run. Bytes from the client (a pipelined request) end the watching, since what
     * follows them cannot be seen without reading them. -1: not watched. */
    int client_fd;
    /* Non-NULL: another thread sets it, then calls fo_upstream_block_wakeup, to stop the run. */
    const atomic_int *cancel;
} fo_upstream_watch;

/* Runs the planned calls of f until all end, or until one fails (the others are then cancelled,
 * unless cfg->no_cancel), or until what w watches says the client left (w may be NULL); fills
 * outcomes and the times. 0; -ECONNRESET when the client left (the calls still running are
 * cancelled); or -errno when the fan-out could not be run at all (every call is then marked
 * failed). */
int fo_upstream_block_run(fo_upstream_block *u, fo_fanout *f, const fo_upstream_watch *w);

/* Wakes the thread running u's fan-out from another thread, to see its watch's cancel flag. */
void fo_upstream_block_wakeup(fo_upstream_block *u);

void fo_upstream_block_free(fo_upstream_block *u);

#endif
