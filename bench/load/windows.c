/* Gathering per-second windows from the workers (see windows.h). */
#include "windows.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "locust.h"

const double fo_window_pcts[FO_WINDOW_PCTS] = {50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100};

int fo_windows_init(fo_windows *w, unsigned n_threads, const fo_sched *sched) {
    memset(w, 0, sizeof *w);
    w->sched = sched;
    w->n_threads = n_threads;
    w->seg_count = 1;
    w->watermark = calloc(n_threads, sizeof *w->watermark);
    if (!w->watermark) return -ENOMEM;
    if (fo_hist_init(&w->total) < 0 || fo_hist_init(&w->service_total) < 0) {
        fo_hist_free(&w->total);
        free(w->watermark);
        return -ENOMEM;
    }
    if (uv_mutex_init(&w->lock) != 0) {
        fo_hist_free(&w->total);
        fo_hist_free(&w->service_total);
        free(w->watermark);
        return -ENOMEM;
    }
    return 0;
}

static void drop_hist(fo_hist **h) {
    if (!*h) return;
    fo_hist_free(*h);
    free(*h);
    *h = NULL;
}

static void free_sparse(fo_sparse_hist *s) {
    free(s->index);
    free(s->count);
    memset(s, 0, sizeof *s);
}

/* Keeps h's non-empty buckets in s; s stays empty when memory runs out (the window's figures
 * are still right; only its merge across processes would miss them). */
static void keep_sparse(fo_sparse_hist *s, const fo_hist *h) {
    size_t n = 0;
    for (size_t i = h->lo; i < h->hi; i++)
        n += h->counts[i] != 0;
    if (!n) return;
    s->min_ns = h->min_ns;
    s->max_ns = h->max_ns;
    s->index = malloc(n * sizeof *s->index);
    s->count = malloc(n * sizeof *s->count);
    if (!s->index || !s->count) {
        free_sparse(s);
        return;
    }
    for (size_t i = h->lo; i < h->hi; i++) {
        if (!h->counts[i]) continue;
        s->index[s->n] = (uint32_t)i;
        s->count[s->n++] = h->counts[i];
    }
}

void fo_windows_free(fo_windows *w) {
    for (size_t i = 0; i < w->n; i++) {
        free_sparse(&w->win[i].hist);
        free_sparse(&w->win[i].service_hist);
        drop_hist(&w->pending[i]);
        drop_hist(&w->pending_service[i]);
    }
    free(w->pending);
    free(w->pending_service);
    free(w->win);
    free(w->counts);
    free(w->watermark);
    fo_hist_free(&w->total);
    fo_hist_free(&w->service_total);
    uv_mutex_destroy(&w->lock);
    memset(w, 0, sizeof *w);
}

/* Makes windows [0, idx] exist. */
static int ensure(fo_windows *w, uint64_t idx) {
    if (idx < w->n) return 0;
    if (idx >= w->cap) {
        size_t cap = w->cap ? w->cap : 64;
        while (cap <= idx) {
            if (cap > SIZE_MAX / 2 / sizeof(fo_window)) return -ENOMEM;
            cap *= 2;
        }
        fo_window *win = realloc(w->win, cap * sizeof *win);
        if (!win) return -ENOMEM;
        w->win = win;
        fo_hist **pending = realloc(w->pending, cap * sizeof *pending);
        if (!pending) return -ENOMEM;
        w->pending = pending;
        pending = realloc(w->pending_service, cap * sizeof *pending);
        if (!pending) return -ENOMEM;
        w->pending_service = pending;
        uint64_t *counts = realloc(w->counts, cap * sizeof *counts);
        if (!counts) return -ENOMEM;
        w->counts = counts;
        w->cap = cap;
    }
    for (size_t i = w->n; i <= idx; i++) {
        memset(&w->win[i], 0, sizeof w->win[i]);
        w->win[i].length_s = 1.0;
        w->pending[i] = NULL;
        w->pending_service[i] = NULL;
        w->counts[i] = 0;
    }
    w->n = (size_t)idx + 1;
    return 0;
}

/* Adds h into *slot, allocating it first. 0, or -ENOMEM. Lock held. */
static int add_hist(fo_hist **slot, const fo_hist *h) {
    if (!h || !h->n) return 0;
    if (!*slot) {
        *slot = malloc(sizeof(fo_hist));
        if (!*slot || fo_hist_init(*slot) < 0) {
            free(*slot);
            *slot = NULL;
            return -ENOMEM;
        }
    }
    fo_hist_merge(*slot, h);
    return 0;
}

int fo_windows_flush(fo_windows *w, unsigned thread, uint64_t idx, const fo_win_part *p,
                     uint64_t next) {
    int rc = 0;
    uint64_t n = p->response ? p->response->n : 0;
    uv_mutex_lock(&w->lock);
    if (next > w->watermark[thread]) w->watermark[thread] = next;
    int has_data = n || p->failures || p->bytes || p->starts;
    if (has_data && idx >= w->n_done) {
        rc = ensure(w, idx);
        if (rc == 0) rc = add_hist(&w->pending[idx], p->response);
        if (rc == 0) rc = add_hist(&w->pending_service[idx], p->service);
        if (rc == 0) {
            fo_window *win = &w->win[idx];
            win->requests += n;
            win->failures += p->failures;
            win->bytes += p->bytes;
            win->starts += p->starts;
            win->late += p->late;
        }
    }
    uv_mutex_unlock(&w->lock);
    return rc;
}

/* Computes window i's figures and folds its histogram into the total. Lock held. */
static void finalize_one(fo_windows *w, size_t i) {
    fo_window *win = &w->win[i];
    fo_hist *h = w->pending[i];
    uint64_t end_ns = (i + 1) * FO_NS_PER_S;
    if (end_ns > w->sched->total_ns) end_ns = w->sched->total_ns;
    win->users = fo_sched_share(fo_sched_users_at(w->sched, end_ns ? end_ns - 1 : 0), w->seg_index,
                                w->seg_count);
    if (h) {
        for (int p = 0; p < FO_WINDOW_PCTS; p++) {
            win->pct_ns[p] = fo_hist_percentile(h, fo_window_pcts[p]);
            uint64_t at =
                fo_hist_value_at_rank(h, fo_locust_index(h->n, fo_window_pcts[p] / 100.0));
            win->locust_pct_ms[p] = (uint64_t)fo_locust_round((double)at / 1e6);
        }
        keep_sparse(&win->hist, h);
        fo_hist_merge(&w->total, h);
        drop_hist(&w->pending[i]);
    }
    if (w->pending_service[i]) {
        for (int p = 0; p < FO_WINDOW_PCTS; p++)
            win->service_pct_ns[p] = fo_hist_percentile(w->pending_service[i], fo_window_pcts[p]);
        keep_sparse(&win->service_hist, w->pending_service[i]);
        fo_hist_merge(&w->service_total, w->pending_service[i]);
        drop_hist(&w->pending_service[i]);
    }
    if (w->rates)
        win->offered = fo_windows_offered_before(w, end_ns) -
                       fo_windows_offered_before(w, (uint64_t)i * FO_NS_PER_S);
    w->counts[i] = win->requests;
    w->total_failures += win->failures;
    w->total_bytes += win->bytes;
    win->total_requests = w->total.n;
    win->total_failures = w->total_failures;
    win->total_bytes = w->total_bytes;
    win->total_p50_ns = fo_hist_percentile(&w->total, 50);
    win->total_min_ns = w->total.n ? w->total.min_ns : 0;
    win->total_max_ns = w->total.max_ns;
    win->total_mean_ns = fo_hist_mean(&w->total);
    win->rps_smoothed = fo_locust_current_rps(w->counts, i + 1, i + 1);
    w->n_done = i + 1;
}

/* Finalises windows below `upto`, creating empty ones for seconds nobody reported. Lock held. */
static void finalize_upto(fo_windows *w, uint64_t upto) {
    if (upto > w->n_done && ensure(w, upto - 1) < 0) upto = w->n;
    while (w->n_done < upto)
        finalize_one(w, w->n_done);
}

size_t fo_windows_finalize(fo_windows *w, uint64_t limit) {
    uv_mutex_lock(&w->lock);
    /* A thread that has closed says UINT64_MAX ("nothing more from me"). When every thread
     * has, only the windows that hold something are final here: where the run ended is for
     * fo_windows_finish to say (and finalising "up to UINT64_MAX" would never end). */
    uint64_t low = limit, cap = w->n;
    for (unsigned t = 0; t < w->n_threads; t++) {
        if (w->watermark[t] < low) low = w->watermark[t];
        if (w->watermark[t] != UINT64_MAX && w->watermark[t] > cap) cap = w->watermark[t];
    }
    if (low > cap) low = cap;
    finalize_upto(w, low);
    size_t done = w->n_done;
    uv_mutex_unlock(&w->lock);
    return done;
}

size_t fo_windows_finish(fo_windows *w, uint64_t run_ns) {
    uint64_t n = (run_ns + FO_NS_PER_S - 1) / FO_NS_PER_S;
    uv_mutex_lock(&w->lock);
    finalize_upto(w, n);
    if (n && run_ns % FO_NS_PER_S && w->n_done == n) {
        fo_window *last = &w->win[n - 1];
        last->length_s = (double)(run_ns % FO_NS_PER_S) / 1e9;
        if (w->rates)
            last->offered = fo_windows_offered_before(w, run_ns) -
                            fo_windows_offered_before(w, (n - 1) * FO_NS_PER_S);
    }
    size_t done = w->n_done;
    uv_mutex_unlock(&w->lock);
    return done;
}

int fo_windows_get(fo_windows *w, size_t i, fo_window *out) {
    int rc = -ERANGE;
    uv_mutex_lock(&w->lock);
    if (i < w->n_done) {
        *out = w->win[i];
        rc = 0;
    }
    uv_mutex_unlock(&w->lock);
    return rc;
}

uint64_t fo_windows_offered_before(const fo_windows *w, uint64_t t) {
    return fo_sched_share(fo_rates_count_before(w->rates, t), w->seg_index, w->seg_count);
}

double fo_windows_max_rps_smoothed(const fo_windows *w) {
    return fo_locust_max_rps(w->counts, w->n_done);
}

uint64_t fo_windows_peak_raw(const fo_window *win, size_t n) {
    uint64_t peak = 0;
    for (size_t i = 0; i < n; i++)
        if (win[i].length_s >= 1.0 && win[i].requests > peak) peak = win[i].requests;
    return peak;
}

uint64_t fo_windows_max_rps_raw(const fo_windows *w) {
    return fo_windows_peak_raw(w->win, w->n_done);
}
