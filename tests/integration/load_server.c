/* A tiny misbehaving HTTP server for fanout-load's integration tests. It binds 127.0.0.1 on
 * port 0, prints "load_server: listening on 127.0.0.1:PORT" on stdout, and serves each connection
 * on a thread of its own:
 *
 *   load_server [--delay MS] [--mode MODE] [--serial] [--die-after N] [--lifetime S]
 *               [--accept-max N] [--log-peers] [--delays MS,MS,... [--per-delay N]]
 *
 * MODE is one of
 *   ok         answer 200 after MS ms, keep-alive (the default)
 *   close      answer 200 after MS ms with "Connection: close", then close
 *   eof-body   answer 200 without a length, the body ending at close (valid HTTP/1.1)
 *   cut        send the headers and half the body, then close (a response cut short)
 *   never      read requests and never answer
 *   garbage    answer with bytes that are not HTTP
 *   status500  answer 500 after MS ms, keep-alive
 *   idle-close answer 200 keep-alive, then close the connection once it is idle 0.2 s
 *
 * --serial makes the server work on one request at a time, whatever the connections: a request
 * waits for the one before to be answered, then takes its MS ms (a server of capacity 1, as
 * prefork with one worker). --die-after N exits the whole process after N answers, never more
 * (a server dying mid-run). --lifetime S (default 120) ends the process in any case, so a
 * forgotten server never lingers. --accept-max N serves its first N connections and accepts
 * no more: it listens with a backlog of 0 and, after the Nth, connects to itself once so that
 * this connection fills the accept queue; every later connect then waits in SYN retries (1 s,
 * 3 s, ...), a connect that is slow for as long as the test runs (Linux's backlog rules).
 * --log-peers prints "peer ADDR" on stdout for each connection accepted, ADDR its source address
 * (fanout-load --source's test).
 *
 * --delays MS,MS,... gives connections answer times that differ, in a pattern fixed by the order
 * in which connections send their first request (a connection that never sends one, such as
 * fanout-load's reachability probe, takes no place): the first N (--per-delay, default 1) answer
 * in the first MS, the next N in the second, and so on, round the list again after the last. So
 * any run that opens the same number of connections gets the same mix of answer times, however
 * its connections are spread over processes (the test of --segment merges relies on it). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SIGPIPE is ignored instead */
#endif

static int delay_ms;
static const char *mode = "ok";
static long die_after = -1;
static long answered;
static long claimed; /* answers begun (claim_answer) */
static int serial;
static long accept_max = -1;
static int log_peers;
#define MAX_DELAYS 16
static int delays[MAX_DELAYS], n_delays, per_delay = 1;
static long requesting; /* connections that sent a first request, with --delays */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t work = PTHREAD_MUTEX_INITIALIZER; /* held while working, with --serial */

static const char body[] = "{\"name\": \"Albania\", \"code\": \"AL\"}";

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until a blank line ends a request head. 1 when one arrived, 0 on EOF or error. */
static int read_request(int fd, char *buf, size_t cap, size_t *have) {
    for (;;) {
        char *end = NULL;
        if (*have >= 4) {
            buf[*have] = '\0';
            end = strstr(buf, "\r\n\r\n");
        }
        if (end) {
            size_t used = (size_t)(end + 4 - buf);
            memmove(buf, buf + used, *have - used);
            *have -= used;
            return 1;
        }
        if (*have >= cap - 1) return 0;
        ssize_t n = recv(fd, buf + *have, cap - 1 - *have, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        *have += (size_t)n;
    }
}

/* With --die-after N, the right to answer: answers N+1 and later never go out (their threads
 * wait for the process to end), so that no more than N answers are written even when several
 * threads answer at once (counting after each write let two threads both write the Nth). */
static void claim_answer(void) {
    pthread_mutex_lock(&lock);
    long n = ++claimed;
    pthread_mutex_unlock(&lock);
    if (die_after >= 0 && n > die_after)
        for (;;)
            pause();
}

static void count_answer(void) {
    pthread_mutex_lock(&lock);
    answered++;
    int die = die_after >= 0 && answered >= die_after;
    pthread_mutex_unlock(&lock);
    if (die) _exit(0);
}

static int idle_for(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, ms) == 0;
}

/* The answer time of a connection sending its first request: --delay, or its place in the
 * --delays pattern. */
static int first_request_delay(void) {
    if (!n_delays) return delay_ms;
    pthread_mutex_lock(&lock);
    long place = requesting++;
    pthread_mutex_unlock(&lock);
    return delays[(place / per_delay) % n_delays];
}

/* Parses "MS,MS,..." into delays. 0, or -1 when it is not a list of 1 to MAX_DELAYS values. */
static int parse_delays(const char *list) {
    n_delays = 0;
    for (const char *p = list; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 600000 || n_delays == MAX_DELAYS) return -1;
        delays[n_delays++] = (int)v;
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        p = end;
    }
    return n_delays ? 0 : -1;
}

static void *serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[8192], out[512];
    size_t have = 0;
    int one = 1, delay = -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while (read_request(fd, buf, sizeof buf, &have)) {
        if (delay < 0) delay = first_request_delay();
        if (strcmp(mode, "never") == 0) continue;
        if (serial) pthread_mutex_lock(&work);
        sleep_ms(delay);
        int n;
        if (strcmp(mode, "garbage") == 0) {
            n = snprintf(out, sizeof out, "this is not HTTP at all\r\n\r\n");
        } else if (strcmp(mode, "cut") == 0) {
            n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%.10s",
                         sizeof body - 1, body);
        } else if (strcmp(mode, "eof-body") == 0) {
            n = snprintf(out, sizeof out,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n%s", body);
        } else {
            int status = strcmp(mode, "status500") == 0 ? 500 : 200;
            int close_it = strcmp(mode, "close") == 0;
            n = snprintf(out, sizeof out,
                         "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
                         "%zu\r\n%s\r\n%s",
                         status, status == 200 ? "OK" : "Internal Server Error", sizeof body - 1,
                         close_it ? "Connection: close\r\n" : "", body);
        }
        claim_answer();
        int written = write_all(fd, out, (size_t)n);
        if (serial) pthread_mutex_unlock(&work);
        count_answer(); /* a claimed answer counts even if the client left: N claims, N counts */
        if (written < 0) break;
        if (strcmp(mode, "ok") != 0 && strcmp(mode, "status500") != 0 &&
            strcmp(mode, "idle-close") != 0)
            break;
        if (strcmp(mode, "garbage") == 0) break;
        if (strcmp(mode, "idle-close") == 0 && have == 0 && idle_for(fd, 200)) break;
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    int lifetime = 120;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--delay") == 0 && i + 1 < argc)
            delay_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
            mode = argv[++i];
        else if (strcmp(argv[i], "--serial") == 0)
            serial = 1;
        else if (strcmp(argv[i], "--die-after") == 0 && i + 1 < argc)
            die_after = atol(argv[++i]);
        else if (strcmp(argv[i], "--lifetime") == 0 && i + 1 < argc)
            lifetime = atoi(argv[++i]);
        else if (strcmp(argv[i], "--accept-max") == 0 && i + 1 < argc)
            accept_max = atol(argv[++i]);
        else if (strcmp(argv[i], "--log-peers") == 0)
            log_peers = 1;
        else if (strcmp(argv[i], "--delays") == 0 && i + 1 < argc) {
            if (parse_delays(argv[++i]) < 0) {
                fprintf(stderr,
                        "load_server: --delays takes 1 to %d ms values, comma-separated, "
                        "not '%s'\n",
                        MAX_DELAYS, argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--per-delay") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0)
            per_delay = atoi(argv[++i]);
        else {
            fprintf(stderr, "load_server: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)lifetime);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(s, accept_max >= 0 ? 0 : 1024) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0) {
        perror("load_server");
        return 1;
    }
    printf("load_server: listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (long accepted = 0;; accepted++) {
        if (accept_max >= 0 && accepted == accept_max) {
            /* Plug the queue with a connection of our own, then only serve. */
            int plug = socket(AF_INET, SOCK_STREAM, 0);
            if (plug < 0 || connect(plug, (struct sockaddr *)&a, sizeof a) < 0) {
                perror("load_server: plug");
                return 1;
            }
            for (;;)
                pause();
        }
        struct sockaddr_in peer;
        socklen_t peer_len = sizeof peer;
        int fd = accept(s, (struct sockaddr *)&peer, &peer_len);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
            /* Out of a system-wide resource (other tests on a busy machine): wait, retry. */
            if (errno == ENFILE || errno == ENOBUFS || errno == ENOMEM || errno == EAGAIN) {
                usleep(10000);
                continue;
            }
            perror("load_server: accept");
            return 1;
        }
        if (log_peers) {
            char ip[INET_ADDRSTRLEN] = "?";
            inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
            printf("peer %s\n", ip);
            fflush(stdout);
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
