/* The parent of a multi-process program (fanout-server's prefork and uv --workers N, the country
 * API's --workers N): forks the workers on listening sockets opened before, replaces any that
 * die, and on SIGTERM/SIGINT stops them gracefully. */
#ifndef FANOUT_SUPERVISOR_H
#define FANOUT_SUPERVISOR_H

typedef struct fo_supervisor_cfg {
    const char *prog;        /* names the parent in its messages: "fanout-server" */
    int workers;             /* processes to keep running */
    int shutdown_timeout_ms; /* how long stopping workers get before SIGKILL */
    const int *listen_fds;   /* the parent's copies of the shared sockets, closed at the stop */
    int n_listen_fds;
    /* Descriptors a worker holds at most, or 0: each worker reserves its descriptor table for
     * them before it starts a thread (fo_fd_table_reserve; a fork copies only the part in use,
     * and growing it later in a process of several threads stops it for milliseconds). */
    long child_fds;
    int (*child)(void *arg); /* a worker's whole life; what it returns is its exit code */
    void *arg;
    /* 0: each worker runs a thread that watches the lifeline and sends the worker SIGTERM when
     * the parent is gone. 1: the worker watches it in its own waits (fo_supervisor_lifeline)
     * and no thread is started, so a worker is one task. */
    int child_watches_lifeline;
} fo_supervisor_cfg;

/* In a worker: the lifeline's read end, which becomes readable (end of file) when the parent is
 * gone; the worker then stops as it would on SIGTERM. -1 outside a worker. */
int fo_supervisor_lifeline(void);

/* Runs cfg->workers children, each calling cfg->child(cfg->arg) and exiting with its result,
 * all at once: the first round waits until the last of them is forked, so a client answered by
 * one is answered by a server at its full size. A child that dies unexpectedly is logged and
 * replaced. On SIGTERM/SIGINT the parent closes its copies of the sockets, sends SIGTERM to
 * every child, waits up to shutdown_timeout_ms for them (then SIGKILL), reaps them all and
 * returns 0; 1 when it cannot start. */
int fo_supervise(const fo_supervisor_cfg *cfg);

#endif
