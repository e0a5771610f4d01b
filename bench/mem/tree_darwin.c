/* fanout-mem on macOS: a process tree's memory from libproc.
 *
 * The tree is walked from the root with proc_listchildpids, one call per process. Each process
 * gives its physical footprint (proc_pid_rusage, RUSAGE_INFO_V2's ri_phys_footprint: the pages
 * it dirtied or owns, shared pages excluded, which is what Activity Monitor's "Memory" shows and
 * the closest figure macOS has to Linux's PSS), its resident size and its threads
 * (proc_pidinfo's PROC_PIDTASKINFO). XNU does not publish its per-task kernel structures (page
 * tables, kernel stacks, thread structures) to user space, so the kernel part is reported as
 * unknown here, never guessed. /proc/net/sockstat has no macOS counterpart either. */
#if defined(__APPLE__)

#include <errno.h>
#include <libproc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "tree.h"

/* One process into t. 0 (counted), 1 (ended meanwhile), -1 (err set). */
static int add_process(fo_mem_tree *t, pid_t pid, char *err, size_t errlen) {
    struct proc_taskinfo ti;
    if (proc_pidinfo(pid, PROC_PIDTASKINFO, 0, &ti, sizeof ti) != (int)sizeof ti) {
        if (errno == ESRCH) return 1;
        snprintf(err, errlen, "cannot read process %d: %s%s", (int)pid, strerror(errno),
                 errno == EPERM ? " (measure your own processes, or run as root)" : "");
        return -1;
    }
    struct rusage_info_v2 ri;
    if (proc_pid_rusage(pid, RUSAGE_INFO_V2, (rusage_info_t *)&ri) != 0) {
        if (errno == ESRCH) return 1;
        snprintf(err, errlen, "cannot read the footprint of process %d: %s", (int)pid,
                 strerror(errno));
        return -1;
    }
    t->procs++;
    t->tasks += ti.pti_threadnum > 0 ? ti.pti_threadnum : 1;
    t->pss_kib += (long long)(ri.ri_phys_footprint / 1024);
    t->rss_sum_kib += (long long)(ti.pti_resident_size / 1024);
    return 0;
}

/* Appends pid's children to the queue q of *n entries and *cap slots. 0, or -1 (out of
 * memory). A process that ended has no children. */
static int add_children(pid_t pid, pid_t **q, size_t *n, size_t *cap) {
    for (;;) {
        size_t room = *cap - *n;
        int got = proc_listchildpids(pid, *q + *n, (int)(room * sizeof(pid_t)));
        if (got < 0) return 0;
        /* A full buffer may have cut the list short: grow and ask again. */
        if ((size_t)got < room) {
            *n += (size_t)got;
            return 0;
        }
        pid_t *bigger = realloc(*q, 2 * *cap * sizeof **q);
        if (!bigger) return -1;
        *q = bigger;
        *cap *= 2;
    }
}

int fo_mem_tree_read(fo_mem_tree *t, char *err, size_t errlen) {
    pid_t root = t->root;
    memset(t, 0, sizeof *t);
    t->root = root;
    t->page_tables_kib = t->kstack_bytes = t->task_struct_bytes = -1;
    struct proc_bsdinfo bi;
    if (proc_pidinfo(root, PROC_PIDTBSDINFO, 0, &bi, sizeof bi) != (int)sizeof bi) {
        snprintf(err, errlen, "no process %d", (int)root);
        return -1;
    }
    size_t cap = 256, n = 0;
    pid_t *q = malloc(cap * sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    q[n++] = root;
    int rc = 0;
    for (size_t head = 0; head < n && rc == 0; head++) {
        pid_t pid = q[head];
        if (add_children(pid, &q, &n, &cap) != 0) {
            snprintf(err, errlen, "out of memory walking the tree of %d", (int)root);
            rc = -1;
        } else if (add_process(t, pid, err, errlen) < 0) {
            rc = -1;
        }
    }
    free(q);
    if (rc == 0 && t->procs == 0) {
        snprintf(err, errlen, "process %d ended while it was measured", (int)root);
        rc = -1;
    }
    return rc;
}

int fo_mem_sockets_read(fo_mem_sockets *s, char *err, size_t errlen) {
    (void)s;
    snprintf(err, errlen, "--sockets reads Linux's /proc/net/sockstat; macOS has no such figure");
    return -1;
}

#endif /* __APPLE__ */
