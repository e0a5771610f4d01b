/* Locust-compatible CSV: PREFIX_stats.csv (one row for the request, one "Aggregated") and
 * PREFIX_stats_history.csv (one row a second), with Locust 2.x's column names and order, so
 * tools written for Locust's --csv read these. Percentile columns hold Locust's figures (its
 * index rule over its rounded times); averages are exact. Failures are not in the latency
 * columns, as everywhere in fanout-load. Requests still in flight when the run ended are in
 * neither count: the stats add a column after Locust's, "In Flight At End" (the run's; the
 * same in both rows), so that the CSV alone says what its counts leave out.
 *
 * In the open model the latency columns hold response times (from the intended arrival), and
 * both files have more columns at the end, after those: the stats, "Offered/s",
 * "Achieved/s", "Late Starts", "Queued Starts", "Unsent", "Lateness 99%", and the service
 * times' "Service Median", "Service Average", "Service 95%", "Service 99%", "Service Max"; the
 * history, "Offered/s", "Sent/s", "Late Starts", "Service 50%", "Service 95%", "Service 99%"
 * (that second's, ms). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "driver.h"
#include "locust.h"
#include "output.h"

static const char *pct_header =
    "\"50%\",\"66%\",\"75%\",\"80%\",\"90%\",\"95%\",\"98%\",\"99%\",\"99.9%\","
    "\"99.99%\",\"100%\"";

static FILE *open_csv(const char *prefix, const char *suffix) {
    size_t len = strlen(prefix) + strlen(suffix) + 1;
    char *path = malloc(len);
    if (!path) return NULL;
    snprintf(path, len, "%s%s", prefix, suffix);
    FILE *f = fopen(path, "w");
    free(path);
    return f;
}

static void locust_pcts(FILE *f, const fo_hist *h) {
    for (int p = 0; p < FO_WINDOW_PCTS; p++) {
        if (!h->n) {
            fprintf(f, ",N/A");
            continue;
        }
        uint64_t ns = fo_hist_value_at_rank(h, fo_locust_index(h->n, fo_window_pcts[p] / 100.0));
        fprintf(f, ",%.0f", fo_locust_round((double)ns / 1e6));
    }
}

/* A quoted CSV field: quotes inside are doubled. */
static void quoted(FILE *f, const char *text) {
    fputc('"', f);
    for (const char *c = text; *c; c++) {
        if (*c == '"') fputc('"', f);
        fputc(*c, f);
    }
    fputc('"', f);
}

static void stats_row(FILE *f, const char *type, const char *name, const fo_hist *h,
                      const fo_load_summary *s, const fo_driver *d) {
    double dur = s->duration_s > 0 ? s->duration_s : 1;
    uint64_t med = fo_hist_value_at_rank(h, fo_locust_index(h->n, 0.5));
    quoted(f, type);
    fputc(',', f);
    quoted(f, name);
    fprintf(f, ",%llu,%llu,%.0f,%.3f,%.3f,%.3f,%.2f,%.6f,%.6f",
            (unsigned long long)(s->requests + s->failures), (unsigned long long)s->failures,
            h->n ? fo_locust_round((double)med / 1e6) : 0.0, s->mean_ms, s->min_ms, s->max_ms,
            s->requests ? (double)s->bytes / (double)s->requests : 0.0,
            (double)(s->requests + s->failures) / dur, (double)s->failures / dur);
    locust_pcts(f, h);
    fprintf(f, ",%llu", (unsigned long long)s->in_flight_at_end);
    d->csv_stats_row(f, s);
    fprintf(f, "\n");
}

static int write_stats(const char *prefix, const fo_load_opts *o, const fo_load_result *r,
                       const fo_load_summary *s) {
    FILE *f = open_csv(prefix, "_stats.csv");
    if (!f) return -errno;
    fprintf(f,
            "\"Type\",\"Name\",\"Request Count\",\"Failure Count\",\"Median Response Time\","
            "\"Average Response Time\",\"Min Response Time\",\"Max Response Time\",\"Average "
            "Content Size\","
            "\"Requests/s\",\"Failures/s\",%s,\"In Flight At End\"%s\n",
            pct_header, r->driver->csv_stats_heads);
    stats_row(f, "GET", o->path, &r->windows.total, s, r->driver);
    stats_row(f, "", "Aggregated", &r->windows.total, s, r->driver);
    return fclose(f) == 0 ? 0 : -EIO;
}

static int write_history(const char *prefix, const fo_load_result *r, double start_unix) {
    FILE *f = open_csv(prefix, "_stats_history.csv");
    if (!f) return -errno;
    fprintf(
        f,
        "\"Timestamp\",\"User Count\",\"Type\",\"Name\",\"Requests/s\",\"Failures/s\",%s,"
        "\"Total Request Count\",\"Total Failure Count\",\"Total Median Response Time\","
        "\"Total Average Response Time\",\"Total Min Response Time\",\"Total Max Response Time\","
        "\"Total Average Content Size\"%s\n",
        pct_header, r->driver->csv_history_heads);
    for (size_t i = 0; i < r->windows.n_done; i++) {
        const fo_window *w = &r->windows.win[i];
        double fail_rps = 0;
        /* Failures per second smoothed the same way as Locust's current RPS. */
        {
            size_t first = i + 1 >= 12 ? i + 1 - 12 : 0;
            if (i + 1 >= 3) {
                uint64_t sum = 0;
                for (size_t k = first; k <= i - 2; k++)
                    sum += r->windows.win[k].failures;
                fail_rps = (double)sum / (double)(i - 2 - first + 1);
            }
        }
        fprintf(f, "%.0f,%u,\"\",\"Aggregated\",%.6f,%.6f", start_unix + (double)(i + 1), w->users,
                w->rps_smoothed, fail_rps);
        for (int p = 0; p < FO_WINDOW_PCTS; p++) {
            if (w->requests)
                fprintf(f, ",%llu", (unsigned long long)w->locust_pct_ms[p]);
            else
                fprintf(f, ",N/A");
        }
        uint64_t total = w->total_requests + w->total_failures;
        fprintf(f, ",%llu,%llu,%.0f,%.3f,%.3f,%.3f,%.2f", (unsigned long long)total,
                (unsigned long long)w->total_failures,
                fo_locust_round((double)w->total_p50_ns / 1e6), w->total_mean_ns / 1e6,
                (double)w->total_min_ns / 1e6, (double)w->total_max_ns / 1e6,
                w->total_requests ? (double)w->total_bytes / (double)w->total_requests : 0.0);
        r->driver->csv_history_row(f, w);
        fputc('\n', f);
    }
    return fclose(f) == 0 ? 0 : -EIO;
}

int fo_load_write_csv(const char *prefix, const fo_load_opts *o, const fo_load_result *r,
                      const fo_load_summary *s, double start_unix) {
    int rc = write_stats(prefix, o, r, s);
    return rc < 0 ? rc : write_history(prefix, r, start_unix);
}
