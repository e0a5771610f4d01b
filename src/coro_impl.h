/* What the coroutine files share, and no one else (fanout/coro.h is the interface): which switch
 * this build uses, the sanitizer and valgrind hooks, and the coroutine and pool structs.
 * coro.c switches and runs coroutines, coro_stack.c maps and pools their stacks, and
 * coro_overflow.c turns a fault in a guard page into a message. */
#ifndef FANOUT_CORO_IMPL_H
#define FANOUT_CORO_IMPL_H

#if defined(FANOUT_CORO_UCONTEXT) || !(defined(__x86_64__) || defined(__aarch64__)) ||             \
    defined(_WIN32) || (defined(__CET__) && (__CET__ & 2))
/* ucontext: where we have no switch of our own, or where a shadow stack (CET) forbids one. */
#define CORO_UCONTEXT 1
#if defined(__APPLE__) && !defined(_XOPEN_SOURCE)
/* Without it macOS's <ucontext.h> refuses, or declares a ucontext_t of the wrong size. */
#define _XOPEN_SOURCE 700
#endif
#endif

#include "fanout/coro.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef CORO_UCONTEXT
#include <ucontext.h>
#if defined(__APPLE__)
/* macOS deprecates ucontext (it still works); the warning would fail -Werror builds. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
#endif

/* AddressSanitizer must be told when the stack changes, or it reports false errors. */
#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif
#ifdef CORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORO_VALGRIND 1
#endif
#endif

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif

typedef enum { CORO_READY, CORO_RUNNING, CORO_PARKED, CORO_DONE } coro_state;

struct fo_coro {
    fo_coro_pool *pool;
    fo_coro *next_idle;
    char *map;   /* the mapping: guard, stack, this struct */
    char *stack; /* the lowest usable byte, just above the guard */
    size_t stack_len;
    fo_coro_fn fn;
    void *arg;
    coro_state state;
    fo_coro *resumer; /* the coroutine that resumed this one; NULL: the thread's own stack */
#ifdef CORO_UCONTEXT
    ucontext_t ctx, resumer_ctx;
#else
    void *sp, *resumer_sp; /* saved stack pointers: this coroutine's and its resumer's */
#endif
#ifdef CORO_ASAN
    void *fake_stack;
    const void *resumer_bottom; /* the resumer's stack, for switching back to it */
    size_t resumer_size;
#endif
#ifdef CORO_VALGRIND
    unsigned vg_stack;
#endif
};

struct fo_coro_pool {
    size_t page;       /* the system's page size */
    size_t stack_size; /* as asked, for the message */
    size_t map_len;    /* guard + stack + struct, whole pages */
    size_t guard_len;
    size_t max_idle, n_idle, live;
    fo_coro *idle;
    char overflow_msg[256];
    size_t overflow_len;
};

/* The running coroutine of this thread; NULL on the thread's own stack (coro.c). */
extern _Thread_local fo_coro *fo_coro__current;

/* Sets co up to start its function on its next resume. 0, or -1 (ucontext could not) (coro.c). */
int fo_coro__prepare(fo_coro *co);

/* Takes back a finished coroutine's stack: pooled, or unmapped past max_idle (coro_stack.c). */
void fo_coro__release(fo_coro *co);

/* Installs the stack-overflow handler for this thread, once. 0 or -1 (coro_overflow.c). */
int fo_coro__catch_overflow(void);

#endif
