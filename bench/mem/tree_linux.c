/* fanout-mem on Linux: a process tree's memory from /proc.
 *
 * Finding the tree: one pass over /proc reads every process's parent from /proc/PID/stat, then
 * the tree is walked from the root over that list sorted by parent. At 10,000 processes this is
 * 10,000 small reads and a sort, not a scan of /proc per process (which would be quadratic).
 *
 * Each process of the tree then gives:
 *   PSS          the Pss line of /proc/PID/smaps_rollup (Linux 4.14+; before that, the sum of
 *                the Pss lines of /proc/PID/smaps, the same figure, slower);
 *   RSS          VmRSS of /proc/PID/status (what top and ps show);
 *   page tables  VmPTE of /proc/PID/status;
 *   threads      Threads of /proc/PID/status.
 * A process that ends while it is read is left out: it costs nothing any more. Kernel threads
 * have no memory map, and count 0 of each.
 *
 * Per thread, the kernel also holds a kernel stack and a task struct. Their sizes are read from
 * the system, not assumed (they vary with the architecture, the kernel's configuration, KASAN):
 *   kernel stack  /proc/meminfo's KernelStack (every task's stack) divided by the tasks on the
 *                 system, /proc/loadavg's fourth field after the slash (nr_threads, which hidepid
 *                 does not hide), rounded to whole pages, which a stack is made of. The
 *                 average alone wanders by a few percent (the CPUs' idle tasks have stacks that
 *                 nr_threads does not count; tasks start and end between the two reads).
 *   task struct   what one task_struct takes of its slab: the slab's pages over the objects it
 *                 holds, from /sys/kernel/slab/task_struct/{order,objs_per_slab} (SLUB, readable
 *                 by anyone), else /proc/slabinfo's task_struct line (root only).
 * When a size cannot be read it is -1, reported as unknown; the rest is still measured. Other
 * per-process kernel structures (mm_struct, the file table, signal handlers) are not counted:
 * the kernel figure is a floor. */
#if defined(__linux__)

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tree.h"

typedef struct proc_link {
    pid_t pid, ppid;
} proc_link;

/* Reads the parent of PID from /proc/PID/stat: the fourth field, after the command, which may
 * hold spaces and parentheses, so the fields are counted from the last ')'. 0, or -1 when the
 * process is gone or the line unreadable. */
static int read_ppid(pid_t pid, pid_t *ppid) {
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *got = fgets(line, sizeof line, f);
    fclose(f);
    if (!got) return -1;
    char *close = strrchr(line, ')');
    char state;
    int parent;
    if (!close || sscanf(close + 1, " %c %d", &state, &parent) != 2) return -1;
    *ppid = (pid_t)parent;
    return 0;
}

/* Every process's (pid, parent), in one pass over /proc. 0, or -1 with err set. */
static int scan_links(proc_link **out, size_t *n, char *err, size_t errlen) {
    DIR *d = opendir("/proc");
    if (!d) {
        snprintf(err, errlen, "cannot read /proc: %s", strerror(errno));
        return -1;
    }
    size_t cap = 1024, k = 0;
    proc_link *links = malloc(cap * sizeof *links);
    struct dirent *e;
    while (links && (e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        proc_link l = {.pid = (pid_t)strtol(e->d_name, NULL, 10)};
        if (read_ppid(l.pid, &l.ppid) != 0) continue; /* ended since readdir */
        if (k == cap) {
            proc_link *bigger = realloc(links, 2 * cap * sizeof *links);
            if (!bigger) {
                free(links);
                links = NULL;
                break;
            }
            links = bigger;
            cap *= 2;
        }
        links[k++] = l;
    }
    closedir(d);
    if (!links) {
        snprintf(err, errlen, "out of memory listing /proc");
        return -1;
    }
    *out = links;
    *n = k;
    return 0;
}

static int by_parent(const void *a, const void *b) {
    const proc_link *x = a, *y = b;
    return (x->ppid > y->ppid) - (x->ppid < y->ppid);
}

/* The first link whose parent is ppid in links sorted by parent, or n when there is none. */
static size_t first_child(const proc_link *links, size_t n, pid_t ppid) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (links[mid].ppid < ppid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The root and its descendants, breadth first, into tree (malloc'd); its length into *n.
 * 0, -1 (out of memory). */
static int walk_tree(pid_t root, proc_link *links, size_t nlinks, pid_t **tree, size_t *n) {
    qsort(links, nlinks, sizeof *links, by_parent);
    /* A tree holds at most every process listed, and the root. */
    pid_t *q = malloc((nlinks + 1) * sizeof *q);
    if (!q) return -1;
    size_t head = 0, tail = 0;
    q[tail++] = root;
    while (head < tail) {
        pid_t p = q[head++];
        for (size_t i = first_child(links, nlinks, p); i < nlinks && links[i].ppid == p; i++)
            if (tail <= nlinks && links[i].pid != root) q[tail++] = links[i].pid;
    }
    *tree = q;
    *n = tail;
    return 0;
}

/* The number after "KEY:" in a "Key: value kB" file, summing every such line (smaps has one a
 * mapping; smaps_rollup, status and meminfo one). 0 (found), 1 (no such line), -1 (the file
 * cannot be read, errno set). */
static int sum_field(const char *path, const char *key, long long *sum) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    size_t klen = strlen(key);
    int found = 0;
    *sum = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            *sum += strtoll(line + klen + 1, NULL, 10);
            found = 1;
        }
    }
    fclose(f);
    return found ? 0 : 1;
}

/* One process of the tree into t. 0 (counted), 1 (ended meanwhile: left out), -1 (err set). */
static int add_process(fo_mem_tree *t, pid_t pid, char *err, size_t errlen) {
    char path[64];
    long long rss = 0, pte = 0, threads = 0, pss = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (sum_field(path, "Threads", &threads) != 0) return 1;
    /* Kernel threads have no VmRSS or VmPTE lines: 0 each. */
    sum_field(path, "VmRSS", &rss);
    sum_field(path, "VmPTE", &pte);
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    int rc = sum_field(path, "Pss", &pss);
    if (rc < 0 && errno == ENOENT && access("/proc/self/smaps_rollup", F_OK) != 0) {
        /* A kernel before 4.14: the same sum over every mapping. */
        snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
        rc = sum_field(path, "Pss", &pss);
    }
    if (rc < 0) {
        if (errno == ENOENT || errno == ESRCH) return 1;
        snprintf(err, errlen, "cannot read %s: %s%s", path, strerror(errno),
                 errno == EACCES ? " (measure your own processes, or run as root)" : "");
        return -1;
    }
    t->procs++;
    t->tasks += threads > 0 ? threads : 1;
    t->pss_kib += pss;
    t->rss_sum_kib += rss;
    t->page_tables_kib += pte;
    return 0;
}

/* One task's kernel stack, in bytes: KernelStack over nr_threads (see the top); -1 unknown. */
static long long kstack_bytes(void) {
    long long stacks_kib;
    if (sum_field("/proc/meminfo", "KernelStack", &stacks_kib) != 0) return -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return -1;
    long running, tasks = 0;
    int got = fscanf(f, "%*s %*s %*s %ld/%ld", &running, &tasks);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    if (got != 2 || tasks <= 0 || stacks_kib <= 0 || page <= 0) return -1;
    /* A stack is whole pages: the nearest number of pages to the average. */
    long long pages = (stacks_kib * 1024 + (long long)tasks * page / 2) / ((long long)tasks * page);
    return (pages > 0 ? pages : 1) * page;
}

static long read_long(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v;
    int got = fscanf(f, "%ld", &v);
    fclose(f);
    return got == 1 ? v : -1;
}

/* One task_struct with its share of the slab, in bytes (see the top); -1 unknown. */
static long long task_struct_bytes(void) {
    long page = sysconf(_SC_PAGESIZE);
    long order = read_long("/sys/kernel/slab/task_struct/order");
    long per_slab = read_long("/sys/kernel/slab/task_struct/objs_per_slab");
    if (page > 0 && order >= 0 && order < 16 && per_slab > 0)
        return ((long long)page << order) / per_slab;
    FILE *f = fopen("/proc/slabinfo", "r");
    if (!f) return -1;
    char line[512];
    long long bytes = -1;
    while (fgets(line, sizeof line, f)) {
        long active, total, size, objs, pages;
        if (sscanf(line, "task_struct %ld %ld %ld %ld %ld", &active, &total, &size, &objs,
                   &pages) == 5 &&
            objs > 0 && page > 0)
            bytes = (long long)pages * page / objs;
    }
    fclose(f);
    return bytes;
}

int fo_mem_tree_read(fo_mem_tree *t, char *err, size_t errlen) {
    pid_t root = t->root, ppid;
    memset(t, 0, sizeof *t);
    t->root = root;
    if (read_ppid(root, &ppid) != 0) {
        snprintf(err, errlen, "no process %d (nothing in /proc/%d)", (int)root, (int)root);
        return -1;
    }
    proc_link *links;
    size_t nlinks, n;
    pid_t *tree;
    if (scan_links(&links, &nlinks, err, errlen) != 0) return -1;
    int rc = walk_tree(root, links, nlinks, &tree, &n);
    free(links);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory walking the tree of %d", (int)root);
        return -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = add_process(t, tree[i], err, errlen) < 0 ? -1 : 0;
    free(tree);
    if (rc != 0) return -1;
    if (t->procs == 0) {
        snprintf(err, errlen, "process %d ended while it was measured", (int)root);
        return -1;
    }
    t->kstack_bytes = kstack_bytes();
    t->task_struct_bytes = task_struct_bytes();
    return 0;
}

/* The "LABEL: key value key value ..." line of /proc/net/sockstat: the value after key, or -1. */
static long sockstat_value(const char *line, const char *label, const char *key) {
    size_t llen = strlen(label);
    if (strncmp(line, label, llen) != 0 || line[llen] != ':') return -1;
    const char *p = line + llen + 1;
    char word[32];
    long value;
    int used;
    while (sscanf(p, "%31s %ld%n", word, &value, &used) == 2) {
        if (strcmp(word, key) == 0) return value;
        p += used;
    }
    return -1;
}

int fo_mem_sockets_read(fo_mem_sockets *s, char *err, size_t errlen) {
    FILE *f = fopen("/proc/net/sockstat", "r");
    if (!f) {
        snprintf(err, errlen, "cannot read /proc/net/sockstat: %s", strerror(errno));
        return -1;
    }
    long page = sysconf(_SC_PAGESIZE);
    char line[512];
    long tcp_pages = -1, udp_pages = -1;
    *s = (fo_mem_sockets){-1, -1, -1, -1, -1, -1, -1, -1};
    while (fgets(line, sizeof line, f)) {
        long v;
        if ((v = sockstat_value(line, "sockets", "used")) >= 0) s->used = v;
        if (strncmp(line, "TCP:", 4) == 0) {
            s->tcp_inuse = sockstat_value(line, "TCP", "inuse");
            s->tcp_orphan = sockstat_value(line, "TCP", "orphan");
            s->tcp_tw = sockstat_value(line, "TCP", "tw");
            s->tcp_alloc = sockstat_value(line, "TCP", "alloc");
            tcp_pages = sockstat_value(line, "TCP", "mem");
        }
        if (strncmp(line, "UDP:", 4) == 0) {
            s->udp_inuse = sockstat_value(line, "UDP", "inuse");
            udp_pages = sockstat_value(line, "UDP", "mem");
        }
    }
    fclose(f);
    if (tcp_pages < 0 || page <= 0) {
        snprintf(err, errlen, "/proc/net/sockstat has no TCP mem figure");
        return -1;
    }
    /* sockstat's mem counts pages of socket buffers (the kernel's tcp_memory_allocated). */
    s->tcp_mem_kib = (long long)tcp_pages * page / 1024;
    s->udp_mem_kib = udp_pages >= 0 ? (long long)udp_pages * page / 1024 : -1;
    return 0;
}

#endif /* __linux__ */
