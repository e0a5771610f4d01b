/* The models at scale (scripts/bench-scale.sh): one step is a model at a number of users, with
 * the page's ms scaled so the offered rate stays the same. This module judges a step (did the
 * model break there, and for want of what) and writes the tables. Pure: no files, no sockets
 * (bench/report/scale.c does the I/O). */
#ifndef FANOUT_SCALE_H
#define FANOUT_SCALE_H

#include <stddef.h>
#include <stdint.h>

/* A model breaks at a step with more failures than this share of its pages... */
#define FO_SCALE_MAX_FAILURE_RATIO 0.01
/* ... or a p95 above this many times the floor. */
#define FO_SCALE_MAX_P95_RATIO 1.5

typedef enum fo_scale_status {
    FO_STEP_RAN,     /* measured */
    FO_STEP_REFUSED, /* the server (or the load) would not start: cause says why */
    FO_STEP_SKIPPED, /* not started, to guard the machine (memory projected past half the RAM) */
    FO_STEP_NOT_RUN, /* the model broke at a smaller step */
} fo_scale_status;

typedef struct fo_scale_step {
    char model[16];
    int users, ms, size;
    fo_scale_status status;
    char cause[16];   /* why it broke or was not run: descriptors, memory, CPU, pids, ... */
    char reason[256]; /* the refusal's or the guard's own words */
    /* What the load saw (fanout-load's JSON). */
    uint64_t requests, failures;
    uint64_t in_flight_at_end; /* sent, not answered when the step ended: in neither count */
    double min_ms, p95_ms, mean_ms, max_rps;
    double wall_s;
    /* What bench-scale.sh measured of the server: every process together. */
    double peak_rss_kib, cpu_s;
    long peak_threads, peak_procs, peak_fds, fd_limit; /* -1: not measured on this system */
    /* The harness, to show it was not the limit. */
    int api_workers, api_ports, load_threads;
    double api_cpu_s, load_cpu_s;
    long api_peak_in_flight;
    /* The machine. */
    double mem_kib;
    int cores;
} fo_scale_step;

/* The floor, 2 * ms, in ms; and Little's law for a model sized to its users: users / floor. */
double fo_scale_floor_ms(const fo_scale_step *s);
double fo_scale_bound_rps(const fo_scale_step *s);
double fo_scale_rps_ratio(const fo_scale_step *s);
double fo_scale_p95_ratio(const fo_scale_step *s);
double fo_scale_failure_ratio(const fo_scale_step *s);
double fo_scale_cpu_ms_per_page(const fo_scale_step *s);

/* Share of one core the API and the load generator used over the step, per process or thread
 * of theirs (1 = a core saturated). */
double fo_scale_api_busy(const fo_scale_step *s);
double fo_scale_load_busy(const fo_scale_step *s);

/* Judges a step that ran: 1 when the model broke there (failure ratio above
 * FO_SCALE_MAX_FAILURE_RATIO or p95 / floor above FO_SCALE_MAX_P95_RATIO), with s->cause set to
 * what ran out: "descriptors" (within 10% of the limit in every process), "memory" (past half of
 * the RAM), "CPU" (the server, the API and the load together on 90% of the cores or more),
 * "harness" (the API or the load generator saturated a core: the result says nothing of the
 * model), else "queueing". 0 when it held. Steps that did not run are left as they are (0). */
int fo_scale_judge(fo_scale_step *s);

/* One line for the console: "uv 10000: RPS / bound 0.99, p95 / floor 1.01, failures 0.00% ..." */
void fo_scale_line(const fo_scale_step *s, char *out, size_t len);

/* Markdown: models x users, each cell "RPS / bound · p95 / floor" (or why there is none), then
 * each model's break. steps in ladder order per model. malloc'd. */
char *fo_scale_matrix_md(const fo_scale_step *steps, size_t n);

/* Markdown: one row per step with every figure. malloc'd. */
char *fo_scale_table_md(const fo_scale_step *steps, size_t n);

#endif
