/* A serving loop's graceful stop on SIGTERM or SIGINT (see loop_stop.h). */
#include "loop_stop.h"

#include <assert.h>
#include <signal.h>
#include <stdio.h>

static void on_deadline(uv_timer_t *t) {
    fo_loop_stop *st = t->data;
    fprintf(stderr, "%s[%d]: shutdown timeout: abandoning %d requests in flight\n", st->who,
            (int)uv_os_getpid(), st->server->pending);
    uv_stop(st->server->loop);
}

static void on_signal(uv_signal_t *h, int signum) {
    fo_loop_stop *st = h->data;
    if (fo_server_uv_stopping(st->server)) return;
    fprintf(stderr, "%s[%d]: signal %d, finishing the requests in flight\n", st->who,
            (int)uv_os_getpid(), signum);
    uv_signal_stop(&st->sigint);
    uv_signal_stop(&st->sigterm);
    if (st->timeout_ms > 0) uv_timer_start(&st->deadline, on_deadline, st->timeout_ms, 0);
    fo_server_uv_stop(st->server, st->on_drained);
}

int fo_loop_stop_start(fo_loop_stop *st, fo_server_uv *server, const char *who, uint64_t timeout_ms,
                       void (*on_drained)(fo_server_uv *s)) {
    uv_loop_t *loop = server->loop;
    st->server = server;
    st->who = who;
    st->timeout_ms = timeout_ms;
    st->on_drained = on_drained;
    /* The first signal handle opens the loop's signal pipe, which a full descriptor table
     * refuses; the others cannot fail once it is open. */
    int rc = uv_signal_init(loop, &st->sigint);
    if (rc < 0) return rc;
    rc = uv_signal_init(loop, &st->sigterm);
    assert(rc == 0);
    rc = uv_timer_init(loop, &st->deadline);
    assert(rc == 0);
    st->sigint.data = st->sigterm.data = st->deadline.data = st;
    uv_signal_start(&st->sigint, on_signal, SIGINT);
    uv_signal_start(&st->sigterm, on_signal, SIGTERM);
    return 0;
}

void fo_loop_stop_close(fo_loop_stop *st) {
    uv_close((uv_handle_t *)&st->sigint, NULL);
    uv_close((uv_handle_t *)&st->sigterm, NULL);
    uv_close((uv_handle_t *)&st->deadline, NULL);
}
