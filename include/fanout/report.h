/* The benchmark's answer: one row per configuration, the physical limit of each (Little's law),
 * the blog's own figures beside ours, and the regression check against a baseline. Pure: no
 * files, no sockets (bench/report/main.c does the I/O). */
#ifndef FANOUT_REPORT_H
#define FANOUT_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/load_figures.h"

typedef struct fo_bench_row {
    char config[48];  /* "threads:100", "gunicorn-gevent-reuse:100" */
    char model[40];   /* the model's name, as fanout-server --list-models says it, or the
                       * target's (bench/targets/NAME.target) */
    char row[80];     /* a target's TARGET_ROW: the blog's row it stands for; "" for a model */
    char version[80]; /* a target's version string; "" for a model */
    int size;         /* workers, threads or loops */
    int size_caps;    /* 1: at most `size` requests at once (--list-models' CAPS column) */
    int users, ms;
    fo_load_figures load; /* what the load saw */
    /* Memory at the sample of its peak, every process of the model together (fanout-mem):
     * PSS (shared pages split between the processes that map them) and the kernel's part for
     * the model's tasks; -1 where not measured. The RSS sum counts a shared page once per
     * process, as top does: kept only for comparison. */
    double pss_kib, kernel_kib, rss_sum_kib;
    double cpu_s; /* user + system, every process of the model, ended ones too */
    /* The time over which cpu_s was counted, the CPU the country API and the load generator
     * used in it (-1: not measured), and the machine's processors: the CPU bound's inputs. 0
     * wall_s: a folder from before them, no CPU bound. scripts/bench.sh counts them over the
     * 10 seconds of the run that answered the most pages (the window Max RPS is the peak of),
     * and cpu_pages is the pages answered in them: the bound at the row's peak. The CPU of a
     * page drifts over a run, and a whole run's average made a bound below the peak it is
     * compared with. 0 cpu_pages: counted over the whole run, every page answered. */
    double wall_s, api_cpu_s, load_cpu_s;
    uint64_t cpu_pages;
    int cpus;
    int upstream_peak; /* the API's peak of calls in flight */
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

/* CPU per page, in ms: cpu_s over the pages answered (failed ones too) in the time it was
 * counted; 0 when no page or no CPU was counted. One rule for the rows and the ladder's steps. */
double fo_cpu_ms_per_page(double cpu_s, uint64_t pages);

/* The second bound: CPU. The server's CPU per page (fo_cpu_ms_per_page over cpu_pages), the
 * processors left to it (the machine's, less what the API and the load generator used in the
 * same time), and their quotient in pages a second. Cores busy: the server's CPU over the run's
 * wall time. 0 where not measured. */
double fo_bench_cpu_ms_per_page(const fo_bench_row *r);
double fo_bench_cores_left(const fo_bench_row *r);
double fo_bench_cpu_bound_rps(const fo_bench_row *r);
double fo_bench_cores_busy(const fo_bench_row *r);

/* The lower of the two bounds (Little's law's alone where the CPU bound is not measured), and
 * Max RPS over it. */
double fo_bench_lower_bound_rps(const fo_bench_row *r);
double fo_bench_lower_ratio(const fo_bench_row *r);

/* What limits the row: "cpu" or "concurrency", whichever bound is lower, when Max RPS reaches
 * FO_BENCH_EXPLAINED of it; below that "other": neither explains it (the GIL, a lock, a queue),
 * and the table says so instead of claiming an explanation. */
#define FO_BENCH_EXPLAINED 0.8
const char *fo_bench_limit(const fo_bench_row *r);

/* The limit in words, into buf: "CPU: 58 ms a page", "concurrency: 2 threads" (the size, when
 * it caps), "concurrency: 100 users", or "other: 1.0 cores busy". Returns buf. */
const char *fo_bench_limit_text(const fo_bench_row *r, char *buf, size_t len);

/* The rows as a Markdown table (malloc'd): the blog's four columns, then Little's-law bound and
 * Max RPS over it, the CPU bound, Max RPS over the lower bound and what limits the row,
 * p95 / floor, failures, requests in flight at the end, memory (PSS + kernel), the RSS sum
 * beside it, CPU, CPU per page and cores busy; then, when targets ran, the version of each. */
char *fo_bench_table_md(const fo_bench_row *rows, size_t n);

/* The blog's table (Apple M2, Python stacks) as Markdown, with what this run measured beside
 * each row: the target standing for it (a row whose `row` is the blog's), the same stack with
 * one client per process (`row` is the blog's + ", one client per process"), and the closest
 * model here; "-" for what did not run. rows may be NULL when n is 0. */
char *fo_bench_blog_md(const fo_bench_row *rows, size_t n);

/* The suffix of a -reuse target's row after the blog's. */
#define FO_BENCH_REUSE_ROW ", one client per process"

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
