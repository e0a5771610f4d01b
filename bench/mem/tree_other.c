/* fanout-mem where neither /proc (Linux) nor libproc (macOS) is there: it builds, and says
 * plainly that it cannot measure, rather than print figures it does not have. */
#if !defined(__linux__) && !defined(__APPLE__)

#include <stdio.h>

#include "tree.h"

int fo_mem_tree_read(fo_mem_tree *t, char *err, size_t errlen) {
    (void)t;
    snprintf(err, errlen,
             "this system is not supported: fanout-mem reads Linux's /proc or "
             "macOS's libproc");
    return -1;
}

int fo_mem_sockets_read(fo_mem_sockets *s, char *err, size_t errlen) {
    (void)s;
    snprintf(err, errlen, "--sockets reads Linux's /proc/net/sockstat, which this system lacks");
    return -1;
}

#endif
