/* Process-level utilities (see fanout/sys.h): the open-files plan, listening sockets, whole-number
 * flags and the monotonic clock. */
#include "fanout/sys.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

long fo_fd_hard_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -errno;
    rlim_t want = rl.rlim_max;
#ifdef __APPLE__
    /* macOS reports RLIM_INFINITY as the hard limit but refuses more than OPEN_MAX here. */
    if (want == RLIM_INFINITY || want > 10240) want = 10240;
#endif
    if (want == RLIM_INFINITY || want > 1048576) want = 1048576;
    return (long)want;
}

long fo_fd_raise_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -errno;
    long want = fo_fd_hard_limit();
    if (want < 0) return want;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)want) return want;
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = (rlim_t)want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = old;
    return (long)rl.rlim_cur;
}

long fo_fd_max_conns(const fo_fd_need *need, long limit) {
    if (need->per_conn <= 0 || limit <= need->fixed) return 0;
    return (limit - need->fixed) / need->per_conn;
}

int fo_fd_plan(const char *prog, const char *what, const fo_fd_need *need, long min_conns,
               long *max_conns, const char *advice) {
    long limit = fo_fd_raise_limit();
    if (limit < 0) {
        fprintf(stderr, "%s: cannot read the open-files limit: %s\n", prog, strerror((int)-limit));
        return -1;
    }
    long fits = fo_fd_max_conns(need, limit);
    long want = *max_conns > 0 ? *max_conns : min_conns;
    if (fits < want) {
        long hard = fo_fd_hard_limit();
        fprintf(stderr,
                "%s: %s needs %ld descriptors (%ld fixed + %ld per connection x %ld connections), "
                "but the open-files limit is %ld (hard limit %ld): raise the hard limit (ulimit "
                "-Hn)%s%s\n",
                prog, what, need->fixed + need->per_conn * want, need->fixed, need->per_conn, want,
                limit, hard, advice ? " or " : "", advice ? advice : "");
        return -1;
    }
    if (*max_conns <= 0) *max_conns = fits;
    long total = need->fixed + need->per_conn * *max_conns;
    fo_fd_table_reserve(total < limit ? total : limit);
    return 0;
}

void fo_fd_table_reserve(long fds) {
    if (fds <= 64) return;
    /* F_DUPFD takes the lowest free descriptor at or above fds - 1: it never closes one. */
    int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, (int)(fds - 1));
    if (fd < 0) {
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0) return;
        fd = fcntl(null, F_DUPFD_CLOEXEC, (int)(fds - 1));
        close(null);
    }
    if (fd >= 0) close(fd);
}

#ifdef __linux__
/* A whole number read from a /proc file, or -1. */
static long read_proc_long(const char *path) {
    FILE *f = fopen(path, "r");
    long v = -1;
    if (!f) return -1;
    if (fscanf(f, "%ld", &v) != 1) v = -1;
    fclose(f);
    return v;
}
#endif

long fo_tasks_available(void) {
    long avail = -1;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        if (rl.rlim_cur < rl.rlim_max) {
            rlim_t old = rl.rlim_cur;
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NPROC, &rl) != 0) rl.rlim_cur = old;
        }
        /* The limit counts every task of the user, which is not cheap to count: only the limit
         * itself is known here. */
        if (rl.rlim_cur != RLIM_INFINITY) avail = (long)rl.rlim_cur;
    }
#ifdef __linux__
    /* /proc/loadavg's fourth field is "running/total" tasks of the whole system. */
    long pid_max = read_proc_long("/proc/sys/kernel/pid_max");
    long threads_max = read_proc_long("/proc/sys/kernel/threads-max");
    long sys_max =
        pid_max > 0 && (threads_max <= 0 || pid_max < threads_max) ? pid_max : threads_max;
    FILE *f = fopen("/proc/loadavg", "r");
    long running = 0, total = -1;
    if (f) {
        if (fscanf(f, "%*s %*s %*s %ld/%ld", &running, &total) != 2) total = -1;
        fclose(f);
    }
    if (sys_max > 0 && total >= 0) {
        long left = sys_max - total;
        if (avail < 0 || left < avail) avail = left;
    }
#endif
    return avail < 0 ? -1 : avail;
}

int fo_listen_tcp(const char *host, int port, int backlog, int *bound_port, char *err,
                  size_t errlen) {
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    int one = 1;
    if (fd < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(err, errlen, "cannot read the bound port: %s", strerror(errno));
        close(fd);
        return -1;
    }
    *bound_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int fo_parse_long(const char *s, long min, long max, long *out) {
    if (!s || !*s) return -EINVAL;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -EINVAL;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno == ERANGE || v < min || v > max) return -ERANGE;
    *out = v;
    return 0;
}

uint64_t fo_now_ns(void) {
    struct timespec ts;
    int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
    assert(rc == 0); /* CLOCK_MONOTONIC is always there on the systems we build for */
    (void)rc;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
