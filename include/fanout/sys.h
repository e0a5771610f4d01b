/* Small process-level utilities shared by the binaries: the open-files limit and what a
 * configuration needs of it, listening sockets, whole numbers, and the monotonic clock. */
#ifndef FANOUT_SYS_H
#define FANOUT_SYS_H

#include <stddef.h>
#include <stdint.h>

/* The hard limit on open files as a process can raise its soft limit to it (RLIM_INFINITY and
 * macOS's OPEN_MAX cap folded in), or a negative errno. */
long fo_fd_hard_limit(void);

/* Raises the soft limit on open files to the hard one (capped where the OS requires it).
 * Returns the new soft limit, or a negative errno. */
long fo_fd_raise_limit(void);

/* What one process of a configuration needs of the open-files limit: `fixed` descriptors
 * whatever it serves (standard streams, the loop, the listener, per-thread handles), and
 * `per_conn` for each client connection it holds (the connection and its upstream calls). */
typedef struct fo_fd_need {
    long fixed;
    long per_conn;
} fo_fd_need;

/* Descriptors that every process keeps for itself beyond what it counts: standard streams,
 * the loop's own (epoll or kqueue, signal pipes, async handles), the listener and its copy,
 * a log file. Enough that a connection cap computed from the limit is never reached first. */
#define FO_FD_RESERVE 32

/* How many connections one process can hold under `limit` descriptors: (limit - fixed) /
 * per_conn, or 0 when not even one fits. */
long fo_fd_max_conns(const fo_fd_need *need, long limit);

/* Raises the soft open-files limit to the hard one and settles the connection cap of one process:
 * *max_conns > 0 is the cap asked for, checked; *max_conns <= 0 asks for the largest that fits,
 * never below min_conns; then reserves the descriptor table for that cap (below). Returns 0, or -1
 * after printing to stderr, in one line, what needs how many descriptors against which soft and
 * hard limits and what to do: raise the hard limit, or `advice` (may be NULL). `what` names the
 * configuration ("uv --workers 1"). */
int fo_fd_plan(const char *prog, const char *what, const fo_fd_need *need, long min_conns,
               long *max_conns, const char *advice);

/* Grows the process's descriptor table to hold `fds` descriptors now, by opening one at fds - 1
 * and closing it. Call it while the process has one thread: Linux grows the table by doubling
 * as descriptors are opened, and in a process of several threads each growth waits for an RCU
 * grace period with the opening thread stopped (seen here: socket() taking 5-15 ms at the 256th,
 * 512th and 1024th descriptor, so that fanout-load --rate sent a few hundred arrivals late).
 * Costs ~8 bytes a descriptor; a fork copies only the part up to the highest open descriptor.
 * Best effort: nothing happens when it cannot. */
void fo_fd_table_reserve(long fds);

/* How many more processes and threads this user may start: the soft process limit (raised to
 * the hard one) and, on Linux, the system's pid and thread limits, less the tasks that exist.
 * -1 when unknown. */
long fo_tasks_available(void);

/* Opens a TCP socket bound to host:port (port 0 picks a free one), listening with backlog,
 * close-on-exec. Returns the descriptor and sets *bound_port, or -1 with a one-line reason in
 * err. */
int fo_listen_tcp(const char *host, int port, int backlog, int *bound_port, char *err,
                  size_t errlen);

/* Parses a whole non-negative decimal number in [min, max] from s. 0, or -EINVAL / -ERANGE. */
int fo_parse_long(const char *s, long min, long max, long *out);

/* Monotonic nanoseconds: what every duration here (a call, a fan-out, a deadline) is taken from. */
uint64_t fo_now_ns(void);

#endif
