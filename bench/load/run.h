/* A whole run: resolve the target, check that it answers a connect, start one worker per
 * --threads, gather the windows each second on the calling thread (and report them through a
 * callback for the live line), stop on time, and merge everything. */
#ifndef FANOUT_LOAD_RUN_H
#define FANOUT_LOAD_RUN_H

#include <stddef.h>
#include <stdint.h>
#include "driver.h"
#include "opts.h"
#include "stats.h"
#include "windows.h"

typedef struct fo_load_result {
    fo_windows windows;      /* every window, final; windows.total is the run's success histogram */
    fo_load_stats stats;     /* the workers' counters, merged */
    uint64_t run_ns;         /* the run's length: events at or after it were dropped */
    int interrupted;         /* SIGINT or SIGTERM ended the run before its planned end */
    double start_unix;       /* the wall-clock instant of run time 0, Unix seconds */
    const fo_driver *driver; /* the model that ran, and that the outputs ask for its figures */
} fo_load_result;

/* Called on the calling thread once for each window that becomes final, in order: a copy of
 * window `index`, and the run's length so far (0 while it runs, then its final length). */
typedef void (*fo_live_cb)(const fo_window *win, size_t index, uint64_t run_ns, void *data);

/* What fo_load_run can fail with besides a negative errno. */
#define FO_LOAD_UNREACHABLE (-10000)

/* Runs the load described by o, its clock starting at o->start_unix when that is set (and not
 * past), else as soon as the workers are ready. SIGINT or SIGTERM during the run ends it early,
 * with the results so far (a second one kills the process as usual). 0 and r filled (free it with
 * fo_load_result_free), or FO_LOAD_UNREACHABLE when the target does not accept a connect at the
 * start, or a negative errno; err then says why in one line. */
int fo_load_run(const fo_load_opts *o, fo_load_result *r, fo_live_cb live, void *data, char *err,
                size_t errlen);

/* An empty result for o's run: its model's driver, the windows and stats its plan (filled in)
 * asks for. 0, or -ENOMEM with nothing allocated. fo_load_run does this itself. */
int fo_load_result_init(fo_load_result *r, const fo_load_opts *o, fo_load_plan *plan);

void fo_load_result_free(fo_load_result *r);

/* Formats the request every user sends. malloc'd, NULL on OOM; *len set. */
char *fo_load_request(const fo_load_opts *o, size_t *len);

#endif
