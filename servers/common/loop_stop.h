/* Graceful stop for the programs that serve on a libuv loop (fanout-server's uv, coro and
 * threads engines, fanout-api): SIGTERM or SIGINT stops the server (fo_server_uv_stop: no new
 * connections, requests in flight finish) and, when a timeout is given, arms a deadline; if
 * requests are still in flight when it passes, the loop is stopped anyway. */
#ifndef FANOUT_COMMON_LOOP_STOP_H
#define FANOUT_COMMON_LOOP_STOP_H

#include <stdint.h>
#include <uv.h>
#include "fanout/server_uv.h"

typedef struct fo_loop_stop {
    uv_signal_t sigint, sigterm;
    uv_timer_t deadline;
    fo_server_uv *server;
    const char *who;     /* the program's name, for its messages: "fanout-server" */
    uint64_t timeout_ms; /* 0: no deadline, the requests in flight all finish */
    /* The caller's: runs once the server has drained; it closes the caller's own handles and
     * calls fo_loop_stop_close. */
    void (*on_drained)(fo_server_uv *s);
} fo_loop_stop;

/* Installs the signal handlers on the server's loop; who names the program in messages. 0, or a
 * negative errno (the loop's signal pipe could not be opened), with nothing installed. */
int fo_loop_stop_start(fo_loop_stop *st, fo_server_uv *server, const char *who, uint64_t timeout_ms,
                       void (*on_drained)(fo_server_uv *s));

/* Closes the signal and timer handles (the struct must live until the loop has run once more). */
void fo_loop_stop_close(fo_loop_stop *st);

#endif
