/* A load model behind one table of functions: what the closed model (Locust's users, user.c;
 * driver_closed.c) and the open model (arrivals on a pool of connections, open.c;
 * driver_open.c) do differently, and nothing else. fo_driver_of picks the table once from the
 * options; the worker (worker.c), the run (run.c) and the outputs (json.c, csv.c, report.c,
 * live.c, main.c's descriptor plan) call through it and never ask which model runs, the way
 * Redis's ConnectionType and wrk's struct sock put their socket kinds behind one table.
 *
 * The table has three parts: the plan of a run (its stages, what the recorder keeps, the
 * descriptors it needs); a worker's share of the load, one instance per worker thread, living on
 * that thread's loop from init to free; and what the model adds to the outputs. */
#ifndef FANOUT_LOAD_DRIVER_H
#define FANOUT_LOAD_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "fanout/sys.h"
#include "opts.h"
#include "recorder.h"
#include "windows.h"

typedef struct fo_client fo_client;
typedef struct fo_load_result fo_load_result;
typedef struct fo_load_summary fo_load_summary;
typedef struct fo_stage_summary fo_stage_summary;
typedef struct json_t json_t;

_Static_assert(FO_RATES_MAX_STAGES <= FO_SCHED_MAX_STAGES, "a plan's spans hold either stages");

/* The run-wide facts a model decides. */
typedef struct fo_load_plan {
    size_t n_stages; /* spans over which each stage's figures are taken */
    fo_span spans[FO_SCHED_MAX_STAGES];
    const fo_rates *arrivals; /* the arrivals each window offers (open model), or NULL */
    int with_starts;          /* the recorder keeps starts, lateness and service times too */
} fo_load_plan;

/* What a worker hands its model at init: its connections and its place among all threads. */
typedef struct fo_driver_env {
    fo_client *cl;
    const fo_load_opts *o;
    unsigned thread, n_threads; /* this process's threads */
    unsigned slot, n_slots;     /* every segment's threads (fo_sched_slot) */
    uint64_t t0;                /* the run's start, uv_hrtime() */
    uint64_t seed;              /* for whatever the model draws at random */
} fo_driver_env;

typedef struct fo_driver {
    const char *name; /* "closed" or "open": the JSON's "model" */

    /* The run. */
    void (*plan)(const fo_load_opts *o, fo_load_plan *p);
    /* Settles the descriptors and the connection cap (lowering o's where it may); 0, or -1
     * having said why on stderr. */
    int (*plan_fds)(fo_load_opts *o);

    /* A worker's share, on its loop's thread. init allocates *model: 0 or -ENOMEM (nothing is
     * left allocated then). start arms it before the loop runs; check_timeouts runs a few times
     * a second; abort ends it at hrtime now (the run is over: every handle is closed); settle
     * runs once every thread has stopped, the run's length run_ns known, and may still count
     * into the recorder's stats; free follows, after the loop has run its close callbacks. */
    int (*init)(void **model, const fo_driver_env *env);
    void (*start)(void *model);
    void (*check_timeouts)(void *model, uint64_t now);
    void (*abort)(void *model, uint64_t now);
    void (*settle)(void *model, uint64_t run_ns);
    void (*free)(void *model);

    /* The figures and the text. summarize adds the model's figures to s; stage fills stage i's
     * level (users or rate) and returns its span; live_line is the live line of window
     * `index` (see output.h). */
    void (*summarize)(const fo_load_result *r, fo_load_summary *s);
    fo_span (*stage)(const fo_load_opts *o, size_t i, fo_stage_summary *s);
    void (*print_plan)(FILE *f, const fo_load_opts *o);
    void (*print_figures)(FILE *f, const fo_load_opts *o, const fo_load_summary *s);
    const char *stage_title; /* the stage table's title, after "stages (figures over each " */
    const char *stage_level_head, *stage_span_head; /* its first two column heads */
    void (*live_line)(char *buf, size_t len, const fo_window *w, const char *clock, double per_s);

    /* The machine output: more keys in the JSON's root, each window and each stage; more
     * columns (their heads, then each row's values) in the CSV stats and history. */
    void (*json_root)(json_t *root, const fo_load_opts *o, const fo_load_result *r,
                      const fo_load_summary *s);
    void (*json_window)(json_t *win, const fo_window *w);
    void (*json_stage)(json_t *st, const fo_stage_summary *s);
    const char *csv_stats_heads, *csv_history_heads;
    void (*csv_stats_row)(FILE *f, const fo_load_summary *s);
    void (*csv_history_row)(FILE *f, const fo_window *w);
} fo_driver;

/* A model's functions in its table, each named after its member behind the model's prefix
 * (closed_plan, open_plan, ...): the list of members stands here once, each model's table adds
 * only its name and texts, and a model that lacks one of them does not compile. */
#define FO_DRIVER_FUNCTIONS(m)                                                                     \
    .plan = m##_plan, .plan_fds = m##_plan_fds, .init = m##_init, .start = m##_start,              \
    .check_timeouts = m##_check_timeouts, .abort = m##_abort, .settle = m##_settle,                \
    .free = m##_free, .summarize = m##_summarize, .stage = m##_stage,                              \
    .print_plan = m##_print_plan, .print_figures = m##_print_figures, .live_line = m##_live_line,  \
    .json_root = m##_json_root, .json_window = m##_json_window, .json_stage = m##_json_stage,      \
    .csv_stats_row = m##_csv_stats_row, .csv_history_row = m##_csv_history_row

extern const fo_driver fo_driver_closed, fo_driver_open;

/* The model o asks for: the open one with --rate or --rate-stages, else the closed one. */
const fo_driver *fo_driver_of(const fo_load_opts *o);

/* Milliseconds from now until run time t (ns after the run's start t0, uv_hrtime()), rounded
 * up so that a timer never fires before t; 0 once t has come. */
uint64_t fo_ms_until(uint64_t t0, uint64_t t);

/* What both models' descriptor plans count: the threads' loops and one per connection. */
fo_fd_need fo_driver_fd_need(const fo_load_opts *o);

#endif
