/* The request handler every concurrency model runs. It is written in two halves so that an
 * event-loop engine can suspend between them (as Apache's event MPM needs):
 *
 *   fo_handle_begin()   route the request; either the answer is ready at once (404, 405, 400,
 *                       ...) or a fan-out is planned;
 *   (the engine runs the fan-out: blocking with upstream_block, or on a loop with upstream_uv)
 *   fo_handle_finish()  turn the fan-out's outcome into the page, a 502 or a 504.
 *
 * The handler knows nothing of processes, threads, loops or sockets. */
#ifndef FANOUT_HANDLER_H
#define FANOUT_HANDLER_H

#include "fanout/http.h"
#include "fanout/upstream.h"

typedef enum fo_handle_step {
    FO_HANDLE_DONE = 0,   /* *resp is the answer */
    FO_HANDLE_FANOUT = 1, /* *fanout is planned: run it, then call fo_handle_finish */
} fo_handle_step;

fo_handle_step fo_handle_begin(const fo_request *req, fo_response *resp, fo_fanout *fanout);

/* Builds the answer for a completed fan-out and releases the fan-out's bodies. */
void fo_handle_finish(const fo_request *req, fo_fanout *fanout, fo_response *resp);

#endif
