/* fanout-server: the front server. One binary, one flag for the concurrency model; the request
 * handler is the same for all (fanout/handler.h), only the engine differs (engine.h). */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "fanout/cli.h"
#include "fanout/coro.h"
#include "fanout/page.h"
#include "fanout/settings.h"
#include "fanout/sys.h"

static const fo_engine *const engines[] = {&fo_engine_prefork, &fo_engine_threads, &fo_engine_uv,
                                           &fo_engine_coro};
#define N_ENGINES (sizeof engines / sizeof engines[0])

/* The models' names as prose: "prefork, threads, uv or coro". */
static void print_model_names(FILE *f) {
    for (size_t i = 0; i < N_ENGINES; i++)
        fprintf(f, "%s%s", i == 0 ? "" : i + 1 < N_ENGINES ? ", " : " or ", engines[i]->name);
}

/* --model's help: the engine table's names. */
static void help_model(FILE *f, const fo_cli_opt *row, int col) {
    int n = fprintf(f, "  --%s %s", row->name, row->arg);
    fprintf(f, "%*s", n < col ? col - n : 1, "");
    print_model_names(f);
    fprintf(f, " (required)\n");
}

/* One line per engine sized by the row's flag: "  --workers N   prefork: processes (default
 * ...)", and for --workers, the engines sized by --threads that also take it. */
static void help_size_flag(FILE *f, const fo_cli_opt *row, int col) {
    int first = 1;
    char head[32];
    snprintf(head, sizeof head, "--%s %s", row->name, row->arg);
    for (size_t i = 0; i < N_ENGINES; i++) {
        const fo_engine *e = engines[i];
        if (strcmp(row->name, "workers") == 0 && e->workers_help) {
            fprintf(f, "  %-*s %s: %s (default 1)\n", col - 3, first ? head : "", e->name,
                    e->workers_help);
            first = 0;
            continue;
        }
        if (strcmp(e->size_flag, row->name) != 0) continue;
        /* The default as the engine applies it, shown beside a formula such as "2 x cores". */
        fo_server_opts scratch = {.workers = -1, .threads = -1};
        char n[16];
        snprintf(n, sizeof n, "%d", e->size(&scratch));
        int same = strcmp(n, e->size_default) == 0;
        fprintf(f, "  %-*s %s: %s (default %s%s%s)\n", col - 3, first ? head : "", e->name,
                e->size_help, e->size_default, same ? "" : " = ", same ? "" : n);
        first = 0;
    }
}

enum { ACTION_LIST_MODELS = 2 }; /* after FO_CLI_HELP */

#define FIELD(f) .field = offsetof(fo_server_opts, f)

/* fanout-server's options: each one's flag, field, bounds, default and help, once. The sizes
 * (--workers, --threads) default to -1, "the engine's default" (engine.h). */
static const fo_cli_opt rows[] = {
    {FO_CLI_STR, "model", 0, FIELD(model), .arg = "MODEL", .print_help = help_model},
    {FO_CLI_INT, "workers", 0, FIELD(workers), 1, 4096, -1, .arg = "N",
     .print_help = help_size_flag},
    {FO_CLI_INT, "threads", 0, FIELD(threads), 1, 10000, -1, .arg = "N",
     .print_help = help_size_flag},
    {FO_CLI_STR, "host", 0, FIELD(host), .def_str = "127.0.0.1", .arg = "HOST",
     .help = "address to listen on"},
    {FO_CLI_INT, "port", 0, FIELD(port), 0, 65535, 8000, .arg = "PORT",
     .help = "port (default {default}; 0 picks a free one, printed at start)"},
    {FO_CLI_STR, "upstream", 0, FIELD(upstream.base_url),
     .def_str = "http://127.0.0.1:" FO_CLI_TEXT(FO_API_PORT), .arg = "URL[,URL...]",
     .help = "the country API (default {default}); with\nseveral, the calls go to each in turn"},
    {FO_CLI_LONG, "upstream-timeout", 0, FIELD(upstream.timeout_ms), 1, FO_TIMEOUT_MAX_MS, 30000,
     .arg = "MS", .help = "a call that takes longer answers 504"},
    {FO_CLI_INT, "backlog", 0, FIELD(backlog), 1, 1000000, FO_BACKLOG, .arg = "N",
     .help = "listen backlog"},
    {FO_CLI_LONG, "max-connections", 0, FIELD(max_conns), 1, 10000000, 0, .arg = "N",
     .help = "connections one process holds at once; beyond, clients\nwait in the backlog "
             "(default: what the open-files limit\nfits, checked at start; prefork takes one "
             "at a time)",
     .def_help = ""},
    {FO_CLI_INT, "keepalive-timeout", 0, FIELD(keepalive_timeout_ms), 1, FO_TIMEOUT_MAX_MS,
     FO_KEEPALIVE_TIMEOUT_MS, .arg = "MS", .help = "close idle keep-alive connections after MS"},
    {FO_CLI_INT, "header-timeout", 0, FIELD(header_timeout_ms), 1, FO_TIMEOUT_MAX_MS,
     FO_HEADER_TIMEOUT_MS, .arg = "MS",
     .help = "drop a client whose request is not whole after MS"},
    {FO_CLI_FLAG, "no-cancel", 0, FIELD(upstream.no_cancel),
     .help = "run every upstream call to its end: a page waits for all\nthree after one failed, "
             "and a client that leaves mid-page\ndoes not stop its calls (the default stops "
             "them; this\nshows what not cancelling costs)"},
    {FO_CLI_INT, "shutdown-timeout", 0, FIELD(shutdown_timeout_ms), 0, FO_TIMEOUT_MAX_MS, 10000,
     .arg = "MS",
     .help = "on SIGTERM/SIGINT, wait this long for requests in flight\n(default {default})"},
    {FO_CLI_INT, "stack-size", 0, FIELD(stack_size), FO_CORO_STACK_MIN, 64L * 1024 * 1024,
     FO_CORO_STACK_DEFAULT, .arg = "BYTES",
     .help = "coro: each request's coroutine stack, {min} to {max} (default\n{default}); an "
             "overflow stops the server with a message"},
    {FO_CLI_ACTION, "list-models", 0, .action = ACTION_LIST_MODELS,
     .help = "print one line per model and exit: NAME SIZE_FLAG CAPS, where\nSIZE_FLAG is the "
             "flag that sizes it (workers or threads) and\nCAPS is 1 when that size caps the "
             "requests served at once\n(else 0); for scripts, e.g. \"uv workers 0\""},
    {FO_CLI_ACTION, "help", 'h', .action = FO_CLI_HELP, .help = "this help"},
    {.kind = FO_CLI_END},
};

static void usage(FILE *f);
static const fo_cli cli = {.prog = "fanout-server", .rows = rows, .col = 29, .help = usage};

static void usage(FILE *f) {
    fprintf(f,
            "usage: fanout-server --model MODEL [options]\n"
            "       fanout-server --list-models\n\n"
            "Serves the front page: GET / (or /<ms>/, ms 0..%d, default %d) calls the country\n"
            "API %d times at once (/<ms>/, /<2*ms>/, /<ms/2>/) and renders the first country.\n\n"
            "Models:\n",
            FO_MAX_MS, FO_DEFAULT_MS, FO_FANOUT_CALLS);
    for (size_t i = 0; i < N_ENGINES; i++)
        fprintf(f, "  %-8s %s\n", engines[i]->name, engines[i]->help);
    fprintf(f, "\nOptions:\n");
    fo_cli_help(&cli, f);
}

/* --list-models: the engine table for scripts and tests, one stable line per model. */
static void list_models(void) {
    for (size_t i = 0; i < N_ENGINES; i++)
        printf("%s %s %d\n", engines[i]->name, engines[i]->size_flag, engines[i]->size_caps);
}

/* Checks the configuration against the machine's limits before anything starts: the tasks it
 * starts against the process limit, the descriptors of one process against the open-files
 * limit (raised to the hard limit), and settles the connection cap. 0, or -1 after saying why. */
static int plan_limits(const fo_engine *engine, fo_server_opts *o, int size) {
    char what[96];
    int n = snprintf(what, sizeof what, "%s --%s %d", engine->name, engine->size_flag, size);
    if (engine->workers_help && o->workers > 1 && n > 0 && (size_t)n < sizeof what)
        snprintf(what + n, sizeof what - (size_t)n, " --workers %d", o->workers);
    fo_engine_needs need = engine->needs(o);
    long tasks_free = fo_tasks_available();
    if (tasks_free >= 0 && need.tasks > tasks_free) {
        fprintf(stderr,
                "fanout-server: %s starts %ld processes and threads, but only %ld more can be "
                "started here (the process limit, ulimit -u, or the system's task count)\n",
                what, need.tasks, tasks_free);
        return -1;
    }
    long cap = need.caps_conns ? o->max_conns : 0;
    if (fo_fd_plan("fanout-server", what, &need.fds, need.min_conns, &cap, need.advice) != 0)
        return -1;
    if (need.caps_conns) {
        o->max_conns = cap;
        o->worker_fds = need.fds.fixed + need.fds.per_conn * cap;
    }
    /* The uv runner keeps an idle upstream connection for each call it may have in flight. */
    long pool = cap * FO_FANOUT_CALLS;
    o->upstream.pool = pool > 0 && pool < 1000000 ? pool : 0;
    return 0;
}

int main(int argc, char **argv) {
    fo_server_opts o = {0};
    fo_cli_result res;
    int exit_now, rc = fo_cli_main(&cli, &o, argc, argv, &res, &exit_now);
    if (exit_now >= 0) return exit_now;
    if (rc == ACTION_LIST_MODELS) {
        list_models();
        return 0;
    }
    const fo_engine *engine = NULL;
    for (size_t i = 0; o.model && i < N_ENGINES; i++)
        if (strcmp(o.model, engines[i]->name) == 0) engine = engines[i];
    if (!engine) {
        char names[128] = "";
        FILE *mem = fmemopen(names, sizeof names, "w");
        if (mem) {
            print_model_names(mem);
            fclose(mem);
        }
        return fo_cli_error(cli.prog, "--model must be %s%s%s%s", names, o.model ? " (not '" : "",
                            o.model ? o.model : "", o.model ? "')" : "");
    }
    char err[256];
    if (fo_upstream_check(o.upstream.base_url, err, sizeof err) != 0)
        return fo_cli_error(cli.prog, "--upstream: %s", err);
    int size = engine->size(&o);
    if (plan_limits(engine, &o, size) != 0) return 1;

    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "fanout-server: libcurl failed to initialise\n");
        return 1;
    }
    int fd = fo_listen_tcp(o.host, o.port, o.backlog, &o.port, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "fanout-server: %s\n", err);
        return 1;
    }

    char conns[48] = "", procs[32] = "";
    if (o.max_conns > 0) snprintf(conns, sizeof conns, " max-connections=%ld", o.max_conns);
    if (engine->workers_help && o.workers > 1)
        snprintf(procs, sizeof procs, " workers=%d", o.workers);
    printf("fanout-server: model=%s %s=%d%s listening on http://%s:%d upstream=%s%s\n",
           engine->name, engine->size_flag, size, procs, o.host, o.port, o.upstream.base_url,
           conns);
    fflush(stdout);

    rc = engine->run(&o, fd); /* the engine owns fd from here and closes it */
    curl_global_cleanup();
    return rc;
}
