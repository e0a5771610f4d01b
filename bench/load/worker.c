/* A worker thread: its loop, its timers, and its model's share of the load (see worker.h). */
#include "worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RBUF_LEN (64 * 1024)
#define TICK_MS 100

/* This thread's slot, and the slots of all segments' threads (see fo_sched_slot). */
static unsigned deal_slot(const fo_worker *w) {
    return fo_sched_slot(w->opts->seg_index, w->opts->seg_count, w->id);
}

static unsigned deal_slots(const fo_worker *w) {
    return w->opts->seg_count * w->n_workers;
}

static void on_tick(uv_timer_t *timer) {
    fo_worker *w = timer->data;
    uint64_t now = uv_hrtime();
    fo_recorder_tick(&w->rec, now);
    w->driver->check_timeouts(w->model, now);
}

static void stop(fo_worker *w) {
    if (w->stopping) return;
    w->stopping = 1;
    w->client.stopping = 1;
    uint64_t now = uv_hrtime();
    w->stopped_ns = now > w->t0 ? now - w->t0 : 0;
    w->driver->abort(w->model, now);
    fo_recorder_close(&w->rec);
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
    uint64_t left = fo_ms_until(w->t0, w->opts->sched.total_ns);
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
    w->driver->start(w->model);
    uv_timer_start(&w->tick_timer, on_tick, tick, tick);
    uv_timer_start(&w->stop_timer, on_stop, fo_ms_until(w->t0, w->opts->sched.total_ns), 0);
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

/* The model's share of the load on this worker. 0, or -ENOMEM. */
static int init_model(fo_worker *w) {
    fo_driver_env env = {
        .cl = &w->client,
        .o = w->opts,
        .thread = w->id,
        .n_threads = w->n_workers,
        .slot = deal_slot(w),
        .n_slots = deal_slots(w),
        .t0 = w->t0,
        .seed = 0x9e3779b97f4a7c15ull ^ ((uint64_t)w->id << 32) ^ uv_hrtime(),
    };
    return w->driver->init(&w->model, &env);
}

int fo_worker_init(fo_worker *w) {
    const fo_load_opts *o = w->opts;
    int rc = uv_loop_init(&w->loop);
    if (rc < 0) return rc;
    init_client(w);
    w->client.rbuf = malloc(RBUF_LEN);
    if (!w->client.rbuf) {
        uv_loop_close(&w->loop);
        return -ENOMEM;
    }
    if (fo_recorder_init(&w->rec, w->windows, w->id, w->t0, o->sched.total_ns, w->plan->spans,
                         w->plan->n_stages, w->plan->with_starts) < 0) {
        free(w->client.rbuf);
        uv_loop_close(&w->loop);
        return -ENOMEM;
    }
    if (init_model(w) < 0) {
        fo_recorder_free(&w->rec);
        fo_load_stats_free(&w->rec.stats);
        free(w->client.rbuf);
        uv_loop_close(&w->loop);
        return -ENOMEM;
    }
    uv_timer_init(&w->loop, &w->tick_timer);
    uv_timer_init(&w->loop, &w->stop_timer);
    uv_async_init(&w->loop, &w->stop_async, on_interrupt);
    w->stop_async.data = w;
    w->tick_timer.data = w->stop_timer.data = w;
    return 0;
}

int fo_worker_start(fo_worker *w) {
    return uv_thread_create(&w->thread, thread_main, w);
}

static void release(fo_worker *w) {
    uv_loop_close(&w->loop);
    w->driver->free(w->model);
    w->model = NULL;
    fo_recorder_free(&w->rec);
    fo_load_stats_free(&w->rec.stats);
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
}

void fo_worker_finish(fo_worker *w, uint64_t run_ns, fo_load_stats *into) {
    w->driver->settle(w->model, run_ns);
    fo_load_stats_merge(into, &w->rec.stats);
    release(w);
}
