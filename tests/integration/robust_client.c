/* A misbehaving HTTP client for the robustness tests: it sends what it is given, in the ways
 * real clients get it wrong, and reports exactly what came back.
 *
 *   robust_client PORT [--slow MS [--slow-after N]] [--shut] [--reset-after N] [--timeout MS]
 *                                                                            < request bytes
 *       Connects to 127.0.0.1:PORT and sends stdin: all at once, or one byte every MS ms
 *       (--slow; with --slow-after N, its first N bytes at once and the rest one by one),
 * optionally only its first N bytes followed by a reset (SO_LINGER 0;
 *       --reset-after), optionally followed by a half-close (--shut). Everything the server sends
 *       is copied to stdout, then two lines:
 *           #STATUS <status of each whole answer, in order, e.g. "200 404">
 *           #END eof|reset|timeout|sent-reset ms=<since connect> sent=<bytes sent>
 *       eof: the server closed cleanly; reset: the connection was reset; timeout: the server
 *       neither answered nor closed within --timeout (default 10000 ms) of the last byte sent.
 *
 *   robust_client PORT --hold N [--hold-ms MS]
 *       Opens N connections at once (non-blocking connects), sends nothing and keeps them for
 *       MS ms (default 3000), then prints one line
 *           #HOLD connected=<c> closed-by-server=<k> pending=<p>
 *       and closes them all. Used to exhaust descriptors or fill the accept queue.
 *
 * Exit status 0 unless the client itself failed (bad arguments, cannot connect: 2). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_INPUT (1u << 20)

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_num(const char *s, long max, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || v < 0 || v > max) return -1;
    *out = v;
    return 0;
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)port);
    return a;
}

static int set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Reads all of stdin (the request bytes, possibly binary). */
static char *read_stdin(size_t *len) {
    char *buf = malloc(MAX_INPUT);
    size_t n = 0;
    if (!buf) return NULL;
    for (;;) {
        ssize_t r = read(0, buf + n, MAX_INPUT - n);
        if (r > 0) n += (size_t)r;
        if (r == 0 || n == MAX_INPUT) break;
        if (r < 0 && errno != EINTR) break;
    }
    *len = n;
    return buf;
}

/* Closes fd so that the kernel sends a reset rather than a FIN. */
static void reset_close(int fd) {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* Everything received, kept to list the answers' statuses at the end. */
static char *got;
static size_t got_len, got_cap;

static void keep(const char *data, size_t n) {
    if (got_len + n > got_cap) {
        size_t cap = (got_len + n) * 2;
        char *p = realloc(got, cap);
        if (!p) return; /* the status list will be short; the raw copy on stdout is complete */
        got = p;
        got_cap = cap;
    }
    memcpy(got + got_len, data, n);
    got_len += n;
}

/* Prints the status of every whole answer received, in order, walking the answers by their
 * Content-Length; "?" marks bytes that are not an HTTP answer. */
static void print_statuses(void) {
    size_t off = 0;
    printf("#STATUS");
    while (off < got_len) {
        const char *start = got + off;
        size_t left = got_len - off;
        const char *end = NULL;
        for (size_t i = 0; i + 3 < left; i++)
            if (memcmp(start + i, "\r\n\r\n", 4) == 0) {
                end = start + i + 4;
                break;
            }
        if (left < 12 || memcmp(start, "HTTP/1.", 7) != 0 || !end) {
            printf(" ?");
            break;
        }
        printf(" %.3s", start + 9);
        size_t body = 0;
        for (const char *h = start; h < end; h++) {
            if ((size_t)(end - h) > 17 && strncasecmp(h, "\r\nContent-Length:", 17) == 0) {
                body = (size_t)strtoul(h + 17, NULL, 10);
                break;
            }
        }
        off += (size_t)(end - start) + body;
    }
    printf("\n");
}

/* Copies what is readable to stdout. 1 while open, 0 on EOF, -1 on reset or error. */
static int drain(int fd) {
    char buf[16384];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            fwrite(buf, 1, (size_t)n, stdout);
            keep(buf, (size_t)n);
            continue;
        }
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
        return -1;
    }
}

/* --slow-after: bytes sent at once before the slow ones. */
static long slow_after;

static int send_mode(int port, long slow_ms, int shut, long reset_after, long timeout_ms) {
    size_t len = 0;
    char *data = read_stdin(&len);
    if (!data) return 2;
    if (reset_after >= 0 && (size_t)reset_after < len) len = (size_t)reset_after;

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(port);
    long long t0 = now_ms();
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "robust_client: cannot connect to port %d: %s\n", port, strerror(errno));
        free(data);
        return 2;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_NOSIGPIPE
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    set_nonblocking(fd);

    size_t sent = 0;
    int state = 1; /* 1 open, 0 eof, -1 reset */
    long long next_send = t0, last_sent = t0;
    /* Sends (all at once or byte by byte) while copying whatever the server answers. */
    while (sent < len && state == 1) {
        long long now = now_ms();
        if (now >= next_send) {
            size_t chunk = len - sent;
            if (slow_ms > 0 && sent >= (size_t)slow_after)
                chunk = 1;
            else if (slow_ms > 0 && (size_t)slow_after - sent < chunk)
                chunk = (size_t)slow_after - sent;
            ssize_t n = send(fd, data + sent, chunk, 0);
            if (n > 0) {
                sent += (size_t)n;
                last_sent = now_ms();
                next_send = slow_ms > 0 ? last_sent + slow_ms : last_sent;
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                state = -1; /* EPIPE, ECONNRESET: the server is gone */
                break;
            }
        }
        if (sent == len) break;
        /* Byte by byte: sleep until the next byte is due. All at once: until writable. */
        long long wait = slow_ms > 0 ? next_send - now_ms() : 1000;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (slow_ms <= 0) p.events |= POLLOUT;
        if (poll(&p, 1, wait > 0 ? (int)wait : 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
            state = drain(fd);
    }
    free(data);
    const char *how;
    if (reset_after >= 0 && state == 1) {
        reset_close(fd);
        how = "sent-reset";
    } else {
        if (shut && state == 1) shutdown(fd, SHUT_WR);
        long long deadline = last_sent + timeout_ms;
        while (state == 1) {
            long long left = deadline - now_ms();
            if (left <= 0) break;
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, (int)left) > 0) state = drain(fd);
        }
        how = state == 0 ? "eof" : state < 0 ? "reset" : "timeout";
        close(fd);
    }
    printf("\n");
    print_statuses();
    printf("#END %s ms=%lld sent=%zu\n", how, now_ms() - t0, sent);
    free(got);
    return 0;
}

static int hold_mode(int port, long n, long hold_ms) {
    int *fds = calloc((size_t)n, sizeof *fds);
    struct pollfd *p = calloc((size_t)n, sizeof *p);
    char *state = calloc((size_t)n, 1); /* 0 connecting, 1 connected, 2 closed by the server */
    if (!fds || !p || !state) return 2;
    struct sockaddr_in a = loopback(port);
    for (long i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0) {
            fprintf(stderr, "robust_client: socket: %s\n", strerror(errno));
            return 2;
        }
        set_nonblocking(fds[i]);
        if (connect(fds[i], (struct sockaddr *)&a, sizeof a) == 0)
            state[i] = 1;
        else if (errno != EINPROGRESS)
            state[i] = 2;
    }
    long long deadline = now_ms() + hold_ms;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) break;
        long k = 0;
        for (long i = 0; i < n; i++) {
            if (state[i] == 2) continue;
            p[k].fd = fds[i];
            p[k].events = state[i] == 0 ? POLLOUT : POLLIN;
            p[k].revents = 0;
            k++;
        }
        if (k == 0 || poll(p, (nfds_t)k, left > 200 ? 200 : (int)left) <= 0) continue;
        for (long i = 0, j = 0; i < n; i++) {
            if (state[i] == 2) continue;
            short ev = p[j++].revents;
            if (!ev) continue;
            if (state[i] == 0) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &el);
                state[i] = err ? 2 : 1;
            } else {
                char buf[4096];
                ssize_t r = recv(fds[i], buf, sizeof buf, 0);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) state[i] = 2;
            }
        }
    }
    long connected = 0, closed = 0, pending = 0;
    for (long i = 0; i < n; i++) {
        if (state[i] == 1)
            connected++;
        else if (state[i] == 2)
            closed++;
        else
            pending++;
        close(fds[i]);
    }
    printf("#HOLD connected=%ld closed-by-server=%ld pending=%ld\n", connected, closed, pending);
    free(fds);
    free(p);
    free(state);
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: robust_client PORT [--slow MS [--slow-after N]] [--shut] [--reset-after N] "
            "[--timeout MS] < request\n"
            "       robust_client PORT --hold N [--hold-ms MS]\n");
}

int main(int argc, char **argv) {
    long port = 0, slow_ms = 0, reset_after = -1, timeout_ms = 10000, hold = 0, hold_ms = 3000;
    int shut = 0;
    signal(SIGPIPE, SIG_IGN); /* a send to a closed connection is reported, not fatal */
    if (argc < 2 || parse_num(argv[1], 65535, &port) != 0) {
        usage();
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        long *target = NULL, max = 3600000;
        if (strcmp(argv[i], "--shut") == 0) {
            shut = 1;
            continue;
        }
        if (strcmp(argv[i], "--slow") == 0)
            target = &slow_ms;
        else if (strcmp(argv[i], "--slow-after") == 0)
            target = &slow_after;
        else if (strcmp(argv[i], "--reset-after") == 0)
            target = &reset_after;
        else if (strcmp(argv[i], "--timeout") == 0)
            target = &timeout_ms;
        else if (strcmp(argv[i], "--hold") == 0)
            target = &hold, max = 100000;
        else if (strcmp(argv[i], "--hold-ms") == 0)
            target = &hold_ms;
        if (!target || i + 1 >= argc || parse_num(argv[i + 1], max, target) != 0) {
            usage();
            return 2;
        }
        i++;
    }
    if (hold > 0) return hold_mode((int)port, hold, hold_ms);
    return send_mode((int)port, slow_ms, shut, reset_after, timeout_ms);
}
