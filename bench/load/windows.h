/* The one-second windows of a run, gathered from every worker thread.
 *
 * Window s holds the requests that completed (or failed) in [s, s + 1) seconds of the run. Each
 * worker records its current window in a histogram of its own, without locks, and hands it
 * over here when a later second begins (fo_windows_flush, once a second per worker). A window is
 * finalised — its percentiles computed, its histogram folded into the run's cumulative one and
 * released — once every worker has moved past it, so the figures are exact merges whatever the
 * number of threads. The cumulative histogram is the run's histogram of successes.
 *
 * In the open model a window also has the service times of its successes (a second histogram)
 * and counts the requests sent in it, the late ones among them, and the arrivals offered. */
#ifndef FANOUT_LOAD_WINDOWS_H
#define FANOUT_LOAD_WINDOWS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "arrivals.h"
#include "fanout/hist.h"
#include "schedule.h"

#define FO_NS_PER_S UINT64_C(1000000000)

/* The percentiles kept per window, as Locust's CSV lists them. */
#define FO_WINDOW_PCTS 11
extern const double
    fo_window_pcts[FO_WINDOW_PCTS]; /* 50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100 */

/* A histogram's non-empty buckets, for the JSON (so that windows of several processes merge
 * exactly): bucket index (fo_hist_index) and count. */
typedef struct fo_sparse_hist {
    uint64_t min_ns, max_ns; /* exact */
    size_t n;
    uint32_t *index;
    uint64_t *count;
} fo_sparse_hist;

typedef struct fo_window {
    uint64_t requests; /* successes completed in the window */
    uint64_t failures;
    uint64_t bytes; /* body bytes of the successes */
    uint32_t users; /* users running at the window's end (before a batch due then) */
    uint64_t pct_ns[FO_WINDOW_PCTS];         /* of the window's successes; 0 when there are none */
    uint64_t service_pct_ns[FO_WINDOW_PCTS]; /* the same of their service times (open model) */
    uint64_t offered, starts, late;          /* the open model: arrivals due, sent, sent late */
    uint64_t locust_pct_ms[FO_WINDOW_PCTS];  /* the same by Locust's rule and rounding */
    double rps_smoothed;                     /* Locust's current RPS once this window is complete */
    double length_s;                         /* 1, or less for a last partial window */
    /* Running totals over windows 0..this one, as Locust's history CSV wants them. */
    uint64_t total_requests, total_failures, total_bytes;
    uint64_t total_p50_ns, total_min_ns, total_max_ns;
    double total_mean_ns;
    /* The window's histograms of successes (and of their service times), owned by fo_windows. */
    fo_sparse_hist hist, service_hist;
} fo_window;

/* One thread's share of one window. */
typedef struct fo_win_part {
    const fo_hist *response; /* its successes (may be NULL or empty) */
    const fo_hist *service;  /* their service times: the open model only, else NULL */
    uint64_t failures, bytes;
    uint64_t starts, late; /* the open model: requests sent, and those sent late */
} fo_win_part;

typedef struct fo_windows {
    uv_mutex_t lock;
    const fo_sched *sched;
    const fo_rates *rates; /* the open model's arrivals, set after init; NULL otherwise */
    unsigned n_threads;
    /* This process's segment (--segment I/N; 0 and 1 without): windows count its share of
     * the users and of the arrivals offered. Set after init. */
    unsigned seg_index, seg_count;
    uint64_t *watermark; /* per thread: it will hand over nothing for windows below this */
    /* Windows [0, n_done) are final; [n_done, n) are gathering. */
    fo_window *win;
    fo_hist **pending;         /* per window: its merged histogram while gathering, else NULL */
    fo_hist **pending_service; /* the same for service times */
    uint64_t *counts;          /* per window: requests (for the smoothed RPS) */
    size_t n, cap, n_done;
    fo_hist total;         /* every final window's successes */
    fo_hist service_total; /* their service times (open model; empty otherwise) */
    uint64_t total_failures, total_bytes;
} fo_windows;

/* 0, or -ENOMEM. sched must outlive w. */
int fo_windows_init(fo_windows *w, unsigned n_threads, const fo_sched *sched);
void fo_windows_free(fo_windows *w);

/* Thread `thread` hands over its part of window `idx`, and promises nothing more for any window
 * below `next`. Thread-safe. 0, or -ENOMEM (the data is then lost, and counted nowhere). */
int fo_windows_flush(fo_windows *w, unsigned thread, uint64_t idx, const fo_win_part *p,
                     uint64_t next);

/* Finalises every window that all threads have moved past, and at most windows below `limit`.
 * Thread-safe. Returns the number of final windows. */
size_t fo_windows_finalize(fo_windows *w, uint64_t limit);

/* After the workers have stopped: finalises every window below `limit` whatever the
 * watermarks, and the last one as partial when the run ended inside it (run_ns). */
size_t fo_windows_finish(fo_windows *w, uint64_t run_ns);

/* Copies final window i into *out under the lock (workers may grow the array meanwhile).
 * 0, or -ERANGE when window i is not final. */
int fo_windows_get(fo_windows *w, size_t i, fo_window *out);

/* The open model: the arrivals of this segment intended before run time t. */
uint64_t fo_windows_offered_before(const fo_windows *w, uint64_t t);

/* The peaks over the final windows: Locust's smoothed current RPS and the raw one-second count
 * (a partial last window is left out of the raw peak). */
double fo_windows_max_rps_smoothed(const fo_windows *w);
/* The raw peak over n windows: the largest request count of a whole (one-second) window. */
uint64_t fo_windows_peak_raw(const fo_window *win, size_t n);
uint64_t fo_windows_max_rps_raw(const fo_windows *w);

#endif
