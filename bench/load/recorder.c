/* A worker's recorder (see recorder.h). */
#include "recorder.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

int fo_recorder_init(fo_recorder *r, fo_windows *w, unsigned thread, uint64_t t0, uint64_t total_ns,
                     const fo_span *spans, size_t n_stages, int with_starts) {
    memset(r, 0, sizeof *r);
    assert(spans || n_stages == 0);
    r->windows = w;
    r->thread = thread;
    r->t0 = t0;
    r->total_ns = total_ns;
    r->spans = spans;
    r->with_starts = with_starts;
    if (fo_hist_init(&r->win_response) < 0) return -ENOMEM;
    if ((with_starts && fo_hist_init(&r->win_service) < 0) ||
        fo_load_stats_init(&r->stats, n_stages, with_starts) < 0) {
        fo_hist_free(&r->win_response);
        fo_hist_free(&r->win_service);
        return -ENOMEM;
    }
    return 0;
}

void fo_recorder_free(fo_recorder *r) {
    fo_hist_free(&r->win_response);
    fo_hist_free(&r->win_service);
}

/* Hands the current window over and moves to window `next`. */
static void flush(fo_recorder *r, uint64_t next) {
    fo_win_part p = {&r->win_response, r->with_starts ? &r->win_service : NULL,
                     r->win_failures,  r->win_bytes,
                     r->win_starts,    r->win_late};
    if (fo_windows_flush(r->windows, r->thread, r->win_idx, &p, next) < 0) r->error = -ENOMEM;
    fo_hist_reset(&r->win_response);
    if (r->with_starts) fo_hist_reset(&r->win_service);
    r->win_failures = r->win_bytes = r->win_starts = r->win_late = 0;
    r->win_idx = next;
}

/* Run time of an event at hrtime `now`, or UINT64_MAX when it falls after the run's end (or
 * after close): such an event is dropped. Moves the current window forward when needed. */
static uint64_t run_time(fo_recorder *r, uint64_t now) {
    if (r->closed) return UINT64_MAX;
    uint64_t t = now > r->t0 ? now - r->t0 : 0;
    if (t >= r->total_ns) return UINT64_MAX;
    uint64_t idx = t / FO_NS_PER_S;
    if (idx != r->win_idx) flush(r, idx);
    return t;
}

/* The stage whose span contains t, or NULL. */
static fo_stage_stats *stage_at(fo_recorder *r, uint64_t t) {
    for (size_t i = 0; i < r->stats.n_stages; i++)
        if (t >= r->spans[i].start_ns && t < r->spans[i].end_ns) return &r->stats.stages[i];
    return NULL;
}

void fo_recorder_success(fo_recorder *r, uint64_t now, uint64_t intended_ns, uint64_t sent_ns,
                         uint64_t body_bytes) {
    assert(intended_ns <= sent_ns && sent_ns <= now);
    uint64_t t = run_time(r, now);
    if (t == UINT64_MAX) {
        r->stats.dropped++;
        return;
    }
    uint64_t response = now - intended_ns;
    fo_hist_record(&r->win_response, response);
    if (r->with_starts) fo_hist_record(&r->win_service, now - sent_ns);
    r->win_bytes += body_bytes;
    fo_stage_stats *st = stage_at(r, t);
    if (st) fo_hist_record(&st->hist, response);
}

void fo_recorder_failure(fo_recorder *r, fo_fail_kind kind, uint64_t now) {
    uint64_t t = run_time(r, now);
    if (t == UINT64_MAX) {
        r->stats.dropped++;
        return;
    }
    r->stats.failures[kind]++;
    r->win_failures++;
    fo_stage_stats *st = stage_at(r, t);
    if (st) st->failures++;
}

void fo_recorder_start(fo_recorder *r, uint64_t now, uint64_t intended_ns, int queued) {
    assert(r->with_starts && intended_ns <= now);
    if (run_time(r, now) == UINT64_MAX) return;
    uint64_t late = now - intended_ns;
    r->stats.starts++;
    r->win_starts++;
    fo_hist_record(&r->stats.lateness, late);
    if (late > FO_LATE_NS) {
        r->stats.late++;
        r->win_late++;
    }
    if (queued) r->stats.queued++;
}

void fo_recorder_dropped(fo_recorder *r) {
    r->stats.dropped++;
}

void fo_recorder_reconnect(fo_recorder *r) {
    r->stats.reconnects++;
}

void fo_recorder_unsent(fo_recorder *r, uint64_t n) {
    assert(r->with_starts);
    r->stats.unsent += n;
}

void fo_recorder_connections(fo_recorder *r, uint64_t n) {
    assert(r->with_starts);
    r->stats.connections += n;
}

void fo_recorder_tick(fo_recorder *r, uint64_t now) {
    uint64_t t = now > r->t0 ? now - r->t0 : 0;
    if (!r->closed && t / FO_NS_PER_S > r->win_idx && t < r->total_ns) flush(r, t / FO_NS_PER_S);
}

void fo_recorder_close(fo_recorder *r) {
    if (r->closed) return;
    flush(r, UINT64_MAX);
    r->closed = 1;
}
