/* The benchmark's answer: one row per configuration, the physical limit of each (Little's law),
 * the blog's own figures beside ours, and the regression check against a baseline. Pure: no
 * files, no sockets (bench/report/main.c does the I/O). */
#ifndef FANOUT_REPORT_H
#define FANOUT_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fo_bench_row {
    char config[32];      /* "threads:100" */
    char model[16];       /* the model's name, as fanout-server --list-models says it */
    int size;             /* workers, threads or loops */
    int size_caps;        /* 1: at most `size` requests at once (--list-models' CAPS column) */
    int users, ms;
    uint64_t requests, failures;
    uint64_t in_flight_at_end; /* sent, not answered when the run ended: in neither count */
    double min_ms, p95_ms, p95_locust_ms, mean_ms, max_ms;
    double max_rps;       /* peak of Locust's smoothed current RPS: the blog's column */
    double max_rps_raw;   /* peak of raw one-second counts */
    /* Memory at the sample of its peak, every process of the model together (fanout-mem):
     * PSS (shared pages split between the processes that map them) and the kernel's part for
     * the model's tasks; -1 where not measured. The RSS sum counts a shared page once per
     * process, as top does: kept only for comparison. */
    double pss_kib, kernel_kib, rss_sum_kib;
    double cpu_s;         /* user + system, every process of the model */
    int upstream_peak;    /* the API's peak of calls in flight */
} fo_bench_row;

/* The floor of a page: its slowest call, 2 * ms. */
double fo_bench_floor_ms(const fo_bench_row *r);

/* How many requests the configuration can work on at once: the users, capped by the size when
 * the model's size caps concurrency (prefork's processes, threads' threads). */
int fo_bench_capacity(const fo_bench_row *r);

/* Little's law: capacity / floor, in requests per second; 0 when ms is 0 (no bound). */
double fo_bench_bound_rps(const fo_bench_row *r);

/* What a model costs in memory: PSS + the kernel's part, in KiB. A kernel part this system does
 * not give (macOS; kernel_kib < 0) counts 0, so the figure is then a floor; without a PSS
 * (pss_kib < 0: not measured) the cost is unknown, -1. Every table, chart and projection of
 * memory uses this one sum. */
double fo_model_mem_kib(double pss_kib, double kernel_kib);
double fo_bench_mem_kib(const fo_bench_row *r);

/* Ratios: Max RPS to the bound (1 is perfect), p95 to the floor (1 is perfect), failures to
 * all requests. 0 where undefined. */
double fo_bench_rps_ratio(const fo_bench_row *r);
double fo_bench_p95_ratio(const fo_bench_row *r);
double fo_bench_failure_ratio(const fo_bench_row *r);

/* The rows as a Markdown table (malloc'd): the blog's four columns, then bound, ratios,
 * failures, requests in flight at the end, memory (PSS + kernel), the RSS sum beside it, CPU and
 * CPU per page. */
char *fo_bench_table_md(const fo_bench_row *rows, size_t n);

/* The blog's table (Apple M2, Python stacks) as Markdown, with the closest model here. */
char *fo_bench_blog_md(void);

/* The machine-independent figures of a run, as a baseline object. */
json_t *fo_bench_baseline(const fo_bench_row *rows, size_t n);

/* Compares rows with a baseline: a configuration regresses when its RPS ratio falls below the
 * baseline's by more than `tolerance` (relative), its p95 ratio rises above the baseline's by
 * more than that, or its failure ratio exceeds the baseline's by more than 1 point. A
 * configuration missing from either side fails too: a run that left one out (or a baseline
 * that lacks a new one) would otherwise pass without comparing it. Writes one line per finding
 * into msg; returns the number of configurations that regressed or are missing. */
int fo_bench_compare(const fo_bench_row *rows, size_t n, const json_t *baseline, double tolerance,
                     char *msg, size_t msglen);

#endif
