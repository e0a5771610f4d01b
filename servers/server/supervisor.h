/* The parent of a multi-process engine (prefork, uv --workers N): forks the workers on one
 * shared listening socket, replaces any that die, and on SIGTERM/SIGINT stops them gracefully. */
#ifndef FANOUT_SERVER_SUPERVISOR_H
#define FANOUT_SERVER_SUPERVISOR_H

#include "engine.h"

/* Runs `workers` children, each calling child(opts, listen_fd) and exiting with its result.
 * A child that dies unexpectedly is logged and replaced. On SIGTERM/SIGINT the parent closes its
 * copy of the socket, sends SIGTERM to every child, waits up to opts->shutdown_timeout_ms for
 * them (then SIGKILL), reaps them all and returns 0. */
int fo_supervise(const fo_server_opts *opts, int listen_fd, int workers,
                 int (*child)(const fo_server_opts *opts, int listen_fd));

#endif
