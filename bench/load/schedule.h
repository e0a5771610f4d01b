/* When users start and stop: Locust's spawn schedule, and stages.
 *
 * A run is a list of stages. Stage i ramps from the previous stage's user count (0 before the
 * first) to its own, in Locust's batches: max(1, floor(rate)) users every batch / rate seconds,
 * the first batch at the ramp's start (a rate of 0 means all at once). Once the count is
 * reached the stage holds it for its hold time, and the next stage's ramp begins. Ramps down
 * remove users the same way.
 *
 * The plain `--users N --spawn-rate R --duration D` run is one stage whose hold ends at D, so
 * the ramp is part of the duration, as in Locust (-t). Pure functions over nanoseconds since the
 * run's start. */
#ifndef FANOUT_LOAD_SCHEDULE_H
#define FANOUT_LOAD_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#define FO_SCHED_MAX_STAGES 64
#define FO_SCHED_MAX_USERS                                                                         \
    100000u /* each user is a connection: ~28k ephemeral ports per target                          \
             */

typedef struct fo_stage {
    uint32_t users;   /* the count this stage ramps to and holds */
    uint64_t hold_ns; /* how long the count is held once reached */
    /* Filled by fo_sched_finish: */
    uint64_t ramp_start_ns; /* the ramp's first batch */
    uint64_t hold_start_ns; /* the ramp's last batch: the count is reached */
    uint64_t end_ns;        /* the next stage's ramp starts here */
} fo_stage;

typedef struct fo_sched {
    double rate;          /* users started (or stopped) per second; 0 = at once */
    uint32_t batch;       /* max(1, floor(rate)) */
    uint64_t interval_ns; /* batch / rate seconds; 0 when rate is 0 */
    size_t n_stages;
    fo_stage stages[FO_SCHED_MAX_STAGES];
    uint64_t total_ns;  /* when the run ends */
    uint32_t max_users; /* the largest count of any stage */
} fo_sched;

/* A one-stage run of `users` users, spawned at `rate` per second, lasting duration_ns in all. */
void fo_sched_simple(fo_sched *s, uint32_t users, double rate, uint64_t duration_ns);

/* Adds a stage (users, hold); call fo_sched_finish after the last. 0, or -E2BIG when full. */
int fo_sched_add_stage(fo_sched *s, uint32_t users, uint64_t hold_ns);

/* Sets the rate and computes every stage's times and the total. When cap_ns is not 0, the run
 * ends at cap_ns at the latest. */
void fo_sched_finish(fo_sched *s, double rate, uint64_t cap_ns);

/* The number of users that should be running at time t. 0 at or after the end. */
uint32_t fo_sched_users_at(const fo_sched *s, uint64_t t);

/* The first time after t at which fo_sched_users_at changes; UINT64_MAX when it never does
 * again before the end (the end itself is not a change). */
uint64_t fo_sched_next_change(const fo_sched *s, uint64_t t);

/* The stage whose hold contains t (hold_start <= t < end), or -1 during ramps and after the end. */
int fo_sched_stage_at(const fo_sched *s, uint64_t t);

/* Dealing round-robin over n threads (or slots), item u (a user, or the open model's arrival)
 * going to thread u % n: how many of the items 0..total-1 go to thread k, and the global index
 * of thread k's i-th item. */
uint64_t fo_sched_share(uint64_t total, unsigned k, unsigned n);
uint64_t fo_sched_index(unsigned k, unsigned n, uint64_t i);

/* Users (and the open model's arrivals) are dealt round-robin over every thread of every
 * segment (--segment I/N): global user k runs in segment k mod N, and there on thread
 * (k div N) mod T. Both at once are one round-robin over N * T slots, thread t of segment i
 * being slot i + N * t; with one segment the slot is the thread. */
unsigned fo_sched_slot(unsigned segment, unsigned n_segments, unsigned thread);

#endif
