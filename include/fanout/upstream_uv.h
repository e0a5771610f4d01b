/* Runs fan-outs on a libuv loop: one libcurl multi handle per loop, driven by
 * curl_multi_socket_action from uv_poll (sockets) and a uv_timer (curl's timeouts). Any number of
 * fan-outs may be in flight at once; connections to the upstream are reused between them. */
#ifndef FANOUT_UPSTREAM_UV_H
#define FANOUT_UPSTREAM_UV_H

#include <uv.h>
#include "fanout/upstream.h"

typedef struct fo_upstream_uv fo_upstream_uv;

/* Called once per fan-out, on the loop, when its three calls have ended, or as soon as one has
 * failed (the others are then cancelled; unless cfg->no_cancel). */
typedef void (*fo_fanout_cb)(fo_fanout *f, void *data);

/* cfg must outlive the runner. NULL when out of memory. */
fo_upstream_uv *fo_upstream_uv_new(uv_loop_t *loop, const fo_upstream_cfg *cfg);

/* Starts the planned calls of f; cb runs when all have ended (never from inside this call).
 * f must stay valid until then. 0, or -errno. */
int fo_upstream_uv_start(fo_upstream_uv *u, fo_fanout *f, fo_fanout_cb cb, void *data);

/* Ends the fan-out f, started and not ended, now: its calls still running stop (their
 * connections close) and end as FO_CALL_CANCELLED with why, and its callback runs before this
 * returns. For a page whose client has left. */
void fo_upstream_uv_cancel(fo_upstream_uv *u, fo_fanout *f, const char *why);

/* Easy handles kept idle for the next calls now, and easy handles made since the runner began.
 * A runner keeps as many as were in flight at once, and frees those not taken for 10 s. */
size_t fo_upstream_uv_idle_easy(const fo_upstream_uv *u);
size_t fo_upstream_uv_easy_made(const fo_upstream_uv *u);

/* Aborts nothing: call when no fan-out is running. Closes the handles; the memory is freed in
 * their close callbacks, so let the loop run afterwards. */
void fo_upstream_uv_close(fo_upstream_uv *u);

#endif
