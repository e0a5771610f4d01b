/* When visitors arrive in the open model (--rate, --rate-stages): one global sequence of
 * intended arrival times, evenly spaced on a nanosecond clock.
 *
 * A run is a list of rate stages, a staircase: stage i offers `rate` arrivals a second for its
 * hold, starting where the previous one ended. Its arrivals fall at start + j / rate seconds for
 * j = 0, 1, ... while that is before the stage's end, so a stage of R/s held D seconds offers
 * ceil(R * D) arrivals, and a rate of 0 is a pause. Arrival k of the whole run (k = 0, 1, ...)
 * is the k-th of these times in order.
 *
 * With several threads the global sequence is dealt round-robin: thread n of N sends arrivals
 * n, n + N, n + 2N, ... so the threads' sequences merged are exactly the global one, whatever the
 * rate (below N a second included) and whatever each thread's speed (fo_sched_share and
 * fo_sched_index in schedule.h, which deal the closed model's users the same way). Pure functions
 * over nanoseconds since the run's start. */
#ifndef FANOUT_LOAD_ARRIVALS_H
#define FANOUT_LOAD_ARRIVALS_H

#include <stddef.h>
#include <stdint.h>

#define FO_RATES_MAX_STAGES 64
#define FO_RATES_MAX_RATE 10e6 /* arrivals a second: 100 ns apart */

typedef struct fo_rate_stage {
    double rate;      /* arrivals a second, 0 for a pause */
    uint64_t hold_ns; /* as asked */
    /* Filled by fo_rates_finish: */
    uint64_t start_ns, end_ns; /* [start, end): capped by the run's end */
    uint64_t first;            /* the global index of its first arrival */
    uint64_t count;            /* its arrivals */
} fo_rate_stage;

typedef struct fo_rates {
    size_t n_stages;
    fo_rate_stage stages[FO_RATES_MAX_STAGES];
    uint64_t total_ns; /* when the run ends */
    uint64_t total;    /* arrivals in the whole run */
    double max_rate;   /* the highest stage rate */
} fo_rates;

/* One stage of `rate` a second lasting duration_ns. */
void fo_rates_simple(fo_rates *r, double rate, uint64_t duration_ns);

/* Adds a stage; call fo_rates_finish after the last. 0, or -E2BIG when full. */
int fo_rates_add_stage(fo_rates *r, double rate, uint64_t hold_ns);

/* Computes every stage's times and arrivals. When cap_ns is not 0 the run ends at cap_ns at
 * the latest. */
void fo_rates_finish(fo_rates *r, uint64_t cap_ns);

/* The intended time of global arrival k; UINT64_MAX when k >= total. */
uint64_t fo_rates_at(const fo_rates *r, uint64_t k);

/* How many arrivals are intended before time t. */
uint64_t fo_rates_count_before(const fo_rates *r, uint64_t t);

/* The stage whose span contains t, or -1 at or after the end. */
int fo_rates_stage_at(const fo_rates *r, uint64_t t);

#endif
