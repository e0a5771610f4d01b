/* fanout-mem's measurements: what a process tree costs in memory, and what the system's sockets
 * hold. One implementation per system (tree_linux.c, tree_darwin.c, tree_other.c), each behind
 * its own #if, so that the program builds everywhere and says plainly what it cannot measure. */
#ifndef FANOUT_MEM_TREE_H
#define FANOUT_MEM_TREE_H

#include <stddef.h>
#include <sys/types.h>

/* A process tree: the root and every descendant, measured once. Sizes that this system cannot
 * give are -1 ("unknown"), never a guess. */
typedef struct fo_mem_tree {
    pid_t root;
    long procs; /* processes in the tree */
    long tasks; /* their threads (each process counts at least one) */
    /* User memory. PSS splits each shared page between the processes that map it, so a tree's
     * PSS is what it adds to the machine; the RSS sum counts a shared page once per process (as
     * top shows each process), kept only for comparison. macOS: PSS is the physical footprint. */
    long long pss_kib, rss_sum_kib;
    /* What the kernel holds for the tree's tasks: page tables (per process), and a kernel stack
     * and a task struct per thread, whose sizes are read from the system (see tree_linux.c). */
    long long page_tables_kib;
    long long kstack_bytes;      /* one task's kernel stack */
    long long task_struct_bytes; /* one task's task struct, with its share of the slab */
} fo_mem_tree;

/* Measures the tree rooted at t->root. 0, or -1 with err set to one line saying what failed:
 * ESRCH-like "no process N" when the root does not exist. */
int fo_mem_tree_read(fo_mem_tree *t, char *err, size_t errlen);

/* The system's socket memory (Linux /proc/net/sockstat): the same for every model in a run, so
 * reported apart from any tree. Counts and KiB; -1 where not given. */
typedef struct fo_mem_sockets {
    long used; /* sockets of every kind */
    long tcp_inuse, tcp_orphan, tcp_tw, tcp_alloc;
    long long tcp_mem_kib; /* TCP buffers: sockstat's pages x the page size */
    long udp_inuse;
    long long udp_mem_kib;
} fo_mem_sockets;

/* 0, or -1 with err set (for instance: this system has no /proc/net/sockstat). */
int fo_mem_sockets_read(fo_mem_sockets *s, char *err, size_t errlen);

#endif
