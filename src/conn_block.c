/* Serves one connection with blocking I/O in the calling thread: read a request, run the
 * handler (its fan-out with upstream_block), write the answer, and close with a lingering close.
 *
 * The first request must arrive whole within header_timeout_ms of the connection's start; a
 * later one (keep-alive) may take keepalive_timeout_ms to begin, and then header_timeout_ms from
 * its first byte, whatever the bytes are, so neither a client that sends one byte a second nor
 * one that trickles bare line breaks can hold a worker forever. Reads wait in poll(2) with the
 * time that is left. A signal only interrupts a wait: the wait goes on with the time left, so a
 * worker told to stop still answers the request it has accepted.
 *
 * While the fan-out runs, the client's socket is watched too (fo_upstream_watch): a client that
 * closes or resets stops the calls, and the connection closes without an answer.
 *
 * This file never forks, starts threads or runs a loop: the engine decides who calls it. */
#include "fanout/conn_block.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fanout/handler.h"
#include "fanout/http.h"
#include "fanout/settings.h"

#define READ_CHUNK 16384

#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0
#endif

/* One connection's state: the parser, and bytes received but not parsed yet (the start of a
 * pipelined request). */
typedef struct conn {
    int fd;
    int stop_fd; /* readable: stop waiting for requests (-1: none) */
    fo_http_parser parser;
    fo_request req;
    char buf[READ_CHUNK];
    size_t len;
} conn;

static long long now_ms(void) {
    return (long long)(fo_now_ns() / 1000000u);
}

/* Waits until fd is ready for events or deadline (in now_ms() time) passes. 1 when ready, 0 on
 * timeout, -errno on error. A signal does not end the wait early. */
static int wait_fd(int fd, short events, long long deadline) {
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) return -errno;
    }
}

/* Writes all of the iov[0..n) before deadline, with one gathering send when the socket takes
 * it (the usual case). 0, or -errno (-ETIMEDOUT: the client reads too slowly). */
static int write_all(int fd, struct iovec *iov, int n_iov, long long deadline) {
    for (;;) {
        for (; n_iov > 0 && iov->iov_len == 0; iov++)
            n_iov--;
        if (n_iov == 0) return 0;
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
        ssize_t n = sendmsg(fd, &m, SEND_FLAGS);
        if (n > 0) {
            /* Drop what went out: whole buffers, then the front of a partial one. */
            for (; n_iov > 0 && (size_t)n >= iov->iov_len; iov++, n_iov--)
                n -= (ssize_t)iov->iov_len;
            if (n_iov > 0) {
                iov->iov_base = (char *)iov->iov_base + n;
                iov->iov_len -= (size_t)n;
            }
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc == 0) return -ETIMEDOUT;
            if (rc < 0) return rc;
            continue;
        }
        return n < 0 ? -errno : -EIO;
    }
}

/* Sends resp, its head and then its body from where it is, and frees it; keep_alive 0 says
 * "Connection: close". 0, or -errno when the answer could not be sent. */
static int send_response(conn *c, fo_response *resp, int keep_alive, int timeout_ms) {
    char head[FO_HTTP_HEAD_MAX];
    int head_len = fo_response_head(resp, keep_alive, head, sizeof head);
    int rc = -EINVAL;
    if (head_len >= 0) {
        struct iovec iov[2] = {{.iov_base = head, .iov_len = (size_t)head_len},
                               {.iov_base = resp->body, .iov_len = resp->body_len}};
        rc = write_all(c->fd, iov, 2, now_ms() + timeout_ms);
    }
    fo_response_free(resp);
    return rc;
}

/* Shuts our sending side and discards what the client still sends, until it closes or
 * FO_LINGER_MS pass; then closes. Without this, unread bytes (a pipelined request we will not
 * answer) make the kernel send a reset that can destroy the answer before the client reads it. */
static void lingering_close(int fd) {
    if (shutdown(fd, SHUT_WR) == 0) {
        long long deadline = now_ms() + FO_LINGER_MS;
        char scratch[4096];
        while (wait_fd(fd, POLLIN, deadline) > 0) {
            ssize_t n = recv(fd, scratch, sizeof scratch, 0);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
                break;
        }
    }
    close(fd);
}

/* What reading a request ended with. READ_STOP: the server is stopping (stop_fd). */
typedef enum { READ_REQUEST, READ_BAD, READ_TIMEOUT, READ_CLOSED, READ_STOP } read_result;

/* As wait_fd(c->fd, POLLIN, deadline), watching c->stop_fd too: -ECANCELED when it is ready
 * (readable, or closed at the other end) and the client has nothing to read; what the client
 * has sent is read first, so that a request it completes is still served. */
static int wait_request(conn *c, long long deadline) {
    if (c->stop_fd < 0) return wait_fd(c->fd, POLLIN, deadline);
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) return 0;
        struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
                              {.fd = c->stop_fd, .events = POLLIN}};
        int n = poll(p, 2, left > 60000 ? 60000 : (int)left);
        if (n > 0 && p[0].revents) return 1;
        if (n > 0) return -ECANCELED;
        if (n < 0 && errno != EINTR) return -errno;
    }
}

/* Reads until the parser has a whole request, the deadline passes, the client closes or the
 * bytes are not HTTP. Until the request has started (started: a byte of it has come), deadline
 * is for its first byte; from that byte on, the request has header_timeout_ms to be whole. */
static read_result read_request(conn *c, long long deadline, int started, int header_timeout_ms) {
    for (;;) {
        if (c->len > 0) {
            size_t used = 0;
            int rc = fo_http_parse(&c->parser, c->buf, c->len, &c->req, &used);
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            if (rc == FO_HTTP_REQUEST) return READ_REQUEST;
            if (rc == FO_HTTP_ERROR) return READ_BAD;
        }
        int ready = wait_request(c, deadline);
        if (ready == -ECANCELED) return READ_STOP;
        if (ready == 0) return READ_TIMEOUT;
        if (ready < 0) return READ_CLOSED;
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            if (!started) {
                started = 1;
                deadline = now_ms() + header_timeout_ms;
            }
        } else if (n == 0)
            return READ_CLOSED;
        else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return READ_CLOSED;
    }
}

/* Runs the handler for c->req, blocking through the fan-out, and fills resp. 0, or -ECONNRESET
 * when the client left during the fan-out (resp is then a 502 nobody will read). */
static int handle(conn *c, fo_upstream_block *up, const fo_conn_block_opts *opts,
                  fo_response *resp) {
    fo_fanout fanout;
    if (fo_handle_begin(&c->req, resp, &fanout) == FO_HANDLE_DONE) return 0;
    fo_upstream_watch w = {.client_fd = opts->no_cancel ? -1 : c->fd, .cancel = NULL};
    /* A failed run marks every call failed, so fo_handle_finish answers 502 on its own. */
    int rc = fo_upstream_block_run(up, &fanout, &w);
    fo_handle_finish(&c->req, &fanout, resp);
    return rc == -ECONNRESET ? rc : 0;
}

/* Makes blocking sends time out instead of hanging on a client that never reads: write_all
 * then sees EAGAIN and gives up at its deadline. Best effort: without it, poll still bounds
 * every wait but a single large send could block. */
static void set_send_timeout(int fd, int timeout_ms) {
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
#ifdef SO_NOSIGPIPE
    /* macOS has no MSG_NOSIGNAL; this is its per-socket equivalent. */
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
}

int fo_conn_block_serve(int fd, fo_upstream_block *up, const fo_conn_block_opts *opts) {
    int timeout_ms = opts->header_timeout_ms > 0 ? opts->header_timeout_ms : FO_HEADER_TIMEOUT_MS;
    int idle_ms =
        opts->keepalive_timeout_ms > 0 ? opts->keepalive_timeout_ms : FO_KEEPALIVE_TIMEOUT_MS;
    conn *c = malloc(sizeof *c);
    if (!c) {
        close(fd);
        return 0;
    }
    c->fd = fd;
    c->stop_fd = opts->watch_stop ? opts->stop_fd : -1;
    c->len = 0;
    memset(&c->req, 0, sizeof c->req);
    fo_http_parser_init(&c->parser);
    set_send_timeout(fd, timeout_ms);

    int answered = 0, linger = 1;
    for (;;) {
        fo_response resp;
        /* The first request is due whole from the start; a next one first has to begin. */
        int started = answered == 0 || c->len > 0;
        read_result r =
            read_request(c, now_ms() + (started ? timeout_ms : idle_ms), started, timeout_ms);
        if (r == READ_CLOSED ||
            ((r == READ_TIMEOUT || r == READ_STOP) && !fo_http_parser_mid_request(&c->parser))) {
            /* The client left, or never started a request: there is nobody to answer. */
            linger = 0;
            break;
        }
        if (r == READ_STOP) {
            if (fo_response_text(&resp, 503, "server stopping\n") == 0 &&
                send_response(c, &resp, 0, timeout_ms) == 0)
                answered++;
            break;
        }
        if (r == READ_TIMEOUT) {
            if (fo_response_text(&resp, 408, "request timeout\n") == 0 &&
                send_response(c, &resp, 0, timeout_ms) == 0)
                answered++;
            break;
        }
        if (r == READ_BAD) {
            if (fo_response_text(&resp, c->parser.error_status, c->parser.error_text) == 0 &&
                send_response(c, &resp, 0, timeout_ms) == 0)
                answered++;
            break;
        }
        /* Keep-alive is decided here, from the parser's verdict. max_requests <= 0 means no
         * limit; the last request allowed is told so, with "Connection: close", so the client
         * does not send another one into a closing socket. */
        int keep_alive = fo_http_parser_keep_alive(&c->parser) &&
                         !(opts->max_requests > 0 && answered + 1 >= opts->max_requests);
        if (handle(c, up, opts, &resp) != 0) {
            fo_response_free(&resp); /* the client left: nobody to answer */
            linger = 0;
            break;
        }
        if (send_response(c, &resp, keep_alive, timeout_ms) != 0) {
            linger = 0;
            break;
        }
        answered++;
        if (!keep_alive) break;
    }
    fo_request_free(&c->req);
    free(c);
    if (linger)
        lingering_close(fd);
    else
        close(fd);
    return answered;
}
