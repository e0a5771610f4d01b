/* Running the workers and gathering their results (see run.h). */
#include "run.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>
#include "worker.h"

/* Workers start this long after the run's t0 is fixed, so every thread is ready for t = 0. */
#define START_DELAY_NS (20 * 1000000ull)
/* The main thread gathers windows this long after each second ends, to let workers hand over. */
#define GATHER_LAG_MS 150

char *fo_load_request(const fo_load_opts *o, size_t *len) {
    static const char fmt[] =
        "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: fanout-load\r\nAccept: */*\r\n%s\r\n";
    int n = snprintf(NULL, 0, fmt, o->path, o->host_header, o->headers);
    char *buf = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf) return NULL;
    snprintf(buf, (size_t)n + 1, fmt, o->path, o->host_header, o->headers);
    *len = (size_t)n;
    return buf;
}

/* One connect to the target, bounded in time, before any load: a run against nothing fails
 * at once with the reason, instead of counting thousands of connect failures. */
typedef struct probe {
    uv_tcp_t tcp;
    uv_connect_t req;
    uv_timer_t timer;
    int status; /* 1 while pending */
} probe;

static void probe_connected(uv_connect_t *req, int status) {
    probe *p = req->data;
    if (p->status == 1) p->status = status;
    uv_timer_stop(&p->timer);
    if (!uv_is_closing((uv_handle_t *)&p->tcp)) uv_close((uv_handle_t *)&p->tcp, NULL);
}

static void probe_timeout(uv_timer_t *t) {
    probe *p = t->data;
    p->status = UV_ETIMEDOUT;
    uv_close((uv_handle_t *)&p->tcp, NULL); /* the connect callback follows with ECANCELED */
}

/* The probe connects from --source too (source NULL: the kernel's choice), so that an address
 * this machine does not have fails here, once, with its reason. */
static int probe_target(uv_loop_t *loop, const struct sockaddr *addr, const struct sockaddr *source,
                        uint64_t timeout_ns) {
    probe p;
    memset(&p, 0, sizeof p);
    p.status = 1;
    p.req.data = p.timer.data = &p;
    int rc = uv_tcp_init_ex(loop, &p.tcp, source ? source->sa_family : AF_UNSPEC);
    if (rc < 0) return rc;
    uv_timer_init(loop, &p.timer);
    uint64_t ms = timeout_ns / 1000000;
    if (ms > 5000) ms = 5000;
    rc = source ? fo_conn_bind_source(&p.tcp, source) : 0;
    if (rc == 0) rc = uv_tcp_connect(&p.req, &p.tcp, addr, probe_connected);
    if (rc < 0) {
        p.status = rc;
        uv_close((uv_handle_t *)&p.tcp, NULL);
    } else {
        uv_timer_start(&p.timer, probe_timeout, ms ? ms : 1, 0);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&p.timer, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return p.status;
}

/* Resolves the host and picks its first address that accepts a connect ("localhost" may give
 * ::1 first to a server that listens on 127.0.0.1 only), of the source's family when there is
 * one. 0 and *out set, or the error of the resolution or of the last connect tried, with *stage
 * saying which. */
static int find_target(uv_loop_t *loop, const fo_load_opts *o, const struct sockaddr *source,
                       struct sockaddr_storage *out, const char **stage) {
    uv_getaddrinfo_t req;
    struct addrinfo hints;
    char port[8];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof port, "%d", o->port);
    *stage = "resolve";
    int rc = uv_getaddrinfo(loop, &req, NULL, o->host, port, &hints);
    if (rc < 0) return rc;
    *stage = "connect to";
    rc = source ? UV_EAFNOSUPPORT : UV_EAI_NONAME; /* no address of the source's family */
    for (struct addrinfo *ai = req.addrinfo; ai; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof *out) continue;
        if (source && ai->ai_family != source->sa_family) continue;
        rc = probe_target(loop, ai->ai_addr, source, o->timeout_ns);
        if (rc == 0) {
            memcpy(out, ai->ai_addr, ai->ai_addrlen);
            break;
        }
    }
    uv_freeaddrinfo(req.addrinfo);
    return rc;
}

/* The main thread's part of a run. */
typedef struct gather {
    fo_load_result *r;
    fo_live_cb live;
    void *data;
    uv_timer_t tick;
    uv_async_t done;
    uv_mutex_t lock;   /* guards finished */
    unsigned finished; /* workers whose loop has ended */
    unsigned expected; /* workers started */
    size_t reported;
    fo_worker *workers;
    unsigned started;
    uv_signal_t sigint, sigterm;
    int interrupted;
} gather;

/* Reports every window that became final, in order, so the live output has one line a second
 * even when a late tick finalises several at once. */
static void report_windows(fo_load_result *r, size_t *reported, size_t done, fo_live_cb live,
                           void *data) {
    fo_window win;
    while (*reported < done) {
        if (live && fo_windows_get(&r->windows, *reported, &win) == 0)
            live(&win, *reported, r->run_ns, data);
        ++*reported;
    }
}

static void gather_now(gather *g) {
    size_t n = fo_windows_finalize(&g->r->windows, UINT64_MAX);
    report_windows(g->r, &g->reported, n, g->live, g->data);
}

static void on_gather_tick(uv_timer_t *t) {
    gather_now(t->data);
}

static void close_signals(gather *g) {
    if (!uv_is_closing((uv_handle_t *)&g->sigint)) uv_close((uv_handle_t *)&g->sigint, NULL);
    if (!uv_is_closing((uv_handle_t *)&g->sigterm)) uv_close((uv_handle_t *)&g->sigterm, NULL);
}

/* A person pressed Ctrl-C (or a script sent SIGTERM): end the run now and report it. Closing
 * the signal handles restores the default action, so a second signal kills the process. */
static void on_signal(uv_signal_t *s, int signum) {
    gather *g = s->data;
    (void)signum;
    g->interrupted = 1;
    for (unsigned i = 0; i < g->started; i++)
        fo_worker_interrupt(&g->workers[i]);
    close_signals(g);
}

static void on_worker_done(uv_async_t *a) {
    gather *g = a->data;
    /* uv_async_send coalesces several sends into one call: count the workers really done. */
    uv_mutex_lock(&g->lock);
    unsigned finished = g->finished;
    uv_mutex_unlock(&g->lock);
    if (finished < g->expected) return;
    uv_close((uv_handle_t *)&g->tick, NULL);
    uv_close((uv_handle_t *)&g->done, NULL);
    close_signals(g);
}

/* The run's t0 on the monotonic clock, and the wall-clock instant it stands for. Workers wait
 * for t0 on the monotonic clock: a wall clock stepped meanwhile does not move the start. */
static uint64_t run_start(const fo_load_opts *o, double *start_unix) {
    struct timespec ts;
    uint64_t now = uv_hrtime();
    clock_gettime(CLOCK_REALTIME, &ts);
    double wall = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    uint64_t delay = START_DELAY_NS;
    if (o->start_unix > 0 && (o->start_unix - wall) * 1e9 > (double)START_DELAY_NS)
        delay = (uint64_t)((o->start_unix - wall) * 1e9);
    *start_unix = wall + (double)delay / 1e9;
    return now + delay;
}

/* What a run holds from its start to its end, on the calling thread. */
typedef struct run {
    const fo_load_opts *o;
    fo_load_result *r;
    uv_loop_t loop;
    fo_load_plan plan;
    struct sockaddr_storage addr, src;
    const struct sockaddr *source; /* &src with --source, else NULL */
    char *request;
    size_t request_len;
    fo_worker *workers;
    uint64_t t0;
    gather g;
} run;

/* --source, which opts checked is an IPv4 or IPv6 literal. */
static void parse_source(run *x) {
    const char *s = x->o->source;
    if (!s) return;
    if (uv_ip4_addr(s, 0, (struct sockaddr_in *)&x->src) != 0 &&
        uv_ip6_addr(s, 0, (struct sockaddr_in6 *)&x->src) != 0)
        assert(!"--source is an IP literal");
    x->source = (const struct sockaddr *)&x->src;
}

/* Finds the target's address that accepts a connect. 0, or FO_LOAD_UNREACHABLE with err set. */
static int reach_target(run *x, char *err, size_t errlen) {
    const fo_load_opts *o = x->o;
    const char *stage;
    int rc = find_target(&x->loop, o, x->source, &x->addr, &stage);
    if (rc == 0) return 0;
    snprintf(err, errlen, "cannot %s %s port %d%s%s: %s", stage, o->host, o->port,
             x->source ? " from " : "", x->source ? o->source : "", uv_strerror(rc));
    return FO_LOAD_UNREACHABLE;
}

int fo_load_result_init(fo_load_result *r, const fo_load_opts *o, fo_load_plan *plan) {
    memset(r, 0, sizeof *r);
    r->driver = fo_driver_of(o);
    r->driver->plan(o, plan);
    /* Each init frees what it allocated when it fails. */
    if (fo_windows_init(&r->windows, o->threads, &o->sched) < 0) return -ENOMEM;
    if (fo_load_stats_init(&r->stats, plan->n_stages, plan->with_starts) < 0) {
        fo_windows_free(&r->windows);
        return -ENOMEM;
    }
    r->windows.rates = plan->arrivals;
    r->windows.seg_index = o->seg_index;
    r->windows.seg_count = o->seg_count;
    return 0;
}

/* The request's bytes, the workers and the result. 0, or -ENOMEM with nothing allocated. */
static int prepare(run *x) {
    x->request = fo_load_request(x->o, &x->request_len);
    x->workers = calloc(x->o->threads, sizeof *x->workers);
    if (x->request && x->workers && fo_load_result_init(x->r, x->o, &x->plan) == 0) return 0;
    free(x->request);
    free(x->workers);
    return -ENOMEM;
}

static void gather_init(run *x, fo_live_cb live, void *data) {
    gather *g = &x->g;
    memset(g, 0, sizeof *g);
    g->r = x->r;
    g->live = live;
    g->data = data;
    g->tick.data = g->done.data = g;
    uv_timer_init(&x->loop, &g->tick);
    uv_async_init(&x->loop, &g->done, on_worker_done);
    uv_mutex_init(&g->lock);
    uv_signal_init(&x->loop, &g->sigint);
    uv_signal_init(&x->loop, &g->sigterm);
    g->sigint.data = g->sigterm.data = g;
    g->workers = x->workers;
}

/* Worker i, ready to start. */
static void worker_setup(run *x, unsigned i) {
    fo_worker *w = &x->workers[i];
    w->id = i;
    w->n_workers = x->o->threads;
    w->opts = x->o;
    w->addr = (const struct sockaddr *)&x->addr;
    w->source = x->source;
    w->request = x->request;
    w->request_len = x->request_len;
    w->t0 = x->t0;
    w->windows = &x->r->windows;
    w->driver = x->r->driver;
    w->plan = &x->plan;
    w->done_async = &x->g.done;
    w->done_lock = &x->g.lock;
    w->done_count = &x->g.finished;
}

/* Starts the workers in turn, up to the first that fails (its error in *rc). How many run. */
static unsigned start_workers(run *x, int *rc) {
    unsigned started = 0;
    for (unsigned i = 0; i < x->o->threads; i++) {
        fo_worker *w = &x->workers[i];
        worker_setup(x, i);
        if ((*rc = fo_worker_init(w)) < 0) break;
        if ((*rc = fo_worker_start(w)) < 0) {
            fo_worker_destroy(w);
            break;
        }
        started++;
    }
    return started;
}

/* Gathers every second, a little after each second ends, until every started worker is done
 * (at once when none started). */
static void gather_run(run *x, unsigned started) {
    gather *g = &x->g;
    uint64_t now = uv_hrtime();
    uint64_t first_ms = (x->t0 > now ? (x->t0 - now) / 1000000 : 0) + 1000 + GATHER_LAG_MS;
    g->expected = g->started = started;
    if (started > 0) {
        uv_timer_start(&g->tick, on_gather_tick, first_ms, 1000);
        uv_signal_start(&g->sigint, on_signal, SIGINT);
        uv_signal_start(&g->sigterm, on_signal, SIGTERM);
    } else {
        uv_close((uv_handle_t *)&g->tick, NULL);
        uv_close((uv_handle_t *)&g->done, NULL);
        close_signals(g);
    }
    uv_run(&x->loop, UV_RUN_DEFAULT);
}

/* The run lasted until the last worker stopped, and no longer than planned: every event a
 * worker counted happened before its own stop. Joins the workers, settles and merges them. */
static void finish_workers(run *x, unsigned started) {
    fo_load_result *r = x->r;
    uint64_t run_ns = 0;
    for (unsigned i = 0; i < started; i++) {
        fo_worker_join(&x->workers[i]);
        if (x->workers[i].stopped_ns > run_ns) run_ns = x->workers[i].stopped_ns;
    }
    r->run_ns = run_ns < x->o->sched.total_ns ? run_ns : x->o->sched.total_ns;
    for (unsigned i = 0; i < started; i++)
        fo_worker_finish(&x->workers[i], r->run_ns, &r->stats);
    r->interrupted = x->g.interrupted && r->run_ns < x->o->sched.total_ns;
    size_t n = fo_windows_finish(&r->windows, r->run_ns);
    report_windows(r, &x->g.reported, n, x->g.live, x->g.data);
}

int fo_load_run(const fo_load_opts *o, fo_load_result *r, fo_live_cb live, void *data, char *err,
                size_t errlen) {
    run x;
    int rc;
    memset(&x, 0, sizeof x);
    memset(r, 0, sizeof *r);
    x.o = o;
    x.r = r;
    if ((rc = uv_loop_init(&x.loop)) < 0) {
        snprintf(err, errlen, "cannot start an event loop: %s", uv_strerror(rc));
        return rc;
    }
    parse_source(&x);
    if ((rc = reach_target(&x, err, errlen)) < 0 || (rc = prepare(&x)) < 0) {
        if (rc == -ENOMEM) snprintf(err, errlen, "out of memory");
        uv_loop_close(&x.loop);
        return rc;
    }
    gather_init(&x, live, data);
    x.t0 = run_start(o, &r->start_unix);
    unsigned started = start_workers(&x, &rc);
    /* Threads that did start stop at the end of the run as planned; then report. */
    if (started < o->threads)
        snprintf(err, errlen, "cannot start worker %u: %s", started, uv_strerror(rc));
    gather_run(&x, started);
    finish_workers(&x, started);
    uv_mutex_destroy(&x.g.lock);
    free(x.request);
    free(x.workers);
    uv_loop_close(&x.loop);
    if (started < o->threads) {
        fo_load_result_free(r);
        return rc < 0 ? rc : -EAGAIN;
    }
    return 0;
}

void fo_load_result_free(fo_load_result *r) {
    fo_windows_free(&r->windows);
    fo_load_stats_free(&r->stats);
}
