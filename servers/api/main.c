/* fanout-api: the slow country API of the workload (shared/WORKLOAD.md).
 *
 * GET /<ms>/ answers after ms milliseconds with one country, picked uniformly at random, as JSON.
 * The wait is a libuv timer, so any number of requests can wait at once at the cost of a timer
 * each. GET /stats tells how many requests were served and how many waited at once, so tests and
 * benchmarks can see how concurrent a front server's fan-out really was. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "fanout/countries.h"
#include "fanout/page.h"
#include "fanout/server_uv.h"
#include "fanout/sys.h"

typedef struct api {
    uv_loop_t *loop;
    fo_server_uv server;
    fo_countries countries;
    uint64_t rng;
    uint64_t served, in_flight, peak_in_flight;
    uv_signal_t sigint, sigterm;
} api;

/* One request waiting out its delay. */
typedef struct delayed {
    uv_timer_t timer;
    api *a;
    fo_conn_uv *conn;
    uint64_t due_ns; /* uv_hrtime() at which the answer may go out, never earlier */
    int keep_alive;
} delayed;

static uint64_t next_random(api *a) {
    /* xorshift64*: fast, and uniform enough to pick one of ~250 countries. */
    a->rng ^= a->rng >> 12;
    a->rng ^= a->rng << 25;
    a->rng ^= a->rng >> 27;
    return a->rng * 0x2545F4914F6CDD1DULL;
}

static void respond_text(fo_conn_uv *conn, int status, const char *text, int keep_alive) {
    fo_response r;
    if (fo_response_text(&r, status, text, keep_alive) != 0) r = (fo_response){.status = 500};
    fo_conn_uv_respond(conn, &r);
}

static void respond_json(fo_conn_uv *conn, json_t *obj, int keep_alive) {
    fo_response r = {.status = 200, .content_type = "application/json", .keep_alive = keep_alive};
    r.body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!r.body) {
        respond_text(conn, 500, "out of memory\n", 0);
        return;
    }
    r.body_len = strlen(r.body);
    fo_conn_uv_respond(conn, &r);
}

static void on_delayed_closed(uv_handle_t *h) {
    free(h->data);
}

static void on_delay_over(uv_timer_t *t) {
    delayed *d = t->data;
    uint64_t now = uv_hrtime();
    if (now < d->due_ns) {
        /* The loop's cached time let the timer fire early: wait out the rest, rounded up. */
        uv_timer_start(t, on_delay_over, (d->due_ns - now + 999999) / 1000000, 0);
        return;
    }
    api *a = d->a;
    const fo_country *c = &a->countries.items[next_random(a) % a->countries.n];
    a->in_flight--;
    a->served++;
    respond_json(d->conn, json_pack("{s:s, s:s}", "name", c->name, "code", c->code), d->keep_alive);
    uv_close((uv_handle_t *)t, on_delayed_closed);
}

static json_t *stats_json(const api *a) {
    return json_pack("{s:I, s:I, s:I}", "served", (json_int_t)a->served, "in_flight",
                     (json_int_t)a->in_flight, "peak_in_flight", (json_int_t)a->peak_in_flight);
}

static void on_request(fo_conn_uv *conn, const fo_request *req, void *data) {
    api *a = data;
    if (strcmp(req->method, "GET") != 0) {
        respond_text(conn, 405, "method not allowed\n", req->keep_alive);
        return;
    }
    if (strcmp(req->path, "/stats") == 0 || strcmp(req->path, "/stats/") == 0) {
        respond_json(conn, stats_json(a), req->keep_alive);
        return;
    }
    if (strcmp(req->path, "/stats/reset") == 0) {
        /* Starts a new measurement: the peak restarts from what is in flight now. */
        a->served = 0;
        a->peak_in_flight = a->in_flight;
        respond_json(conn, stats_json(a), req->keep_alive);
        return;
    }
    int ms = 0;
    int rc = fo_route_ms(req->path, &ms);
    if (rc == 0) {
        respond_text(conn, 404, "not found: try /<ms>/ or /stats\n", req->keep_alive);
        return;
    }
    if (rc < 0) {
        respond_text(conn, 400, "ms must be a whole number from 0 to 60000\n", req->keep_alive);
        return;
    }
    delayed *d = malloc(sizeof *d);
    if (!d) {
        respond_text(conn, 503, "out of memory\n", 0);
        return;
    }
    /* The arrival time is read from the clock, not the loop's cached time, so the answer can
     * never leave before ms have passed. */
    d->due_ns = uv_hrtime() + (uint64_t)ms * 1000000u;
    d->a = a;
    d->conn = conn;
    d->keep_alive = req->keep_alive;
    uv_timer_init(a->loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, on_delay_over, (uint64_t)ms, 0);
    if (++a->in_flight > a->peak_in_flight) a->peak_in_flight = a->in_flight;
}

static void on_drained(fo_server_uv *s) {
    api *a = s->data;
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
}

static void on_signal(uv_signal_t *h, int signum) {
    api *a = h->data;
    fprintf(stderr, "fanout-api: signal %d, finishing %llu waiting requests\n", signum,
            (unsigned long long)a->in_flight);
    fo_server_uv_stop(&a->server, on_drained);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: fanout-api [--host HOST] [--port PORT] [--countries FILE]\n"
            "\n"
            "The slow country API: GET /<ms>/ answers after <ms> milliseconds (0..60000; GET / waits\n"
            "300) with a random ISO 3166-1 country as JSON, e.g. {\"name\":\"Albania\",\"code\":\"AL\"}.\n"
            "GET /stats answers {\"served\":N,\"in_flight\":N,\"peak_in_flight\":N};\n"
            "GET /stats/reset restarts those counts.\n"
            "\n"
            "  --host HOST           address to listen on (default 127.0.0.1)\n"
            "  --port PORT           port (default 5000; 0 picks a free one, printed at start)\n"
            "  --countries FILE      the country list (default %s/countries.tsv)\n"
            "  --header-timeout MS   drop a client whose request is not complete after MS (default 10000)\n"
            "  --keepalive-timeout MS close idle keep-alive connections after MS (default 5000)\n"
            "  -h, --help            this help\n",
            FANOUT_DATADIR);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    const char *countries = FANOUT_DATADIR "/countries.tsv";
    int port = 5000, header_ms = 10000, idle_ms = 5000;
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"countries", required_argument, NULL, 'c'},
        {"header-timeout", required_argument, NULL, 't'},
        {"keepalive-timeout", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'c': countries = optarg; break;
        case 'p':
            if (fo_flag_int("fanout-api", "port", optarg, 0, 65535, &port) != 0) return 2;
            break;
        case 't':
            if (fo_flag_int("fanout-api", "header-timeout", optarg, 1, 3600000, &header_ms) != 0)
                return 2;
            break;
        case 'k':
            if (fo_flag_int("fanout-api", "keepalive-timeout", optarg, 1, 3600000, &idle_ms) != 0)
                return 2;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fanout-api: unexpected argument '%s' (try --help)\n", argv[optind]);
        return 2;
    }

    api a = {.loop = uv_default_loop()};
    char err[256];
    if (fo_countries_load(&a.countries, countries, err, sizeof err) != 0) {
        fprintf(stderr, "fanout-api: %s\n", err);
        return 1;
    }
    a.rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
    fo_raise_fd_limit();

    fo_server_uv_opts so = {.header_timeout_ms = (uint64_t)header_ms,
                            .keepalive_timeout_ms = (uint64_t)idle_ms};
    fo_server_uv_init(&a.server, a.loop, &so, on_request, &a);
    int rc = fo_server_uv_listen(&a.server, host, port);
    if (rc < 0) {
        fprintf(stderr, "fanout-api: cannot listen on %s:%d: %s\n", host, port, uv_strerror(rc));
        fo_countries_free(&a.countries);
        return 1;
    }
    uv_signal_init(a.loop, &a.sigint);
    uv_signal_init(a.loop, &a.sigterm);
    a.sigint.data = a.sigterm.data = &a;
    uv_signal_start(&a.sigint, on_signal, SIGINT);
    uv_signal_start(&a.sigterm, on_signal, SIGTERM);

    printf("fanout-api: listening on http://%s:%d (%zu countries)\n", host,
           fo_server_uv_port(&a.server), a.countries.n);
    fflush(stdout);
    uv_run(a.loop, UV_RUN_DEFAULT);
    uv_loop_close(a.loop);
    fo_countries_free(&a.countries);
    return 0;
}
