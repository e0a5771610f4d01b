/* The closed model's users (see user.h): the loop around one connection. */
#include "user.h"

#include <errno.h>
#include <stdlib.h>

static void stop_user(fo_user *u);

/* The next request, unless the run is over: the stop timer fires on the loop's millisecond
 * clock, and requests issued meanwhile would only be dropped (and counted as in flight). */
static void issue(fo_user *u) {
    uint64_t now = uv_hrtime();
    if (now >= u->g->end_at) {
        stop_user(u);
        return;
    }
    fo_conn_request(&u->conn, now, now);
}

static void stop_user(fo_user *u) {
    u->running = 0;
    fo_conn_close(&u->conn);
}

static uint64_t wait_ns(fo_users *g) {
    uint64_t lo = g->wait_min_ns, hi = g->wait_max_ns;
    if (hi == 0) return 0;
    /* xorshift64: cheap, and good enough to spread waits. */
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return lo + (hi > lo ? g->rng % (hi - lo + 1) : 0);
}

static void on_wait(uv_timer_t *t) {
    fo_user *u = t->data;
    u->waiting = 0;
    if (u->g->cl->stopping) return;
    if (!u->active) {
        stop_user(u);
        return;
    }
    issue(u);
}

/* The connection is done with a request: go on with the next, or stop. */
static void on_done(fo_conn *c) {
    fo_user *u = c->data;
    if (!u->active) {
        stop_user(u);
        return;
    }
    uint64_t wait = u->wait_init ? wait_ns(u->g) : 0;
    if (wait) {
        u->waiting = 1;
        uv_timer_start(&u->wait_timer, on_wait, (wait + 999999) / 1000000, 0);
        return;
    }
    issue(u);
}

int fo_users_init(fo_users *g, fo_client *cl, uint32_t n, uint64_t wait_min_ns,
                  uint64_t wait_max_ns, uint64_t seed, uint64_t end_at) {
    g->cl = cl;
    g->end_at = end_at;
    g->n = n;
    g->n_active = 0;
    g->wait_min_ns = wait_min_ns;
    g->wait_max_ns = wait_max_ns;
    g->rng = seed ? seed : 1;
    g->users = calloc(n ? n : 1, sizeof *g->users);
    if (!g->users) return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        fo_user *u = &g->users[i];
        u->g = g;
        fo_conn_init(&u->conn, cl, on_done, u);
        if (wait_max_ns > 0 && uv_timer_init(cl->loop, &u->wait_timer) == 0) {
            u->wait_timer.data = u;
            u->wait_init = 1;
        }
    }
    return 0;
}

static void activate(fo_user *u) {
    u->active = 1;
    if (u->running) return;
    u->running = 1;
    issue(u);
}

static void deactivate(fo_user *u) {
    u->active = 0;
    if (u->waiting) {
        uv_timer_stop(&u->wait_timer);
        u->waiting = 0;
        stop_user(u);
    }
    /* A request under way finishes first; on_done then stops the user. */
}

void fo_users_set_active(fo_users *g, uint32_t want) {
    if (want > g->n) want = g->n;
    while (g->n_active < want)
        activate(&g->users[g->n_active++]);
    while (g->n_active > want)
        deactivate(&g->users[--g->n_active]);
}

void fo_users_check_timeouts(fo_users *g, uint64_t now) {
    for (uint32_t i = 0; i < g->n; i++)
        fo_conn_check_timeout(&g->users[i].conn, now);
}

void fo_users_abort(fo_users *g) {
    for (uint32_t i = 0; i < g->n; i++) {
        fo_user *u = &g->users[i];
        fo_conn_abort(&u->conn);
        u->active = 0;
        u->running = 0;
        if (u->wait_init) {
            u->wait_init = 0;
            uv_close((uv_handle_t *)&u->wait_timer, NULL);
        }
    }
}

void fo_users_free(fo_users *g) {
    free(g->users);
    g->users = NULL;
}
