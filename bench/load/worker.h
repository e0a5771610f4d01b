/* A worker: one thread, one libuv loop, and its share of the load, which the model's driver
 * (driver.h) runs: the closed model's users dealt to it (user u runs on worker u % n_workers),
 * or the open model's arrivals dealt to it (arrival k on worker k % n_workers) with its own
 * pool of connections. Everything a worker touches on the hot path is its own: its
 * connections, its read buffer, its recorder. It talks to the rest of the program only through
 * its recorder's hand-overs to fo_windows (once a second) and, at its end, one uv_async_send.
 *
 * Who depends on whom: worker -> driver (driver.h) -> users (user.c) or pool (open.c) -> conn
 * (conn.c) -> recorder (recorder.c) -> windows; the worker also ticks and closes the recorder. */
#ifndef FANOUT_LOAD_WORKER_H
#define FANOUT_LOAD_WORKER_H

#include <stdint.h>
#include <uv.h>
#include "conn.h"
#include "driver.h"
#include "opts.h"
#include "recorder.h"
#include "stats.h"
#include "windows.h"

typedef struct fo_worker {
    unsigned id, n_workers;
    const fo_load_opts *opts;
    const struct sockaddr *addr;
    const struct sockaddr *source; /* --source, or NULL */
    const char *request;           /* the request's bytes, shared read-only by all workers */
    size_t request_len;
    uint64_t t0; /* the run's start, uv_hrtime() */
    fo_windows *windows;
    const fo_driver *driver;
    const fo_load_plan *plan; /* the run's stages and what the recorder keeps */
    uv_async_t *done_async;   /* sent once when the worker's loop has ended, ... */
    uv_mutex_t *done_lock;    /* ... after adding 1 to *done_count under this lock */
    unsigned *done_count;

    uv_loop_t loop;
    uv_thread_t thread;
    uv_timer_t tick_timer, stop_timer;
    uv_async_t stop_async; /* fo_worker_interrupt wakes the loop through it */
    int stop_async_closed; /* under *done_lock: set before stop_async is closed */
    fo_client client;
    fo_recorder rec; /* its stats are the worker's: the caller merges them after join */
    void *model;     /* the driver's share of the load, from its init */
    int stopping;
    uint64_t
        stopped_ns; /* run time at which it stopped (at or after the end, unless interrupted) */
} fo_worker;

/* Prepares w (its loop, connections, buffers); nothing runs yet. 0, or a negative errno. */
int fo_worker_init(fo_worker *w);
/* Starts the worker's thread. 0, or a negative libuv error. */
int fo_worker_start(fo_worker *w);
/* Waits for the thread to end. */
void fo_worker_join(fo_worker *w);
/* After every started worker has joined, the run's length run_ns known: settles what the
 * model still counts, adds the worker's stats into `into`, and frees everything. */
void fo_worker_finish(fo_worker *w, uint64_t run_ns, fo_load_stats *into);
/* From another thread: end the run now (an interrupt). Safe at any time after start. */
void fo_worker_interrupt(fo_worker *w);
/* Frees everything init allocated for a worker whose thread never started. */
void fo_worker_destroy(fo_worker *w);

#endif
