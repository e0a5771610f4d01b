/* The models at scale (scripts/bench-scale.sh): one step is a model at a number of users, with
 * the page's ms scaled so the offered rate stays the same. This module judges a step (did the
 * model break there, and for want of what) and writes the tables. Pure: no files, no sockets
 * (bench/report/scale.c does the I/O). */
#ifndef FANOUT_SCALE_H
#define FANOUT_SCALE_H

#include <stddef.h>
#include <stdint.h>

#include "fanout/load_figures.h"

/* A model breaks at a step with more failures than this share of its pages... */
#define FO_SCALE_MAX_FAILURE_RATIO 0.01
/* ... or a p95 above this many times the floor. */
#define FO_SCALE_MAX_P95_RATIO 1.5
/* A step is skipped when its memory, projected from the step before, would pass this share of
 * the RAM... */
#define FO_SCALE_MAX_MEM_SHARE 0.5
/* ... the projection being the step before's memory per user, times the users, times this
 * margin (memory per user falls as users grow, so the projection errs high). */
#define FO_SCALE_MEM_MARGIN 1.1

typedef enum fo_scale_status {
    FO_STEP_RAN,     /* measured */
    FO_STEP_REFUSED, /* the server (or the load) would not start: cause says why */
    FO_STEP_SKIPPED, /* not started, to guard the machine (memory projected past half the RAM) */
    FO_STEP_NOT_RUN, /* the model broke at a smaller step */
} fo_scale_status;

typedef struct fo_scale_step {
    char model[16];
    int users, ms, size;
    fo_scale_status status;
    char cause[16];       /* why it broke or was not run: descriptors, memory, CPU, pids, ... */
    char reason[256];     /* the refusal's or the guard's own words */
    fo_load_figures load; /* what the load saw (fanout-load's JSON) */
    double wall_s;
    /* What bench-scale.sh measured of the server: every process together (fanout-mem), at the
     * sample where PSS + kernel peaked; -1 where not measured. The RSS sum (its own peak)
     * counts shared pages once per process: only for comparison with top. */
    double pss_kib, kernel_kib, rss_sum_kib;
    double sockets_kib; /* the system's socket buffers at their peak: the same for every model */
    double cpu_s;
    long peak_threads, peak_procs, peak_fds, fd_limit; /* -1: not measured on this system */
    /* The harness, to show it was not the limit. */
    int api_workers, api_ports, load_threads; /* load_threads: over every load process */
    int load_procs; /* fanout-load processes, each a --segment of the ramp (1: one, unsplit) */
    double api_cpu_s, load_cpu_s;
    long api_peak_in_flight;
    /* The machine. machine_busy: the share of its CPU that every task used over the step, the
     * kernel's own threads too (/proc/stat); -1: not measured (macOS, an older folder). */
    double mem_kib;
    int cores;
    double machine_busy;
} fo_scale_step;

/* The floor, 2 * ms, in ms; and Little's law for a model sized to its users: users / floor. */
double fo_scale_floor_ms(const fo_scale_step *s);
double fo_scale_bound_rps(const fo_scale_step *s);
double fo_scale_rps_ratio(const fo_scale_step *s);
double fo_scale_p95_ratio(const fo_scale_step *s);
double fo_scale_failure_ratio(const fo_scale_step *s);
double fo_scale_cpu_ms_per_page(const fo_scale_step *s);

/* What the model costs in memory, PSS + kernel (fo_model_mem_kib), and that per user; -1 when
 * not measured. */
double fo_scale_mem_kib(const fo_scale_step *s);
double fo_scale_mem_per_user_kib(const fo_scale_step *s);

/* The memory a step of `users` users would take, projected from prev, a step that ran: prev's
 * memory per user x users x FO_SCALE_MEM_MARGIN, in KiB. Where prev has no PSS, its RSS sum
 * stands in (an overstatement, which errs on the safe side for a guard). -1 when prev gives
 * neither. */
double fo_scale_project_mem_kib(const fo_scale_step *prev, int users);

/* The guard before a step: 1 when the step of `users` users, projected from prev, would take
 * more than FO_SCALE_MAX_MEM_SHARE of the machine's RAM (prev->mem_kib), with the reason (for
 * the step's JSON and the report) in reason; 0 to run it. */
int fo_scale_guard(const fo_scale_step *prev, int users, char *reason, size_t len);

/* Share of one core the API and the load generator used over the step, per process or thread
 * of theirs (1 = a core saturated). */
double fo_scale_api_busy(const fo_scale_step *s);
double fo_scale_load_busy(const fo_scale_step *s);

/* Judges a step that ran: 1 when the model broke there (failure ratio above
 * FO_SCALE_MAX_FAILURE_RATIO or p95 / floor above FO_SCALE_MAX_P95_RATIO), with s->cause set to
 * what ran out, the model's own costs first and the machine's settings last: "memory" (PSS +
 * kernel past FO_SCALE_MAX_MEM_SHARE of the RAM), "harness" (the API or the load generator
 * saturated a core: the result says nothing of the model), "CPU" (the server, the API and the load
 * together on 90% of the cores or more), "descriptors" (within 10% of this machine's open-files
 * limit in every process), else "queueing". 0 when it held. Steps that did not run are left as they
 * are (0). */
int fo_scale_judge(fo_scale_step *s);

/* One line for the console: "uv 10000: RPS / bound 0.99, p95 / floor 1.01, failures 0.00% ..." */
void fo_scale_line(const fo_scale_step *s, char *out, size_t len);

/* Markdown: models x users, each cell "RPS / bound · p95 / floor" (or why there is none), then
 * each model's break; a break for descriptors says it is this machine's open-files limit, a
 * setting, not the model's cost. steps in ladder order per model. malloc'd. */
char *fo_scale_matrix_md(const fo_scale_step *steps, size_t n);

/* Markdown: one row per step with every figure. malloc'd. */
char *fo_scale_table_md(const fo_scale_step *steps, size_t n);

#endif
