/* fanout-switch: what a coroutine switch costs here. A coroutine parks and is resumed N times
 * (two switches a round), then N coroutines are started and finished on pooled stacks. Built
 * twice: fanout-switch with the switch libfanout uses, fanout-switch-ucontext with ucontext,
 * so that the two can be compared on one machine:
 *
 *   build/bin/fanout-switch; build/bin/fanout-switch-ucontext
 *
 * With --tasks N it also times a hop round a ring of N processes and of N threads (ring.h): what
 * a switch between prefork's workers costs here, and between threads' workers. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/cli.h"
#include "fanout/coro.h"
#include "fanout/sys.h"
#include "ring.h"

typedef struct switch_opts {
    int rounds; /* coroutine rounds */
    int tasks;  /* the rings' size, 0 for no rings */
    int hops;   /* hops to time round each ring */
} switch_opts;

static const fo_cli_opt rows[] = {
    {FO_CLI_INT, "rounds", 0, offsetof(switch_opts, rounds), 1, 1000000000, 1000000, .arg = "N",
     .help = "rounds to time: N resumes and parks, then N coroutines\nstarted and finished"},
    {FO_CLI_INT, "tasks", 0, offsetof(switch_opts, tasks), 0, 100000, 0, .arg = "N",
     .help = "also time a hop round a ring of N processes, then of\nN threads (0: no rings)"},
    {FO_CLI_INT, "hops", 0, offsetof(switch_opts, hops), 1, 1000000000, 20000, .arg = "H",
     .help = "hops to time round each ring, rounded up to whole laps"},
    {FO_CLI_ACTION, "help", 'h', .action = FO_CLI_HELP, .help = "this help"},
    {.kind = FO_CLI_END},
};

static const fo_cli cli = {
    .prog = "fanout-switch",
    .rows = rows,
    .col = 20,
    .synopsis = "usage: fanout-switch [--rounds N] [--tasks N [--hops H]]\n\n"
                "Prints the cost of one coroutine switch (a resume or a park) and of starting\n"
                "and finishing a coroutine on a pooled stack. With --tasks, also the cost of a\n"
                "hop between processes and between threads: a byte passed round a ring of N,\n"
                "each task asleep in read() until its neighbour writes (a wake-up and a switch\n"
                "a hop; between processes, of address space too).\n\n",
};

static double now_s(void) {
    return (double)fo_now_ns() / 1e9;
}

/* Parks until *stop is set, then finishes. */
static void park_until_stopped(void *arg) {
    const int *stop = arg;
    while (!*stop)
        fo_coro_park();
}

static void return_at_once(void *arg) {
    (void)arg;
}

/* Times the two rings; 0, or 1 after saying why one could not run. */
static int time_rings(int tasks, int hops) {
    static const struct {
        fo_ring_kind kind;
        const char *name;
    } kinds[] = {{FO_RING_PROCESSES, "processes"}, {FO_RING_THREADS, "threads of one process"}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        double ns;
        long timed;
        char err[160];
        if (fo_ring_time(kinds[k].kind, tasks, hops, &ns, &timed, err, sizeof err) != 0) {
            fprintf(stderr, "fanout-switch: %s\n", err);
            return 1;
        }
        printf("fanout-switch: a hop round a ring of %d %s: %.2f us (%ld hops)\n", tasks,
               kinds[k].name, ns / 1e3, timed);
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv) {
    switch_opts opts;
    int exit_now;
    fo_cli_result res;
    fo_cli_main(&cli, &opts, argc, argv, &res, &exit_now);
    if (exit_now >= 0) return exit_now;
    if (opts.tasks == 1) return fo_cli_error(cli.prog, "--tasks: a ring needs at least 2 tasks");
    int rounds = opts.rounds;
    fo_coro_pool_opts o = {.stack_size = FO_CORO_STACK_DEFAULT,
                           .max_idle = 16,
                           .who = "fanout-switch",
                           .size_name = "the stack size"};
    fo_coro_pool *p = fo_coro_pool_new(&o);
    int stop = 0;
    fo_coro *co = p ? fo_coro_new(p, park_until_stopped, &stop) : NULL;
    if (!co) {
        fprintf(stderr, "fanout-switch: cannot create a coroutine\n");
        if (p) fo_coro_pool_free(p);
        return 1;
    }
    double t0 = now_s();
    for (int i = 0; i < rounds; i++)
        fo_coro_resume(co);
    double switch_s = now_s() - t0;
    stop = 1;
    int parked = fo_coro_resume(co);
    assert(!parked);
    (void)parked;

    t0 = now_s();
    for (int i = 0; i < rounds; i++) {
        fo_coro *once = fo_coro_new(p, return_at_once, NULL);
        if (!once) {
            fprintf(stderr, "fanout-switch: cannot create a coroutine\n");
            fo_coro_pool_free(p);
            return 1;
        }
        fo_coro_resume(once);
    }
    double start_s = now_s() - t0;

    printf("fanout-switch: %s: %.1f ns per switch (%d resumes and parks in %.3f s); "
           "%.1f ns to start and finish a coroutine on a pooled stack\n",
           fo_coro_switch_name(), switch_s * 1e9 / (2.0 * rounds), rounds, switch_s,
           start_s * 1e9 / rounds);
    fflush(stdout);
    fo_coro_pool_free(p);
    return opts.tasks > 0 ? time_rings(opts.tasks, opts.hops) : 0;
}
