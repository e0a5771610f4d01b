/* What one worker thread counts apart from the per-second windows: failures by kind, reconnects,
 * requests dropped at the end, each stage's own histogram, and in the open model the starts
 * (how late each request went out). A worker owns its stats alone (no locks); the runner merges
 * them once the workers have stopped. */
#ifndef FANOUT_LOAD_STATS_H
#define FANOUT_LOAD_STATS_H

#include <stddef.h>
#include <stdint.h>
#include "fanout/hist.h"

typedef enum fo_fail_kind {
    FO_FAIL_CONNECT = 0, /* the TCP connect failed */
    FO_FAIL_TIMEOUT,     /* no complete response within --timeout */
    FO_FAIL_HTTP,        /* a complete response with status >= 400 */
    FO_FAIL_MALFORMED,   /* bytes that are not an HTTP/1.x response */
    FO_FAIL_CLOSED,      /* the connection was closed or reset before the response was complete */
    FO_FAIL_KINDS
} fo_fail_kind;

/* "connect", "timeout", "http", "malformed", "closed". */
const char *fo_fail_name(fo_fail_kind kind);

typedef struct fo_stage_stats {
    fo_hist hist;      /* response times of the successes that completed during the stage */
    uint64_t failures; /* failures detected during the stage */
} fo_stage_stats;

typedef struct fo_load_stats {
    uint64_t failures[FO_FAIL_KINDS];
    uint64_t reconnects; /* connects after a user's first */
    uint64_t dropped;    /* requests in flight when the run ended: neither success nor failure */
    size_t n_stages;
    fo_stage_stats *stages; /* n_stages of them, or NULL */
    /* The open model only (with_starts is 1): */
    int with_starts;
    uint64_t starts;      /* requests sent for an arrival */
    uint64_t late;        /* of these, sent more than FO_LATE_NS after their intended time */
    uint64_t queued;      /* of these, found no idle connection and waited for one */
    uint64_t unsent;      /* arrivals due before the run ended and never sent */
    uint64_t connections; /* connections open at once at most (summed over the threads) */
    fo_hist lateness;     /* of every start: actual send - intended arrival */
} fo_load_stats;

/* 0, or -ENOMEM. with_starts: keep the open model's counters and lateness histogram too. */
int fo_load_stats_init(fo_load_stats *s, size_t n_stages, int with_starts);
void fo_load_stats_free(fo_load_stats *s);

/* Adds src into dst; both have the same number of stages. */
void fo_load_stats_merge(fo_load_stats *dst, const fo_load_stats *src);

#endif
