/* The closed model behind the driver interface (driver.h): on each worker, its share of the
 * users (user.c) brought to the schedule's count as it changes; and the closed model's lines of
 * the outputs (users per stage, reconnects, Locust's figures). Locust's own model, and the
 * default. */
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include "driver.h"
#include "output.h"
#include "load_report.h"
#include "user.h"

/* A worker's share: its users, and the timer that follows the schedule. */
typedef struct closed_model {
    fo_users users;
    uv_timer_t sched_timer;
    const fo_sched *sched;
    uint64_t t0;            /* the run's start, uv_hrtime() */
    unsigned slot, n_slots; /* this thread's slot among every segment's (fo_sched_slot) */
} closed_model;

static void closed_plan(const fo_load_opts *o, fo_load_plan *p) {
    p->n_stages = o->staged ? o->sched.n_stages : 0;
    for (size_t i = 0; i < p->n_stages; i++) {
        p->spans[i].start_ns = o->sched.stages[i].hold_start_ns;
        p->spans[i].end_ns = o->sched.stages[i].end_ns;
    }
    p->arrivals = NULL;
    p->with_starts = 0;
}

/* One connection a user, all of this segment's users at once. */
static int closed_plan_fds(fo_load_opts *o) {
    fo_fd_need need = fo_driver_fd_need(o);
    char what[64];
    long conns = (long)fo_load_segment_share(o, o->sched.max_users);
    snprintf(what, sizeof what, "--users %ld", conns);
    return fo_fd_plan("fanout-load", what, &need, conns, &conns,
                      "split the users over several fanout-load processes");
}

/* Brings this worker's active users to its share of the schedule's count at run time t. */
static void on_sched(uv_timer_t *timer) {
    closed_model *m = timer->data;
    uint64_t now = uv_hrtime();
    /* The loop's millisecond clock may fire the first timer a little before t0 (the further
     * t0 lies ahead, as with --start-at, the likelier): wait for it, or t would wrap around. */
    if (now < m->t0) {
        uv_timer_start(&m->sched_timer, on_sched, fo_ms_until(m->t0, 0), 0);
        return;
    }
    uint64_t t = now - m->t0;
    fo_users_set_active(&m->users,
                        fo_sched_share(fo_sched_users_at(m->sched, t), m->slot, m->n_slots));
    uint64_t next = fo_sched_next_change(m->sched, t);
    if (next != UINT64_MAX) uv_timer_start(&m->sched_timer, on_sched, fo_ms_until(m->t0, next), 0);
}

static int closed_init(void **model, const fo_driver_env *env) {
    const fo_load_opts *o = env->o;
    closed_model *m = calloc(1, sizeof *m);
    if (!m) return -ENOMEM;
    if (fo_users_init(&m->users, env->cl,
                      fo_sched_share(o->sched.max_users, env->slot, env->n_slots), o->wait_min_ns,
                      o->wait_max_ns, env->seed, env->t0 + o->sched.total_ns) < 0) {
        free(m);
        return -ENOMEM;
    }
    m->sched = &o->sched;
    m->t0 = env->t0;
    m->slot = env->slot;
    m->n_slots = env->n_slots;
    /* Handle inits on a live loop cannot fail in libuv (they only fill the struct in). */
    int rc = uv_timer_init(env->cl->loop, &m->sched_timer);
    assert(rc == 0);
    (void)rc;
    m->sched_timer.data = m;
    *model = m;
    return 0;
}

static void closed_start(void *model) {
    closed_model *m = model;
    uv_timer_start(&m->sched_timer, on_sched, fo_ms_until(m->t0, 0), 0);
}

static void closed_check_timeouts(void *model, uint64_t now) {
    fo_users_check_timeouts(&((closed_model *)model)->users, now);
}

static void closed_abort(void *model, uint64_t now) {
    closed_model *m = model;
    (void)now;
    fo_users_abort(&m->users);
    uv_close((uv_handle_t *)&m->sched_timer, NULL);
}

/* Users that did not run counted nothing: nothing is left to settle. */
static void closed_settle(void *model, uint64_t run_ns) {
    (void)model;
    (void)run_ns;
}

static void closed_free(void *model) {
    closed_model *m = model;
    fo_users_free(&m->users);
    free(m);
}

/* The closed model's figures are the common ones. */
static void closed_summarize(const fo_load_result *r, fo_load_summary *s) {
    (void)r;
    (void)s;
}

/* A stage's figures are taken over its hold, after its ramp. */
static fo_span closed_stage(const fo_load_opts *o, size_t i, fo_stage_summary *s) {
    s->users = o->sched.stages[i].users;
    s->level = (double)s->users;
    fo_span span = {o->sched.stages[i].hold_start_ns, o->sched.stages[i].end_ns};
    return span;
}

static void closed_print_plan(FILE *f, const fo_load_opts *o) {
    if (o->staged) {
        fprintf(f, "%zu stages up to %u users", o->sched.n_stages, o->sched.max_users);
    } else {
        fprintf(f, "%u users", o->users);
    }
    if (o->spawn_rate > 0)
        fprintf(f, ", spawn rate %g/s", o->spawn_rate);
    else
        fprintf(f, ", all started at once");
    fprintf(f, ", %.3g s, %u thread%s", (double)o->sched.total_ns / 1e9, o->threads,
            o->threads == 1 ? "" : "s");
    if (o->seg_count > 1)
        fprintf(f, "; segment %u of %u (%u of the users)", o->seg_index, o->seg_count,
                fo_load_segment_share(o, o->sched.max_users));
    if (o->source) fprintf(f, "; from %s", o->source);
    fputc('\n', f);
}

/* Connections and latency. */
static void closed_print_figures(FILE *f, const fo_load_opts *o, const fo_load_summary *s) {
    (void)o;
    fprintf(f, "  connections  %llu reconnects\n", (unsigned long long)s->reconnects);
    if (!s->requests) {
        fprintf(f, "  latency      no successful request\n");
        return;
    }
    fprintf(f, "  latency      min %.2f  mean %.2f  max %.2f ms (exact, successes only)\n",
            s->min_ms, s->mean_ms, s->max_ms);
    fprintf(f,
            "  percentiles  p50 %.2f  p90 %.2f  p95 %.2f  p99 %.2f  p99.9 %.2f ms (within "
            "0.05%%)\n",
            s->p50_ms, s->p90_ms, s->p95_ms, s->p99_ms, s->p999_ms);
    fprintf(f, "  Locust p95   %.0f ms (its index rule and rounding)\n", s->p95_locust_ms);
}

static void closed_live_line(char *buf, size_t len, const fo_window *w, const char *clock,
                             double per_s) {
    snprintf(buf, len, "%s users %u  rps %.0f  p50 %.1f ms  p95 %.1f ms  failures %llu", clock,
             w->users, (double)w->requests * per_s, (double)w->pct_ns[0] / 1e6,
             (double)w->pct_ns[5] / 1e6, (unsigned long long)w->total_failures);
}

static void closed_json_root(json_t *root, const fo_load_opts *o, const fo_load_result *r,
                             const fo_load_summary *s) {
    (void)root;
    (void)o;
    (void)r;
    (void)s;
}

static void closed_json_window(json_t *win, const fo_window *w) {
    (void)win;
    (void)w;
}

static void closed_json_stage(json_t *st, const fo_stage_summary *s) {
    json_object_set_new(st, "users", json_integer((json_int_t)s->users));
}

static void closed_csv_stats_row(FILE *f, const fo_load_summary *s) {
    (void)f;
    (void)s;
}

static void closed_csv_history_row(FILE *f, const fo_window *w) {
    (void)f;
    (void)w;
}

const fo_driver fo_driver_closed = {
    .name = "closed",
    .stage_title = "hold",
    .stage_level_head = "users",
    .stage_span_head = "hold (s)",
    .csv_stats_heads = "",
    .csv_history_heads = "",
    FO_DRIVER_FUNCTIONS(closed),
};
