/* The --json output. Schema (times in ms unless the name says _s or _ns):
 *
 *   {
 *     "tool": "fanout-load", "schema": 1, "url": str, "users": n (the most at once),
 *     "threads": n, "duration_s": x, "interrupted": bool (Ctrl-C or SIGTERM ended it early),
 *     "spawn_rate": x (0 = all at once),
 *     "requests": n (successes), "failures": {"total", "connect", "timeout", "http",
 *     "malformed", "closed"}, "failure_ratio": x, "reconnects": n, "in_flight_at_end": n (sent
 *     and not answered when the run ended: neither a request nor a failure),
 *     "bytes": n (response bodies of successes),
 *     "min_ms", "max_ms", "mean_ms" (exact), "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms"
 *     (within 0.05%), "p95_locust_ms" (Locust's rule and rounding), "rps" (successes/s over the
 *     run), "max_rps_smoothed" (peak of Locust's current RPS), "max_rps_raw" (peak of
 *     one-second counts),
 *     "windows": [{"t_s": start second, "length_s", "users", "requests", "failures", "p50_ms",
 *                  "p95_ms", "rps_smoothed", "min_ns", "max_ns", "buckets": [[lo_ns, hi_ns,
 *                  count], ...] (the window's successes, as "histogram")}, ...] (one a
 *                  second, in order),
 *     "stages": [{"users", "start_s", "end_s", "requests", "failures", "rps", "min_ms",
 *                 "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms"}, ...] (with --stages only;
 *                 figures over each stage's hold; "histogram" as below, of the hold),
 *     "histogram": {"unit": "ns", "sub_bucket_bits": 10, "count", "sum_ns", "min_ns",
 *                   "max_ns", "buckets": [[lo_ns, hi_ns, count], ...]} (non-empty buckets of
 *                   the successes; a value v is in [lo, hi); merge runs by adding counts),
 *     "model": "closed" or "open",
 *     "start_unix": the wall-clock instant of run time 0 (Unix seconds, with a fraction): window
 *                   t_s covers [start_unix + t_s, start_unix + t_s + length_s),
 *     "segment": {"index", "count"} (--segment; 0 and 1 without): "users", each window's
 *                "users" and the open model's "arrivals" and "offered" are this segment's share,
 *     "plan": {"model", "users" (the whole run's, every segment), "spawn_rate", "rate",
 *              "stages" (the --stages or --rate-stages text, or ""), "total_s" (planned),
 *              "wait_min_ms", "wait_max_ms"}: the settings fanout-report merge compares,
 *   }
 * and in the open model (--rate), where the latency keys above are response times (from the
 * intended arrival) and "users" is 0:
 *     "offered_rps", "achieved_rps" (sent/s), "arrivals" (intended before the end), "sent",
 *     "unsent" (due and never sent), "max_connections", "connections" (in use at once at most),
 *     "late_starts" (sent over 1 ms late), "queued_starts" (waited for a connection),
 *     "lateness": {"late_ms" (the threshold), "mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms",
 *                  "max_ms"},
 *     "response", "service": {"min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms",
 *                             "p999_ms", "max_ms"},
 *     "service_histogram": as "histogram", of the service times (from the actual send),
 *     "lateness_histogram": as "histogram", of every start's lateness,
 *     each window adds "offered", "sent", "late", "p99_ms", "service_p50_ms", "service_p95_ms",
 *     "service_p99_ms", "service_buckets", and each stage has "rate" instead of "users".
 */
#include <errno.h>
#include <jansson.h>
#include "driver.h"
#include "output.h"

static json_t *failures_obj(const fo_load_summary *s) {
    json_t *f = json_object();
    json_object_set_new(f, "total", json_integer((json_int_t)s->failures));
    for (int k = 0; k < FO_FAIL_KINDS; k++)
        json_object_set_new(f, fo_fail_name((fo_fail_kind)k),
                            json_integer((json_int_t)s->by_kind[k]));
    return f;
}

json_t *fo_load_json_buckets(const fo_sparse_hist *h) {
    json_t *a = json_array();
    for (size_t i = 0; i < h->n; i++) {
        uint64_t lo, hi;
        fo_hist_bucket_bounds(h->index[i], &lo, &hi);
        json_array_append_new(
            a, json_pack("[I,I,I]", (json_int_t)lo, (json_int_t)hi, (json_int_t)h->count[i]));
    }
    return a;
}

static json_t *hist_buckets(const fo_hist *h) {
    json_t *buckets = json_array();
    for (size_t i = h->lo; i < h->hi; i++) {
        if (!h->counts[i]) continue;
        uint64_t lo, hi;
        fo_hist_bucket_bounds(i, &lo, &hi);
        json_array_append_new(buckets, json_pack("[I,I,I]", (json_int_t)lo, (json_int_t)hi,
                                                 (json_int_t)h->counts[i]));
    }
    return buckets;
}

json_t *fo_load_json_histogram(const fo_hist *h) {
    json_t *buckets = hist_buckets(h);
    return json_pack("{s:s,s:i,s:I,s:I,s:I,s:I,s:o}", "unit", "ns", "sub_bucket_bits",
                     FO_HIST_SUB_BITS, "count", (json_int_t)h->n, "sum_ns", (json_int_t)h->sum_ns,
                     "min_ns", (json_int_t)(h->n ? h->min_ns : 0), "max_ns", (json_int_t)h->max_ns,
                     "buckets", buckets);
}

static json_t *windows_arr(const fo_load_result *r) {
    json_t *a = json_array();
    for (size_t i = 0; i < r->windows.n_done; i++) {
        const fo_window *w = &r->windows.win[i];
        json_t *o = json_pack("{s:I,s:f,s:I,s:I,s:I,s:f,s:f,s:f}", "t_s", (json_int_t)i, "length_s",
                              w->length_s, "users", (json_int_t)w->users, "requests",
                              (json_int_t)w->requests, "failures", (json_int_t)w->failures,
                              "p50_ms", (double)w->pct_ns[0] / 1e6, "p95_ms",
                              (double)w->pct_ns[5] / 1e6, "rps_smoothed", w->rps_smoothed);
        json_object_set_new(o, "min_ns", json_integer((json_int_t)w->hist.min_ns));
        json_object_set_new(o, "max_ns", json_integer((json_int_t)w->hist.max_ns));
        json_object_set_new(o, "buckets", fo_load_json_buckets(&w->hist));
        r->driver->json_window(o, w);
        json_array_append_new(a, o);
    }
    return a;
}

json_t *fo_load_json_latency(const fo_latency *l) {
    return json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "min_ms", l->min_ms, "mean_ms",
                     l->mean_ms, "p50_ms", l->p50_ms, "p90_ms", l->p90_ms, "p95_ms", l->p95_ms,
                     "p99_ms", l->p99_ms, "p999_ms", l->p999_ms, "max_ms", l->max_ms);
}

static json_t *stages_arr(const fo_load_opts *o, const fo_load_result *r) {
    json_t *a = json_array();
    for (size_t i = 0; i < r->stats.n_stages; i++) {
        fo_stage_summary s;
        fo_stage_summarize(o, r, i, &s);
        json_t *st = json_pack("{s:f,s:f,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "start_s",
                               s.start_s, "end_s", s.end_s, "requests", (json_int_t)s.requests,
                               "failures", (json_int_t)s.failures, "rps", s.rps, "min_ms", s.min_ms,
                               "mean_ms", s.mean_ms, "p50_ms", s.p50_ms, "p95_ms", s.p95_ms,
                               "p99_ms", s.p99_ms, "max_ms", s.max_ms);
        r->driver->json_stage(st, &s);
        json_object_set_new(st, "histogram", fo_load_json_histogram(&r->stats.stages[i].hist));
        json_array_append_new(a, st);
    }
    return a;
}

/* The settings that every segment of one run shares. */
static json_t *plan_obj(const fo_load_opts *o, const fo_load_result *r) {
    return json_pack("{s:s,s:i,s:f,s:f,s:s,s:f,s:f,s:f}", "model", r->driver->name, "users",
                     (int)o->sched.max_users, "spawn_rate", o->spawn_rate, "rate", o->rate,
                     "stages", o->plan_text ? o->plan_text : "", "total_s",
                     (double)o->sched.total_ns / 1e9, "wait_min_ms", (double)o->wait_min_ns / 1e6,
                     "wait_max_ms", (double)o->wait_max_ns / 1e6);
}

int fo_load_write_json(const char *path, const fo_load_opts *o, const fo_load_result *r,
                       const fo_load_summary *s) {
    json_t *root = json_object();
    if (!root) return -ENOMEM;
    json_object_set_new(root, "tool", json_string("fanout-load"));
    json_object_set_new(root, "schema", json_integer(1));
    json_object_set_new(root, "url", json_string(o->url));
    json_object_set_new(root, "users", json_integer(fo_load_segment_share(o, o->sched.max_users)));
    json_object_set_new(root, "threads", json_integer(o->threads));
    json_object_set_new(root, "duration_s", json_real(s->duration_s));
    json_object_set_new(root, "interrupted", json_boolean(r->interrupted));
    json_object_set_new(root, "spawn_rate", json_real(o->spawn_rate));
    json_object_set_new(root, "requests", json_integer((json_int_t)s->requests));
    json_object_set_new(root, "failures", failures_obj(s));
    json_object_set_new(root, "failure_ratio", json_real(s->failure_ratio));
    json_object_set_new(root, "reconnects", json_integer((json_int_t)s->reconnects));
    json_object_set_new(root, "in_flight_at_end", json_integer((json_int_t)s->in_flight_at_end));
    json_object_set_new(root, "bytes", json_integer((json_int_t)s->bytes));
    json_object_set_new(root, "min_ms", json_real(s->min_ms));
    json_object_set_new(root, "max_ms", json_real(s->max_ms));
    json_object_set_new(root, "mean_ms", json_real(s->mean_ms));
    json_object_set_new(root, "p50_ms", json_real(s->p50_ms));
    json_object_set_new(root, "p90_ms", json_real(s->p90_ms));
    json_object_set_new(root, "p95_ms", json_real(s->p95_ms));
    json_object_set_new(root, "p99_ms", json_real(s->p99_ms));
    json_object_set_new(root, "p999_ms", json_real(s->p999_ms));
    json_object_set_new(root, "p95_locust_ms", json_real(s->p95_locust_ms));
    json_object_set_new(root, "rps", json_real(s->rps));
    json_object_set_new(root, "max_rps_smoothed", json_real(s->max_rps_smoothed));
    json_object_set_new(root, "max_rps_raw", json_integer((json_int_t)s->max_rps_raw));
    json_object_set_new(root, "windows", windows_arr(r));
    json_object_set_new(root, "stages", stages_arr(o, r));
    json_object_set_new(root, "histogram", fo_load_json_histogram(&r->windows.total));
    json_object_set_new(root, "model", json_string(r->driver->name));
    json_object_set_new(root, "start_unix", json_real(r->start_unix));
    json_object_set_new(
        root, "segment",
        json_pack("{s:i,s:i}", "index", (int)o->seg_index, "count", (int)o->seg_count));
    json_object_set_new(root, "plan", plan_obj(o, r));
    r->driver->json_root(root, o, r, s);
    int rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return rc == 0 ? 0 : -EIO;
}
