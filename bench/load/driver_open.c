/* The open model behind the driver interface (driver.h): on each worker, its share of the
 * arrivals sent on its pool of connections (open.c); and the open model's part of the outputs:
 * arrivals offered and sent, late and queued starts, the pool's size, service times beside the
 * response times (from the intended arrival) that the common figures then hold. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include "driver.h"
#include "open.h"
#include "output.h"
#include "load_report.h"

static void open_plan(const fo_load_opts *o, fo_load_plan *p) {
    p->n_stages = o->staged ? o->rates.n_stages : 0;
    for (size_t i = 0; i < p->n_stages; i++) {
        p->spans[i].start_ns = o->rates.stages[i].start_ns;
        p->spans[i].end_ns = o->rates.stages[i].end_ns;
    }
    p->arrivals = &o->rates;
    p->with_starts = 1;
}

/* The pool's cap: the default (FO_LOAD_DEFAULT_MAX_CONNECTIONS) is lowered to what the limit
 * holds; a --max-connections asked for is checked. At least a connection a thread. */
static int open_plan_fds(fo_load_opts *o) {
    fo_fd_need need = fo_driver_fd_need(o);
    char what[64];
    long conns = o->max_connections_given ? (long)o->max_connections : 0;
    if (conns)
        snprintf(what, sizeof what, "--max-connections %ld", conns);
    else
        snprintf(what, sizeof what, "--rate with --threads %u", o->threads);
    if (fo_fd_plan("fanout-load", what, &need, (long)o->threads, &conns,
                   "ask for fewer connections") != 0)
        return -1;
    if (conns < (long)o->max_connections) o->max_connections = (uint32_t)conns;
    if (o->threads > o->max_connections) o->threads = o->max_connections;
    return 0;
}

/* The arrivals are dealt over every segment's threads like the users; the connections over
 * this process's threads. */
static int open_init(void **model, const fo_driver_env *env) {
    const fo_load_opts *o = env->o;
    fo_pool *p = malloc(sizeof *p);
    if (!p) return -ENOMEM;
    if (fo_pool_init(p, env->cl, &o->rates, env->slot, env->n_slots,
                     fo_sched_share(o->max_connections, env->thread, env->n_threads),
                     env->t0) < 0) {
        free(p);
        return -ENOMEM;
    }
    *model = p;
    return 0;
}

static void open_start(void *model) {
    fo_pool_start(model);
}

static void open_check_timeouts(void *model, uint64_t now) {
    fo_pool_check_timeouts(model, now);
}

static void open_abort(void *model, uint64_t now) {
    fo_pool_abort(model, now);
}

static void open_settle(void *model, uint64_t run_ns) {
    fo_pool_settle(model, run_ns);
}

static void open_free(void *model) {
    fo_pool_free(model);
    free(model);
}

static void open_summarize(const fo_load_result *r, fo_load_summary *s) {
    const fo_load_stats *st = &r->stats;
    fo_latency_of(&r->windows.service_total, &s->service);
    fo_latency_of(&st->lateness, &s->lateness);
    s->arrivals = r->windows.rates ? fo_windows_offered_before(&r->windows, r->run_ns) : 0;
    s->sent = st->starts;
    s->unsent = st->unsent;
    s->late = st->late;
    s->queued = st->queued;
    s->connections = st->connections;
    s->offered_rps = s->duration_s > 0 ? (double)s->arrivals / s->duration_s : 0;
    s->achieved_rps = s->duration_s > 0 ? (double)s->sent / s->duration_s : 0;
}

/* A rate stage's figures are taken over the whole stage. */
static fo_span open_stage(const fo_load_opts *o, size_t i, fo_stage_summary *s) {
    s->rate = o->rates.stages[i].rate;
    s->level = s->rate;
    fo_span span = {o->rates.stages[i].start_ns, o->rates.stages[i].end_ns};
    return span;
}

static void open_print_plan(FILE *f, const fo_load_opts *o) {
    if (o->staged)
        fprintf(f, "open model, %zu rate stages up to %g/s", o->rates.n_stages, o->rates.max_rate);
    else
        fprintf(f, "open model, %g arrivals/s", o->rates.stages[0].rate);
    fprintf(f, ", up to %u connections, %.3g s, %u thread%s\n", o->max_connections,
            (double)o->sched.total_ns / 1e9, o->threads, o->threads == 1 ? "" : "s");
}

/* Arrivals, starts, connections, the two latencies. */
static void open_print_figures(FILE *f, const fo_load_opts *o, const fo_load_summary *s) {
    fprintf(f, "  arrivals     %llu offered (%.1f/s), %llu sent (%.1f/s achieved), %llu unsent\n",
            (unsigned long long)s->arrivals, s->offered_rps, (unsigned long long)s->sent,
            s->achieved_rps, (unsigned long long)s->unsent);
    fprintf(f,
            "  starts       %llu late (over %.0f ms after the intended time), %llu queued for a "
            "connection\n",
            (unsigned long long)s->late, (double)FO_LATE_NS / 1e6, (unsigned long long)s->queued);
    fprintf(f, "  lateness     p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms\n",
            s->lateness.p50_ms, s->lateness.p90_ms, s->lateness.p99_ms, s->lateness.p999_ms,
            s->lateness.max_ms);
    fprintf(f, "  connections  %llu in use at most (cap %u), %llu reconnects\n",
            (unsigned long long)s->connections, o->max_connections,
            (unsigned long long)s->reconnects);
    if (!s->requests) {
        fprintf(f, "  latency      no successful request\n");
        return;
    }
    fo_load_print_latency(f, "response", &s->response,
                          "from the intended arrival: what a visitor waits");
    fo_load_print_latency(f, "service", &s->service, "from the actual send");
    fprintf(f, "  Locust p95   %.0f ms (response time; its index rule and rounding)\n",
            s->p95_locust_ms);
}

static void open_live_line(char *buf, size_t len, const fo_window *w, const char *clock,
                           double per_s) {
    snprintf(buf, len,
             "%s offered %.0f/s  sent %.0f/s  done %.0f/s  response p95 %.1f ms  "
             "service p95 %.1f ms  late %llu  failures %llu",
             clock, (double)w->offered * per_s, (double)w->starts * per_s,
             (double)w->requests * per_s, (double)w->pct_ns[5] / 1e6,
             (double)w->service_pct_ns[5] / 1e6, (unsigned long long)w->late,
             (unsigned long long)w->total_failures);
}

/* The open model's keys (see the schema in json.c). */
static void open_json_root(json_t *root, const fo_load_opts *o, const fo_load_result *r,
                           const fo_load_summary *s) {
    json_object_set_new(root, "offered_rps", json_real(s->offered_rps));
    json_object_set_new(root, "achieved_rps", json_real(s->achieved_rps));
    json_object_set_new(root, "arrivals", json_integer((json_int_t)s->arrivals));
    json_object_set_new(root, "sent", json_integer((json_int_t)s->sent));
    json_object_set_new(root, "unsent", json_integer((json_int_t)s->unsent));
    json_object_set_new(root, "max_connections", json_integer(o->max_connections));
    json_object_set_new(root, "connections", json_integer((json_int_t)s->connections));
    json_object_set_new(root, "late_starts", json_integer((json_int_t)s->late));
    json_object_set_new(root, "queued_starts", json_integer((json_int_t)s->queued));
    const fo_latency *l = &s->lateness;
    json_object_set_new(root, "lateness",
                        json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "late_ms",
                                  (double)FO_LATE_NS / 1e6, "mean_ms", l->mean_ms, "p50_ms",
                                  l->p50_ms, "p90_ms", l->p90_ms, "p99_ms", l->p99_ms, "p999_ms",
                                  l->p999_ms, "max_ms", l->max_ms));
    json_object_set_new(root, "response", fo_load_json_latency(&s->response));
    json_object_set_new(root, "service", fo_load_json_latency(&s->service));
    json_object_set_new(root, "service_histogram",
                        fo_load_json_histogram(&r->windows.service_total));
    json_object_set_new(root, "lateness_histogram", fo_load_json_histogram(&r->stats.lateness));
}

static void open_json_window(json_t *win, const fo_window *w) {
    json_object_set_new(win, "service_buckets", fo_load_json_buckets(&w->service_hist));
    json_object_update_new(win,
                           json_pack("{s:I,s:I,s:I,s:f,s:f,s:f,s:f}", "offered",
                                     (json_int_t)w->offered, "sent", (json_int_t)w->starts, "late",
                                     (json_int_t)w->late, "p99_ms", (double)w->pct_ns[7] / 1e6,
                                     "service_p50_ms", (double)w->service_pct_ns[0] / 1e6,
                                     "service_p95_ms", (double)w->service_pct_ns[5] / 1e6,
                                     "service_p99_ms", (double)w->service_pct_ns[7] / 1e6));
}

static void open_json_stage(json_t *st, const fo_stage_summary *s) {
    json_object_set_new(st, "rate", json_real(s->rate));
}

static void open_csv_stats_row(FILE *f, const fo_load_summary *s) {
    fprintf(f, ",%.6f,%.6f,%llu,%llu,%llu,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f", s->offered_rps,
            s->achieved_rps, (unsigned long long)s->late, (unsigned long long)s->queued,
            (unsigned long long)s->unsent, s->lateness.p99_ms, s->service.p50_ms,
            s->service.mean_ms, s->service.p95_ms, s->service.p99_ms, s->service.max_ms);
}

static void open_csv_history_row(FILE *f, const fo_window *w) {
    double per_s = w->length_s > 0 ? 1.0 / w->length_s : 0;
    fprintf(f, ",%.3f,%.3f,%llu,%.3f,%.3f,%.3f", (double)w->offered * per_s,
            (double)w->starts * per_s, (unsigned long long)w->late,
            (double)w->service_pct_ns[0] / 1e6, (double)w->service_pct_ns[5] / 1e6,
            (double)w->service_pct_ns[7] / 1e6);
}

const fo_driver fo_driver_open = {
    .name = "open",
    .stage_title = "stage; response times",
    .stage_level_head = "rate/s",
    .stage_span_head = "span (s)",
    .csv_stats_heads = ",\"Offered/s\",\"Achieved/s\",\"Late Starts\",\"Queued Starts\","
                       "\"Unsent\",\"Lateness 99%\",\"Service Median\",\"Service Average\","
                       "\"Service 95%\",\"Service 99%\",\"Service Max\"",
    .csv_history_heads = ",\"Offered/s\",\"Sent/s\",\"Late Starts\",\"Service 50%\","
                         "\"Service 95%\",\"Service 99%\"",
    FO_DRIVER_FUNCTIONS(open),
};
