/* Accepting for server_uv.c, internal to libfanout: the listening handles, pausing at the cap,
 * the back-off after a failed accept, and the stop. The connection itself is server_uv.c's:
 * each accepted client is handed to fo_server_uv_accepted.
 *
 * libuv watches a listening socket through a handle and offers no way to stop watching it but
 * closing the handle. So the server keeps each listening socket open itself and accepting runs on
 * a handle over a duplicate of it: pausing closes the handles (the socket, its port and its
 * backlog stay), resuming opens new ones. fo_server_uv.accept_state says which it is. */
#ifndef FANOUT_ACCEPT_UV_H
#define FANOUT_ACCEPT_UV_H

#include "fanout/server_uv.h"

/* Sets accepting up (the back-off timer) on s->loop: FO_ACCEPTING, no socket yet. 0 or a
 * negative libuv error. */
int fo_accept_init(fo_server_uv *s);

/* Starts watching listening socket i (s->listen_fds[i]) if the server is accepting. 0 or a
 * negative libuv error. */
int fo_accept_add(fo_server_uv *s, int i);

/* A connection was accepted: at max_conns or max_busy, stop accepting until fo_accept_resume. */
void fo_accept_pause_if_full(fo_server_uv *s);

/* A connection closed or a request was answered: accept again if paused at the cap and now
 * under it. */
void fo_accept_resume(fo_server_uv *s);

/* Accepting a client failed for want of descriptors or memory: stop accepting for a while. */
void fo_accept_back_off(fo_server_uv *s);

/* For good (fo_server_uv_stop): closes the handles, the timer and the listening sockets
 * themselves, so that new clients are refused at once. */
void fo_accept_stop(fo_server_uv *s);

/* In server_uv.c: a client is waiting on listener; accept it. */
void fo_server_uv_accepted(fo_server_uv *s, uv_stream_t *listener);

/* In server_uv.c: one of the server's own handles (a listener, the back-off timer) finished
 * closing; a stopping server may now be drained. */
void fo_server_uv_handle_closed(fo_server_uv *s);

#endif
