/* fanout-load: parse the command line, run the load, print the live line and the summary,
 * write the machine output, and turn the outcome into an exit status (see --help). */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "opts.h"
#include "output.h"
#include "report.h"
#include "run.h"

enum { EXIT_OK = 0, EXIT_FAILURES = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_ERROR = 4 };

typedef struct live_state {
    const fo_load_opts *opts;
    int tty;
    int drawn; /* a line is on the terminal without its newline yet */
} live_state;

static void on_live(const fo_window *win, size_t index, uint64_t run_ns, void *data) {
    live_state *ls = data;
    char line[256];
    fo_load_live_line(line, sizeof line, win, index, ls->opts->sched.total_ns, run_ns,
                      ls->opts->open);
    if (ls->tty) {
        fprintf(stderr, "\r\033[K%s", line);
        ls->drawn = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

/* Descriptors kept beside the connections: stdio, the loops, files, a margin. */
#define FD_SPARE 64

/* Raises the open-file limit towards `sockets` + FD_SPARE as far as the hard limit allows.
 * Returns the limit now in force (0 when unknown). */
static rlim_t raise_fd_limit(uint32_t sockets) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    rlim_t want = (rlim_t)sockets + FD_SPARE;
    if (rl.rlim_cur >= want) return rl.rlim_cur;
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want) ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) return rl.rlim_cur;
#ifdef OPEN_MAX
    /* macOS refuses more than OPEN_MAX whatever the hard limit says: settle for that. */
    if (rl.rlim_cur > OPEN_MAX && old < OPEN_MAX) {
        rl.rlim_cur = OPEN_MAX;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0) return rl.rlim_cur;
    }
#endif
    return old;
}

/* Each user holds one socket: make room for them all when the hard limit allows. */
static void fit_users(uint32_t users) {
    rlim_t lim = raise_fd_limit(users);
    if (lim && lim < (rlim_t)users + FD_SPARE)
        fprintf(
            stderr,
            "fanout-load: warning: open-file limit %llu is below %u users; connects will fail\n",
            (unsigned long long)lim, users);
}

/* The open model's pool must fit the open-file limit: a --max-connections beyond it is an error
 * (0 with err set); the default is lowered to fit. 1 when it fits. */
static int fit_connections(fo_load_opts *o, char *err, size_t errlen) {
    rlim_t lim = raise_fd_limit(o->max_connections);
    if (!lim || lim >= (rlim_t)o->max_connections + FD_SPARE) return 1;
    if (o->max_connections_given || lim <= FD_SPARE) {
        snprintf(err, errlen,
                 "--max-connections %u needs %u open files, but the limit is %llu (raise it with "
                 "ulimit -n, or ask for fewer connections)",
                 o->max_connections, o->max_connections + FD_SPARE, (unsigned long long)lim);
        return 0;
    }
    o->max_connections = (uint32_t)(lim - FD_SPARE);
    if (o->threads > o->max_connections) o->threads = o->max_connections;
    return 1;
}

int main(int argc, char **argv) {
    fo_load_opts opts;
    char err[256] = "";
    int rc = fo_load_opts_parse(&opts, argc, argv, err, sizeof err);
    if (rc == FO_LOAD_OPTS_HELP) {
        fputs(fo_load_usage(), stdout);
        return EXIT_OK;
    }
    if (rc < 0) {
        fprintf(stderr, "fanout-load: %s\n", err);
        return EXIT_USAGE;
    }
    /* A write to a connection the server has closed must be an error code, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    if (!opts.open) {
        fit_users(opts.sched.max_users);
    } else if (!fit_connections(&opts, err, sizeof err)) {
        fprintf(stderr, "fanout-load: %s\n", err);
        return EXIT_USAGE;
    }

    live_state ls = {&opts, isatty(STDERR_FILENO), 0};
    fo_load_result result;
    double start_unix = (double)time(NULL);
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
        (rc = fo_load_write_csv(opts.csv_prefix, &opts, &result, &sum, start_unix)) < 0) {
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
