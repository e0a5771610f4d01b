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
 * the worker watches the lifeline itself, so it is one task, not two. Its accept wait is an
 * epoll set of the listening socket, registered EPOLLEXCLUSIVE so that the kernel still wakes
 * one idle worker per connection rather than all, and the lifeline; the listening socket is
 * non-blocking, since a worker woken with another may find the connection taken. The socket
 * is in a worker's set only while the worker waits: EPOLLEXCLUSIVE wakes one waiting worker,
 * but the kernel walks the socket's waiters until it finds a set whose owner is waiting, so
 * with the socket left in the sets of busy workers each connection would visit them too, a
 * walk that grows with the workers. Leaving the set after each accept and joining it before
 * each wait costs two system calls a connection and keeps the walk to the idle workers, as a
 * blocking accept's wait queue holds only the waiting workers. SIGTERM and
 * SIGINT are blocked except inside epoll_pwait, so a stop can only arrive while the worker
 * waits there (or is left pending while it serves), never between its check of the flag and
 * its sleep. While it waits for a request, conn_block watches the lifeline too. Elsewhere
 * (macOS has no EPOLLEXCLUSIVE, and poll would wake every idle worker) the accept stays
 * blocking and the supervisor's watching thread turns the parent's death into SIGTERM. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/epoll.h>
#endif
#if defined(__linux__) && defined(EPOLLEXCLUSIVE)
#define WATCHES_LIFELINE 1
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

#if WATCHES_LIFELINE
/* The accept wait of a worker that watches its lifeline: see the top of the file. */
typedef struct accept_wait {
    int epfd, listen_fd, life_fd;
    sigset_t waiting_mask; /* the worker's mask with SIGTERM and SIGINT let through */
} accept_wait;

static int accept_wait_init(accept_wait *w, int listen_fd) {
    w->listen_fd = listen_fd;
    w->life_fd = fo_supervisor_lifeline();
    assert(w->life_fd >= 0); /* a prefork worker always runs under the supervisor */
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) return -errno;
    struct epoll_event pev = {.events = EPOLLIN, .data.fd = w->life_fd};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->life_fd, &pev) != 0) {
        int err = -errno;
        close(w->epfd);
        return err;
    }
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stops, &w->waiting_mask);
    sigdelset(&w->waiting_mask, SIGTERM);
    sigdelset(&w->waiting_mask, SIGINT);
    return 0;
}

/* Waits for a connection and accepts it: its descriptor, or -1 when the worker must stop (a
 * signal, or the parent is gone: stop_requested is then set) or should look again. */
static int accept_next(accept_wait *w, time_t *last_log) {
    /* Join the waiters on the listening socket for this wait only (see the top of the file). */
    struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = w->listen_fd};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->listen_fd, &lev) != 0) {
        if (!stop_requested) accept_failed(errno, last_log); /* else the handler closed it */
        return -1;
    }
    struct epoll_event ev[2];
    int n = epoll_pwait(w->epfd, ev, 2, -1, &w->waiting_mask);
    int err = errno;
    int rc = epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listen_fd, NULL);
    assert(rc == 0 || stop_requested); /* the stop handler may have closed the socket */
    (void)rc;
    if (n < 0) {
        if (err != EINTR) accept_failed(err, last_log);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (ev[i].data.fd != w->life_fd) continue;
        stop_requested = 1; /* end of file: the parent is gone */
        return -1;
    }
    return n > 0 ? accept_one(w->listen_fd, last_log) : -1;
}

static void accept_wait_close(accept_wait *w) {
    close(w->epfd);
}
#else
/* The blocking accept; the supervisor's thread watches the lifeline. */
typedef struct accept_wait {
    int listen_fd;
} accept_wait;

static int accept_wait_init(accept_wait *w, int listen_fd) {
    w->listen_fd = listen_fd;
    return 0;
}

static int accept_next(accept_wait *w, time_t *last_log) {
    return accept_one(w->listen_fd, last_log);
}

static void accept_wait_close(accept_wait *w) {
    (void)w;
}
#endif

/* One worker process: accept, serve one request, close; until told to stop. */
static int worker(const fo_server_opts *o, int listen_fd) {
    listen_fd_open = listen_fd;
    install_stop_handler();
    accept_wait w;
    int rc = accept_wait_init(&w, listen_fd);
    if (rc < 0) {
        fprintf(stderr, "fanout-server[%d]: cannot wait for connections: %s\n", (int)getpid(),
                strerror(-rc));
        return 1;
    }
    fo_upstream_block *up = fo_upstream_block_new(&o->upstream);
    if (!up) {
        fprintf(stderr, "fanout-server[%d]: cannot set up the upstream client\n", (int)getpid());
        accept_wait_close(&w);
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
        int fd = accept_next(&w, &last_log);
        if (fd >= 0) fo_conn_block_serve(fd, up, &co);
    }
    fo_upstream_block_free(up);
    accept_wait_close(&w);
    return 0;
}

static int run_prefork(const fo_server_opts *o, int listen_fd) {
    /* main.c opens the socket blocking; say which mode here, since the accept loop depends on
     * it: non-blocking behind the epoll wait, blocking for the blocking accept. */
    int rc = set_blocking(listen_fd, !WATCHES_LIFELINE);
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

/* A worker holds one connection and its runner's descriptors (and on Linux its epoll set,
 * within the reserve); the workers are processes, each with its own limit. It accepts one
 * connection at a time: no cap to apply. Each is one task, plus the lifeline's watching thread
 * where it cannot watch the lifeline itself. */
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
