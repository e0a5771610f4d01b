/* Accepting for the libuv server (server_uv.c): the listening handles over duplicates of the
 * server's sockets, the pause at max_conns or max_busy, and the back-off after an accept failed
 * for want of descriptors or memory. The interface, and why pausing closes handles, is in
 * accept_uv.h; fo_server_uv.accept_state is the state, and each verb asserts where it starts:
 *
 *   FO_ACCEPTING  -> FO_ACCEPT_FULL     at the cap           -> FO_ACCEPTING once under it
 *   FO_ACCEPTING  -> FO_ACCEPT_BACKOFF  an accept failed     -> FO_ACCEPTING on the timer
 *   any           -> FO_ACCEPT_STOPPED  fo_accept_stop, for good */
#include "accept_uv.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* After an accept that failed for want of descriptors or memory, the server stops accepting
 * for this long instead of retrying at once (libuv would spin on the listener otherwise). */
#define ACCEPT_BACKOFF_MS 250

static void on_connection(uv_stream_t *listener, int status);
static void on_backoff_over(uv_timer_t *t);

/* At max_conns connections, or max_busy taken on: accepting waits. */
static int at_cap(const fo_server_uv *s) {
    return (s->opts.max_conns > 0 && s->n_conns >= s->opts.max_conns) ||
           (s->opts.max_busy > 0 && s->pending + s->fresh >= s->opts.max_busy);
}

static void on_handle_freed(uv_handle_t *h) {
    fo_server_uv *s = h->data;
    if (h->type == UV_TCP) free(h);
    s->handles_closing--;
    assert(s->handles_closing >= 0);
    fo_server_uv_handle_closed(s);
}

static void close_listeners(fo_server_uv *s) {
    for (int i = 0; i < s->n_listen; i++) {
        if (!s->listeners[i]) continue;
        s->handles_closing++;
        uv_close((uv_handle_t *)s->listeners[i], on_handle_freed);
        s->listeners[i] = NULL;
    }
}

/* Starts accepting on listening socket i. 0 or a negative libuv error. */
static int open_listener(fo_server_uv *s, int i) {
    assert(s->accept_state == FO_ACCEPTING && s->listeners[i] == NULL);
    uv_tcp_t *h = malloc(sizeof *h);
    if (!h) return UV_ENOMEM;
    int fd = dup(s->listen_fds[i]);
    if (fd < 0) {
        int rc = uv_translate_sys_error(errno);
        free(h);
        return rc;
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    int rc = uv_tcp_init(s->loop, h);
    if (rc < 0) {
        close(fd);
        free(h);
        return rc;
    }
    h->data = s;
    rc = uv_tcp_open(h, (uv_os_sock_t)fd);
    if (rc < 0)
        close(fd); /* not adopted by the handle */
    else
        rc = uv_listen((uv_stream_t *)h, s->opts.backlog, on_connection);
    if (rc < 0) {
        s->handles_closing++;
        uv_close((uv_handle_t *)h, on_handle_freed); /* closes fd once adopted */
        return rc;
    }
    s->listeners[i] = h;
    return 0;
}

/* Stops accepting until resume: at the cap, or for ACCEPT_BACKOFF_MS. */
static void pause_accepting(fo_server_uv *s, fo_accept_state why) {
    assert(s->accept_state == FO_ACCEPTING);
    assert(why == FO_ACCEPT_FULL || why == FO_ACCEPT_BACKOFF);
    s->accept_state = why;
    close_listeners(s);
    if (why == FO_ACCEPT_BACKOFF)
        uv_timer_start(&s->backoff, on_backoff_over, ACCEPT_BACKOFF_MS, 0);
}

/* From FULL or BACKOFF: accept again, unless still at the cap. */
static void resume(fo_server_uv *s) {
    assert(s->accept_state == FO_ACCEPT_FULL || s->accept_state == FO_ACCEPT_BACKOFF);
    if (at_cap(s)) {
        s->accept_state = FO_ACCEPT_FULL;
        return;
    }
    s->accept_state = FO_ACCEPTING;
    for (int i = 0; i < s->n_listen; i++) {
        if (open_listener(s, i) == 0) continue;
        /* Out of descriptors or memory even for a handle: try again after the backoff. */
        pause_accepting(s, FO_ACCEPT_BACKOFF);
        return;
    }
}

static void on_backoff_over(uv_timer_t *t) {
    fo_server_uv *s = t->data;
    assert(s->accept_state == FO_ACCEPT_BACKOFF);
    resume(s);
}

void fo_accept_back_off(fo_server_uv *s) {
    if (s->accept_state != FO_ACCEPTING) return;
    pause_accepting(s, FO_ACCEPT_BACKOFF);
}

void fo_accept_pause_if_full(fo_server_uv *s) {
    if (s->accept_state == FO_ACCEPTING && at_cap(s)) pause_accepting(s, FO_ACCEPT_FULL);
}

void fo_accept_resume(fo_server_uv *s) {
    if (s->accept_state == FO_ACCEPT_FULL) resume(s);
}

static void on_connection(uv_stream_t *listener, int status) {
    fo_server_uv *s = listener->data;
    assert(s->accept_state == FO_ACCEPTING);
    if (status < 0) {
        /* EMFILE and friends: libuv has shed the connection. Retrying at once would find the
         * same shortage, so accepting pauses and resumes on a timer. */
        if (status == UV_EMFILE || status == UV_ENFILE || status == UV_ENOBUFS ||
            status == UV_ENOMEM)
            fo_accept_back_off(s);
        return;
    }
    fo_server_uv_accepted(s, listener);
}

int fo_accept_init(fo_server_uv *s) {
    s->accept_state = FO_ACCEPTING;
    int rc = uv_timer_init(s->loop, &s->backoff);
    if (rc < 0) return rc;
    s->backoff.data = s;
    return 0;
}

int fo_accept_add(fo_server_uv *s, int i) {
    assert(i < s->n_listen && s->accept_state != FO_ACCEPT_STOPPED);
    if (s->accept_state != FO_ACCEPTING) return 0; /* watched once accepting resumes */
    return open_listener(s, i);
}

void fo_accept_stop(fo_server_uv *s) {
    assert(s->accept_state != FO_ACCEPT_STOPPED);
    s->accept_state = FO_ACCEPT_STOPPED;
    close_listeners(s);
    for (int i = 0; i < s->n_listen; i++)
        close(s->listen_fds[i]);
    s->n_listen = 0;
    s->handles_closing++;
    uv_close((uv_handle_t *)&s->backoff, on_handle_freed);
}
