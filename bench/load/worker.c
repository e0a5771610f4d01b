/* A worker thread: its loop, its timers, its share of the schedule, and the recording of
 * results into its own counters and current window (see worker.h). */
#include "worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RBUF_LEN (64 * 1024)
#define TICK_MS 100

/* Milliseconds from the loop's now until run time t (ns since t0), rounded up so a timer
 * never fires before t. */
static uint64_t ms_until(fo_worker *w, uint64_t t) {
    uint64_t at = w->t0 + t, now = uv_hrtime();
    return at > now ? (at - now + 999999) / 1000000 : 0;
}

static void flush_window(fo_worker *w, uint64_t next) {
    if (fo_windows_flush(w->windows, w->id, w->win_idx, &w->win_hist, w->win_failures, w->win_bytes,
                         next) < 0)
        w->error = -ENOMEM;
    fo_hist_reset(&w->win_hist);
    w->win_failures = 0;
    w->win_bytes = 0;
    w->win_idx = next;
}

static void stop(fo_worker *w);

/* Run time of an event at hrtime `now`, or UINT64_MAX when it falls after the run's end: the
 * run is [0, total), so such an event is dropped, and the run ends here even if the stop
 * timer has not fired yet. Moves the current window forward when needed. */
static uint64_t run_time(fo_worker *w, uint64_t now) {
    uint64_t t = now > w->t0 ? now - w->t0 : 0;
    if (w->stopping) return UINT64_MAX;
    if (t >= w->opts->sched.total_ns) {
        stop(w);
        return UINT64_MAX;
    }
    uint64_t idx = t / FO_NS_PER_S;
    if (idx != w->win_idx) flush_window(w, idx);
    return t;
}

void fo_worker_success(fo_worker *w, uint64_t start_ns, uint64_t end_ns, uint64_t body_bytes) {
    uint64_t t = run_time(w, end_ns);
    if (t == UINT64_MAX) {
        w->stats.dropped++;
        return;
    }
    uint64_t ns = end_ns - start_ns;
    fo_hist_record(&w->win_hist, ns);
    w->win_bytes += body_bytes;
    if (w->stats.n_stages) {
        int s = fo_sched_stage_at(&w->opts->sched, t);
        if (s >= 0) fo_hist_record(&w->stats.stages[s].hist, ns);
    }
}

void fo_worker_failure(fo_worker *w, fo_fail_kind kind, uint64_t now) {
    uint64_t t = run_time(w, now);
    if (t == UINT64_MAX) {
        w->stats.dropped++;
        return;
    }
    w->stats.failures[kind]++;
    w->win_failures++;
    if (w->stats.n_stages) {
        int s = fo_sched_stage_at(&w->opts->sched, t);
        if (s >= 0) w->stats.stages[s].failures++;
    }
}

uint64_t fo_worker_wait_ns(fo_worker *w) {
    uint64_t lo = w->opts->wait_min_ns, hi = w->opts->wait_max_ns;
    if (hi == 0) return 0;
    /* xorshift64: cheap, and good enough to spread waits. */
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return lo + (hi > lo ? w->rng % (hi - lo + 1) : 0);
}

/* Brings this worker's active users to its share of the schedule's count at run time t. */
static void apply_schedule(fo_worker *w, uint64_t t) {
    uint32_t want = fo_sched_share(fo_sched_users_at(&w->opts->sched, t), w->id, w->n_workers);
    if (want > w->n_users) want = w->n_users;
    while (w->n_active < want)
        fo_user_activate(&w->users[w->n_active++]);
    /* Ramping down stops the most recently started users first. */
    while (w->n_active > want)
        fo_user_deactivate(&w->users[--w->n_active]);
}

static void on_sched(uv_timer_t *timer) {
    fo_worker *w = timer->data;
    uint64_t t = uv_hrtime() - w->t0;
    apply_schedule(w, t);
    uint64_t next = fo_sched_next_change(&w->opts->sched, t);
    if (next != UINT64_MAX) uv_timer_start(&w->sched_timer, on_sched, ms_until(w, next), 0);
}

static void on_tick(uv_timer_t *timer) {
    fo_worker *w = timer->data;
    uint64_t now = uv_hrtime();
    uint64_t t = now - w->t0;
    if (t / FO_NS_PER_S > w->win_idx && t < w->opts->sched.total_ns)
        flush_window(w, t / FO_NS_PER_S);
    for (uint32_t i = 0; i < w->n_users; i++)
        fo_user_check_timeout(&w->users[i], now);
}

static void stop(fo_worker *w) {
    if (w->stopping) return;
    w->stopping = 1;
    uint64_t now = uv_hrtime();
    w->stopped_ns = now > w->t0 ? now - w->t0 : 0;
    flush_window(w, UINT64_MAX);
    for (uint32_t i = 0; i < w->n_users; i++)
        fo_user_abort(&w->users[i]);
    uv_close((uv_handle_t *)&w->sched_timer, NULL);
    uv_close((uv_handle_t *)&w->tick_timer, NULL);
    uv_close((uv_handle_t *)&w->stop_timer, NULL);
    /* Once closed, nobody may send to stop_async: say so first, under the lock senders take. */
    uv_mutex_lock(w->done_lock);
    w->stop_async_closed = 1;
    uv_close((uv_handle_t *)&w->stop_async, NULL);
    uv_mutex_unlock(w->done_lock);
}

static void on_interrupt(uv_async_t *a) {
    stop(a->data);
}

void fo_worker_interrupt(fo_worker *w) {
    uv_mutex_lock(w->done_lock);
    if (!w->stop_async_closed) uv_async_send(&w->stop_async);
    uv_mutex_unlock(w->done_lock);
}

static void on_stop(uv_timer_t *timer) {
    stop(timer->data);
}

static void thread_main(void *arg) {
    fo_worker *w = arg;
    uv_update_time(&w->loop);
    uint64_t tick = w->opts->timeout_ns / 4000000;
    if (tick > TICK_MS) tick = TICK_MS;
    if (tick < 1) tick = 1;
    uv_timer_start(&w->sched_timer, on_sched, ms_until(w, 0), 0);
    uv_timer_start(&w->tick_timer, on_tick, tick, tick);
    uv_timer_start(&w->stop_timer, on_stop, ms_until(w, w->opts->sched.total_ns), 0);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_mutex_lock(w->done_lock);
    (*w->done_count)++;
    uv_mutex_unlock(w->done_lock);
    uv_async_send(w->done_async);
}

int fo_worker_init(fo_worker *w) {
    int rc = uv_loop_init(&w->loop);
    if (rc < 0) return rc;
    w->n_users = fo_sched_share(w->opts->sched.max_users, w->id, w->n_workers);
    w->rbuf_len = RBUF_LEN;
    w->rbuf = malloc(RBUF_LEN);
    w->users = calloc(w->n_users ? w->n_users : 1, sizeof *w->users);
    if (!w->rbuf || !w->users || fo_hist_init(&w->win_hist) < 0 ||
        fo_load_stats_init(&w->stats, w->opts->staged ? w->opts->sched.n_stages : 0) < 0) {
        free(w->rbuf);
        free(w->users);
        fo_hist_free(&w->win_hist);
        uv_loop_close(&w->loop);
        return -ENOMEM;
    }
    fo_user_settings(&w->settings);
    w->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)w->id << 32) ^ uv_hrtime();
    if (!w->rng) w->rng = 1;
    uv_timer_init(&w->loop, &w->sched_timer);
    uv_timer_init(&w->loop, &w->tick_timer);
    uv_timer_init(&w->loop, &w->stop_timer);
    uv_async_init(&w->loop, &w->stop_async, on_interrupt);
    w->stop_async.data = w;
    w->sched_timer.data = w->tick_timer.data = w->stop_timer.data = w;
    for (uint32_t i = 0; i < w->n_users; i++)
        fo_user_init(&w->users[i], w);
    return 0;
}

int fo_worker_start(fo_worker *w) {
    return uv_thread_create(&w->thread, thread_main, w);
}

static void close_any(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void fo_worker_destroy(fo_worker *w) {
    /* The timers made by init are handles of the loop: close them before the loop. */
    uv_walk(&w->loop, close_any, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    free(w->rbuf);
    free(w->users);
    fo_hist_free(&w->win_hist);
    w->rbuf = NULL;
    w->users = NULL;
}

void fo_worker_join(fo_worker *w) {
    uv_thread_join(&w->thread);
    uv_loop_close(&w->loop);
    free(w->rbuf);
    free(w->users);
    fo_hist_free(&w->win_hist);
    w->rbuf = NULL;
    w->users = NULL;
}
