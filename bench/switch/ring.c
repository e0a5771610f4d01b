/* A ring of tasks that pass a byte round: see ring.h. Member 0 is the caller, which times the
 * laps; member i reads its own pipe and writes to member i+1's. The byte 'q' ends a member after
 * it has passed it on, so one 'q' sent to member 1 ends every member started, whether or not
 * the ring was completed. */
#define _GNU_SOURCE
#include "ring.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "fanout/cli.h"
#include "fanout/sys.h"

#define STOP 'q'
#define PASS 'x'
#define WARM_LAPS 2
#define THREAD_STACK (64 * 1024)

typedef struct ring {
    int n;          /* members, the caller included */
    int (*pipe)[2]; /* pipe[i]: member i reads [0]; member i-1 writes [1] */
} ring;

typedef struct member {
    const ring *r;
    int i;
} member;

static int next_of(const ring *r, int i) {
    return (i + 1) % r->n;
}

/* One byte from member i's pipe; 0 at end of file or on an error. */
static char take(const ring *r, int i) {
    char c;
    for (;;) {
        ssize_t got = read(r->pipe[i][0], &c, 1);
        if (got == 1) return c;
        if (got < 0 && errno == EINTR) continue;
        return 0;
    }
}

static int give(const ring *r, int i, char c) {
    for (;;) {
        ssize_t put = write(r->pipe[next_of(r, i)][1], &c, 1);
        if (put == 1) return 0;
        if (put < 0 && errno == EINTR) continue;
        return -1;
    }
}

static void serve(const ring *r, int i) {
    for (;;) {
        char c = take(r, i);
        if (c == 0 || give(r, i, c) != 0 || c == STOP) return;
    }
}

static void *serve_thread(void *arg) {
    const member *m = arg;
    serve(m->r, m->i);
    return NULL;
}

/* The descriptors a ring of n needs, with the soft limit raised to the hard one. */
static int enough_descriptors(int n, char *err, size_t errlen) {
    long need = (long)n * 2 + 16;
    long limit = fo_fd_raise_limit();
    if (limit < 0)
        return fo_cli_fail(err, errlen, "the open-files limit: %s", strerror((int)-limit));
    if (limit < need)
        return fo_cli_fail(err, errlen,
                           "a ring of %d tasks needs %ld descriptors; the open-files limit is %ld",
                           n, need, limit);
    return 0;
}

/* Member i as a process: ends with its parent (at once on Linux, by the watchdog elsewhere). */
static pid_t start_process(const ring *r, int i) {
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) return pid;
#ifdef __linux__
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (getppid() != parent) _exit(0);
    alarm(FO_RING_WATCHDOG_S);
    serve(r, i);
    _exit(0);
}

/* Times whole laps: member 0 sends a byte to member 1 and waits for it to come round. */
static int time_laps(const ring *r, long laps, double *ns) {
    uint64_t t0 = 0;
    for (long lap = -WARM_LAPS; lap < laps; lap++) {
        if (lap == 0) t0 = fo_now_ns();
        if (give(r, 0, PASS) != 0 || take(r, 0) != PASS) return -1;
    }
    *ns = (double)(fo_now_ns() - t0);
    return 0;
}

int fo_ring_time(fo_ring_kind kind, int tasks, long hops, double *ns_per_hop, long *hops_timed,
                 char *err, size_t errlen) {
    assert(ns_per_hop && hops_timed && err);
    if (tasks < 2) return fo_cli_fail(err, errlen, "a ring needs at least 2 tasks, not %d", tasks);
    if (hops < 1) return fo_cli_fail(err, errlen, "a ring needs at least 1 hop, not %ld", hops);
    int rc = enough_descriptors(tasks, err, errlen);
    if (rc != 0) return rc;

    ring r = {.n = tasks, .pipe = calloc((size_t)tasks, sizeof *r.pipe)};
    pid_t *pids = calloc((size_t)tasks, sizeof *pids);
    pthread_t *threads = calloc((size_t)tasks, sizeof *threads);
    member *members = calloc((size_t)tasks, sizeof *members);
    if (!r.pipe || !pids || !threads || !members) {
        free(r.pipe), free(pids), free(threads), free(members);
        return fo_cli_fail(err, errlen, "out of memory for a ring of %d tasks", tasks);
    }
    int piped = 0, started = 1;
    for (; piped < tasks; piped++)
        if (pipe(r.pipe[piped]) != 0) {
            rc = fo_cli_fail(err, errlen, "pipe: %s", strerror(errno));
            break;
        }

    pthread_attr_t attr;
    int attr_ok = kind == FO_RING_THREADS && pthread_attr_init(&attr) == 0;
    if (attr_ok) (void)pthread_attr_setstacksize(&attr, THREAD_STACK);
    for (; rc == 0 && started < tasks; started++) {
        int e = 0;
        members[started] = (member){.r = &r, .i = started};
        if (kind == FO_RING_PROCESSES) {
            pids[started] = start_process(&r, started);
            if (pids[started] < 0) e = errno;
        } else {
            e = pthread_create(&threads[started], attr_ok ? &attr : NULL, serve_thread,
                               &members[started]);
        }
        if (e != 0) {
            rc = fo_cli_fail(
                err, errlen, "the system gave %d of the %d %s a ring of %d needs: %s", started - 1,
                tasks - 1, kind == FO_RING_PROCESSES ? "processes" : "threads", tasks, strerror(e));
            break;
        }
    }
    if (attr_ok) pthread_attr_destroy(&attr);

    if (rc == 0) {
        long laps = (hops + tasks - 1) / tasks;
        double ns;
        if (time_laps(&r, laps, &ns) != 0) {
            rc = fo_cli_fail(err, errlen, "a ring member stopped passing the byte on");
        } else {
            *hops_timed = laps * tasks;
            *ns_per_hop = ns / (double)*hops_timed;
        }
    }

    /* One STOP round ends every member started; the last may leave it in a pipe no one reads. */
    if (started > 1 && give(&r, 0, STOP) != 0 && rc == 0)
        rc = fo_cli_fail(err, errlen, "could not tell the ring to stop: %s", strerror(errno));
    for (int i = 1; i < started; i++) {
        if (kind == FO_RING_THREADS) {
            pthread_join(threads[i], NULL);
            continue;
        }
        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR) {
        }
    }
    for (int i = 0; i < piped; i++)
        close(r.pipe[i][0]), close(r.pipe[i][1]);
    free(r.pipe), free(pids), free(threads), free(members);
    return rc;
}
