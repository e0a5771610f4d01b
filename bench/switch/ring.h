/* What a switch between tasks costs here, beside a coroutine's: a byte passed round a ring of N
 * tasks, each asleep in read() on its own pipe until its neighbour writes to it. Every hop is a
 * write, a wake-up and a switch to another task: with processes (prefork's workers) a switch of
 * address space too, with threads of one process (threads' workers) not. On bare hardware the
 * two cost about the same whatever N; on a virtual machine that keeps the guest's page tables in
 * software (shadow paging, PVM) a switch of address space grows dearer with the address spaces
 * there are, which is what makes prefork's CPU per page grow with its workers there. */
#ifndef FANOUT_RING_H
#define FANOUT_RING_H

#include <stddef.h>

/* The kind of task a ring is made of. */
typedef enum fo_ring_kind { FO_RING_PROCESSES, FO_RING_THREADS } fo_ring_kind;

/* A ring member that outlives its ring (its parent killed outright) ends after this long:
 * Linux ends it at once (PR_SET_PDEATHSIG), other systems by this alarm. */
#define FO_RING_WATCHDOG_S 600

/* Times `hops` hops (rounded up to whole laps) round a ring of `tasks` tasks of `kind`, after
 * two laps to warm it. Returns 0 with the time of a hop in *ns_per_hop and the hops timed in
 * *hops_timed; or -EINVAL with a one-line reason in err (too few tasks, descriptors or tasks the
 * system will not give). Every task it started has ended when it returns. */
int fo_ring_time(fo_ring_kind kind, int tasks, long hops, double *ns_per_hop, long *hops_timed,
                 char *err, size_t errlen);

#endif
