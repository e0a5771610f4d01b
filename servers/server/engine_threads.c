/* The threads model: a process with a pool of N threads that each run one request at a time,
 * blocking, like gunicorn's gthread worker or uWSGI with N threads. With --workers P, P such
 * processes share the listening socket under the supervisor, like uWSGI's --processes P
 * --threads N or gunicorn's gthread -w P --threads N; each has its own loop and pool.
 *
 * The main thread runs a libuv loop that owns every connection: it accepts, reads and parses
 * requests, keeps idle keep-alive connections, and writes answers. A thread is taken only while
 * a request is being served, so an idle client costs no thread. A complete request that needs
 * the country API goes into a first-in first-out queue; the next free thread takes it, runs the
 * handler and the fan-out (upstream_block, its own connections to the API) and puts the answer
 * on a done queue, then wakes the loop with uv_async_send. Only the loop thread touches libuv
 * handles, so it sends the answer. With every thread busy, requests wait in arrival order.
 *
 * Answers that need no fan-out (404, 405, 400) are sent by the loop at once.
 *
 * A client that leaves while its page waits (the loop hears of it: fo_conn_uv_watch_gone) is
 * dropped from the queue if no thread has taken its job yet; if one has, the job's cancel flag
 * is set and that thread's fan-out woken, so its calls stop at once. */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "engine.h"
#include "fanout/handler.h"
#include "fanout/server_uv.h"
#include "fanout/upstream_block.h"
#include "loop_serve.h"

/* A thread's stack: a fan-out needs a few KiB, curl a little more. Small stacks make a pool of
 * hundreds of threads cheap in memory. */
#define THREAD_STACK_BYTES (256u * 1024u)

/* Where a job is; it changes only under the engine's lock. */
typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state;

/* One request handed to the pool. The request itself stays in its connection, unchanged until
 * it is answered (server_uv.h); the job passes between threads only under the lock. */
typedef struct job {
    struct job *next;
    struct threads_engine *e;
    fo_loop_page pg; /* its conn only the loop thread uses */
    fo_response resp;
    job_state state;
    fo_upstream_block *up; /* while JOB_RUNNING: the thread's runner, to wake it */
    atomic_int cancel;     /* set by the loop when the client has left */
} job;

typedef struct job_queue {
    job *head, *tail;
} job_queue;

typedef struct threads_engine {
    fo_loop_serve ls; /* the loop, its server and its stop, as the loop engines have them */
    uv_async_t wake;  /* a thread finished a job */
    const fo_server_opts *opts;

    pthread_mutex_t lock; /* guards todo, done and quit */
    pthread_cond_t work;  /* todo is not empty, or quit is set */
    job_queue todo, done;
    int quit;

    pthread_t *threads;
    fo_upstream_block **upstreams; /* one per thread, owned by it once it runs */
    int n_threads;
} threads_engine;

typedef struct worker_arg {
    threads_engine *e;
    fo_upstream_block *up;
} worker_arg;

static void push(job_queue *q, job *j) {
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
}

/* Takes j out of q, wherever it is; 1 when it was there. */
static int unlink_job(job_queue *q, job *j) {
    job *prev = NULL;
    for (job *it = q->head; it; prev = it, it = it->next) {
        if (it != j) continue;
        if (prev)
            prev->next = j->next;
        else
            q->head = j->next;
        if (q->tail == j) q->tail = prev;
        return 1;
    }
    return 0;
}

static job *pop(job_queue *q) {
    job *j = q->head;
    if (j) {
        q->head = j->next;
        if (!q->head) q->tail = NULL;
    }
    return j;
}

/* A pool thread: takes the oldest job, runs its fan-out, hands the answer to the loop. */
static void *worker_main(void *arg) {
    threads_engine *e = ((worker_arg *)arg)->e;
    fo_upstream_block *up = ((worker_arg *)arg)->up;
    free(arg);
    for (;;) {
        pthread_mutex_lock(&e->lock);
        while (!e->todo.head && !e->quit)
            pthread_cond_wait(&e->work, &e->lock);
        job *j = pop(&e->todo);
        if (j) {
            j->state = JOB_RUNNING;
            j->up = up;
        }
        pthread_mutex_unlock(&e->lock);
        if (!j) break; /* quit, and nothing left to do */
        /* A failed run marks every call failed, so fo_handle_finish answers 502 on its own. */
        fo_upstream_watch w = {.client_fd = -1, .cancel = &j->cancel};
        fo_upstream_block_run(up, &j->pg.fanout, &w);
        fo_handle_finish(j->pg.req, &j->pg.fanout, &j->resp);
        /* The wake-up is sent under the lock: the loop cannot answer this job, and so cannot
         * finish draining and close the async handle, before the send is over. */
        pthread_mutex_lock(&e->lock);
        j->state = JOB_DONE;
        j->up = NULL;
        push(&e->done, j);
        uv_async_send(&e->wake);
        pthread_mutex_unlock(&e->lock);
    }
    fo_upstream_block_free(up);
    return NULL;
}

/* On the loop: sends every finished answer. */
static void on_wake(uv_async_t *a) {
    threads_engine *e = a->data;
    pthread_mutex_lock(&e->lock);
    job *j = e->done.head;
    e->done.head = e->done.tail = NULL;
    pthread_mutex_unlock(&e->lock);
    while (j) {
        job *next = j->next;
        fo_conn_uv_respond(j->pg.conn, &j->resp);
        free(j);
        j = next;
    }
}

/* On the loop: the client of j has left. A queued job is answered (a 502 the connection drops)
 * and freed here, without a thread; a running one is told to stop; a done one is on its way. */
static void on_client_gone(void *data) {
    job *j = data;
    threads_engine *e = j->e;
    pthread_mutex_lock(&e->lock);
    int was_queued = j->state == JOB_QUEUED && unlink_job(&e->todo, j);
    if (j->state == JOB_RUNNING) {
        atomic_store(&j->cancel, 1);
        fo_upstream_block_wakeup(j->up);
    }
    pthread_mutex_unlock(&e->lock);
    if (!was_queued) return;
    fo_fanout_cancel_pending(&j->pg.fanout, "the client left");
    fo_handle_finish(j->pg.req, &j->pg.fanout, &j->resp);
    fo_conn_uv_respond(j->pg.conn, &j->resp);
    free(j);
}

static void on_request(fo_conn_uv *conn, const fo_request *req, void *data) {
    threads_engine *e = data;
    job *j = fo_loop_serve_begin(conn, req, sizeof *j, offsetof(job, pg));
    if (!j) return; /* answered already */
    j->e = e;
    j->state = JOB_QUEUED;
    j->up = NULL;
    atomic_init(&j->cancel, 0);
    pthread_mutex_lock(&e->lock);
    push(&e->todo, j);
    pthread_cond_signal(&e->work);
    pthread_mutex_unlock(&e->lock);
    if (!e->opts->upstream.no_cancel) fo_conn_uv_watch_gone(conn, on_client_gone, j);
}

static void on_drained(fo_loop_serve *ls) {
    threads_engine *e = ls->server.data;
    uv_close((uv_handle_t *)&e->wake, NULL);
}

/* Tells the threads to finish the queue and exit, and waits for the first n of them. */
static void stop_threads(threads_engine *e, int n) {
    pthread_mutex_lock(&e->lock);
    e->quit = 1;
    pthread_cond_broadcast(&e->work);
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < n; i++)
        pthread_join(e->threads[i], NULL);
}

/* Starts the pool. The threads block every signal, so SIGTERM and SIGINT reach the loop's
 * uv_signal handlers and never interrupt a fan-out. Returns how many threads started. */
static int start_threads(threads_engine *e) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    size_t stack = THREAD_STACK_BYTES;
#ifdef PTHREAD_STACK_MIN
    if (stack < (size_t)PTHREAD_STACK_MIN) stack = (size_t)PTHREAD_STACK_MIN;
#endif
    pthread_attr_setstacksize(&attr, stack);
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    int started = 0;
    for (; started < e->n_threads; started++) {
        worker_arg *arg = malloc(sizeof *arg);
        if (!arg) break;
        arg->e = e;
        arg->up = e->upstreams[started];
        int rc = pthread_create(&e->threads[started], &attr, worker_main, arg);
        if (rc != 0) {
            fprintf(stderr, "fanout-server: cannot start thread %d of %d: %s\n", started + 1,
                    e->n_threads, strerror(rc));
            free(arg);
            break;
        }
        e->upstreams[started] = NULL; /* the thread owns it now */
    }
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    pthread_attr_destroy(&attr);
    return started;
}

/* Allocates the pool's bookkeeping and one upstream runner per thread. 0 or -1. */
static int setup(threads_engine *e, const fo_server_opts *o) {
    e->opts = o;
    e->n_threads = o->threads > 0 ? o->threads : 1;
    e->threads = calloc((size_t)e->n_threads, sizeof *e->threads);
    e->upstreams = calloc((size_t)e->n_threads, sizeof *e->upstreams);
    if (!e->threads || !e->upstreams) return -1;
    for (int i = 0; i < e->n_threads; i++)
        if (!(e->upstreams[i] = fo_upstream_block_new(&o->upstream))) return -1;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->work, NULL);
    return 0;
}

static void teardown(threads_engine *e) {
    for (int i = 0; e->upstreams && i < e->n_threads; i++)
        fo_upstream_block_free(e->upstreams[i]);
    free(e->upstreams);
    free(e->threads);
}

/* One process: its loop and its pool, serving until a signal has stopped it. */
static int serve_threads(const fo_server_opts *o, int listen_fd) {
    static threads_engine engine; /* large (a loop and a server); one per process */
    threads_engine *e = &engine;
    memset(e, 0, sizeof *e);
    /* Sharing the socket, a process takes on only what its threads serve at once, as uWSGI's
     * threads accept only when free: the rest wait in the backlog for whichever process frees
     * first. */
    int max_busy = o->workers > 1 ? o->threads : 0;
    /* The loop first: its own descriptors must not be the ones the threads' upstream clients
     * leave missing under a low open-files limit (libuv aborts when it cannot get them). */
    if (fo_loop_serve_init(&e->ls, o, max_busy, 0, on_request, e) != 0) return 1;
    e->ls.on_drained = on_drained;
    int rc = uv_async_init(&e->ls.loop, &e->wake, on_wake);
    if (rc < 0) {
        fprintf(stderr, "fanout-server: cannot set up the event loop: %s\n", uv_strerror(rc));
        return 1;
    }
    e->wake.data = e;
    if (setup(e, o) != 0) {
        fprintf(stderr, "fanout-server: cannot set up %d threads and their upstream clients\n",
                o->threads);
        teardown(e);
        return 1;
    }
    int started = start_threads(e);
    rc = started == e->n_threads ? fo_loop_serve_listen(&e->ls, listen_fd) : 1;
    if (rc == 0 && e->ls.server.pending > 0) {
        /* The shutdown timeout passed with fan-outs still running. They cannot be cancelled
         * from here, and the exit handlers (curl's global cleanup) must not run under them:
         * end the process now. */
        fflush(stdout);
        _exit(0);
    }
    stop_threads(e, started);
    teardown(e);
    if (rc != 0) return 1; /* the process exits; the loop's handles die with it */
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->work);
    return 0;
}

/* One process serves in this one; more run under the supervisor, as the loop engines' do, which
 * starts each worker with its descriptor table reserved before the pool's threads start. */
static int run_threads(const fo_server_opts *o, int listen_fd) {
    return fo_loop_engine_run(o, listen_fd, serve_threads);
}

/* Default: 1 process of 100 threads, the blog's "1 process, 100 threads". */
static int threads_size(fo_server_opts *o) {
    if (o->threads < 1) o->threads = 100;
    if (o->workers < 1) o->workers = 1;
    return o->threads;
}

/* Per process: every thread holds its runner's descriptors from the start
 * (FO_UPSTREAM_BLOCK_FDS), whether it serves or not; a connection costs only its socket.
 * Threads without a connection each are idle: the limit must hold at least one per thread.
 * Each process runs its pool and its loop's thread; with --workers, each also has the
 * lifeline's watching thread, and the parent is one more. */
static fo_engine_needs threads_needs(const fo_server_opts *o) {
    long per_process = (long)o->threads + 1;
    return (fo_engine_needs){
        .fds = {.fixed = FO_FD_RESERVE + (long)o->threads * FO_UPSTREAM_BLOCK_FDS, .per_conn = 1},
        .min_conns = o->threads,
        .tasks =
            o->workers > 1 ? fo_engine_supervised_tasks(o->workers, per_process, 0) : per_process,
        .caps_conns = 1,
        .advice = "use fewer --threads (and more --workers)"};
}

const fo_engine fo_engine_threads = {
    .name = "threads",
    .help = "processes (--workers, default 1) whose N threads (--threads, default 100) each "
            "serve one request at a time, blocking, while idle connections wait on a libuv loop, "
            "like gunicorn's gthread.",
    .size_flag = "threads",
    .size_help = "requests one process serves at once",
    .size_default = "100",
    .workers_help = "processes of --threads threads each",
    .size_caps = 1,
    .size = threads_size,
    .needs = threads_needs,
    .run = run_threads,
};
