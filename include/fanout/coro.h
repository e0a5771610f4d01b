/* Coroutines: a function runs on a stack of its own and can park, handing control back to
 * whoever resumed it, until it is resumed again. An event-loop engine uses them to run code
 * written blocking-style (begin, wait for the fan-out, finish) the way gevent runs greenlets:
 * the code parks where it would block, and the loop resumes it when the wait is over.
 *
 * Stacks come from a pool: mmap'd, with a guard page below each so that an overflow faults
 * instead of writing over other memory. The first pool a process creates installs a SIGSEGV and
 * SIGBUS handler (on an alternate signal stack) that recognises a fault in the running
 * coroutine's guard page, writes "<who>: coroutine stack overflow (<size_name> N bytes is too
 * small)" to stderr and lets the process die of the signal. Other faults go to whichever
 * handler was installed before (the default, or a sanitizer's).
 *
 * The switch is a few instructions of our own on x86_64 and aarch64 and ucontext elsewhere (or
 * everywhere, built with FANOUT_CORO_UCONTEXT); fo_coro_switch_name() says which. Switches are
 * annotated for AddressSanitizer and stacks registered with valgrind when its header exists.
 *
 * Coroutines belong to the thread that created their pool: every call below comes from it. */
#ifndef FANOUT_CORO_H
#define FANOUT_CORO_H

#include <stddef.h>

typedef struct fo_coro fo_coro;
typedef struct fo_coro_pool fo_coro_pool;

typedef void (*fo_coro_fn)(void *arg);

/* The smallest stack a pool accepts, in bytes. */
#define FO_CORO_STACK_MIN 16384u
/* A request's stack unless told otherwise (fanout-server --stack-size): 64 KiB holds a
 * request's handler, libcurl's and libuv's calls from it with room to spare, even under
 * AddressSanitizer; the pages a request never touches cost only address space. */
#define FO_CORO_STACK_DEFAULT 65536

typedef struct fo_coro_pool_opts {
    size_t stack_size; /* usable bytes per stack, at least FO_CORO_STACK_MIN (rounded to pages) */
    size_t max_idle;   /* stacks of finished coroutines kept for reuse; more are unmapped */
    const char *who;   /* the overflow message's prefix, e.g. "fanout-server" */
    const char *size_name; /* what the user calls the stack size there, e.g. "--stack-size" */
} fo_coro_pool_opts;

/* A pool, or NULL with errno set: EINVAL (stack_size too small or too large), ENOMEM, or why
 * the signal handler or alternate signal stack could not be installed. */
fo_coro_pool *fo_coro_pool_new(const fo_coro_pool_opts *opts);

/* Unmaps the idle stacks and frees the pool. Every coroutine of it must have finished. */
void fo_coro_pool_free(fo_coro_pool *p);

/* Coroutines of p started and not finished yet, and stacks kept for reuse. */
size_t fo_coro_pool_live(const fo_coro_pool *p);
size_t fo_coro_pool_idle(const fo_coro_pool *p);

/* A coroutine that will run fn(arg) when first resumed, on a stack from p (a new one when none
 * is idle). NULL when out of memory (the stack could not be mapped). */
fo_coro *fo_coro_new(fo_coro_pool *p, fo_coro_fn fn, void *arg);

/* Runs co (new or parked) until it parks or fn returns. Returns 1 when it parked: resume it
 * later. Returns 0 when it finished: its stack is back in the pool and co must not be used. May
 * be called from inside another coroutine; co then parks back into that one. */
int fo_coro_resume(fo_coro *co);

/* Inside a coroutine: parks it and returns to the fo_coro_resume that ran it. Returns when it
 * is resumed. */
void fo_coro_park(void);

/* The running coroutine, or NULL on the thread's own stack. */
fo_coro *fo_coro_self(void);

/* The context switch compiled in: "asm-x86_64", "asm-aarch64" or "ucontext". */
const char *fo_coro_switch_name(void);

#endif
