/* The open model's side of a worker: its share of the arrivals (arrivals.h), each sent at its
 * intended time on a pool of keep-alive connections (conn.h).
 *
 * An arrival takes the idle connection used last (its socket is warm), or opens a new one when
 * none is idle, up to the thread's share of --max-connections. At the cap the arrival waits
 * for a connection to come free and is sent then, counted as queued; its response time still
 * starts at its intended time, so the wait shows. Nothing is dropped: arrivals still waiting
 * when the run ends are counted as unsent.
 *
 * Timing: libuv's timers count whole milliseconds, so a timer wakes the loop up to 2-3 ms
 * before the next arrival and the loop then polls without blocking (a uv_idle handle) until
 * the arrival's nanosecond comes, napping in between on the loop's own descriptor with a
 * nanosecond timeout (any I/O event ends the nap at once). What is left of the spin is the last
 * ~0.1 ms before each arrival, and all the time at high rates, when the loop is busy anyway. */
#ifndef FANOUT_LOAD_OPEN_H
#define FANOUT_LOAD_OPEN_H

#include <stdint.h>
#include <uv.h>
#include "arrivals.h"
#include "conn.h"

typedef struct fo_pool fo_pool;

/* A connection of the pool. */
typedef struct fo_pool_conn {
    fo_conn conn;
    fo_pool *pool;
    uint32_t index;
} fo_pool_conn;

struct fo_pool {
    fo_client *cl;
    const fo_rates *rates;
    unsigned thread, n_threads;
    uint64_t t0;           /* the run's start, uv_hrtime() */
    uint64_t own_total;    /* this thread's arrivals in the whole run */
    uint64_t next_i;       /* its next arrival to send, counted among its own */
    uint64_t next_at;      /* that arrival's intended hrtime; UINT64_MAX when none is left */
    uint64_t end_at;       /* the run's end, hrtime: nothing is sent from then on */
    fo_pool_conn **chunks; /* the connections, in chunks that never move (handles live inside) */
    uint32_t n_conns, cap;
    uint32_t *idle; /* a stack of idle connections' indexes, the last freed on top */
    uint32_t n_idle, idle_cap;
    int blocked; /* an arrival is due and every connection is busy */
    int pumping, again;
    uv_timer_t timer;
    uv_idle_t spin;
};

/* Thread `thread` of n_threads, with at most `cap` connections (1 or more). 0, or -ENOMEM. */
int fo_pool_init(fo_pool *p, fo_client *cl, const fo_rates *rates, unsigned thread,
                 unsigned n_threads, uint32_t cap, uint64_t t0);
/* Arms the first arrival; call on the loop's thread before it runs. */
void fo_pool_start(fo_pool *p);
void fo_pool_check_timeouts(fo_pool *p, uint64_t now);
/* The run is over at hrtime `now`: counts the arrivals left unsent and the connections used,
 * drops the requests in flight, closes every handle. */
void fo_pool_abort(fo_pool *p, uint64_t now);
/* After the loop has run its close callbacks. */
void fo_pool_free(fo_pool *p);

#endif
