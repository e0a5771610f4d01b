/* A worker thread: its loop, its timers, and its share of the schedule (see worker.h). */
#include "worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RBUF_LEN (64 * 1024)
#define TICK_MS 100

/* Milliseconds from now until run time t (ns since t0), rounded up so a timer never fires
 * before t. */
static uint64_t ms_until(fo_worker *w, uint64_t t) {
    uint64_t at = w->t0 + t, now = uv_hrtime();
    return at > now ? (at - now + 999999) / 1000000 : 0;
}

/* This thread's slot, and the slots of all segments' threads (see fo_sched_slot). */
static unsigned deal_slot(const fo_worker *w) {
    return fo_sched_slot(w->opts->seg_index, w->opts->seg_count, w->id);
}

static unsigned deal_slots(const fo_worker *w) {
    return w->opts->seg_count * w->n_workers;
}

/* Brings this worker's active users to its share of the schedule's count at run time t. */
static void on_sched(uv_timer_t *timer) {
    fo_worker *w = timer->data;
    const fo_sched *s = &w->opts->sched;
    uint64_t now = uv_hrtime();
    /* The loop's millisecond clock may fire the first timer a little before t0 (the further
     * t0 lies ahead, as with --start-at, the likelier): wait for it, or t would wrap around. */
    if (now < w->t0) {
        uv_timer_start(&w->sched_timer, on_sched, ms_until(w, 0), 0);
        return;
    }
    uint64_t t = now - w->t0;
    fo_users_set_active(&w->users,
                        fo_sched_share(fo_sched_users_at(s, t), deal_slot(w), deal_slots(w)));
    uint64_t next = fo_sched_next_change(s, t);
    if (next != UINT64_MAX) uv_timer_start(&w->sched_timer, on_sched, ms_until(w, next), 0);
}

static void on_tick(uv_timer_t *timer) {
    fo_worker *w = timer->data;
    uint64_t now = uv_hrtime();
    fo_recorder_tick(&w->rec, now);
    if (w->opts->open)
        fo_pool_check_timeouts(&w->pool, now);
    else
        fo_users_check_timeouts(&w->users, now);
}

static void stop(fo_worker *w) {
    if (w->stopping) return;
    w->stopping = 1;
    w->client.stopping = 1;
    uint64_t now = uv_hrtime();
    w->stopped_ns = now > w->t0 ? now - w->t0 : 0;
    if (w->opts->open)
        fo_pool_abort(&w->pool, now);
    else
        fo_users_abort(&w->users);
    fo_recorder_close(&w->rec);
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
    fo_worker *w = timer->data;
    /* The loop's millisecond clock may fire the timer a little before the end: wait for it. */
    uint64_t left = ms_until(w, w->opts->sched.total_ns);
    if (left > 0) {
        uv_timer_start(&w->stop_timer, on_stop, left, 0);
        return;
    }
    stop(w);
}

static void thread_main(void *arg) {
    fo_worker *w = arg;
    uv_update_time(&w->loop);
    uint64_t tick = w->opts->timeout_ns / 4000000;
    if (tick > TICK_MS) tick = TICK_MS;
    if (tick < 1) tick = 1;
    if (w->opts->open)
        fo_pool_start(&w->pool);
    else
        uv_timer_start(&w->sched_timer, on_sched, ms_until(w, 0), 0);
    uv_timer_start(&w->tick_timer, on_tick, tick, tick);
    uv_timer_start(&w->stop_timer, on_stop, ms_until(w, w->opts->sched.total_ns), 0);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_mutex_lock(w->done_lock);
    (*w->done_count)++;
    uv_mutex_unlock(w->done_lock);
    uv_async_send(w->done_async);
}

static void init_client(fo_worker *w) {
    fo_client *cl = &w->client;
    memset(cl, 0, sizeof *cl);
    cl->loop = &w->loop;
    cl->addr = w->addr;
    cl->source = w->source;
    cl->request = w->request;
    cl->request_len = w->request_len;
    cl->rbuf_len = RBUF_LEN;
    cl->rec = &w->rec;
    cl->timeout_ns = w->opts->timeout_ns;
    fo_conn_settings(&cl->settings);
}

int fo_worker_init(fo_worker *w) {
    const fo_load_opts *o = w->opts;
    int rc = uv_loop_init(&w->loop);
    if (rc < 0) return rc;
    init_client(w);
    w->client.rbuf = malloc(RBUF_LEN);
    size_t n_stages = !o->staged ? 0 : o->open ? o->rates.n_stages : o->sched.n_stages;
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ ((uint64_t)w->id << 32) ^ uv_hrtime();
    if (!w->client.rbuf) {
        uv_loop_close(&w->loop);
        return -ENOMEM;
    }
    if (fo_recorder_init(&w->rec, w->windows, w->id, w->t0, o->sched.total_ns, w->spans, n_stages,
                         o->open) < 0) {
        free(w->client.rbuf);
        uv_loop_close(&w->loop);
        return -ENOMEM;
    }
    rc = o->open ? fo_pool_init(&w->pool, &w->client, &o->rates, deal_slot(w), deal_slots(w),
                                fo_sched_share(o->max_connections, w->id, w->n_workers), w->t0)
                 : fo_users_init(&w->users, &w->client,
                                 fo_sched_share(o->sched.max_users, deal_slot(w), deal_slots(w)),
                                 o->wait_min_ns, o->wait_max_ns, seed,
                                 w->t0 + o->sched.total_ns);
    if (rc < 0) {
        fo_recorder_free(&w->rec);
        fo_load_stats_free(&w->rec.stats);
        free(w->client.rbuf);
        uv_loop_close(&w->loop);
        return -ENOMEM;
    }
    uv_timer_init(&w->loop, &w->sched_timer);
    uv_timer_init(&w->loop, &w->tick_timer);
    uv_timer_init(&w->loop, &w->stop_timer);
    uv_async_init(&w->loop, &w->stop_async, on_interrupt);
    w->stop_async.data = w;
    w->sched_timer.data = w->tick_timer.data = w->stop_timer.data = w;
    return 0;
}

int fo_worker_start(fo_worker *w) {
    return uv_thread_create(&w->thread, thread_main, w);
}

static void release(fo_worker *w) {
    uv_loop_close(&w->loop);
    if (w->opts->open)
        fo_pool_free(&w->pool);
    else
        fo_users_free(&w->users);
    fo_recorder_free(&w->rec);
    free(w->client.rbuf);
    w->client.rbuf = NULL;
}

static void close_any(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void fo_worker_destroy(fo_worker *w) {
    /* The handles made by init belong to the loop: close them before the loop. */
    uv_walk(&w->loop, close_any, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    release(w);
}

void fo_worker_join(fo_worker *w) {
    uv_thread_join(&w->thread);
    release(w);
}
