/* The open model's arrivals and connection pool (see open.h). */
#include "open.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/select.h>
#include <time.h>
#include "schedule.h"

#define CHUNK 256 /* connections per chunk */
/* Connections being opened at once, at most. A connect costs the loop several requests' worth
 * (a socket, the handshake, which loopback runs inside connect(), an epoll registration): the
 * thousands a burst of waiting arrivals asks for, opened together, stopped the loop for tens of
 * milliseconds, which made more arrivals wait (seen at 100k/s). */
#define OPENING_MAX 16
#define SPIN_NS (2 * 1000000ull)     /* closer than this, poll without blocking until it is time */
#define NAP_MIN_NS (200 * 1000ull)   /* farther than this, nap in the spin (see nap) */
#define NAP_EARLY_NS (100 * 1000ull) /* ... and wake this early: the kernel's timer slack */
/* Arrivals due within this much of each other go out together: the loop sends a batch at most
 * this often, so a rate above 1/100 us (10k/s a thread) costs one wake-up per batch, not one per
 * arrival. Waking costs ~20 us of CPU here (a VM's timer and scheduler): one per arrival at
 * 100k/s took the whole core (96%, against 77% so), and any stall of the machine then turned
 * into late starts while the loop caught up. The wait shows in each arrival's lateness (p50
 * ~0.08 ms at 100k/s) and response time, which start at its intended time. */
#define SEND_QUANTUM_NS (100 * 1000ull)
/* Above 500 arrivals a second a thread, the pool keeps idle connections for what arrives in this
 * long, opened while the loop has nothing due: when the target stalls for a moment (here kernel
 * threads took its CPU for 1-4 ms now and then), arrivals still go out on time, where opening
 * connections for them then made a few hundred late (a connect cannot finish while the target
 * holds its listening socket). 200 spare connections at 100k/s. */
#define SPARE_NS (2 * 1000000ull)

static fo_pool_conn *conn_of(fo_pool *p, uint32_t i) {
    return &p->chunks[i / CHUNK][i % CHUNK];
}

static fo_conn *conn_at(fo_pool *p, uint32_t i) {
    return &conn_of(p, i)->conn;
}

static void on_conn_done(fo_conn *c);

/* Sets next_at to the intended hrtime of the thread's next arrival. */
static void load_next(fo_pool *p) {
    p->prev_at = p->next_at;
    p->next_at =
        p->next_i < p->own_total
            ? p->t0 + fo_rates_at(p->rates, fo_sched_index(p->thread, p->n_threads, p->next_i))
            : UINT64_MAX;
}

int fo_pool_init(fo_pool *p, fo_client *cl, const fo_rates *rates, unsigned thread,
                 unsigned n_threads, uint32_t cap, uint64_t t0) {
    assert(cap > 0 && thread < n_threads);
    p->cl = cl;
    p->rates = rates;
    p->thread = thread;
    p->n_threads = n_threads;
    p->t0 = t0;
    p->end_at = t0 + rates->total_ns;
    p->own_total = fo_sched_share(rates->total, thread, n_threads);
    p->next_i = p->stopped_t = 0;
    p->n_conns = p->n_idle = p->n_closed = p->stack_cap = p->n_opening = 0;
    p->cap = cap;
    p->blocked = p->pumping = p->again = 0;
    p->next_at = p->batch_at = 0;
    p->spares_ok = 1;
    p->idle = p->closed = NULL;
    p->chunks = calloc((cap + CHUNK - 1) / CHUNK, sizeof *p->chunks);
    if (!p->chunks) return -ENOMEM;
    load_next(p);
    /* Handle inits on a live loop cannot fail in libuv (they only fill the struct in). */
    int rc = uv_timer_init(cl->loop, &p->timer);
    assert(rc == 0);
    rc = uv_idle_init(cl->loop, &p->spin);
    assert(rc == 0);
    (void)rc;
    p->timer.data = p->spin.data = p;
    return 0;
}

/* A new connection below the cap (closed), or NULL. The free stacks grow with the pool, so
 * every connection always has a place on them. */
static fo_pool_conn *new_conn(fo_pool *p) {
    if (p->n_conns == p->cap) return NULL;
    if (p->n_conns == p->stack_cap) {
        uint32_t want = p->stack_cap ? 2 * p->stack_cap : 64;
        if (want > p->cap) want = p->cap;
        uint32_t *idle = realloc(p->idle, want * sizeof *idle);
        if (idle) p->idle = idle;
        uint32_t *closed = idle ? realloc(p->closed, want * sizeof *closed) : NULL;
        if (!closed) return NULL;
        p->closed = closed;
        p->stack_cap = want;
    }
    uint32_t i = p->n_conns;
    if (!p->chunks[i / CHUNK] && !(p->chunks[i / CHUNK] = calloc(CHUNK, sizeof(fo_pool_conn))))
        return NULL;
    fo_pool_conn *pc = &p->chunks[i / CHUNK][i % CHUNK];
    pc->pool = p;
    pc->index = i;
    pc->opening = 0;
    fo_conn_init(&pc->conn, p->cl, on_conn_done, pc);
    p->n_conns++;
    return pc;
}

/* The thread's arrivals due at hrtime `now` and not sent yet. */
/* The thread's arrivals intended before run time t. */
static uint64_t own_before(const fo_pool *p, uint64_t t) {
    return fo_sched_share(fo_rates_count_before(p->rates, t), p->thread, p->n_threads);
}

static uint64_t waiting(const fo_pool *p, uint64_t now) {
    uint64_t due = own_before(p, now - p->t0 + 1);
    return due > p->next_i ? due - p->next_i : 0;
}

/* The oldest waiting arrival fails with `kind` (its connection could not be opened). */
static void fail_arrival(fo_pool *p, fo_fail_kind kind, uint64_t now) {
    if (p->next_at > now || now >= p->end_at) return;
    fo_recorder_start(p->cl->rec, now, p->next_at, 1);
    fo_recorder_failure(p->cl->rec, kind, now);
    p->next_i++;
    load_next(p);
}

/* The connected idle connection used last, or NULL. One the server closed while it was idle
 * goes to the closed ones on the way. */
static fo_conn *take_idle(fo_pool *p) {
    while (p->n_idle) {
        uint32_t i = p->idle[--p->n_idle];
        if (conn_at(p, i)->connected) return conn_at(p, i);
        p->closed[p->n_closed++] = i;
    }
    return NULL;
}

enum open_result { OPENED, AT_CAP, REFUSED };

/* Starts opening one more connection: a closed one, or a new one below the cap. REFUSED when
 * nothing could even start (libuv refused a handle): the connection is put back. */
static enum open_result open_one(fo_pool *p, uint64_t now) {
    fo_pool_conn *pc = p->n_closed ? conn_of(p, p->closed[--p->n_closed]) : new_conn(p);
    if (!pc) return AT_CAP;
    if (fo_conn_open(&pc->conn, now) < 0) {
        p->closed[p->n_closed++] = pc->index;
        return REFUSED;
    }
    pc->opening = 1;
    p->n_opening++;
    return OPENED;
}

/* Keeps spare idle connections for what arrives in SPARE_NS at the current rate (none below
 * 1/SPARE_NS a second), opening OPENING_MAX at once at most, while opens succeed. */
static void top_up(fo_pool *p, uint64_t now) {
    if (!p->spares_ok || p->next_at == UINT64_MAX || p->next_at <= p->prev_at) return;
    uint64_t want = SPARE_NS / (p->next_at - p->prev_at);
    while (p->n_idle + p->n_opening < want && p->n_opening < OPENING_MAX) {
        enum open_result r = open_one(p, now);
        if (r == REFUSED) p->spares_ok = 0;
        if (r != OPENED) return;
    }
}

/* Opens connections until there is one being opened for each waiting arrival, OPENING_MAX at
 * once, or the cap. */
static void open_more(fo_pool *p, uint64_t now) {
    uint64_t want = waiting(p, now);
    if (want > OPENING_MAX) want = OPENING_MAX;
    while (p->n_opening < want) {
        enum open_result r = open_one(p, now);
        /* A refusal fails the arrival it was for, so that the run goes on rather than spins. */
        if (r == REFUSED) fail_arrival(p, FO_FAIL_CONNECT, now);
        if (r != OPENED) return;
    }
}

static void on_wake(uv_timer_t *t);
static void on_spin(uv_idle_t *h);

/* Waits for the next arrival: a timer while it is far, a non-blocking poll once it is near;
 * neither while blocked (a connection coming free sends it) or when none is left. */
static void arm(fo_pool *p) {
    if (p->blocked || p->next_at >= p->end_at) {
        uv_timer_stop(&p->timer);
        uv_idle_stop(&p->spin);
        return;
    }
    uint64_t now = uv_hrtime();
    uint64_t gap = p->next_at > now ? p->next_at - now : 0;
    if (gap < SPIN_NS) {
        uv_timer_stop(&p->timer);
        uv_idle_start(&p->spin, on_spin);
        return;
    }
    uv_idle_stop(&p->spin);
    /* The timer counts from the loop's millisecond clock and may fire up to ~1 ms after its
     * due time: aim 1 ms short, rounded down, and spin the rest. */
    uv_update_time(p->cl->loop);
    uv_timer_start(&p->timer, on_wake, gap / 1000000 - 1, 0);
}

/* Sends every arrival that is due, on an idle connection each, opens connections for those
 * left waiting, then waits for the next. */
static void pump(fo_pool *p) {
    if (p->pumping) {
        /* A connection finished inside fo_conn_request: the loop below picks it up. */
        p->again = 1;
        return;
    }
    p->pumping = 1;
    do {
        p->again = 0;
        /* Arrivals due before now, while no connection was idle, waited for one. */
        uint64_t start = uv_hrtime();
        uint64_t queued_before = p->blocked ? start : 0;
        if (p->next_at <= start && !p->blocked) {
            if (start < p->batch_at) break; /* the batch goes at batch_at (see SEND_QUANTUM_NS) */
            p->batch_at = start + SEND_QUANTUM_NS;
        }
        for (;;) {
            uint64_t now = uv_hrtime();
            if (p->next_at > now || p->cl->stopping || now >= p->end_at) {
                p->blocked = 0;
                if (!p->cl->stopping && now < p->end_at) top_up(p, now);
                break;
            }
            fo_conn *c = take_idle(p);
            if (!c) {
                p->blocked = 1;
                open_more(p, now);
                break;
            }
            fo_recorder_start(p->cl->rec, now, p->next_at, p->next_at < queued_before);
            fo_conn_request(c, p->next_at, now);
            p->next_i++;
            load_next(p);
        }
    } while (p->again);
    p->pumping = 0;
    if (!p->cl->stopping) arm(p);
}

/* A connection is free: connected and idle, or closed (a request's end, or an open's). */
static void on_conn_done(fo_conn *c) {
    fo_pool_conn *pc = c->data;
    fo_pool *p = pc->pool;
    int was_opening = pc->opening;
    if (was_opening) {
        assert(p->n_opening > 0);
        pc->opening = 0;
        p->n_opening--;
    }
    if (was_opening) p->spares_ok = c->connected;
    if (c->connected) {
        assert(p->n_idle < p->stack_cap);
        p->idle[p->n_idle++] = pc->index;
    } else {
        /* Closed: after a request (the server's "Connection: close", a failure) or a failed
         * open, which fails the arrival that waits longest. */
        assert(p->n_closed < p->stack_cap);
        p->closed[p->n_closed++] = pc->index;
        if (was_opening) fail_arrival(p, c->open_error, uv_hrtime());
    }
    pump(p);
}

static void on_wake(uv_timer_t *t) {
    pump(t->data);
}

/* Sleeps up to ns, or until the loop has an event to handle. The loop's backend descriptor
 * (epoll's or kqueue's) becomes readable when any of its watched descriptors has an event, so a
 * response that arrives meanwhile wakes us at once; pselect takes nanoseconds, where libuv's
 * timers take milliseconds. This keeps the spin before each arrival to ~0.1 ms of CPU. */
static void nap(fo_pool *p, uint64_t ns) {
    int fd = uv_backend_fd(p->cl->loop);
    if (fd < 0 || fd >= FD_SETSIZE) return;
    fd_set in;
    FD_ZERO(&in);
    FD_SET(fd, &in);
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    pselect(fd + 1, &in, NULL, NULL, &ts, NULL);
}

static void on_spin(uv_idle_t *h) {
    fo_pool *p = h->data;
    pump(p);
    if (!uv_is_active((uv_handle_t *)&p->spin)) return;
    uint64_t now = uv_hrtime();
    uint64_t send_at = p->next_at > p->batch_at ? p->next_at : p->batch_at;
    if (send_at <= now) return;
    if (send_at - now > NAP_MIN_NS)
        nap(p, send_at - now - NAP_EARLY_NS); /* and spin the rest: on time to the microsecond */
    else if (p->next_at - p->prev_at < NAP_MIN_NS)
        nap(p, send_at - now); /* a high rate: the kernel's timer slack is the batch's lateness */
}

void fo_pool_start(fo_pool *p) {
    arm(p);
}

void fo_pool_check_timeouts(fo_pool *p, uint64_t now) {
    for (uint32_t i = 0; i < p->n_conns; i++)
        fo_conn_check_timeout(conn_at(p, i), now);
}

void fo_pool_abort(fo_pool *p, uint64_t now) {
    uint64_t t = now > p->t0 ? now - p->t0 : 0;
    uint64_t due = own_before(p, t);
    fo_recorder_unsent(p->cl->rec, due > p->next_i ? due - p->next_i : 0);
    p->stopped_t = t;
    fo_recorder_connections(p->cl->rec, p->n_conns);
    for (uint32_t i = 0; i < p->n_conns; i++)
        fo_conn_abort(conn_at(p, i));
    uv_close((uv_handle_t *)&p->timer, NULL);
    uv_close((uv_handle_t *)&p->spin, NULL);
}

void fo_pool_settle(fo_pool *p, uint64_t run_ns) {
    if (run_ns > p->stopped_t)
        fo_recorder_unsent(p->cl->rec, own_before(p, run_ns) - own_before(p, p->stopped_t));
}

void fo_pool_free(fo_pool *p) {
    for (uint32_t i = 0; p->chunks && i < (p->cap + CHUNK - 1) / CHUNK; i++)
        free(p->chunks[i]);
    free(p->chunks);
    free(p->idle);
    free(p->closed);
    p->chunks = NULL;
    p->idle = p->closed = NULL;
}
