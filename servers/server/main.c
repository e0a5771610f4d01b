/* fanout-server: the front server. One binary, one flag for the concurrency model; the request
 * handler is the same for all (fanout/handler.h), only the engine differs (engine.h). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "fanout/coro.h"
#include "fanout/sys.h"

static const fo_engine *const engines[] = {&fo_engine_prefork, &fo_engine_threads, &fo_engine_uv,
                                             &fo_engine_coro};
#define N_ENGINES (sizeof engines / sizeof engines[0])

/* coro's stacks: 64 KiB holds a request's handler, libcurl's and libuv's calls from it with
 * room to spare, even under AddressSanitizer; the pages a request never touches cost only
 * address space. */
#define STACK_SIZE_DEFAULT 65536
#define STACK_SIZE_MAX (64u * 1024u * 1024u)

/* The models' names as prose: "prefork, threads, uv or coro". */
static void print_model_names(FILE *f) {
    for (size_t i = 0; i < N_ENGINES; i++)
        fprintf(f, "%s%s", i == 0 ? "" : i + 1 < N_ENGINES ? ", " : " or ", engines[i]->name);
}

/* One line per engine sized by --FLAG: "  --workers N   prefork: processes (default ...)", and
 * for --workers, the engines sized by --threads that also take it. */
static void print_size_flag(FILE *f, const char *flag) {
    int first = 1;
    char head[32];
    snprintf(head, sizeof head, "--%s N", flag);
    for (size_t i = 0; i < N_ENGINES; i++) {
        const fo_engine *e = engines[i];
        if (strcmp(flag, "workers") == 0 && e->workers_help) {
            fprintf(f, "  %-26s %s: %s (default 1)\n", first ? head : "", e->name, e->workers_help);
            first = 0;
            continue;
        }
        if (strcmp(e->size_flag, flag) != 0) continue;
        /* The default as the engine applies it, shown beside a formula such as "2 x cores". */
        fo_server_opts scratch = {.workers = -1, .threads = -1};
        char n[16];
        snprintf(n, sizeof n, "%d", e->size(&scratch));
        fprintf(f, "  %-26s %s: %s (default %s%s%s)\n", first ? head : "", e->name, e->size_help,
                e->size_default, strcmp(n, e->size_default) == 0 ? "" : " = ",
                strcmp(n, e->size_default) == 0 ? "" : n);
        first = 0;
    }
}

static void usage(FILE *f) {
    fprintf(f, "usage: fanout-server --model MODEL [options]\n"
               "       fanout-server --list-models\n\n"
               "Serves the front page: GET / (or /<ms>/, ms 0..60000, default 300) calls the country\n"
               "API three times at once (/<ms>/, /<2*ms>/, /<ms/2>/) and renders the first country.\n\n"
               "Models:\n");
    for (size_t i = 0; i < N_ENGINES; i++)
        fprintf(f, "  %-8s %s\n", engines[i]->name, engines[i]->help);
    fprintf(f, "\nOptions:\n  --model MODEL              ");
    print_model_names(f);
    fprintf(f, " (required)\n");
    print_size_flag(f, "workers");
    print_size_flag(f, "threads");
    fprintf(f,
            "  --host HOST                address to listen on (default 127.0.0.1)\n"
            "  --port PORT                port (default 8000; 0 picks a free one, printed at start)\n"
            "  --upstream URL[,URL...]    the country API (default http://127.0.0.1:5000); with\n"
            "                             several, the calls go to each in turn\n"
            "  --upstream-timeout MS      a call that takes longer answers 504 (default 30000)\n"
            "  --backlog N                listen backlog (default 1024)\n"
            "  --max-connections N        connections one process holds at once; beyond, clients\n"
            "                             wait in the backlog (default: what the open-files limit\n"
            "                             fits, checked at start; prefork takes one at a time)\n"
            "  --keepalive-timeout MS     close idle keep-alive connections after MS (default 5000)\n"
            "  --header-timeout MS        drop a client whose request is not whole after MS (default 10000)\n"
            "  --no-cancel                run every upstream call to its end: a page waits for all\n"
            "                             three after one failed, and a client that leaves mid-page\n"
            "                             does not stop its calls (the default stops them; this\n"
            "                             shows what not cancelling costs)\n"
            "  --shutdown-timeout MS      on SIGTERM/SIGINT, wait this long for requests in flight\n"
            "                             (default 10000)\n"
            "  --stack-size BYTES         coro: each request's coroutine stack, %u to %u (default\n"
            "                             %d); an overflow stops the server with a message\n"
            "  --list-models              print one line per model and exit: NAME SIZE_FLAG CAPS, where\n"
            "                             SIZE_FLAG is the flag that sizes it (workers or threads) and\n"
            "                             CAPS is 1 when that size caps the requests served at once\n"
            "                             (else 0); for scripts, e.g. \"uv workers 0\"\n"
            "  -h, --help                 this help\n",
            FO_CORO_STACK_MIN, STACK_SIZE_MAX, STACK_SIZE_DEFAULT);
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
    fo_server_opts o = {
        .host = "127.0.0.1",
        .port = 8000,
        .upstream = {.base_url = "http://127.0.0.1:5000", .timeout_ms = 30000},
        .workers = -1,
        .threads = -1,
        .backlog = 1024,
        .keepalive_timeout_ms = 5000,
        .header_timeout_ms = 10000,
        .shutdown_timeout_ms = 10000,
        .max_conns = 0,
        .stack_size = STACK_SIZE_DEFAULT,
    };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"workers", required_argument, NULL, 'w'},
        {"threads", required_argument, NULL, 't'},
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"upstream", required_argument, NULL, 'u'},
        {"upstream-timeout", required_argument, NULL, 'U'},
        {"backlog", required_argument, NULL, 'b'},
        {"keepalive-timeout", required_argument, NULL, 'k'},
        {"header-timeout", required_argument, NULL, 'r'},
        {"shutdown-timeout", required_argument, NULL, 's'},
        {"max-connections", required_argument, NULL, 'C'},
        {"stack-size", required_argument, NULL, 'S'},
        {"no-cancel", no_argument, NULL, 'N'},
        {"list-models", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, timeout = 0, bad = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm': o.model = optarg; break;
        case 'H': o.host = optarg; break;
        case 'u': o.upstream.base_url = optarg; break;
        case 'w': bad |= fo_flag_int("fanout-server", "workers", optarg, 1, 4096, &o.workers); break;
        case 't': bad |= fo_flag_int("fanout-server", "threads", optarg, 1, 10000, &o.threads); break;
        case 'p': bad |= fo_flag_int("fanout-server", "port", optarg, 0, 65535, &o.port); break;
        case 'b': bad |= fo_flag_int("fanout-server", "backlog", optarg, 1, 1000000, &o.backlog); break;
        case 'k': bad |= fo_flag_int("fanout-server", "keepalive-timeout", optarg, 1, 3600000, &o.keepalive_timeout_ms); break;
        case 'r': bad |= fo_flag_int("fanout-server", "header-timeout", optarg, 1, 3600000, &o.header_timeout_ms); break;
        case 's': bad |= fo_flag_int("fanout-server", "shutdown-timeout", optarg, 0, 3600000, &o.shutdown_timeout_ms); break;
        case 'C': {
            int v = 0;
            bad |= fo_flag_int("fanout-server", "max-connections", optarg, 1, 10000000, &v);
            o.max_conns = v;
            break;
        }
        case 'S': bad |= fo_flag_int("fanout-server", "stack-size", optarg, FO_CORO_STACK_MIN, STACK_SIZE_MAX, &o.stack_size); break;
        case 'U':
            bad |= fo_flag_int("fanout-server", "upstream-timeout", optarg, 1, 3600000, &timeout);
            o.upstream.timeout_ms = timeout;
            break;
        case 'N': o.upstream.no_cancel = 1; break;
        case 'h': usage(stdout); return 0;
        case 'L': list_models(); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "fanout-server: unexpected argument '%s' (try --help)\n", argv[optind]);
        return 2;
    }
    const fo_engine *engine = NULL;
    for (size_t i = 0; o.model && i < N_ENGINES; i++)
        if (strcmp(o.model, engines[i]->name) == 0) engine = engines[i];
    if (!engine) {
        fprintf(stderr, "fanout-server: --model must be ");
        print_model_names(stderr);
        fprintf(stderr, "%s%s%s\n", o.model ? " (not '" : "", o.model ? o.model : "",
                o.model ? "')" : "");
        return 2;
    }
    char err[256];
    if (fo_upstream_check(o.upstream.base_url, err, sizeof err) != 0) {
        fprintf(stderr, "fanout-server: --upstream: %s\n", err);
        return 2;
    }
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
    if (engine->workers_help && o.workers > 1) snprintf(procs, sizeof procs, " workers=%d", o.workers);
    printf("fanout-server: model=%s %s=%d%s listening on http://%s:%d upstream=%s%s\n",
           engine->name, engine->size_flag, size, procs, o.host, o.port, o.upstream.base_url,
           conns);
    fflush(stdout);

    int rc = engine->run(&o, fd); /* the engine owns fd from here and closes it */
    curl_global_cleanup();
    return rc;
}
