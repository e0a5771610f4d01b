/* The parent of a multi-process program (prefork, uv --workers N, fanout-api --workers N).
 *
 * The parent serves nothing: it forks the workers on the shared listening sockets, waits, and
 * replaces a worker that dies. Signals only set a flag and write a byte to a pipe (the
 * "self-pipe"), and the parent sleeps in poll(2) on that pipe, so it wakes for a signal without
 * races and can still sleep with a timeout (for restart backoff and the shutdown deadline).
 * This is portable to macOS, which has no signalfd.
 *
 * No zombie: every child is reaped with waitpid. No orphan on a normal stop: the parent returns
 * only after every child has been reaped, killing with SIGKILL those that outlive the shutdown
 * timeout. No orphan when the parent is killed outright (SIGKILL, a crash) either: each worker
 * watches a "lifeline" pipe whose write end only the parent holds. When the parent dies, the
 * kernel closes that end, the worker's watching thread reads end-of-file and sends its own
 * process SIGTERM, and the worker stops as it would on the parent's SIGTERM. A worker that can
 * watch the pipe in its own waits says so (child_watches_lifeline) and runs no such thread: it
 * sees end-of-file itself and stops. That works on
 * every POSIX system (Linux's PR_SET_PDEATHSIG does not exist on macOS), and is used everywhere,
 * so Linux runs the same path as macOS.
 *
 * The workers start serving together: each waits on a "gate" pipe until the parent has forked
 * them all and closes its write end. Forking thousands takes seconds (3,000 prefork workers took
 * 16 s here), and a server that answered as soon as its first worker ran was measured, by a
 * client that waits for an answer before it starts the load, at a fraction of its size: at
 * 3,000 workers, the load found half of them not yet forked and queued in the backlog. A
 * worker forked later, to replace one, finds the gate open. */
#include "supervisor.h"
#include "fanout/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

/* A worker that dies sooner than this after its start counts as a quick death: the next start
 * of its slot waits, doubling from BACKOFF_MIN_MS to BACKOFF_MAX_MS, so a worker that cannot
 * start does not make the parent fork in a tight loop. */
#define QUICK_DEATH_MS 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

typedef struct slot {
    pid_t pid;            /* 0 when no worker runs in this slot */
    long long started_ms; /* when the current worker was forked */
    long long restart_ms; /* when pid == 0: when to fork the next one */
    int backoff_ms;       /* the delay after the next quick death */
} slot;

/* Signal handlers can only reach globals; there is one supervisor per process. */
static volatile sig_atomic_t stop_requested;
static int wake_pipe[2] = {-1, -1};
/* The lifeline: the parent keeps both ends (a worker forked later needs the read end); each
 * worker closes the write end at once and watches the read end. */
static int life_pipe[2] = {-1, -1};
/* The gate: open (end of file) once the parent has forked the first round of workers. */
static int gate_pipe[2] = {-1, -1};
/* In a worker: its main thread, which the watching thread signals. */
static pthread_t worker_main;

static void on_signal(int signum) {
    int saved = errno;
    if (signum != SIGCHLD) stop_requested = 1;
    /* A full pipe already holds a wake-up; the byte is not needed then. */
    ssize_t n = write(wake_pipe[1], "", 1);
    (void)n;
    errno = saved;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The lifeline stays blocking (the watching thread sleeps in read) but is not inherited across
 * exec. */
static int set_cloexec(int fd) {
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0) return -errno;
    return 0;
}

static void close_pipes(void) {
    int *fds[] = {wake_pipe, life_pipe, gate_pipe};
    for (size_t i = 0; i < 3; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
        fds[i][0] = fds[i][1] = -1;
    }
}

/* The self-pipe: non-blocking (the handler never waits, the drain stops when empty). */
static int set_flags(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
    return set_cloexec(fd);
}

/* The signals the parent handles, and their dispositions before it took them over. */
static const int handled[] = {SIGCHLD, SIGTERM, SIGINT};
#define N_HANDLED (sizeof handled / sizeof handled[0])

static int install_handlers(struct sigaction old[N_HANDLED]) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    for (size_t i = 0; i < N_HANDLED; i++)
        if (sigaction(handled[i], &sa, &old[i]) != 0) return -errno;
    return 0;
}

static void restore_handlers(const struct sigaction old[N_HANDLED]) {
    for (size_t i = 0; i < N_HANDLED; i++)
        sigaction(handled[i], &old[i], NULL);
}

/* Blocks (how = SIG_BLOCK) or restores the handled signals around fork, so that a signal
 * arriving in between cannot run the parent's handler in the child. */
static void mask_handled(int how, sigset_t *saved) {
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < N_HANDLED; i++)
        sigaddset(&set, handled[i]);
    if (how == SIG_BLOCK)
        pthread_sigmask(SIG_BLOCK, &set, saved);
    else
        pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* The worker's watching thread: blocks until the parent is gone (end of file: no write end is
 * left, since the parent never writes), then asks the worker to stop. */
static void *watch_parent(void *unused) {
    (void)unused;
    char c;
    ssize_t n;
    do {
        n = read(life_pipe[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 0) pthread_kill(worker_main, SIGTERM);
    return NULL;
}

/* In a new worker: drops the parent's end of the lifeline and, unless the worker watches it
 * itself, starts the watching thread, with
 * every signal blocked so that signals keep going to the worker's own thread. If the parent is
 * already gone, the thread sees end-of-file at once. */
static void watch_lifeline(const char *prog, int child_watches) {
    close(life_pipe[1]);
    life_pipe[1] = -1;
    if (child_watches) return;
    worker_main = pthread_self();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t t;
    int rc = pthread_create(&t, NULL, watch_parent, NULL);
    if (rc == 0) pthread_detach(t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        fprintf(stderr,
                "%s[%d]: cannot watch the parent (%s): this worker would outlive a killed parent\n",
                prog, (int)getpid(), strerror(rc));
}

int fo_supervisor_lifeline(void) {
    /* Only a worker has closed the write end; the parent holds both. */
    return life_pipe[1] < 0 ? life_pipe[0] : -1;
}

/* In a new worker: waits until the parent opens the gate (end of file: every worker of the first
 * round forked, or the parent gone; the worker then finds its lifeline closed and stops). */
static void wait_for_gate(void) {
    close(gate_pipe[1]);
    gate_pipe[1] = -1;
    char c;
    while (read(gate_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    close(gate_pipe[0]);
    gate_pipe[0] = -1;
}

/* Opens the gate: the workers forked so far start serving. Says how long forking took when it
 * took long enough to matter to a measurement. */
static void open_gate(const fo_supervisor_cfg *cfg, long long began_ms) {
    if (gate_pipe[1] < 0) return;
    close(gate_pipe[1]);
    gate_pipe[1] = -1;
    long long took = now_ms() - began_ms;
    if (took >= 1000)
        fprintf(stderr, "%s: %d workers forked in %.1f s; serving\n", cfg->prog, cfg->workers,
                (double)took / 1000.0);
}

/* Forks the worker of slot s. The child gets default signal dispositions (its engine installs
 * its own) and never returns from here. */
static void start_worker(slot *s, const fo_supervisor_cfg *cfg) {
    sigset_t saved;
    mask_handled(SIG_BLOCK, &saved);
    pid_t pid = fork();
    if (pid == 0) {
        for (size_t i = 0; i < N_HANDLED; i++)
            signal(handled[i], SIG_DFL);
        close(wake_pipe[0]);
        close(wake_pipe[1]);
        fo_fd_table_reserve(cfg->child_fds);
        watch_lifeline(cfg->prog, cfg->child_watches_lifeline);
        mask_handled(SIG_SETMASK, &saved);
        wait_for_gate();
        /* _exit: the parent's atexit handlers and stdio buffers are not the child's to run. */
        _exit(cfg->child(cfg->arg));
    }
    mask_handled(SIG_SETMASK, &saved);
    long long now = now_ms();
    if (pid < 0) {
        fprintf(stderr, "%s: cannot start a worker: %s; retrying in %d ms\n", cfg->prog,
                strerror(errno), s->backoff_ms);
        s->pid = 0;
        s->restart_ms = now + s->backoff_ms;
        s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
        return;
    }
    s->pid = pid;
    s->started_ms = now;
}

static void describe_status(int status, char *out, size_t cap) {
    if (WIFSIGNALED(status))
        snprintf(out, cap, "signal %d", WTERMSIG(status));
    else
        snprintf(out, cap, "exit code %d", WEXITSTATUS(status));
}

/* Reaps every child that has ended. While serving (replace = 1), logs each death and schedules
 * a new worker in its slot. Returns the number of children still running. */
static int reap(const fo_supervisor_cfg *cfg, slot *slots, int n, int replace) {
    pid_t pid;
    int status;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < n; i++) {
            slot *s = &slots[i];
            if (s->pid != pid) continue;
            s->pid = 0;
            if (!replace) break;
            char why[32];
            describe_status(status, why, sizeof why);
            long long now = now_ms();
            int delay = 0;
            if (now - s->started_ms < QUICK_DEATH_MS) {
                delay = s->backoff_ms;
                s->backoff_ms =
                    s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
            } else {
                s->backoff_ms = BACKOFF_MIN_MS;
            }
            s->restart_ms = now + delay;
            if (delay)
                fprintf(stderr, "%s: worker %d died (%s); starting a new one in %d ms\n", cfg->prog,
                        (int)pid, why, delay);
            else
                fprintf(stderr, "%s: worker %d died (%s); starting a new one\n", cfg->prog,
                        (int)pid, why);
            break;
        }
    }
    int alive = 0;
    for (int i = 0; i < n; i++)
        alive += slots[i].pid != 0;
    return alive;
}

/* Sleeps until a signal arrives or timeout_ms pass (-1: no timeout), then empties the pipe. */
static void sleep_for_signal(int timeout_ms) {
    struct pollfd p = {.fd = wake_pipe[0], .events = POLLIN};
    if (poll(&p, 1, timeout_ms) > 0) {
        char drain[64];
        while (read(wake_pipe[0], drain, sizeof drain) > 0) {
        }
    }
}

/* Serves until SIGTERM/SIGINT: keeps every slot filled. */
static void supervise(const fo_supervisor_cfg *cfg, slot *slots) {
    int n = cfg->workers;
    long long began = now_ms();
    while (!stop_requested) {
        reap(cfg, slots, n, 1);
        long long now = now_ms(), next = -1;
        for (int i = 0; i < n && !stop_requested; i++) {
            slot *s = &slots[i];
            if (s->pid == 0 && s->restart_ms <= now) start_worker(s, cfg);
            if (s->pid == 0 && (next < 0 || s->restart_ms < next)) next = s->restart_ms;
        }
        if (stop_requested) break;
        open_gate(cfg, began); /* after the first round; a no-op after that */
        int timeout = -1;
        if (next >= 0) timeout = next > now ? (int)(next - now) : 0;
        sleep_for_signal(timeout);
    }
}

/* Stops every worker: SIGTERM, up to timeout_ms for them to finish what they serve, then
 * SIGKILL; returns once all are reaped. */
static void stop_all(const fo_supervisor_cfg *cfg, slot *slots) {
    int n = cfg->workers;
    for (int i = 0; i < n; i++)
        if (slots[i].pid > 0) kill(slots[i].pid, SIGTERM);
    long long deadline = now_ms() + cfg->shutdown_timeout_ms;
    int alive;
    while ((alive = reap(cfg, slots, n, 0)) > 0) {
        long long left = deadline - now_ms();
        if (left <= 0) break;
        sleep_for_signal(left > 1000 ? 1000 : (int)left);
    }
    if (alive == 0) return;
    fprintf(stderr, "%s: shutdown timeout: killing %d workers still serving\n", cfg->prog, alive);
    for (int i = 0; i < n; i++) {
        if (slots[i].pid <= 0) continue;
        kill(slots[i].pid, SIGKILL);
        while (waitpid(slots[i].pid, NULL, 0) < 0 && errno == EINTR) {
        }
        slots[i].pid = 0;
    }
}

int fo_supervise(const fo_supervisor_cfg *cfg) {
    slot *slots = calloc((size_t)cfg->workers, sizeof *slots);
    if (!slots || pipe(wake_pipe) != 0) {
        fprintf(stderr, "%s: cannot start the supervisor: %s\n", cfg->prog, strerror(errno));
        free(slots);
        return 1;
    }
    if (pipe(life_pipe) != 0 || pipe(gate_pipe) != 0) {
        fprintf(stderr, "%s: cannot start the supervisor: %s\n", cfg->prog, strerror(errno));
        close_pipes();
        free(slots);
        return 1;
    }
    struct sigaction old[N_HANDLED];
    stop_requested = 0; /* before the handlers: a signal from here on is kept */
    int rc = set_flags(wake_pipe[0]);
    if (rc == 0) rc = set_flags(wake_pipe[1]);
    if (rc == 0) rc = set_cloexec(life_pipe[0]);
    if (rc == 0) rc = set_cloexec(life_pipe[1]);
    if (rc == 0) rc = set_cloexec(gate_pipe[0]);
    if (rc == 0) rc = set_cloexec(gate_pipe[1]);
    if (rc == 0) rc = install_handlers(old);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot start the supervisor: %s\n", cfg->prog, strerror(-rc));
        close_pipes();
        free(slots);
        return 1;
    }
    for (int i = 0; i < cfg->workers; i++)
        slots[i].backoff_ms = BACKOFF_MIN_MS;

    supervise(cfg, slots);

    /* The parent never accepts; closing its copies now means that once the last worker has
     * stopped accepting, the sockets are gone and new clients are refused at once instead of
     * waiting in a backlog nobody reads. */
    for (int i = 0; i < cfg->n_listen_fds; i++)
        close(cfg->listen_fds[i]);
    stop_all(cfg, slots);

    restore_handlers(old);
    close_pipes();
    free(slots);
    return 0;
}
