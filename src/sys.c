#include "fanout/sys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

long fo_raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -errno;
    rlim_t want = rl.rlim_max;
#ifdef __APPLE__
    /* macOS reports RLIM_INFINITY as the hard limit but refuses more than OPEN_MAX here. */
    if (want == RLIM_INFINITY || want > 10240) want = 10240;
#endif
    if (want == RLIM_INFINITY || want > 1048576) want = 1048576;
    if (rl.rlim_cur < want) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = old;
    }
    return (long)rl.rlim_cur;
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

int fo_flag_int(const char *prog, const char *flag, const char *value, long min, long max, int *out) {
    long v;
    if (fo_parse_long(value, min, max, &v) != 0) {
        fprintf(stderr, "%s: --%s must be a whole number from %ld to %ld, not '%s'\n", prog, flag,
                min, max, value);
        return -1;
    }
    *out = (int)v;
    return 0;
}
