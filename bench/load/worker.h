/* A worker: one thread, one libuv loop, and the users dealt to it (user u runs on worker
 * u % n_workers). Everything a worker touches on the hot path is its own: its users, its
 * read buffer, its counters and its current one-second window. It talks to the rest of the
 * program only through fo_windows_flush (once a second) and, at its end, one uv_async_send.
 *
 * A user (user.c) is a closed loop on one keep-alive connection: connect when needed, write the
 * request, parse the response, record it, and go again (after --wait, if any). */
#ifndef FANOUT_LOAD_WORKER_H
#define FANOUT_LOAD_WORKER_H

#include <llhttp.h>
#include <stdint.h>
#include <uv.h>
#include "opts.h"
#include "stats.h"
#include "windows.h"

typedef struct fo_worker fo_worker;

typedef struct fo_user {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_timer_t wait_timer; /* initialised only when --wait is used */
    llhttp_t parser;
    fo_worker *w;
    uint64_t start_ns;        /* when the current request began (uv_hrtime) */
    uint64_t body_bytes;      /* of the current response */
    unsigned connects;        /* successful connects so far */
    int status;               /* the current response's status code */
    unsigned active : 1;      /* the schedule wants this user running */
    unsigned running : 1;     /* in its loop: a request, a wait or a reconnect is under way */
    unsigned in_request : 1;  /* a request is timed and not yet finished */
    unsigned tcp_open : 1;    /* tcp is initialised and its close callback has not run */
    unsigned connected : 1;   /* tcp is connected and usable for the next request */
    unsigned reused : 1;      /* the current request went out on a connection used before */
    unsigned retried : 1;     /* the current request was already resent once */
    unsigned got_bytes : 1;   /* the current request received response bytes */
    unsigned complete : 1;    /* the parser saw the end of the response */
    unsigned keep_alive : 1;  /* the response allows another request on the connection */
    unsigned waiting : 1;     /* the wait timer runs */
    unsigned after_close : 2; /* what tcp's close callback does next: see user.c */
    unsigned wait_init : 1;   /* wait_timer is initialised and not closed */
} fo_user;

struct fo_worker {
    unsigned id, n_workers;
    const fo_load_opts *opts;
    const struct sockaddr *addr;
    const char *request; /* the request's bytes, shared read-only by all workers */
    size_t request_len;
    uint64_t t0; /* the run's start, uv_hrtime() */
    fo_windows *windows;
    fo_load_stats stats;
    uv_async_t *done_async; /* sent once when the worker's loop has ended, ... */
    uv_mutex_t *done_lock;  /* ... after adding 1 to *done_count under this lock */
    unsigned *done_count;

    uv_loop_t loop;
    uv_thread_t thread;
    uv_timer_t sched_timer, tick_timer, stop_timer;
    uv_async_t stop_async; /* fo_worker_interrupt wakes the loop through it */
    int stop_async_closed; /* under *done_lock: set before stop_async is closed */
    llhttp_settings_t settings;
    char *rbuf;
    size_t rbuf_len;
    fo_user *users;
    uint32_t n_users;  /* this worker's share of the largest stage */
    uint32_t n_active; /* users [0, n_active) are active */
    uint64_t rng;
    int stopping;
    uint64_t
        stopped_ns; /* run time at which it stopped (at or after the end, unless interrupted) */

    /* The current one-second window. */
    uint64_t win_idx;
    fo_hist win_hist;
    uint64_t win_failures, win_bytes;
    int error; /* a negative errno that made the worker give up, 0 otherwise */
};

/* Prepares w (its loop, users, buffers); nothing runs yet. 0, or a negative errno. */
int fo_worker_init(fo_worker *w);
/* Starts the worker's thread. 0, or a negative libuv error. */
int fo_worker_start(fo_worker *w);
/* Waits for the thread and frees what init allocated, except stats (the caller merges them). */
void fo_worker_join(fo_worker *w);
/* From another thread: end the run now (an interrupt). Safe at any time after start. */
void fo_worker_interrupt(fo_worker *w);
/* Frees what init allocated for a worker whose thread never started, except stats. */
void fo_worker_destroy(fo_worker *w);

/* user.c, for worker.c: */
void fo_user_init(fo_user *u, fo_worker *w);
void fo_user_activate(fo_user *u);   /* the schedule wants it running */
void fo_user_deactivate(fo_user *u); /* finish the current request, then stop */
void fo_user_abort(fo_user *u);      /* the run is over: drop everything, close every handle */
void fo_user_check_timeout(fo_user *u, uint64_t now);
void fo_user_settings(llhttp_settings_t *s); /* the response parser's callbacks */

/* worker.c, for user.c: */
void fo_worker_success(fo_worker *w, uint64_t start_ns, uint64_t end_ns, uint64_t body_bytes);
void fo_worker_failure(fo_worker *w, fo_fail_kind kind, uint64_t now);
uint64_t fo_worker_wait_ns(fo_worker *w);

#endif
