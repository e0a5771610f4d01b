/* The figures of a finished run, and the summary a person reads on stdout. The last two lines
 * of the summary are the blog's table header and this run's row, so they can be pasted beside
 * it. */
#ifndef FANOUT_LOAD_REPORT_H
#define FANOUT_LOAD_REPORT_H

#include <stdint.h>
#include <stdio.h>
#include "opts.h"
#include "run.h"

/* The figures of one latency histogram, in ms; 0 when it is empty. */
typedef struct fo_latency {
    double min_ms, mean_ms, max_ms;                 /* exact */
    double p50_ms, p90_ms, p95_ms, p99_ms, p999_ms; /* within 0.05% */
} fo_latency;

void fo_latency_of(const fo_hist *h, fo_latency *l);

/* The p95 by Locust's index rule and rounding, in ms; 0 when h is empty. */
double fo_latency_p95_locust_ms(const fo_hist *h);

typedef struct fo_load_summary {
    uint64_t requests; /* successes */
    uint64_t failures; /* all kinds */
    uint64_t by_kind[FO_FAIL_KINDS];
    uint64_t reconnects, bytes;
    uint64_t in_flight_at_end; /* sent, not yet answered when the run ended: in neither count */
    double min_ms, max_ms, mean_ms; /* exact, over successes; 0 when there are none */
    double p50_ms, p90_ms, p95_ms, p99_ms, p999_ms; /* within 0.05% */
    double p95_locust_ms;                           /* Locust's index rule and rounding */
    double rps;                                     /* successes per second over the run */
    double max_rps_smoothed;                        /* peak of Locust's current RPS */
    uint64_t max_rps_raw;                           /* peak of one-second counts */
    double failure_ratio;                           /* failures / (successes + failures) */
    double duration_s;
    /* The open model's (driver_open.c); the latency figures above are then response times. */
    fo_latency response, service, lateness;
    uint64_t arrivals;     /* intended before the run's end */
    uint64_t sent, unsent; /* sent; due and never sent */
    uint64_t late, queued; /* starts later than FO_LATE_NS; starts that waited for a connection */
    uint64_t connections;  /* in use at once at most */
    double offered_rps, achieved_rps; /* arrivals and sends per second over the run */
} fo_load_summary;

typedef struct fo_stage_summary {
    uint32_t users;        /* the closed model's stages */
    double rate;           /* the open model's */
    double level;          /* users or rate, whichever the model has */
    double start_s, end_s; /* the hold (the open model: the stage) */
    uint64_t requests, failures;
    double rps;
    double min_ms, mean_ms, p50_ms, p95_ms, p99_ms, max_ms;
} fo_stage_summary;

void fo_load_summarize(const fo_load_result *r, fo_load_summary *s);
void fo_stage_summarize(const fo_load_opts *o, const fo_load_result *r, size_t i,
                        fo_stage_summary *s);

/* The human summary; ends with the blog's header and row. */
void fo_load_print_summary(FILE *f, const fo_load_opts *o, const fo_load_result *r,
                           const fo_load_summary *s);

/* The blog's two lines alone. */
void fo_load_print_blog_row(FILE *f, const fo_load_summary *s);

/* Two lines of a latency's figures, as the summary prints them: `name`, and `what` it measures. */
void fo_load_print_latency(FILE *f, const char *name, const fo_latency *l, const char *what);

#endif
