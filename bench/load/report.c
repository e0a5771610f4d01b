/* Summary figures and the text summary (see load_report.h). */
#include "load_report.h"

#include <string.h>
#include "driver.h"
#include "locust.h"

static double ms(uint64_t ns) {
    return (double)ns / 1e6;
}

void fo_latency_of(const fo_hist *h, fo_latency *l) {
    memset(l, 0, sizeof *l);
    if (!h->n) return;
    l->min_ms = ms(h->min_ns);
    l->max_ms = ms(h->max_ns);
    l->mean_ms = fo_hist_mean(h) / 1e6;
    l->p50_ms = ms(fo_hist_percentile(h, 50));
    l->p90_ms = ms(fo_hist_percentile(h, 90));
    l->p95_ms = ms(fo_hist_percentile(h, 95));
    l->p99_ms = ms(fo_hist_percentile(h, 99));
    l->p999_ms = ms(fo_hist_percentile(h, 99.9));
}

double fo_latency_p95_locust_ms(const fo_hist *h) {
    if (!h->n) return 0;
    return fo_locust_round(ms(fo_hist_value_at_rank(h, fo_locust_index(h->n, 0.95))));
}

void fo_load_summarize(const fo_load_result *r, fo_load_summary *s) {
    const fo_hist *h = &r->windows.total;
    memset(s, 0, sizeof *s);
    s->requests = h->n;
    for (int k = 0; k < FO_FAIL_KINDS; k++) {
        s->by_kind[k] = r->stats.failures[k];
        s->failures += r->stats.failures[k];
    }
    s->reconnects = r->stats.reconnects;
    s->in_flight_at_end = r->stats.dropped;
    s->bytes = r->windows.total_bytes;
    fo_latency_of(h, &s->response);
    s->min_ms = s->response.min_ms;
    s->max_ms = s->response.max_ms;
    s->mean_ms = s->response.mean_ms;
    s->p50_ms = s->response.p50_ms;
    s->p90_ms = s->response.p90_ms;
    s->p95_ms = s->response.p95_ms;
    s->p99_ms = s->response.p99_ms;
    s->p999_ms = s->response.p999_ms;
    s->p95_locust_ms = fo_latency_p95_locust_ms(h);
    s->duration_s = (double)r->run_ns / 1e9;
    s->rps = s->duration_s > 0 ? (double)s->requests / s->duration_s : 0;
    s->max_rps_smoothed = fo_windows_max_rps_smoothed(&r->windows);
    s->max_rps_raw = fo_windows_max_rps_raw(&r->windows);
    uint64_t all = s->requests + s->failures;
    s->failure_ratio = all ? (double)s->failures / (double)all : 0;
    r->driver->summarize(r, s);
}

void fo_stage_summarize(const fo_load_opts *o, const fo_load_result *r, size_t i,
                        fo_stage_summary *s) {
    const fo_hist *h = &r->stats.stages[i].hist;
    memset(s, 0, sizeof *s);
    fo_span span = r->driver->stage(o, i, s);
    uint64_t start_ns = span.start_ns, end_ns = span.end_ns;
    s->start_s = (double)start_ns / 1e9;
    /* An interrupted run ends before its planned end, and so may the stage. */
    s->end_s = (double)(end_ns < r->run_ns || !r->run_ns ? end_ns : r->run_ns) / 1e9;
    if (s->end_s < s->start_s) s->end_s = s->start_s;
    s->requests = h->n;
    s->failures = r->stats.stages[i].failures;
    s->rps = s->end_s > s->start_s ? (double)h->n / (s->end_s - s->start_s) : 0;
    if (h->n) {
        s->min_ms = ms(h->min_ns);
        s->mean_ms = fo_hist_mean(h) / 1e6;
        s->p50_ms = ms(fo_hist_percentile(h, 50));
        s->p95_ms = ms(fo_hist_percentile(h, 95));
        s->p99_ms = ms(fo_hist_percentile(h, 99));
        s->max_ms = ms(h->max_ns);
    }
}

static void print_load_line(FILE *f, const fo_load_opts *o, const fo_driver *d) {
    fprintf(f, "fanout-load %s: ", o->url);
    d->print_plan(f, o);
}

void fo_load_print_blog_row(FILE *f, const fo_load_summary *s) {
    fprintf(f, "| Min(ms) | 95%%-ile(ms) | Average(ms) | Max RPS |\n");
    fprintf(f, "| %.2f | %.2f | %.2f | %.1f |\n", s->min_ms, s->p95_ms, s->mean_ms,
            s->max_rps_smoothed);
}

void fo_load_print_latency(FILE *f, const char *name, const fo_latency *l, const char *what) {
    fprintf(f, "  %-12s min %.2f  mean %.2f  max %.2f ms (%s)\n", name, l->min_ms, l->mean_ms,
            l->max_ms, what);
    fprintf(f, "  %-12s p50 %.2f  p90 %.2f  p95 %.2f  p99 %.2f  p99.9 %.2f ms\n", "", l->p50_ms,
            l->p90_ms, l->p95_ms, l->p99_ms, l->p999_ms);
}

static void print_stages(FILE *f, const fo_load_opts *o, const fo_load_result *r) {
    const fo_driver *d = r->driver;
    fprintf(f, "  stages (figures over each %s):\n", d->stage_title);
    fprintf(f, "    %8s %13s %9s %8s %8s %9s %9s %9s %9s\n", d->stage_level_head,
            d->stage_span_head, "requests", "failures", "req/s", "min ms", "p50 ms", "p95 ms",
            "max ms");
    for (size_t i = 0; i < r->stats.n_stages; i++) {
        fo_stage_summary st;
        fo_stage_summarize(o, r, i, &st);
        fprintf(f, "    %8g %6.1f-%-6.1f %9llu %8llu %8.1f %9.2f %9.2f %9.2f %9.2f\n", st.level,
                st.start_s, st.end_s, (unsigned long long)st.requests,
                (unsigned long long)st.failures, st.rps, st.min_ms, st.p50_ms, st.p95_ms,
                st.max_ms);
    }
}

void fo_load_print_summary(FILE *f, const fo_load_opts *o, const fo_load_result *r,
                           const fo_load_summary *s) {
    print_load_line(f, o, r->driver);
    if (r->interrupted)
        fprintf(f, "  interrupted  after %.1f s: the figures cover that time\n", s->duration_s);
    fprintf(f, "  requests     %llu ok, %.1f/s", (unsigned long long)s->requests, s->rps);
    fprintf(f, "; failures %llu (%.2f%%)", (unsigned long long)s->failures, s->failure_ratio * 100);
    if (s->failures) {
        const char *sep = ": ";
        for (int k = 0; k < FO_FAIL_KINDS; k++) {
            if (!s->by_kind[k]) continue;
            fprintf(f, "%s%s %llu", sep, fo_fail_name((fo_fail_kind)k),
                    (unsigned long long)s->by_kind[k]);
            sep = ", ";
        }
    }
    /* Sent and never answered: in neither figure, so said beside them. */
    fprintf(f, "; in flight at the end %llu (neither ok nor failed)\n",
            (unsigned long long)s->in_flight_at_end);
    r->driver->print_figures(f, o, s);
    fprintf(f,
            "  max RPS      %.1f smoothed (peak of Locust's current RPS), %llu raw (peak of "
            "1-second counts)\n",
            s->max_rps_smoothed, (unsigned long long)s->max_rps_raw);
    if (s->max_rps_smoothed == 0 && s->max_rps_raw > 0)
        fprintf(f, "               (Locust's current RPS leaves out the last 2 seconds: it needs a "
                   "run of 4 s or more)\n");
    if (o->staged) print_stages(f, o, r);
    fo_load_print_blog_row(f, s);
}
