/* fanout-load: parse the command line, run the load, print the live line and the summary,
 * write the machine output, and turn the outcome into an exit status (see --help). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "opts.h"
#include "output.h"
#include "load_report.h"
#include "run.h"

enum { EXIT_OK = 0, EXIT_FAILURES = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_ERROR = 4 };

typedef struct live_state {
    const fo_load_opts *opts;
    const fo_driver *driver;
    int tty;
    int drawn; /* a line is on the terminal without its newline yet */
} live_state;

static void on_live(const fo_window *win, size_t index, uint64_t run_ns, void *data) {
    live_state *ls = data;
    char line[256];
    fo_load_live_line(line, sizeof line, win, index, ls->opts->sched.total_ns, run_ns, ls->driver);
    if (ls->tty) {
        fprintf(stderr, "\r\033[K%s", line);
        ls->drawn = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

int main(int argc, char **argv) {
    fo_load_opts opts;
    char err[256] = "";
    int rc = fo_load_opts_parse(&opts, argc, argv, err, sizeof err);
    if (rc == FO_LOAD_OPTS_HELP) {
        fo_load_help(stdout);
        return EXIT_OK;
    }
    if (rc < 0) return fo_cli_error("fanout-load", "%s", err);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (fo_load_start_resolve(&opts, (double)now.tv_sec + (double)now.tv_nsec / 1e9, err,
                              sizeof err) < 0)
        return fo_cli_error("fanout-load", "%s", err);
    /* A write to a connection the server has closed must be an error code, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    /* Each connection holds one socket (a user's, or one of the open model's pool), and each
     * thread's loop a few descriptors: the limit must hold them all, or connects would fail and
     * be counted against the server. The model settles it: the open model's default cap is
     * lowered to what fits; a --max-connections asked for, or the users, are checked. */
    const fo_driver *driver = fo_driver_of(&opts);
    if (driver->plan_fds(&opts) != 0) return EXIT_ERROR;

    live_state ls = {&opts, driver, isatty(STDERR_FILENO), 0};
    fo_load_result result;
    rc = fo_load_run(&opts, &result, opts.quiet ? NULL : on_live, &ls, err, sizeof err);
    if (ls.drawn) fputc('\n', stderr);
    if (rc < 0) {
        fprintf(stderr, "fanout-load: %s\n", err);
        return rc == FO_LOAD_UNREACHABLE ? EXIT_UNREACHABLE : EXIT_ERROR;
    }

    fo_load_summary sum;
    fo_load_summarize(&result, &sum);
    int status = EXIT_OK;
    if (opts.json_path && (rc = fo_load_write_json(opts.json_path, &opts, &result, &sum)) < 0) {
        fprintf(stderr, "fanout-load: cannot write %s: %s\n", opts.json_path, strerror(-rc));
        status = EXIT_ERROR;
    }
    if (opts.csv_prefix &&
        (rc = fo_load_write_csv(opts.csv_prefix, &opts, &result, &sum, result.start_unix)) < 0) {
        fprintf(stderr, "fanout-load: cannot write %s_stats*.csv: %s\n", opts.csv_prefix,
                strerror(-rc));
        status = EXIT_ERROR;
    }
    fo_load_print_summary(stdout, &opts, &result, &sum);
    fflush(stdout);
    if (status == EXIT_OK &&
        (sum.failure_ratio > opts.max_failure_ratio || sum.requests + sum.failures == 0)) {
        fprintf(stderr, "fanout-load: failure ratio %.2f%% is above the limit %.2f%%%s\n",
                sum.failure_ratio * 100, opts.max_failure_ratio * 100,
                sum.requests + sum.failures == 0 ? " (no request completed)" : "");
        status = EXIT_FAILURES;
    }
    fo_load_result_free(&result);
    return status;
}
