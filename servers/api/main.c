/* fanout-api: the slow country API of the workload (shared/WORKLOAD.md).
 *
 * GET /<ms>/ answers after ms milliseconds with one country, picked uniformly at random, as JSON.
 * The wait is a libuv timer, so any number of requests can wait at once at the cost of a timer
 * each. GET /stats tells how many requests were served and how many waited at once, so tests and
 * benchmarks can see how concurrent a front server's fan-out really was.
 *
 * The API must never be what limits a benchmark. At thousands of users it holds tens of
 * thousands of connections: more than one process's open-files limit, and more than the ports
 * one pair of addresses offers. So it can listen on several ports (--ports) and serve with
 * several processes (--workers) that share every port; the counters of /stats live in memory
 * shared by the workers, so /stats speaks for all of them. */
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include "fanout/cli.h"
#include "fanout/countries.h"
#include "fanout/page.h"
#include "fanout/server_uv.h"
#include "fanout/settings.h"
#include "fanout/sys.h"
#include "loop_stop.h"
#include "supervisor.h"

/* The counters of /stats, in memory shared by every worker. */
typedef struct api_stats {
    atomic_llong served, in_flight, peak_in_flight;
} api_stats;

/* What a worker serves with, set up before any fork. */
typedef struct api_cfg {
    fo_countries countries;
    char **bodies; /* the JSON answer of each country, made once */
    size_t *body_lens;
    api_stats *stats;
    int listen_fds[FO_SERVER_UV_MAX_LISTENERS];
    int n_ports;
    fo_server_uv_opts server_opts;
} api_cfg;

typedef struct api {
    uv_loop_t *loop;
    fo_server_uv server;
    const api_cfg *cfg;
    uint64_t rng;
    fo_loop_stop stop;
} api;

/* One request waiting out its delay. */
typedef struct delayed {
    uv_timer_t timer;
    api *a;
    fo_conn_uv *conn;
    uint64_t due_ns; /* uv_hrtime() at which the answer may go out, never earlier */
} delayed;

static uint64_t next_random(api *a) {
    /* xorshift64*: fast, and uniform enough to pick one of ~250 countries. */
    a->rng ^= a->rng >> 12;
    a->rng ^= a->rng << 25;
    a->rng ^= a->rng >> 27;
    return a->rng * 0x2545F4914F6CDD1DULL;
}

static void respond_text(fo_conn_uv *conn, int status, const char *text) {
    fo_response r;
    if (fo_response_text(&r, status, text) != 0) r = (fo_response){.status = 500};
    fo_conn_uv_respond(conn, &r);
}

static void respond_body(fo_conn_uv *conn, const char *body, size_t len) {
    fo_response r = {.status = 200, .content_type = "application/json"};
    r.body = malloc(len);
    if (!r.body) {
        respond_text(conn, 503, "out of memory\n");
        return;
    }
    memcpy(r.body, body, len);
    r.body_len = len;
    fo_conn_uv_respond(conn, &r);
}

static void respond_json(fo_conn_uv *conn, json_t *obj) {
    fo_response r = {.status = 200, .content_type = "application/json"};
    r.body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!r.body) {
        respond_text(conn, 500, "out of memory\n");
        return;
    }
    r.body_len = strlen(r.body);
    fo_conn_uv_respond(conn, &r);
}

static void on_delayed_closed(uv_handle_t *h) {
    free(h->data);
}

/* Answers with a random country. */
static void respond_country(api *a, fo_conn_uv *conn) {
    size_t i = next_random(a) % a->cfg->countries.n;
    atomic_fetch_add(&a->cfg->stats->served, 1);
    respond_body(conn, a->cfg->bodies[i], a->cfg->body_lens[i]);
}

static void on_delay_over(uv_timer_t *t) {
    delayed *d = t->data;
    uint64_t now = uv_hrtime();
    if (now < d->due_ns) {
        /* The loop's cached time let the timer fire early: wait out the rest, rounded up. */
        uv_timer_start(t, on_delay_over, (d->due_ns - now + 999999) / 1000000, 0);
        return;
    }
    atomic_fetch_sub(&d->a->cfg->stats->in_flight, 1);
    respond_country(d->a, d->conn);
    uv_close((uv_handle_t *)t, on_delayed_closed);
}

/* The client (the server's call) left before its delay was over: nobody waits for this answer
 * any more, so it stops counting as in flight and its timer stops. */
static void on_client_gone(void *data) {
    delayed *d = data;
    atomic_fetch_sub(&d->a->cfg->stats->in_flight, 1);
    uv_timer_stop(&d->timer);
    respond_text(d->conn, 499, "client closed request\n"); /* dropped by the connection */
    uv_close((uv_handle_t *)&d->timer, on_delayed_closed);
}

static json_t *stats_json(const api_stats *st) {
    return json_pack("{s:I, s:I, s:I}", "served", (json_int_t)atomic_load(&st->served), "in_flight",
                     (json_int_t)atomic_load(&st->in_flight), "peak_in_flight",
                     (json_int_t)atomic_load(&st->peak_in_flight));
}

/* One more request waits: in flight, and perhaps a new peak. */
static void count_waiting(api_stats *st) {
    long long now = atomic_fetch_add(&st->in_flight, 1) + 1;
    long long peak = atomic_load(&st->peak_in_flight);
    while (now > peak && !atomic_compare_exchange_weak(&st->peak_in_flight, &peak, now)) {
    }
}

static void on_request(fo_conn_uv *conn, const fo_request *req, void *data) {
    api *a = data;
    api_stats *st = a->cfg->stats;
    if (strcmp(req->method, "GET") != 0) {
        respond_text(conn, 405, "method not allowed\n");
        return;
    }
    if (strcmp(req->path, "/stats") == 0 || strcmp(req->path, "/stats/") == 0) {
        respond_json(conn, stats_json(st));
        return;
    }
    if (strcmp(req->path, "/stats/reset") == 0) {
        /* Starts a new measurement: the peak restarts from what is in flight now. */
        atomic_store(&st->served, 0);
        atomic_store(&st->peak_in_flight, atomic_load(&st->in_flight));
        respond_json(conn, stats_json(st));
        return;
    }
    int ms = 0;
    int rc = fo_route_ms(req->path, &ms);
    if (rc == 0) {
        respond_text(conn, 404, "not found: try /<ms>/ or /stats\n");
        return;
    }
    if (rc < 0) {
        respond_text(conn, 400, "ms must be a whole number from 0 to " FO_CLI_TEXT(FO_MAX_MS) "\n");
        return;
    }
    if (ms == 0) {
        /* Nothing to wait for: no timer (this is the path that measures the API's own speed). */
        count_waiting(st);
        atomic_fetch_sub(&st->in_flight, 1);
        respond_country(a, conn);
        return;
    }
    delayed *d = malloc(sizeof *d);
    if (!d) {
        respond_text(conn, 503, "out of memory\n");
        return;
    }
    /* The arrival time is read from the clock, not the loop's cached time, so the answer can
     * never leave before ms have passed. */
    d->due_ns = uv_hrtime() + (uint64_t)ms * 1000000u;
    d->a = a;
    d->conn = conn;
    rc = uv_timer_init(a->loop, &d->timer); /* cannot fail: libuv only zeroes fields */
    assert(rc == 0);
    d->timer.data = d;
    uv_timer_start(&d->timer, on_delay_over, (uint64_t)ms, 0);
    count_waiting(st);
    fo_conn_uv_watch_gone(conn, on_client_gone, d);
}

static void on_drained(fo_server_uv *s) {
    api *a = s->data;
    fo_loop_stop_close(&a->stop);
}

/* One worker: a loop serving every port until SIGTERM or SIGINT, then finishing what waits. */
static int serve(void *arg) {
    const api_cfg *cfg = arg;
    uv_loop_t loop;
    api a = {.loop = &loop, .cfg = cfg};
    int rc = uv_loop_init(&loop);
    if (rc < 0) {
        fprintf(stderr, "fanout-api: cannot set up the event loop: %s\n", uv_strerror(rc));
        return 1;
    }
    a.rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
    rc = fo_server_uv_init(&a.server, &loop, &cfg->server_opts, on_request, &a);
    for (int i = 0; i < cfg->n_ports && rc == 0; i++)
        rc = fo_server_uv_listen_fd(&a.server, cfg->listen_fds[i]);
    /* No deadline: every request waiting here ends within its delay. */
    if (rc == 0) rc = fo_loop_stop_start(&a.stop, &a.server, "fanout-api", 0, on_drained);
    if (rc < 0) {
        fprintf(stderr, "fanout-api: cannot serve: %s\n", uv_strerror(rc));
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}

/* The answer of every country, made once: {"name":"Albania","code":"AL"}. 0 or -1. */
static int make_bodies(api_cfg *cfg) {
    cfg->bodies = calloc(cfg->countries.n, sizeof *cfg->bodies);
    cfg->body_lens = calloc(cfg->countries.n, sizeof *cfg->body_lens);
    if (!cfg->bodies || !cfg->body_lens) return -1;
    for (size_t i = 0; i < cfg->countries.n; i++) {
        const fo_country *c = &cfg->countries.items[i];
        json_t *obj = json_pack("{s:s, s:s}", "name", c->name, "code", c->code);
        cfg->bodies[i] = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
        json_decref(obj);
        if (!cfg->bodies[i]) return -1;
        cfg->body_lens[i] = strlen(cfg->bodies[i]);
    }
    return 0;
}

static void free_cfg(api_cfg *cfg) {
    for (size_t i = 0; cfg->bodies && i < cfg->countries.n; i++)
        free(cfg->bodies[i]);
    free(cfg->bodies);
    free(cfg->body_lens);
    fo_countries_free(&cfg->countries);
}

/* fanout-api's command line. */
typedef struct api_opts {
    const char *host, *countries;
    int port, ports, workers, backlog, max_conns, header_ms, idle_ms, shutdown_ms;
} api_opts;

#define FIELD(f) .field = offsetof(api_opts, f)

/* fanout-api's options: each one's flag, field, bounds, default and help, once. */
static const fo_cli_opt rows[] = {
    {FO_CLI_STR, "host", 0, FIELD(host), .def_str = "127.0.0.1", .arg = "HOST",
     .help = "address to listen on"},
    {FO_CLI_INT, "port", 0, FIELD(port), 0, 65535, FO_API_PORT, .arg = "PORT",
     .help = "port (default {default}; 0 picks free ones, printed at start)"},
    {FO_CLI_INT, "ports", 0, FIELD(ports), 1, FO_SERVER_UV_MAX_LISTENERS, 1, .arg = "K",
     .help = "listen on K ports, PORT..PORT+K-1 (or K free ones), so that\nclients are not "
             "short of source ports"},
    {FO_CLI_INT, "workers", 0, FIELD(workers), 1, 256, 1, .arg = "N",
     .help = "processes, one loop each, sharing every port"},
    {FO_CLI_INT, "max-connections", 0, FIELD(max_conns), 1, 10000000, 0, .arg = "N",
     .help = "connections one process holds at once; beyond, clients wait\nin the backlog "
             "(default: what the open-files limit fits)",
     .def_help = ""},
    {FO_CLI_INT, "backlog", 0, FIELD(backlog), 1, 1000000, 4096, .arg = "N",
     .help = "listen backlog"},
    {FO_CLI_STR, "countries", 0, FIELD(countries), .def_str = FANOUT_DATADIR "/countries.tsv",
     .arg = "FILE", .help = "the country list"},
    {FO_CLI_INT, "header-timeout", 0, FIELD(header_ms), 1, FO_TIMEOUT_MAX_MS, FO_HEADER_TIMEOUT_MS,
     .arg = "MS", .help = "drop a client whose request is not complete after MS"},
    {FO_CLI_INT, "keepalive-timeout", 0, FIELD(idle_ms), 1, FO_TIMEOUT_MAX_MS,
     FO_KEEPALIVE_TIMEOUT_MS, .arg = "MS", .help = "close idle keep-alive connections after MS"},
    {FO_CLI_INT, "shutdown-timeout", 0, FIELD(shutdown_ms), 0, FO_TIMEOUT_MAX_MS, 65000,
     .arg = "MS",
     .help = "with --workers, how long workers get to finish on SIGTERM\n(default {default}: "
             "the longest delay, and some)"},
    {FO_CLI_ACTION, "help", 'h', .action = FO_CLI_HELP, .help = "this help"},
    {.kind = FO_CLI_END},
};

static const fo_cli cli = {
    .prog = "fanout-api",
    .rows = rows,
    .col = 24,
    .synopsis = "usage: fanout-api [--host HOST] [--port PORT] [--ports K] [--workers N] "
                "[options]\n"
                "\n"
                "The slow country API: GET /<ms>/ answers after <ms> milliseconds "
                "(0.." FO_CLI_TEXT(FO_MAX_MS) "; GET / waits\n" FO_CLI_TEXT(
                    FO_DEFAULT_MS) ") with a random ISO 3166-1 country as JSON, e.g. "
                                   "{\"name\":\"Albania\",\"code\":\"AL\"}.\n"
                                   "GET /stats answers "
                                   "{\"served\":N,\"in_flight\":N,\"peak_in_flight\":N} for "
                                   "all workers;\n"
                                   "GET /stats/reset restarts those counts. The first line "
                                   "printed lists the URLs served,\n"
                                   "comma-separated, as fanout-server --upstream takes them.\n"
                                   "\n",
};

int main(int argc, char **argv) {
    api_opts o;
    fo_cli_result res;
    int rc = 0;
    fo_cli_main(&cli, &o, argc, argv, &res, &rc);
    if (rc >= 0) return rc;
    char err[256];
    if (o.port > 0 && o.port + o.ports - 1 > 65535)
        return fo_cli_error(cli.prog, "--port %d with --ports %d goes past port 65535", o.port,
                            o.ports);
    const char *host = o.host;
    int port = o.port, ports = o.ports, workers = o.workers, backlog = o.backlog;

    api_cfg cfg = {.n_ports = ports};
    if (fo_countries_load(&cfg.countries, o.countries, err, sizeof err) != 0) {
        fprintf(stderr, "fanout-api: %s\n", err);
        return 1;
    }
    /* A process holds its listening sockets twice (server_uv.h) and one per connection. */
    fo_fd_need need = {.fixed = FO_FD_RESERVE + 2L * ports, .per_conn = 1};
    long cap = o.max_conns;
    char what[64];
    snprintf(what, sizeof what, "--workers %d --ports %d", workers, ports);
    if (fo_fd_plan("fanout-api", what, &need, 1, &cap, "use more --workers") != 0) {
        free_cfg(&cfg);
        return 1;
    }
    cfg.server_opts = (fo_server_uv_opts){.header_timeout_ms = (uint64_t)o.header_ms,
                                          .keepalive_timeout_ms = (uint64_t)o.idle_ms,
                                          .backlog = backlog,
                                          .max_conns = cap};
    cfg.stats = mmap(NULL, sizeof *cfg.stats, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, -1, 0);
    if (cfg.stats == MAP_FAILED || make_bodies(&cfg) != 0) {
        fprintf(stderr, "fanout-api: out of memory\n");
        free_cfg(&cfg);
        return 1;
    }
    char urls[FO_SERVER_UV_MAX_LISTENERS * 32] = "";
    size_t used = 0;
    for (int i = 0; i < ports; i++) {
        int bound = 0;
        cfg.listen_fds[i] =
            fo_listen_tcp(host, port ? port + i : 0, backlog, &bound, err, sizeof err);
        if (cfg.listen_fds[i] < 0) {
            fprintf(stderr, "fanout-api: %s\n", err);
            while (i-- > 0)
                close(cfg.listen_fds[i]);
            free_cfg(&cfg);
            return 1;
        }
        used += (size_t)snprintf(urls + used, sizeof urls - used, "%shttp://%s:%d", i ? "," : "",
                                 host, bound);
    }
    printf("fanout-api: listening on %s (%zu countries, %d workers, max-connections=%ld each)\n",
           urls, cfg.countries.n, workers, cap);
    fflush(stdout);

    if (workers == 1) {
        rc = serve(&cfg);
    } else {
        fo_supervisor_cfg sup = {.prog = "fanout-api",
                                 .workers = workers,
                                 .shutdown_timeout_ms = o.shutdown_ms,
                                 .listen_fds = cfg.listen_fds,
                                 .n_listen_fds = ports,
                                 .child_fds = need.fixed + need.per_conn * cap,
                                 .child = serve,
                                 .arg = &cfg};
        rc = fo_supervise(&sup);
    }
    free_cfg(&cfg);
    return rc;
}
