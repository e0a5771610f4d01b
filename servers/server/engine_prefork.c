/* The prefork model: N worker processes forked at start on one shared listening socket, each
 * accepting and serving one connection at a time with blocking I/O, like gunicorn's sync
 * workers or Apache's prefork MPM. A worker answers one request per connection and closes it
 * ("Connection: close"), so clients waiting for a worker are served in the order the kernel
 * queued their connections. The parent only supervises (supervisor.h).
 *
 * Why a blocking accept: the kernel wakes one waiting worker per connection. Waiting in poll
 * instead (as gunicorn's sync worker does) wakes every idle worker for each connection; with
 * 100 workers and 20 clients that tripled the server's CPU per page.
 *
 * How a worker still stops at once on SIGTERM: the handler sets the stop flag and closes the
 * worker's copy of the listening socket. A worker asleep in accept is woken by the signal
 * (no SA_RESTART: EINTR) and sees the flag; one about to call accept finds the descriptor
 * closed (EBADF) and sees the flag; one serving a request finishes it, then sees the flag.
 *
 * How a worker stops when its parent dies (the supervisor's lifeline, supervisor.h): on Linux
 * the kernel sends it SIGTERM (PR_SET_PDEATHSIG), the same stop as above, so the worker is one
 * task, not two; while it waits for a request, conn_block watches the lifeline too. Elsewhere
 * the supervisor's watching thread turns the parent's death into SIGTERM.
 *
 * An earlier version waited in epoll on the listening socket (EPOLLEXCLUSIVE) and the lifeline,
 * joining the socket's waiters for each wait. At 3,000 workers it lost wake-ups: connections sat
 * in the accept queue for seconds while every worker slept in epoll_wait. The blocking accept's
 * wait queue wakes exactly one sleeper per connection, and a woken sleeper always takes one. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "fanout/conn_block.h"
#include "fanout/upstream_block.h"
#include "supervisor.h"

#ifdef __linux__
#include <sys/prctl.h>
#define WATCHES_LIFELINE 1 /* by the kernel's parent-death signal, not a thread */
#else
#define WATCHES_LIFELINE 0
#endif

#define ACCEPT_ERROR_PAUSE_MS 100

/* Set by SIGTERM/SIGINT in a worker; the worker finishes its connection, then exits. */
static volatile sig_atomic_t stop_requested;
/* The worker's copy of the listening socket, closed by the handler (close is async-signal-safe). */
static volatile sig_atomic_t listen_fd_open = -1;

static void on_stop(int signum) {
    (void)signum;
    stop_requested = 1;
    int fd = listen_fd_open;
    listen_fd_open = -1;
    if (fd >= 0) close(fd);
}

/* No SA_RESTART: a signal ends a blocked accept with EINTR, so the loop checks the flag at once. */
static void install_stop_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

static int set_blocking(int fd, int blocking) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -errno;
    fl = blocking ? fl & ~O_NONBLOCK : fl | O_NONBLOCK;
    return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

static void pause_ms(int ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a signal may cut it short: the caller checks the flag next */
}

/* Accept failures that say nothing about the listening socket: the client gave up, a signal, or
 * another worker took the connection first. */
static int is_transient(int err) {
    return err == EINTR || err == EAGAIN || err == EWOULDBLOCK || err == ECONNABORTED ||
           err == EPROTO;
}

/* Out of descriptors or memory: logged at most once a second, then a short pause so the
 * worker does not spin while the condition lasts. */
static void accept_failed(int err, time_t *last_log) {
    time_t now = time(NULL);
    if (now != *last_log) {
        fprintf(stderr, "fanout-server[%d]: accept: %s; retrying\n", (int)getpid(), strerror(err));
        *last_log = now;
    }
    pause_ms(ACCEPT_ERROR_PAUSE_MS);
}

/* Accepts one connection, or -1 when the worker must stop (stop_requested) or the attempt
 * found nothing (try again). */
static int accept_one(int listen_fd, time_t *last_log) {
    int fd = accept(listen_fd, NULL, NULL);
    if (fd >= 0) {
        /* BSD and macOS pass O_NONBLOCK on to accepted sockets; conn_block wants blocking. */
        set_blocking(fd, 1);
        return fd;
    }
    if (!stop_requested && !is_transient(errno)) accept_failed(errno, last_log);
    return -1;
}

/* On Linux, asks the kernel for SIGTERM when the parent dies, and stops at once if it already
 * has (the lifeline shows end of file): it may have died before the request. */
static void arm_parent_death(void) {
#if WATCHES_LIFELINE
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
        fprintf(stderr, "fanout-server[%d]: prctl(PR_SET_PDEATHSIG): %s\n", (int)getpid(),
                strerror(errno));
        stop_requested = 1;
        return;
    }
    struct pollfd pfd = {.fd = fo_supervisor_lifeline(), .events = POLLIN};
    assert(pfd.fd >= 0); /* a prefork worker always runs under the supervisor */
    if (poll(&pfd, 1, 0) > 0) stop_requested = 1;
#endif
}

/* One worker process: accept, serve one request, close; until told to stop. */
static int worker(const fo_server_opts *o, int listen_fd) {
    listen_fd_open = listen_fd;
    install_stop_handler();
    arm_parent_death();
    fo_upstream_block *up = fo_upstream_block_new(&o->upstream);
    if (!up) {
        fprintf(stderr, "fanout-server[%d]: cannot set up the upstream client\n", (int)getpid());
        return 1;
    }
    fo_conn_block_opts co = {.header_timeout_ms = o->header_timeout_ms,
                             .keepalive_timeout_ms = o->keepalive_timeout_ms,
                             .max_requests = 1,
                             .no_cancel = o->upstream.no_cancel,
                             .watch_stop = WATCHES_LIFELINE,
                             .stop_fd = fo_supervisor_lifeline()};
    time_t last_log = 0;
    while (!stop_requested) {
        int fd = accept_one(listen_fd, &last_log);
        if (fd >= 0) fo_conn_block_serve(fd, up, &co);
    }
    fo_upstream_block_free(up);
    return 0;
}

static int run_prefork(const fo_server_opts *o, int listen_fd) {
    /* main.c opens the socket blocking; say so here, since the accept loop depends on it. */
    int rc = set_blocking(listen_fd, 1);
    if (rc < 0) {
        fprintf(stderr, "fanout-server: cannot set the socket's blocking mode: %s\n",
                strerror(-rc));
        return 1;
    }
    return fo_engine_supervise(o, listen_fd, worker, WATCHES_LIFELINE);
}

/* Default: two processes per core, as gunicorn's docs suggest for sync workers. */
static int prefork_size(fo_server_opts *o) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (o->workers < 1) o->workers = 2 * (cores > 0 ? (int)cores : 1);
    return o->workers;
}

/* A worker holds one connection and its runner's descriptors; the workers are processes, each with
 * its own limit. It accepts one connection at a time: no cap to apply. Each is one task, plus the
 * lifeline's watching thread where it cannot watch the lifeline itself. */
static fo_engine_needs prefork_needs(const fo_server_opts *o) {
    return (fo_engine_needs){.fds = {.fixed = FO_FD_RESERVE + FO_UPSTREAM_BLOCK_FDS, .per_conn = 1},
                             .min_conns = 1,
                             .tasks = fo_engine_supervised_tasks(o->workers, 1, WATCHES_LIFELINE),
                             .caps_conns = 0,
                             .advice = NULL};
}

const fo_engine fo_engine_prefork = {
    .name = "prefork",
    .help = "forks N worker processes (--workers, default 2 x cores) on one shared socket, each "
            "serving one request per connection at a time, blocking, like gunicorn's sync workers.",
    .size_flag = "workers",
    .size_help = "processes, one connection at a time each",
    .size_default = "2 x cores",
    .size_caps = 1,
    .size = prefork_size,
    .needs = prefork_needs,
    .run = run_prefork,
};
