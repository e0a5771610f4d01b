/* Fan-outs on a libuv loop, through libcurl's multi socket interface.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when it next needs a
 * call for its timeouts (CURLMOPT_TIMERFUNCTION); we watch with one uv_poll per socket and one
 * uv_timer per runner, and hand every event back with curl_multi_socket_action. Two details
 * that curl's own multi-uv example gets wrong are handled here: a poll error is passed on as
 * CURL_CSELECT_ERR (so curl fails the transfer instead of spinning), and finished transfers are
 * collected after timeouts as well as after socket events (a timed-out call ends in the timer).
 *
 * A socket's watch lives as long as the socket, not as long as one transfer on it. curl (7.88)
 * says CURL_POLL_REMOVE when a transfer ends and asks again for the same socket when the next
 * transfer reuses the kept-alive connection; with libuv 1.44 a uv_poll made and closed for each
 * transfer costs six system calls (epoll_ctl ADD and DEL to check the descriptor, ioctl FIONBIO,
 * a DEL and an ADD to start, a DEL to close), and even a uv_poll_start with unchanged events
 * costs a DEL and an ADD. So the watch of a connected socket stays, readable, while its connection
 * waits in curl's cache, and is closed when curl closes the socket (CURLOPT_CLOSESOCKETFUNCTION);
 * a uv_poll_start happens only when the events change. An idle socket that turns readable (the
 * API closed the connection) stops being watched, and curl finds it dead when it next looks.
 *
 * At thousands of calls in flight one multi handle would hold tens of thousands of connections,
 * and libcurl (7.88 and others) walks its whole connection cache each time a finished transfer
 * is removed: the cost per page grows with the load (measured: 0.1 ms of CPU per page at 100
 * users, 0.6 ms at 10,000, two thirds of it in that walk). So the runner is split into shards,
 * each a multi handle with its own cache of at most SHARD_CONNS connections; a fan-out's three
 * calls go to one shard, the shards in turn.
 *
 * What this cannot save with curl 7.88: two poll(2) calls a call. Before it reuses an idle
 * connection curl checks that it is alive (url.c, extract_if_dead: a 0 ms poll through
 * cf_socket_conn_is_alive, for every candidate, with no option to skip it), and right after
 * sending the request it tries to read at once (transfer.c, Curl_readwrite: a 0 ms poll unless
 * the transfer was woken by a socket event, which a transfer that has just sent is not). */
#include "fanout/upstream_uv.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* A socket curl asked us to watch, from its first request until curl closes it. Freed in its
 * poll handle's close callback. */
typedef struct sock_watch {
    uv_poll_t poll;
    curl_socket_t fd;
    shard *sh;
    int events; /* what the poll handle watches now (UV_READABLE, UV_WRITABLE) */
    int curl;   /* 1 while curl watches the socket for a transfer; 0 while it is idle */
    /* 1 once curl read from it: connected, a connection's socket, which curl closes through
     * on_close_socket (a connect attempt that fails is closed without a word) */
    int connected;
} sock_watch;

/* Idle easy handles are kept for reuse, as many as were ever in flight at once; those not taken
 * for a whole TRIM_MS are freed. A load comes in waves (a page's calls end at ms/2, ms and 2 ms,
 * and users started together stay together), so the handles a wave frees are wanted again by the
 * next: freed, each left a 5.5 KiB hole that the heap split for smaller things, and the next wave
 * grew the heap for new handles (measured at 3,000 users: with at most 256 kept, half the calls
 * made a new handle, and a sixth of the heap was free chunks). The window is longer than a
 * page's cycle at the ladder's steps (6 s at 10,000 users), so only a load that has really
 * fallen gives handles back. */
#define TRIM_MS 10000
/* The connections one multi handle keeps at most (see above), and the most shards. */
#define SHARD_CONNS 1024L
#define MAX_SHARDS 64

/* A multi handle and the timer that drives its timeouts. Freed in the timer's close callback. */
struct shard {
    fo_upstream_uv *u;
    CURLM *multi;
    uv_timer_t timer;
    uint64_t due; /* when timer fires, in loop time; 0 when stopped */
};

struct fo_upstream_uv {
    uv_loop_t *loop;
    const fo_upstream_cfg *cfg;
    shard *shards[MAX_SHARDS];
    int n_shards;
    unsigned next_shard; /* the shard of the next fan-out */
    int active;          /* fan-outs in flight */
    unsigned turn;       /* spreads the calls over the upstream URLs */
    CURL **idle;         /* easy handles kept for reuse: n_idle of idle_cap */
    size_t n_idle, idle_cap;
    size_t idle_low;  /* the fewest idle handles since the last trim: not needed meanwhile */
    size_t easy_made; /* easy handles made so far (fo_upstream_uv_easy_made) */
    uv_timer_t trim;  /* frees the idle handles nobody took */
    /* The watch of each socket, by descriptor (sockets are small integers). */
    sock_watch **watch;
    size_t watch_cap;
};

static void collect_done(shard *sh);

static void watch_closed(uv_handle_t *h) {
    free(h->data);
}

/* Stops watching w's socket and forgets it; the memory goes in the close callback. */
static void watch_close(sock_watch *w) {
    fo_upstream_uv *u = w->sh->u;
    assert((size_t)w->fd < u->watch_cap && u->watch[w->fd] == w);
    u->watch[w->fd] = NULL;
    uv_close((uv_handle_t *)&w->poll, watch_closed);
}

/* Watches events (0 = nothing) on w's socket; libuv is called only when they change. */
static int watch_set(sock_watch *w, int events, uv_poll_cb cb) {
    if (events == w->events) return 0;
    int rc = events ? uv_poll_start(&w->poll, events, cb) : uv_poll_stop(&w->poll);
    w->events = rc == 0 ? events : 0;
    return rc;
}

static void on_poll(uv_poll_t *h, int status, int events) {
    sock_watch *w = h->data;
    if (status < 0) w->events = 0; /* libuv stops a handle whose socket reports an error */
    if (!w->curl) {
        /* An idle connection's socket has something to say: the API closed it (or broke the
         * protocol). Nobody reads it until curl's next look finds it dead, so stop listening
         * rather than be woken at every turn of the loop. */
        watch_set(w, 0, NULL);
        return;
    }
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

/* The watch of socket s, made when missing. NULL when out of memory. */
static sock_watch *watch_of(shard *sh, curl_socket_t s) {
    fo_upstream_uv *u = sh->u;
    assert(s >= 0);
    if ((size_t)s >= u->watch_cap) {
        size_t cap = u->watch_cap ? u->watch_cap : 64;
        while (cap <= (size_t)s)
            cap *= 2;
        sock_watch **grown = realloc(u->watch, cap * sizeof *grown);
        if (!grown) return NULL;
        memset(grown + u->watch_cap, 0, (cap - u->watch_cap) * sizeof *grown);
        u->watch = grown;
        u->watch_cap = cap;
    }
    sock_watch *w = u->watch[s];
    if (w) {
        assert(w->sh == sh); /* a socket is one connection's, in one multi handle's cache */
        return w;
    }
    w = calloc(1, sizeof *w);
    if (!w) return NULL;
    if (uv_poll_init_socket(u->loop, &w->poll, s) != 0) {
        free(w);
        return NULL;
    }
    w->fd = s;
    w->sh = sh;
    w->poll.data = w;
    u->watch[s] = w;
    return w;
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    shard *sh = userp;
    (void)easy;
    (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        fo_upstream_uv *u = sh->u;
        sock_watch *w = (size_t)s < u->watch_cap ? u->watch[s] : NULL;
        if (!w) return 0;
        w->curl = 0;
        /* A connected socket waits in curl's cache for the next transfer, watched for the
         * API closing it; curl closes it through on_close_socket. Any other (a connect that
         * failed, which curl may close without telling us) is forgotten now. */
        if (!w->connected || watch_set(w, UV_READABLE, on_poll) != 0) watch_close(w);
        return 0;
    }
    sock_watch *w = watch_of(sh, s);
    if (!w) return -1;
    w->curl = 1;
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
    /* curl waits to read only on a connected socket (a connect is watched for writing). */
    if (events & UV_READABLE) w->connected = 1;
    return watch_set(w, events, on_poll) == 0 ? 0 : -1;
}

/* CURLOPT_CLOSESOCKETFUNCTION: curl closes a connection's socket; its watch goes first. */
static int on_close_socket(void *clientp, curl_socket_t s) {
    fo_upstream_uv *u = clientp;
    if ((size_t)s < u->watch_cap && u->watch[s]) watch_close(u->watch[s]);
    return close(s);
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
    if (timeout_ms < 0) {
        uv_timer_stop(&sh->timer);
        sh->due = 0;
        return 0;
    }
    /* Even a 0 ms timeout goes through the loop: curl must not be re-entered from here. curl
     * says the same deadline again and again (each added call, each socket event); the timer
     * is moved only when the deadline does. */
    uint64_t due = uv_now(sh->u->loop) + (uint64_t)timeout_ms;
    if (due == sh->due && uv_is_active((uv_handle_t *)&sh->timer)) return 0;
    sh->due = due;
    uv_timer_start(&sh->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static void on_trim(uv_timer_t *t) {
    fo_upstream_uv *u = t->data;
    /* idle_low handles stayed idle the whole time: the load needs that many fewer. */
    for (; u->idle_low > 0; u->idle_low--)
        curl_easy_cleanup(u->idle[--u->n_idle]);
    u->idle_low = u->n_idle;
    if (u->n_idle == 0) uv_timer_stop(&u->trim);
}

/* Keeps an easy handle whose transfer has ended for the next call. Not reset: fo_call_setup sets
 * every option a call uses again (curl_easy_reset would free and rebuild all the handle's
 * settings each call); only the pointers into the ended call's memory are cleared. */
static void release_easy(fo_upstream_uv *u, CURL *easy) {
    if (u->n_idle == u->idle_cap) {
        size_t cap = u->idle_cap ? 2 * u->idle_cap : 64;
        CURL **grown = realloc(u->idle, cap * sizeof *grown);
        if (!grown) {
            curl_easy_cleanup(easy);
            return;
        }
        u->idle = grown;
        u->idle_cap = cap;
    }
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    u->idle[u->n_idle++] = easy;
    if (!uv_is_active((uv_handle_t *)&u->trim)) {
        u->idle_low = u->n_idle;
        uv_timer_start(&u->trim, on_trim, TRIM_MS, TRIM_MS);
    }
}

/* An easy handle for a call: an idle one, or a new one whose sockets close through us. */
static CURL *take_easy(fo_upstream_uv *u) {
    if (u->n_idle) {
        CURL *easy = u->idle[--u->n_idle];
        if (u->n_idle < u->idle_low) u->idle_low = u->n_idle;
        return easy;
    }
    CURL *easy = curl_easy_init();
    if (!easy) return NULL;
    u->easy_made++;
    if (curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, u) != CURLE_OK) {
        curl_easy_cleanup(easy);
        return NULL;
    }
    return easy;
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

static void upstream_freed(uv_handle_t *h) {
    fo_upstream_uv *u = h->data;
    free(u->watch);
    free(u->idle);
    free(u);
}

fo_upstream_uv *fo_upstream_uv_new(uv_loop_t *loop, const fo_upstream_cfg *cfg) {
    fo_upstream_uv *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->loop = loop;
    u->cfg = cfg;
    int rc = uv_timer_init(loop, &u->trim); /* cannot fail: libuv only zeroes fields */
    assert(rc == 0);
    (void)rc;
    uv_unref((uv_handle_t *)&u->trim);
    u->trim.data = u;
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
            uv_close((uv_handle_t *)&u->trim, upstream_freed);
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

size_t fo_upstream_uv_idle_easy(const fo_upstream_uv *u) {
    return u->n_idle;
}

size_t fo_upstream_uv_easy_made(const fo_upstream_uv *u) {
    return u->easy_made;
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
    /* Closing the multi handles closed their connections, and each socket's watch with it
     * (on_close_socket); a watch left means a socket curl closed without saying so. */
    for (size_t fd = 0; fd < u->watch_cap; fd++)
        if (u->watch[fd]) watch_close(u->watch[fd]);
    uv_close((uv_handle_t *)&u->trim, upstream_freed);
}
