/* Runs a fan-out in the calling thread, blocking: one libcurl multi handle, three easy handles,
 * driven by curl_multi_poll until all three calls end. For the blocking engines (prefork,
 * threads). One runner per worker (process or thread): it keeps its connections alive across
 * fan-outs, and is not shared between threads. */
#ifndef FANOUT_UPSTREAM_BLOCK_H
#define FANOUT_UPSTREAM_BLOCK_H

#include "fanout/upstream.h"

typedef struct fo_upstream_block fo_upstream_block;

/* Descriptors one runner holds: its multi handle's wake-up socket pair, and a kept connection
 * for each of the three calls. */
#define FO_UPSTREAM_BLOCK_FDS (2 + FO_FANOUT_CALLS)

/* cfg must outlive the runner. NULL when out of memory or when curl cannot be set up. */
fo_upstream_block *fo_upstream_block_new(const fo_upstream_cfg *cfg);

/* Runs the planned calls of f until all end; fills outcomes and the times. 0, or -errno when the
 * fan-out could not be run at all (every call is then marked failed). */
int fo_upstream_block_run(fo_upstream_block *u, fo_fanout *f);

void fo_upstream_block_free(fo_upstream_block *u);

#endif
