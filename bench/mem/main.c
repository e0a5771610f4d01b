/* fanout-mem: what a model costs in memory, measured honestly.
 *
 *   fanout-mem PID        the process tree of PID (PID and every descendant) as one JSON object
 *   fanout-mem --sockets  the system's socket memory as one JSON object
 *
 * A sum of RSS over a process tree counts every shared page (libc, libcurl, OpenSSL, the
 * binary) once per process: for 100 prefork workers it reads ten times what they cost. This
 * reports PSS instead (each shared page split between the processes that map it), plus what the
 * kernel holds for the tree's tasks, with the RSS sum beside them only for comparison with top.
 * The scripts (bench.sh, bench-scale.sh) call it once a sample. It costs about 0.1 ms of CPU a
 * process, mostly the kernel's in writing the /proc files: 10,000 processes took 0.9 s of CPU
 * (2.5 s of wall time on a busy 2-core VM), where a shell loop starting a reader per process
 * took tens of seconds. The measuring is in tree_<system>.c; this file is the command line and
 * the one place where the parts add up. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

static void usage(FILE *f) {
    fputs("usage: fanout-mem PID\n"
          "       fanout-mem --sockets\n"
          "\n"
          "PID: measures the process tree of PID (PID and all its descendants) and prints one\n"
          "JSON object:\n"
          "  procs, tasks        processes and threads in the tree\n"
          "  pss_kib             proportional set size: shared pages split between the\n"
          "                      processes that map them (macOS: the physical footprint)\n"
          "  kernel_kib          page_tables_kib + kstack_kib + task_struct_kib: what the\n"
          "                      kernel holds for the tree's tasks (null where unknown)\n"
          "  page_tables_kib     VmPTE of every process\n"
          "  kstack_kib          a kernel stack per thread (its size read from the system)\n"
          "  task_struct_kib     a task struct per thread (its slab size read from the system)\n"
          "  rss_sum_kib         VmRSS summed over the processes: counts each shared page once\n"
          "                      per process, as top does; only for comparison\n"
          "  unknown             the parts this system does not give\n"
          "A model's memory is pss_kib + kernel_kib.\n"
          "\n"
          "--sockets: the system's socket counts and TCP/UDP buffer memory from\n"
          "/proc/net/sockstat (Linux); the same for every model, so reported apart.\n"
          "\n"
          "Exit status: 0, 1 when the process does not exist or cannot be read, 2 on bad\n"
          "arguments.\n",
          f);
}

/* "null" for an unknown (-1) figure, else the number. */
static void print_kib(const char *key, long long v) {
    if (v < 0)
        printf(",\"%s\":null", key);
    else
        printf(",\"%s\":%lld", key, v);
}

/* A per-task size times the tasks, in KiB rounded; -1 when the size is unknown. */
static long long per_task_kib(long long bytes, long tasks) {
    return bytes < 0 ? -1 : (bytes * tasks + 512) / 1024;
}

static int print_tree(pid_t pid) {
    fo_mem_tree t = {.root = pid};
    char err[512];
    if (fo_mem_tree_read(&t, err, sizeof err) != 0) {
        fprintf(stderr, "fanout-mem: %s\n", err);
        return 1;
    }
    long long kstack = per_task_kib(t.kstack_bytes, t.tasks);
    long long task_struct = per_task_kib(t.task_struct_bytes, t.tasks);
    /* The kernel's part is the sum of the parts known; null when none is (macOS). */
    long long kernel = -1;
    const long long parts[] = {t.page_tables_kib, kstack, task_struct};
    const char *const names[] = {"page_tables_kib", "kstack_kib", "task_struct_kib"};
    for (size_t i = 0; i < 3; i++)
        if (parts[i] >= 0) kernel = (kernel < 0 ? 0 : kernel) + parts[i];
    printf("{\"pid\":%d,\"procs\":%ld,\"tasks\":%ld,\"pss_kib\":%lld", (int)t.root, t.procs,
           t.tasks, t.pss_kib);
    print_kib("kernel_kib", kernel);
    for (size_t i = 0; i < 3; i++)
        print_kib(names[i], parts[i]);
    printf(",\"rss_sum_kib\":%lld", t.rss_sum_kib);
    print_kib("kstack_bytes_per_task", t.kstack_bytes);
    print_kib("task_struct_bytes", t.task_struct_bytes);
    printf(",\"unknown\":[");
    const char *sep = "";
    for (size_t i = 0; i < 3; i++)
        if (parts[i] < 0) {
            printf("%s\"%s\"", sep, names[i]);
            sep = ",";
        }
    printf("]}\n");
    return ferror(stdout) ? 1 : 0;
}

static int print_sockets(void) {
    fo_mem_sockets s;
    char err[512];
    if (fo_mem_sockets_read(&s, err, sizeof err) != 0) {
        fprintf(stderr, "fanout-mem: %s\n", err);
        return 1;
    }
    long long mem = s.tcp_mem_kib + (s.udp_mem_kib > 0 ? s.udp_mem_kib : 0);
    printf("{\"sockets_used\":%ld,\"tcp_inuse\":%ld,\"tcp_orphan\":%ld,\"tcp_tw\":%ld,"
           "\"tcp_alloc\":%ld,\"tcp_mem_kib\":%lld,\"udp_inuse\":%ld",
           s.used, s.tcp_inuse, s.tcp_orphan, s.tcp_tw, s.tcp_alloc, s.tcp_mem_kib, s.udp_inuse);
    print_kib("udp_mem_kib", s.udp_mem_kib);
    printf(",\"sockets_kib\":%lld}\n", mem);
    return ferror(stdout) ? 1 : 0;
}

/* A bad command line, in the binaries' one format (fo_cli_error in fanout/cli.h, which this
 * program, built without libfanout, cannot call): "fanout-mem: REASON (try --help)", exit 2. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fanout-mem: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (try --help)\n", stderr);
    return 2;
}

int main(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--sockets") == 0) return print_sockets();
    if (argc != 2 || argv[1][0] == '-') {
        if (argc >= 2 && argv[1][0] == '-' && strcmp(argv[1], "--sockets") != 0)
            return usage_error("unknown option %s", argv[1]);
        return usage_error("give one PID, or --sockets");
    }
    char *end;
    errno = 0;
    long pid = strtol(argv[1], &end, 10);
    if (errno || end == argv[1] || *end || pid <= 0 || pid != (long)(pid_t)pid)
        return usage_error("'%s' is not a process ID (a whole number above 0)", argv[1]);
    return print_tree((pid_t)pid);
}
