/* Where a result lands: a worker thread's recorder. Whatever produces requests (the closed
 * model's users, the open model's arrivals) reports each outcome here, and the recorder puts it
 * in the right one-second window, stage and counters, all owned by its thread alone (no locks on
 * the hot path). Once a second, and at the end, it hands the finished window over to the shared
 * fo_windows.
 *
 * Two latencies are recorded for each success: the response time, from when the request was
 * meant to start (the closed model: when it was issued; the open model: its intended arrival),
 * and the service time, from when it was actually issued (the connect or the write). They
 * differ only in the open model, where their difference is queueing and lateness. */
#ifndef FANOUT_LOAD_RECORDER_H
#define FANOUT_LOAD_RECORDER_H

#include <stddef.h>
#include <stdint.h>
#include "fanout/hist.h"
#include "stats.h"
#include "windows.h"

/* A start later than this after its intended time is counted late. */
#define FO_LATE_NS (1000000ull)

/* The span of run time over which a stage's figures are taken. */
typedef struct fo_span {
    uint64_t start_ns, end_ns; /* [start, end) */
} fo_span;

typedef struct fo_recorder {
    fo_windows *windows;
    unsigned thread;
    uint64_t t0;          /* the run's start, uv_hrtime() */
    uint64_t total_ns;    /* the run is [0, total): later events are dropped */
    const fo_span *spans; /* one per stats stage (stats.n_stages of them) */
    int with_starts;      /* the open model's: service times and starts are recorded too */
    int closed;           /* fo_recorder_close ran: every later event is dropped */
    fo_load_stats stats;  /* the caller merges them after the thread has ended */
    /* The current one-second window. */
    uint64_t win_idx;
    fo_hist win_response, win_service;
    uint64_t win_failures, win_bytes, win_starts, win_late;
    int error; /* -ENOMEM when a window could not be handed over (its data is lost) */
} fo_recorder;

/* 0, or -ENOMEM. spans may be NULL when n_stages is 0; both must outlive r. */
int fo_recorder_init(fo_recorder *r, fo_windows *w, unsigned thread, uint64_t t0, uint64_t total_ns,
                     const fo_span *spans, size_t n_stages, int with_starts);
/* Frees what init allocated, except stats. */
void fo_recorder_free(fo_recorder *r);

/* A success answered at hrtime `now`: meant to start at intended_ns, issued at sent_ns. */
void fo_recorder_success(fo_recorder *r, uint64_t now, uint64_t intended_ns, uint64_t sent_ns,
                         uint64_t body_bytes);
void fo_recorder_failure(fo_recorder *r, fo_fail_kind kind, uint64_t now);
/* The open model: an arrival meant for intended_ns is sent now; queued when it had to wait for
 * a free connection. */
void fo_recorder_start(fo_recorder *r, uint64_t now, uint64_t intended_ns, int queued);
/* A request in flight when the run ended: neither success nor failure. */
void fo_recorder_dropped(fo_recorder *r);
/* A connect after a connection's first. */
void fo_recorder_reconnect(fo_recorder *r);
/* The open model, at or after the thread's end (after close too): n arrivals were due before
 * the run ended and never sent; n connections were in use at once at most. */
void fo_recorder_unsent(fo_recorder *r, uint64_t n);
void fo_recorder_connections(fo_recorder *r, uint64_t n);

/* Hands the current window over once its second is over. Call a few times a second. */
void fo_recorder_tick(fo_recorder *r, uint64_t now);
/* The run is over for this thread: hands over the last window; later events are dropped. */
void fo_recorder_close(fo_recorder *r);

#endif
