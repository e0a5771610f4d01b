/* The open model's arrivals and connection pool (see open.h). */
#include "open.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/select.h>
#include <time.h>

#define CHUNK 256                    /* connections per chunk */
#define SPIN_NS (2 * 1000000ull)     /* closer than this, poll without blocking until it is time */
#define NAP_MIN_NS (200 * 1000ull)   /* farther than this, nap in the spin (see nap) */
#define NAP_EARLY_NS (100 * 1000ull) /* ... and wake this early: the kernel's timer slack */

static fo_conn *conn_at(fo_pool *p, uint32_t i) {
    return &p->chunks[i / CHUNK][i % CHUNK].conn;
}

static void on_conn_done(fo_conn *c);

/* Sets next_at to the intended hrtime of the thread's next arrival. */
static void load_next(fo_pool *p) {
    p->next_at = p->next_i < p->own_total
                     ? p->t0 + fo_rates_at(p->rates, fo_rates_global_index(p->thread, p->n_threads,
                                                                           p->next_i))
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
    p->own_total = fo_rates_own(rates->total, thread, n_threads);
    p->next_i = 0;
    p->n_conns = p->n_idle = p->idle_cap = 0;
    p->cap = cap;
    p->blocked = p->pumping = p->again = 0;
    p->idle = NULL;
    p->chunks = calloc((cap + CHUNK - 1) / CHUNK, sizeof *p->chunks);
    if (!p->chunks) return -ENOMEM;
    load_next(p);
    uv_timer_init(cl->loop, &p->timer);
    uv_idle_init(cl->loop, &p->spin);
    p->timer.data = p->spin.data = p;
    return 0;
}

/* The idle connection used last, or a new one below the cap, or NULL. */
static fo_conn *take_conn(fo_pool *p) {
    if (p->n_idle) return conn_at(p, p->idle[--p->n_idle]);
    if (p->n_conns == p->cap) return NULL;
    if (p->n_conns == p->idle_cap) {
        uint32_t want = p->idle_cap ? 2 * p->idle_cap : 64;
        if (want > p->cap) want = p->cap;
        uint32_t *idle = realloc(p->idle, want * sizeof *idle);
        if (!idle) return NULL;
        p->idle = idle;
        p->idle_cap = want;
    }
    uint32_t i = p->n_conns;
    if (!p->chunks[i / CHUNK] && !(p->chunks[i / CHUNK] = calloc(CHUNK, sizeof(fo_pool_conn))))
        return NULL;
    fo_pool_conn *pc = &p->chunks[i / CHUNK][i % CHUNK];
    pc->pool = p;
    pc->index = i;
    fo_conn_init(&pc->conn, p->cl, on_conn_done, pc);
    p->n_conns++;
    return &pc->conn;
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

/* Sends every arrival that is due, on a connection each, then waits for the next. */
static void pump(fo_pool *p) {
    if (p->pumping) {
        /* A connection finished inside fo_conn_request: the loop below picks it up. */
        p->again = 1;
        return;
    }
    p->pumping = 1;
    do {
        p->again = 0;
        int queued = p->blocked;
        for (;;) {
            uint64_t now = uv_hrtime();
            if (p->next_at > now || p->cl->stopping || now >= p->end_at) {
                p->blocked = 0;
                break;
            }
            fo_conn *c = take_conn(p);
            if (!c) {
                p->blocked = 1;
                break;
            }
            fo_recorder_start(p->cl->rec, now, p->next_at, queued);
            fo_conn_request(c, p->next_at, now);
            p->next_i++;
            load_next(p);
        }
    } while (p->again);
    p->pumping = 0;
    if (!p->cl->stopping) arm(p);
}

static void on_conn_done(fo_conn *c) {
    fo_pool_conn *pc = c->data;
    fo_pool *p = pc->pool;
    assert(p->n_idle < p->idle_cap);
    p->idle[p->n_idle++] = pc->index;
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
    if (p->next_at > now + NAP_MIN_NS) nap(p, p->next_at - now - NAP_EARLY_NS);
}

void fo_pool_start(fo_pool *p) {
    arm(p);
}

void fo_pool_check_timeouts(fo_pool *p, uint64_t now) {
    for (uint32_t i = 0; i < p->n_conns; i++)
        fo_conn_check_timeout(conn_at(p, i), now);
}

void fo_pool_abort(fo_pool *p, uint64_t now) {
    fo_load_stats *st = &p->cl->rec->stats;
    uint64_t t = now > p->t0 ? now - p->t0 : 0;
    uint64_t due = fo_rates_own(fo_rates_count_before(p->rates, t), p->thread, p->n_threads);
    st->unsent += due > p->next_i ? due - p->next_i : 0;
    st->connections += p->n_conns;
    for (uint32_t i = 0; i < p->n_conns; i++)
        fo_conn_abort(conn_at(p, i));
    uv_close((uv_handle_t *)&p->timer, NULL);
    uv_close((uv_handle_t *)&p->spin, NULL);
}

void fo_pool_free(fo_pool *p) {
    for (uint32_t i = 0; p->chunks && i < (p->cap + CHUNK - 1) / CHUNK; i++)
        free(p->chunks[i]);
    free(p->chunks);
    free(p->idle);
    p->chunks = NULL;
    p->idle = NULL;
}
