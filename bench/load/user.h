/* The closed model's users: each user is a closed loop on one keep-alive connection (conn.h):
 * send a request, wait for its whole answer, then (after --wait, if any) send the next. A
 * worker holds its share of the users in a fo_users and says how many should run; users
 * [0, n_active) are active, and ramping down stops the most recently started first. */
#ifndef FANOUT_LOAD_USER_H
#define FANOUT_LOAD_USER_H

#include <stdint.h>
#include <uv.h>
#include "conn.h"

typedef struct fo_users fo_users;

typedef struct fo_user {
    fo_conn conn;
    uv_timer_t wait_timer; /* initialised only when --wait is used */
    fo_users *g;
    unsigned active : 1;    /* the schedule wants this user running */
    unsigned running : 1;   /* in its loop: a request, a wait or a reconnect is under way */
    unsigned waiting : 1;   /* the wait timer runs */
    unsigned wait_init : 1; /* wait_timer is initialised and not closed */
} fo_user;

struct fo_users {
    fo_client *cl;
    fo_user *users;
    uint32_t n;        /* this worker's share of the largest stage */
    uint32_t n_active; /* users [0, n_active) are active */
    uint64_t wait_min_ns, wait_max_ns;
    uint64_t rng;
    uint64_t end_at; /* the run's end (hrtime): no request is issued from then on */
};

/* n users on cl's loop, waiting a uniform wait_min..wait_max ns between requests (0..0: no
 * wait), for a run that ends at hrtime end_at. 0, or -ENOMEM. */
int fo_users_init(fo_users *g, fo_client *cl, uint32_t n, uint64_t wait_min_ns,
                  uint64_t wait_max_ns, uint64_t seed, uint64_t end_at);
/* Brings the active users to `want` (at most n). */
void fo_users_set_active(fo_users *g, uint32_t want);
void fo_users_check_timeouts(fo_users *g, uint64_t now);
/* The run is over: drop everything, close every handle. */
void fo_users_abort(fo_users *g);
/* After the loop has run its close callbacks. */
void fo_users_free(fo_users *g);

#endif
