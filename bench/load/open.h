/* The open model's side of a worker: its share of the arrivals (arrivals.h), each sent at its
 * intended time on a pool of keep-alive connections (conn.h).
 *
 * An arrival takes the idle connection used last (its socket is warm). When none is idle it
 * waits, counted as queued, and the pool opens connections for the waiting arrivals, one per
 * arrival, up to the thread's share of --max-connections; arrivals are sent in order on the
 * first connection to be ready, an opened one or one coming free, whichever is first. So a
 * slow connect holds up no arrival that a reused connection could carry (opening one per
 * arrival and waiting for it made a pool spiral: at 100k/s every connect made the loop later,
 * which made more arrivals find no idle connection, up to the cap), and the pool grows to what
 * the load keeps busy at once. At high rates it also keeps spare idle connections for the next
 * 2 ms of arrivals (SPARE_NS), opened when nothing is due, and stops while opens fail. An
 * arrival's response time starts at its intended time, so any wait shows. A connect that fails (or
 * times out) fails the oldest waiting arrival, with that kind; one that fails while none waits
 * fails nobody. Nothing is dropped: arrivals still waiting when the run ends are counted as unsent.
 *
 * Timing: libuv's timers count whole milliseconds, so a timer wakes the loop up to 2-3 ms
 * before the next arrival and the loop then polls without blocking (a uv_idle handle) until
 * the arrival's nanosecond comes, napping in between on the loop's own descriptor with a
 * nanosecond timeout (any I/O event ends the nap at once). What is left of the spin is the last
 * ~0.1 ms before each arrival. At high rates (arrivals under 0.2 ms apart) the loop does not
 * spin: it sends what is due in batches at most 0.1 ms apart and naps in between, since a
 * wake-up per arrival cost more than the requests (see SEND_QUANTUM_NS); lateness shows it. */
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
    int opening; /* opened for the waiting arrivals, not yet ready */
} fo_pool_conn;

struct fo_pool {
    fo_client *cl;
    const fo_rates *rates;
    unsigned thread, n_threads;
    uint64_t t0;           /* the run's start, uv_hrtime() */
    uint64_t own_total;    /* this thread's arrivals in the whole run */
    uint64_t next_i;       /* its next arrival to send, counted among its own */
    uint64_t next_at;      /* that arrival's intended hrtime; UINT64_MAX when none is left */
    uint64_t prev_at;      /* the one before's, 0 at first: their gap tells the current rate */
    uint64_t end_at;       /* the run's end, hrtime: nothing is sent from then on */
    uint64_t stopped_t;    /* run time at which this thread stopped (fo_pool_abort) */
    fo_pool_conn **chunks; /* the connections, in chunks that never move (handles live inside) */
    uint32_t n_conns, cap;
    /* Indexes of free connections, the last freed on top: idle ones (connected, unless the
     * server closed one since: it moves to the closed ones when taken) and closed ones, to open
     * again for waiting arrivals. */
    uint32_t *idle, *closed;
    uint32_t n_idle, n_closed, stack_cap;
    uint32_t n_opening; /* connections being opened for the waiting arrivals */
    int blocked;        /* an arrival is due and no connection is idle */
    int spares_ok;      /* the last open succeeded: spare connections may be opened */
    uint64_t batch_at;  /* the next batch of sends goes no earlier (SEND_QUANTUM_NS) */
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
/* The run ended at run time run_ns, when the last thread stopped (with Ctrl-C the threads stop
 * one after the other): this thread's arrivals intended between its own stop and then were
 * not sent either, and are counted unsent in its recorder. */
void fo_pool_settle(fo_pool *p, uint64_t run_ns);
/* After the loop has run its close callbacks. */
void fo_pool_free(fo_pool *p);

#endif
