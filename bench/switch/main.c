/* fanout-switch: what a coroutine switch costs here. A coroutine parks and is resumed N times
 * (two switches a round), then N coroutines are started and finished on pooled stacks. Built
 * twice: fanout-switch with the switch libfanout uses, fanout-switch-ucontext with ucontext,
 * so that the two can be compared on one machine:
 *
 *   build/bin/fanout-switch; build/bin/fanout-switch-ucontext */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanout/cli.h"
#include "fanout/coro.h"

/* fanout-switch's options: the number of rounds (an int, the whole options struct). */
static const fo_cli_opt rows[] = {
    {FO_CLI_INT, "rounds", 0, 0, 1, 1000000000, 1000000, .arg = "N",
     .help = "rounds to time: N resumes and parks, then N coroutines\nstarted and finished"},
    {FO_CLI_ACTION, "help", 'h', .action = FO_CLI_HELP, .help = "this help"},
    {.kind = FO_CLI_END},
};

static const fo_cli cli = {
    .prog = "fanout-switch",
    .rows = rows,
    .col = 20,
    .synopsis = "usage: fanout-switch [--rounds N]\n\n"
                "Prints the cost of one coroutine switch (a resume or a park) and of starting\n"
                "and finishing a coroutine on a pooled stack.\n\n",
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void park_forever(void *arg) {
    (void)arg;
    for (;;)
        fo_coro_park();
}

static void return_at_once(void *arg) {
    (void)arg;
}

int main(int argc, char **argv) {
    int rounds, exit_now;
    fo_cli_result res;
    fo_cli_main(&cli, &rounds, argc, argv, &res, &exit_now);
    if (exit_now >= 0) return exit_now;
    fo_coro_pool_opts o = {.stack_size = FO_CORO_STACK_DEFAULT,
                           .max_idle = 16,
                           .who = "fanout-switch",
                           .size_name = "the stack size"};
    fo_coro_pool *p = fo_coro_pool_new(&o);
    fo_coro *co = p ? fo_coro_new(p, park_forever, NULL) : NULL;
    if (!co) {
        fprintf(stderr, "fanout-switch: cannot create a coroutine\n");
        return 1;
    }
    double t0 = now_s();
    for (int i = 0; i < rounds; i++)
        fo_coro_resume(co);
    double switch_s = now_s() - t0;

    t0 = now_s();
    for (int i = 0; i < rounds; i++)
        fo_coro_resume(fo_coro_new(p, return_at_once, NULL));
    double start_s = now_s() - t0;

    printf("fanout-switch: %s: %.1f ns per switch (%d resumes and parks in %.3f s); "
           "%.1f ns to start and finish a coroutine on a pooled stack\n",
           fo_coro_switch_name(), switch_s * 1e9 / (2.0 * rounds), rounds, switch_s,
           start_s * 1e9 / rounds);
    /* The parked coroutine is abandoned with its pool: the process ends here. */
    return 0;
}
