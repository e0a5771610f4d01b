/* Runs a fan-out in the calling thread: one curl multi handle and three easy handles, driven by
 * curl_multi_poll until every call has ended. The handles live as long as the runner, so the
 * connections to the country API stay open and are reused from one page to the next. */
#include "fanout/upstream_block.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <unistd.h>

/* How long curl_multi_poll may sleep at most. curl wakes it earlier for its own timeouts and for
 * socket activity, so this only bounds how long a silent loop goes unchecked. */
#define POLL_MS 1000

struct fo_upstream_block {
    const fo_upstream_cfg *cfg;
    CURLM *multi;
    CURL *easy[FO_FANOUT_CALLS];
    int added[FO_FANOUT_CALLS]; /* 1 while easy[i] is in the multi handle */
    /* Call i always goes to upstream URL turn + i: a runner keeps exactly one connection per
     * call, so its calls must not wander between URLs (each move would open a connection while
     * the cache still holds the old one). Runners take turns from a counter, so the load still
     * spreads over the URLs. */
    unsigned turn;
};

fo_upstream_block *fo_upstream_block_new(const fo_upstream_cfg *cfg) {
    fo_upstream_block *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->cfg = cfg;
    /* The process id too: prefork's workers each make their runner after the fork. */
    static atomic_uint next_turn;
    u->turn = (atomic_fetch_add(&next_turn, 1) + (unsigned)getpid()) * FO_FANOUT_CALLS;
    u->multi = curl_multi_init();
    int ok = u->multi != NULL;
    for (int i = 0; ok && i < FO_FANOUT_CALLS; i++) {
        u->easy[i] = curl_easy_init();
        ok = u->easy[i] != NULL;
    }
    /* The three calls go to the same host at once: each needs its own connection (HTTP/1.1, no
     * multiplexing), and the cache keeps exactly those between fan-outs. Each is a descriptor
     * per thread (FO_UPSTREAM_BLOCK_FDS), which is what limits a threads server's size. */
    if (ok) ok = curl_multi_setopt(u->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L) == CURLM_OK;
    if (ok)
        ok = curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, (long)FO_FANOUT_CALLS) == CURLM_OK;
    if (ok)
        ok = curl_multi_setopt(u->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING) == CURLM_OK;
    if (!ok) {
        fo_upstream_block_free(u);
        return NULL;
    }
    return u;
}

void fo_upstream_block_wakeup(fo_upstream_block *u) {
    curl_multi_wakeup(u->multi);
}

void fo_upstream_block_free(fo_upstream_block *u) {
    if (!u) return;
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        if (!u->easy[i]) continue;
        if (u->added[i]) curl_multi_remove_handle(u->multi, u->easy[i]);
        curl_easy_cleanup(u->easy[i]);
    }
    if (u->multi) curl_multi_cleanup(u->multi);
    free(u);
}

/* Takes call i out of the multi handle, and stops curl from pointing into the fan-out, which the
 * caller may free or reuse once the run returns. */
static void detach(fo_upstream_block *u, int i) {
    if (u->added[i]) {
        curl_multi_remove_handle(u->multi, u->easy[i]);
        u->added[i] = 0;
    }
    curl_easy_setopt(u->easy[i], CURLOPT_WRITEDATA, NULL);
}

/* Reads every finished transfer and records its outcome. */
static void drain_done(fo_upstream_block *u, fo_fanout *f) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(u->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) continue;
        for (int i = 0; i < FO_FANOUT_CALLS; i++) {
            if (u->easy[i] != msg->easy_handle) continue;
            /* msg is invalid once its handle is removed, so the result is read first. */
            CURLcode result = msg->data.result;
            fo_call_finish(&f->calls[i], u->easy[i], result);
            detach(u, i);
            f->done++;
            break;
        }
    }
}

/* Ends a run that curl could not carry on: every call still pending fails with why. */
static int abandon(fo_upstream_block *u, fo_fanout *f, int err, const char *why) {
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        fo_call *call = &f->calls[i];
        if (call->outcome == FO_CALL_PENDING) {
            call->outcome = FO_CALL_IO;
            snprintf(call->error, sizeof call->error, "%s", why);
            f->done++;
        }
        detach(u, i);
    }
    f->end_ns = fo_now_ns();
    return err;
}

static int errno_of(CURLMcode mc) {
    return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

/* Ends a run early: the calls still running leave the multi handle, which closes their
 * connections (so the API stops waiting on them too), and are marked cancelled with why. */
static void stop_rest(fo_upstream_block *u, fo_fanout *f, const char *why) {
    for (int i = 0; i < FO_FANOUT_CALLS; i++)
        detach(u, i);
    fo_fanout_cancel_pending(f, why);
    f->end_ns = fo_now_ns();
}

/* 1 when one of f's calls has failed. */
static int any_failed(const fo_fanout *f) {
    for (int i = 0; i < FO_FANOUT_CALLS; i++)
        if (fo_call_failed(&f->calls[i])) return 1;
    return 0;
}

/* What the client's socket, reported readable, says. */
typedef enum { CLIENT_QUIET, CLIENT_SENT, CLIENT_GONE } client_state;

static client_state peek_client(int fd) {
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return CLIENT_SENT;
    if (n == 0) return CLIENT_GONE;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? CLIENT_QUIET : CLIENT_GONE;
}

static int cancelled(const fo_upstream_watch *w) {
    return w && w->cancel && atomic_load(w->cancel);
}

int fo_upstream_block_run(fo_upstream_block *u, fo_fanout *f, const fo_upstream_watch *w) {
    f->start_ns = fo_now_ns();
    f->done = 0;
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        int rc = fo_call_setup(u->easy[i], u->cfg, &f->calls[i], u->turn + (unsigned)i);
        if (rc < 0) return abandon(u, f, rc, "could not set up the call");
        CURLMcode mc = curl_multi_add_handle(u->multi, u->easy[i]);
        if (mc != CURLM_OK) return abandon(u, f, errno_of(mc), curl_multi_strerror(mc));
        u->added[i] = 1;
    }
    int watch_fd = w ? w->client_fd : -1;
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(u->multi, &running);
        if (mc != CURLM_OK) return abandon(u, f, errno_of(mc), curl_multi_strerror(mc));
        drain_done(u, f);
        if (running == 0) break;
        if (!u->cfg->no_cancel && any_failed(f)) {
            /* One failed call decides the page: the others are not waited for. */
            stop_rest(u, f, "another call of the page failed");
            return 0;
        }
        if (cancelled(w)) {
            stop_rest(u, f, "the client left");
            return -ECONNRESET;
        }
        struct curl_waitfd client = {.fd = watch_fd, .events = CURL_WAIT_POLLIN};
        mc = curl_multi_poll(u->multi, &client, watch_fd >= 0 ? 1 : 0, POLL_MS, NULL);
        if (mc != CURLM_OK) return abandon(u, f, errno_of(mc), curl_multi_strerror(mc));
        if (watch_fd >= 0 && client.revents) {
            client_state cs = peek_client(watch_fd);
            if (cs == CLIENT_GONE) {
                stop_rest(u, f, "the client left");
                return -ECONNRESET;
            }
            if (cs == CLIENT_SENT) watch_fd = -1;
        }
    }
    /* running == 0 means every transfer ended, so every message has been read; a call still
     * pending here would be a curl bug, and is failed rather than left undecided. */
    if (f->done < FO_FANOUT_CALLS) return abandon(u, f, -EIO, "transfer ended without a result");
    f->end_ns = fo_now_ns();
    return 0;
}
