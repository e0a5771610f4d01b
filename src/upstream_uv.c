/* Fan-outs on a libuv loop, through libcurl's multi socket interface.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when it next needs a
 * call for its timeouts (CURLMOPT_TIMERFUNCTION); we watch with one uv_poll per socket and one
 * uv_timer per runner, and hand every event back with curl_multi_socket_action. Two details
 * that curl's own multi-uv example gets wrong are handled here: a poll error is passed on as
 * CURL_CSELECT_ERR (so curl fails the transfer instead of spinning), and finished transfers are
 * collected after timeouts as well as after socket events (a timed-out call ends in the timer).
 *
 * At thousands of calls in flight one multi handle would hold tens of thousands of connections,
 * and libcurl (7.88 and others) walks its whole connection cache each time a finished transfer
 * is removed: the cost per page grows with the load (measured: 0.1 ms of CPU per page at 100
 * users, 0.6 ms at 10,000, two thirds of it in that walk). So the runner is split into shards,
 * each a multi handle with its own cache of at most SHARD_CONNS connections; a fan-out's three
 * calls go to one shard, the shards in turn. */
#include "fanout/upstream_uv.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct job job;

typedef struct shard shard;

/* One call of a fan-out: the easy handle's CURLOPT_PRIVATE. */
typedef struct call_ref {
    job *job;
    int index;
} call_ref;

struct job {
    shard *sh;
    fo_fanout *f;
    fo_fanout_cb cb;
    void *data;
    int remaining;
    CURL *easy[FO_FANOUT_CALLS];
    call_ref refs[FO_FANOUT_CALLS];
};

/* A socket curl asked us to watch. Freed in its poll handle's close callback. */
typedef struct sock_watch {
    uv_poll_t poll;
    curl_socket_t fd;
    shard *sh;
} sock_watch;

#define IDLE_EASY_MAX 256
/* The connections one multi handle keeps at most (see above), and the most shards. */
#define SHARD_CONNS 1024L
#define MAX_SHARDS 64

/* A multi handle and the timer that drives its timeouts. Freed in the timer's close callback. */
struct shard {
    fo_upstream_uv *u;
    CURLM *multi;
    uv_timer_t timer;
};

struct fo_upstream_uv {
    uv_loop_t *loop;
    const fo_upstream_cfg *cfg;
    shard *shards[MAX_SHARDS];
    int n_shards;
    unsigned next_shard;       /* the shard of the next fan-out */
    int active;                /* fan-outs in flight */
    unsigned turn;             /* spreads the calls over the upstream URLs */
    CURL *idle[IDLE_EASY_MAX]; /* easy handles kept for reuse */
    int n_idle;
};

static void collect_done(shard *sh);

static void on_poll(uv_poll_t *h, int status, int events) {
    sock_watch *w = h->data;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    int running = 0;
    shard *sh = w->sh;
    curl_multi_socket_action(sh->multi, w->fd, flags, &running);
    collect_done(sh);
}

static void on_watch_closed(uv_handle_t *h) {
    free(h->data);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    shard *sh = userp;
    sock_watch *w = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (w) {
            /* uv_close stops watching at once; only the memory waits for the callback. */
            uv_close((uv_handle_t *)&w->poll, on_watch_closed);
            curl_multi_assign(sh->multi, s, NULL);
        }
        return 0;
    }
    if (!w) {
        w = malloc(sizeof *w);
        if (!w) return -1;
        if (uv_poll_init_socket(sh->u->loop, &w->poll, s) != 0) {
            free(w);
            return -1;
        }
        w->fd = s;
        w->sh = sh;
        w->poll.data = w;
        curl_multi_assign(sh->multi, s, w);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    return uv_poll_start(&w->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_timeout(uv_timer_t *t) {
    shard *sh = t->data;
    int running = 0;
    curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(sh);
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp) {
    shard *sh = userp;
    (void)multi;
    if (timeout_ms < 0) uv_timer_stop(&sh->timer);
    /* Even a 0 ms timeout goes through the loop: curl must not be re-entered from here. */
    else
        uv_timer_start(&sh->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static void release_easy(fo_upstream_uv *u, CURL *easy) {
    if (u->n_idle < IDLE_EASY_MAX) {
        curl_easy_reset(easy);
        u->idle[u->n_idle++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

static CURL *take_easy(fo_upstream_uv *u) {
    return u->n_idle ? u->idle[--u->n_idle] : curl_easy_init();
}

/* Ends job j, whose calls have all ended: the fan-out's time, its callback, its memory. */
static void job_end(fo_upstream_uv *u, job *j) {
    assert(j->remaining == 0);
    j->f->end_ns = fo_now_ns();
    j->f->run = NULL;
    u->active--;
    j->cb(j->f, j->data);
    free(j);
}

/* Stops j's calls still running: taken out of their multi handle, which closes their
 * connections (so the API stops waiting on them too), and marked cancelled with why. */
static void job_stop_rest(fo_upstream_uv *u, job *j, const char *why) {
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        if (!j->easy[i]) continue;
        curl_multi_remove_handle(j->sh->multi, j->easy[i]);
        release_easy(u, j->easy[i]);
        j->easy[i] = NULL;
    }
    fo_fanout_cancel_pending(j->f, why);
    j->remaining = 0;
}

static void collect_done(shard *sh) {
    fo_upstream_uv *u = sh->u;
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(sh->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        call_ref *ref = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&ref);
        job *j = ref->job;
        fo_call *call = &j->f->calls[ref->index];
        fo_call_finish(call, easy, result);
        curl_multi_remove_handle(sh->multi, easy);
        release_easy(u, easy);
        j->easy[ref->index] = NULL;
        j->f->done++;
        j->remaining--;
        /* One failed call decides the page: the others are not waited for. */
        if (j->remaining > 0 && fo_call_failed(call) && !u->cfg->no_cancel)
            job_stop_rest(u, j, "another call of the page failed");
        if (j->remaining == 0) job_end(u, j);
    }
}

static void on_shard_closed(uv_handle_t *h) {
    free(h->data);
}

/* A multi handle keeping at most max_conns connections, driven on u's loop. NULL when out of
 * memory or when curl refuses an option. */
static shard *shard_new(fo_upstream_uv *u, long max_conns) {
    shard *sh = calloc(1, sizeof *sh);
    if (!sh) return NULL;
    sh->u = u;
    sh->multi = curl_multi_init();
    if (!sh->multi) {
        free(sh);
        return NULL;
    }
    int ok = curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, on_socket) == CURLM_OK &&
             curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh) == CURLM_OK &&
             curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, on_timer_change) == CURLM_OK &&
             curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh) == CURLM_OK &&
             curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, max_conns) == CURLM_OK &&
             curl_multi_setopt(sh->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L) == CURLM_OK;
    if (!ok) {
        curl_multi_cleanup(sh->multi);
        free(sh);
        return NULL;
    }
    int rc = uv_timer_init(u->loop, &sh->timer); /* cannot fail: libuv only zeroes fields */
    assert(rc == 0);
    (void)rc;
    sh->timer.data = sh;
    return sh;
}

/* Closing the cached connections removes their sockets through on_socket. */
static void shard_close(shard *sh) {
    curl_multi_cleanup(sh->multi);
    sh->multi = NULL;
    uv_timer_stop(&sh->timer);
    uv_close((uv_handle_t *)&sh->timer, on_shard_closed);
}

fo_upstream_uv *fo_upstream_uv_new(uv_loop_t *loop, const fo_upstream_cfg *cfg) {
    fo_upstream_uv *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->loop = loop;
    u->cfg = cfg;
    /* An idle upstream connection for every call a busy loop may have in flight: with fewer,
     * each wave of calls closes connections only to open new ones. */
    long pool = cfg->pool > 0 ? cfg->pool : 4096L;
    long n = (pool + SHARD_CONNS - 1) / SHARD_CONNS;
    if (n > MAX_SHARDS) n = MAX_SHARDS;
    for (long i = 0; i < n; i++) {
        u->shards[i] = shard_new(u, (pool + n - 1) / n);
        if (!u->shards[i]) {
            while (i-- > 0)
                shard_close(u->shards[i]);
            free(u);
            return NULL;
        }
    }
    u->n_shards = (int)n;
    return u;
}

int fo_upstream_uv_start(fo_upstream_uv *u, fo_fanout *f, fo_fanout_cb cb, void *data) {
    job *j = calloc(1, sizeof *j);
    if (!j) return -ENOMEM;
    shard *sh = u->shards[u->next_shard++ % (unsigned)u->n_shards];
    j->sh = sh;
    j->f = f;
    j->cb = cb;
    j->data = data;
    f->start_ns = fo_now_ns();
    f->done = 0;
    int added = 0, rc = 0;
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        CURL *easy = take_easy(u);
        if (!easy) {
            rc = -ENOMEM;
            break;
        }
        j->easy[i] = easy;
        j->refs[i] = (call_ref){j, i};
        if (fo_call_setup(easy, u->cfg, &f->calls[i], u->turn++) != 0) {
            rc = -ENOMEM;
            break;
        }
        curl_easy_setopt(easy, CURLOPT_PRIVATE, &j->refs[i]);
        if (curl_multi_add_handle(sh->multi, easy) != CURLM_OK) {
            rc = -ENOMEM;
            break;
        }
        added++;
    }
    if (rc != 0) {
        /* Undo: nothing may complete for a fan-out that reports failure. */
        for (int i = 0; i < FO_FANOUT_CALLS; i++) {
            if (!j->easy[i]) continue;
            if (i < added) curl_multi_remove_handle(sh->multi, j->easy[i]);
            release_easy(u, j->easy[i]);
        }
        free(j);
        return rc;
    }
    j->remaining = FO_FANOUT_CALLS;
    f->run = j;
    u->active++;
    return 0;
}

void fo_upstream_uv_cancel(fo_upstream_uv *u, fo_fanout *f, const char *why) {
    job *j = f->run;
    assert(j && j->f == f && j->remaining > 0);
    job_stop_rest(u, j, why);
    job_end(u, j);
}

void fo_upstream_uv_close(fo_upstream_uv *u) {
    assert(u->active == 0);
    while (u->n_idle)
        curl_easy_cleanup(u->idle[--u->n_idle]);
    for (int i = 0; i < u->n_shards; i++)
        shard_close(u->shards[i]);
    u->n_shards = 0;
    free(u);
}
