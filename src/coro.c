/* Coroutines on pooled, guarded stacks (fanout/coro.h).
 *
 * A coroutine is resumed from some context (the thread's own stack or another coroutine) and
 * parks back into that same context, like Lua's asymmetric coroutines. Its struct lives at the
 * top of its own mapping, above the stack, so that the stack grows away from it:
 *
 *   low                                                                      high
 *   | guard (PROT_NONE) | stack, growing down ...              | struct fo_coro |
 *
 * The switch saves the callee-saved registers on the current stack, stores the stack pointer,
 * loads the other one and restores its registers: a function call's worth of work. glibc's
 * swapcontext does the same plus a sigprocmask system call per switch, which is why it is only
 * the fallback (bench/switch measures both). */
#if defined(FANOUT_CORO_UCONTEXT) || !(defined(__x86_64__) || defined(__aarch64__)) ||          \
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

/* Below every stack: enough that a function with a few KiB of locals still lands in it. */
#define GUARD_BYTES 16384u
/* The largest stack a pool accepts. */
#define STACK_MAX (1024u * 1024u * 1024u)
/* The alternate signal stack the overflow handler runs on (a sanitizer's handler runs there
 * too when we pass a fault on, so not the bare minimum). */
#define ALTSTACK_BYTES (64u * 1024u)

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

static _Thread_local fo_coro *current;

/* ---- The switch --------------------------------------------------------------------------- */

#ifndef CORO_UCONTEXT
/* fo_coro__switch(&save_sp, load_sp): pushes the callee-saved registers, stores the stack
 * pointer in *save_sp, loads load_sp and pops the registers saved there; returns into the
 * other context. A new coroutine's stack is laid out so that the first switch into it
 * "returns" into fo_coro__start, which calls entry(co) with both taken from saved registers. */
void fo_coro__switch(void **save_sp, void *load_sp);
void fo_coro__start(void);

#if defined(__APPLE__)
#define ASM_FUNC(name) ".globl _" #name "\n.private_extern _" #name "\n.p2align 4\n_" #name ":\n"
#define ASM_END(name) ""
#define ASM_TEXT ".text\n"
#define ASM_POP ""
#else
#if defined(__aarch64__)
#define ASM_FUNCTION "%function"
#else
#define ASM_FUNCTION "@function"
#endif
#define ASM_FUNC(name)                                                                             \
    ".globl " #name "\n.hidden " #name "\n.type " #name "," ASM_FUNCTION "\n.p2align 4\n" #name     \
    ":\n"
#define ASM_END(name) ".size " #name ",.-" #name "\n"
#define ASM_TEXT ".pushsection .text\n"
#define ASM_POP ".popsection\n"
#endif

#if defined(__x86_64__)
/* System V: rbx, rbp, r12-r15 and the SSE and x87 control words are the callee's to keep. */
__asm__(ASM_TEXT ASM_FUNC(fo_coro__switch)
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n" ASM_END(fo_coro__switch)
        ASM_FUNC(fo_coro__start)
        "    movq %r12, %rdi\n"
        "    callq *%r13\n"
        "    ud2\n" ASM_END(fo_coro__start) ASM_POP);

/* The frame fo_coro__switch pops for a new coroutine: control words, r15..r12, rbx, rbp, and
 * the address it returns to. */
enum { FRAME_WORDS = 8, FRAME_ARG = 4, FRAME_ENTRY = 3, FRAME_RET = 7 };
#define FRAME_CONTROL 0x037F00001F80ull /* x87 control word 0x37F, MXCSR 0x1F80: the defaults */
#elif defined(__aarch64__)
/* AAPCS64: x19-x28, the frame pointer x29, the link register x30 and d8-d15 are the callee's. */
__asm__(ASM_TEXT ASM_FUNC(fo_coro__switch)
        "    sub sp, sp, #160\n"
        "    stp x19, x20, [sp, #0]\n"
        "    stp x21, x22, [sp, #16]\n"
        "    stp x23, x24, [sp, #32]\n"
        "    stp x25, x26, [sp, #48]\n"
        "    stp x27, x28, [sp, #64]\n"
        "    stp x29, x30, [sp, #80]\n"
        "    stp d8, d9, [sp, #96]\n"
        "    stp d10, d11, [sp, #112]\n"
        "    stp d12, d13, [sp, #128]\n"
        "    stp d14, d15, [sp, #144]\n"
        "    mov x9, sp\n"
        "    str x9, [x0]\n"
        "    mov sp, x1\n"
        "    ldp x19, x20, [sp, #0]\n"
        "    ldp x21, x22, [sp, #16]\n"
        "    ldp x23, x24, [sp, #32]\n"
        "    ldp x25, x26, [sp, #48]\n"
        "    ldp x27, x28, [sp, #64]\n"
        "    ldp x29, x30, [sp, #80]\n"
        "    ldp d8, d9, [sp, #96]\n"
        "    ldp d10, d11, [sp, #112]\n"
        "    ldp d12, d13, [sp, #128]\n"
        "    ldp d14, d15, [sp, #144]\n"
        "    add sp, sp, #160\n"
        "    ret\n" ASM_END(fo_coro__switch)
        ASM_FUNC(fo_coro__start)
        "    mov x0, x19\n"
        "    blr x20\n"
        "    brk #0\n" ASM_END(fo_coro__start) ASM_POP);

/* x19 (the argument), x20 (the entry), ..., x29, x30 (where the first switch returns to). */
enum { FRAME_WORDS = 20, FRAME_ARG = 0, FRAME_ENTRY = 1, FRAME_RET = 11 };
#endif
#endif /* !CORO_UCONTEXT */

const char *fo_coro_switch_name(void) {
#if defined(CORO_UCONTEXT)
    return "ucontext";
#elif defined(__x86_64__)
    return "asm-x86_64";
#else
    return "asm-aarch64";
#endif
}

/* ---- AddressSanitizer and valgrind annotations -------------------------------------------- */

#ifdef CORO_ASAN
#define ASAN_START(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define ASAN_FINISH(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
#define ASAN_START(save, bottom, size) ((void)0)
#define ASAN_FINISH(save, bottom, size) ((void)0)
#endif

/* ---- Running ------------------------------------------------------------------------------ */

/* Where every coroutine begins, on its own stack; it never returns. */
static void coro_entry(fo_coro *co) {
#ifdef CORO_ASAN
    ASAN_FINISH(NULL, &co->resumer_bottom, &co->resumer_size);
#endif
    co->fn(co->arg);
    co->state = CORO_DONE;
    /* NULL: this stack is finished with, as far as AddressSanitizer is concerned. */
    ASAN_START(NULL, co->resumer_bottom, co->resumer_size);
#ifdef CORO_UCONTEXT
    setcontext(&co->resumer_ctx);
#else
    fo_coro__switch(&co->sp, co->resumer_sp);
#endif
    abort(); /* a finished coroutine is never resumed */
}

#ifdef CORO_UCONTEXT
/* makecontext passes only ints; the coroutine being started is the current one. */
static void coro_entry_ucontext(void) {
    coro_entry(current);
}
#endif

/* Sets co up to start at coro_entry on its next resume. 0, or -1 (ucontext could not). */
static int prepare(fo_coro *co) {
#ifdef CORO_UCONTEXT
    if (getcontext(&co->ctx) != 0) return -1;
    co->ctx.uc_stack.ss_sp = co->stack;
    co->ctx.uc_stack.ss_size = co->stack_len;
    co->ctx.uc_link = NULL;
    makecontext(&co->ctx, coro_entry_ucontext, 0);
#else
    /* The top of the stack, 16-byte aligned; after the first switch pops the frame and returns
     * into fo_coro__start, the stack pointer is aligned as a call requires. */
    uintptr_t top = ((uintptr_t)co->stack + co->stack_len) & ~(uintptr_t)15;
    uint64_t *frame = (uint64_t *)(top - 16 - FRAME_WORDS * 8);
    memset(frame, 0, FRAME_WORDS * 8 + 16);
    frame[FRAME_ARG] = (uint64_t)(uintptr_t)co;
    frame[FRAME_ENTRY] = (uint64_t)(uintptr_t)coro_entry;
    frame[FRAME_RET] = (uint64_t)(uintptr_t)fo_coro__start;
#if defined(__x86_64__)
    frame[0] = FRAME_CONTROL;
#endif
    co->sp = frame;
#endif
    return 0;
}

fo_coro *fo_coro_self(void) {
    return current;
}

static void release(fo_coro *co);

int fo_coro_resume(fo_coro *co) {
    assert(co->state == CORO_READY || co->state == CORO_PARKED);
    assert(co != current);
    co->resumer = current;
    co->state = CORO_RUNNING;
    current = co;
#ifdef CORO_ASAN
    void *fake_stack = NULL;
#endif
    ASAN_START(&fake_stack, co->stack, co->stack_len);
#ifdef CORO_UCONTEXT
    swapcontext(&co->resumer_ctx, &co->ctx);
#else
    fo_coro__switch(&co->resumer_sp, co->sp);
#endif
    ASAN_FINISH(fake_stack, NULL, NULL);
    /* Back: co parked or finished. */
    current = co->resumer;
    assert(co->state == CORO_PARKED || co->state == CORO_DONE);
    if (co->state == CORO_PARKED) return 1;
    release(co);
    return 0;
}

/* Bytes below a parking coroutine's stack pointer that the switch itself still uses (the
 * registers it saves, its own frame), with room to spare. */
#define PARK_MARGIN 512u

/* Coroutines alive at most for which parking keeps the pages below the stack pointer: their
 * cost is bounded (a page or two each, under 2 MiB in all), and giving them back costs a
 * madvise and the page faults after the resume, a system call a page for a small server. */
#define KEEP_BELOW_UP_TO 256u

/* A parked coroutine needs only the stack above its stack pointer, but the pages a deeper call
 * touched earlier (libcurl setting up a call, rendering, answering) stay resident: at thousands
 * of pages in flight, a page or two of every parked coroutine. Parking gives them back when more
 * than KEEP_BELOW_UP_TO are alive, so a parked coroutine holds what its frames hold (one page,
 * for the server's handler); a deep call after the resume faults fresh zeroed pages in again. */
static void give_back_below(fo_coro *co) {
    if (co->pool->live <= KEEP_BELOW_UP_TO) return;
    char here;
    uintptr_t low = (uintptr_t)co->stack;
    uintptr_t end = ((uintptr_t)&here - PARK_MARGIN) & ~(uintptr_t)(co->pool->page - 1);
    if (end <= low) return;
#if defined(__APPLE__) && defined(MADV_FREE)
    (void)madvise(co->stack, end - low, MADV_FREE); /* macOS's way to drop anonymous pages */
#else
    (void)madvise(co->stack, end - low, MADV_DONTNEED);
#endif
}

void fo_coro_park(void) {
    fo_coro *co = current;
    assert(co && co->state == CORO_RUNNING);
    give_back_below(co);
    co->state = CORO_PARKED;
    ASAN_START(&co->fake_stack, co->resumer_bottom, co->resumer_size);
#ifdef CORO_UCONTEXT
    swapcontext(&co->ctx, &co->resumer_ctx);
#else
    fo_coro__switch(&co->sp, co->resumer_sp);
#endif
    /* Resumed, perhaps from another context than the last time. */
    ASAN_FINISH(co->fake_stack, &co->resumer_bottom, &co->resumer_size);
    assert(co->state == CORO_RUNNING && current == co);
}

/* ---- Stack overflow ----------------------------------------------------------------------- */

static struct sigaction previous_segv, previous_bus;
static _Thread_local int altstack_ready;

/* A fault in the running coroutine's guard page is a stack overflow: say so, and die of the
 * signal (the default action, once the faulting instruction runs again). Any other fault goes to
 * the handler that was there before us. Only async-signal-safe calls here. */
static void on_fault(int sig, siginfo_t *info, void *uctx) {
    (void)uctx;
    fo_coro *co = current;
    char *addr = info->si_addr;
    if (co && addr >= co->map && addr < co->map + co->pool->guard_len) {
        ssize_t w = write(STDERR_FILENO, co->pool->overflow_msg, co->pool->overflow_len);
        (void)w;
        signal(sig, SIG_DFL);
        return;
    }
    sigaction(sig, sig == SIGBUS ? &previous_bus : &previous_segv, NULL);
}

/* The handler needs a stack of its own: the overflowing one has no room left. One per thread
 * that runs coroutines, kept for the thread's life. One that exists already (a sanitizer's) is
 * kept: it was made for that sanitizer's handler, and ours needs little. */
static int ensure_altstack(void) {
    if (altstack_ready) return 0;
    stack_t old;
    if (sigaltstack(NULL, &old) != 0) return -1;
    if (!(old.ss_flags & SS_DISABLE)) {
        altstack_ready = 1;
        return 0;
    }
    void *mem = mmap(NULL, ALTSTACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (mem == MAP_FAILED) return -1;
    stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_BYTES, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mem, ALTSTACK_BYTES);
        return -1;
    }
    altstack_ready = 1;
    return 0;
}

static int is_ours(const struct sigaction *sa) {
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_fault;
}

/* Installs on_fault for SIGSEGV and SIGBUS, unless it is there already (a later sigaction by
 * someone else replaces it: the next pool puts it back, passing their faults on to them). */
static int install_handler(void) {
    if (ensure_altstack() != 0) return -1;
    struct sigaction now;
    if (sigaction(SIGSEGV, NULL, &now) == 0 && is_ours(&now)) return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    struct sigaction old_segv, old_bus;
    if (sigaction(SIGSEGV, &sa, &old_segv) != 0) return -1;
    if (sigaction(SIGBUS, &sa, &old_bus) != 0) {
        sigaction(SIGSEGV, &old_segv, NULL);
        return -1;
    }
    /* Never pass a fault on to ourselves (SIGBUS may still have been ours). */
    if (!is_ours(&old_segv)) previous_segv = old_segv;
    if (!is_ours(&old_bus)) previous_bus = old_bus;
    return 0;
}

/* ---- The pool ----------------------------------------------------------------------------- */

static size_t round_up(size_t n, size_t to) {
    return (n + to - 1) / to * to;
}

fo_coro_pool *fo_coro_pool_new(const fo_coro_pool_opts *opts) {
    if (opts->stack_size < FO_CORO_STACK_MIN || opts->stack_size > STACK_MAX) {
        errno = EINVAL;
        return NULL;
    }
    if (install_handler() != 0) return NULL;
    fo_coro_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    p->page = page;
    p->stack_size = opts->stack_size;
    p->guard_len = round_up(GUARD_BYTES, page);
    p->map_len = p->guard_len + round_up(opts->stack_size + sizeof(fo_coro), page);
    p->max_idle = opts->max_idle;
    int n = snprintf(p->overflow_msg, sizeof p->overflow_msg,
                     "%s: coroutine stack overflow (%s %zu bytes is too small)\n", opts->who,
                     opts->size_name, opts->stack_size);
    p->overflow_len = n < 0 ? 0 : (size_t)n < sizeof p->overflow_msg ? (size_t)n
                                                                      : sizeof p->overflow_msg - 1;
    return p;
}

static void unmap(fo_coro *co) {
#ifdef CORO_VALGRIND
    VALGRIND_STACK_DEREGISTER(co->vg_stack);
#endif
    munmap(co->map, co->pool->map_len);
}

void fo_coro_pool_free(fo_coro_pool *p) {
    if (!p) return;
    assert(p->live == 0);
    while (p->idle) {
        fo_coro *co = p->idle;
        p->idle = co->next_idle;
        unmap(co);
    }
    free(p);
}

size_t fo_coro_pool_live(const fo_coro_pool *p) {
    return p->live;
}

size_t fo_coro_pool_idle(const fo_coro_pool *p) {
    return p->n_idle;
}

/* A new mapping: guard, stack, and the struct at the top. */
static fo_coro *map_stack(fo_coro_pool *p) {
    char *map = mmap(NULL, p->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return NULL;
    if (mprotect(map, p->guard_len, PROT_NONE) != 0) {
        munmap(map, p->map_len);
        return NULL;
    }
    uintptr_t top = (uintptr_t)map + p->map_len;
    fo_coro *co = (fo_coro *)((top - sizeof(fo_coro)) & ~(uintptr_t)63);
    memset(co, 0, sizeof *co);
    co->pool = p;
    co->map = map;
    co->stack = map + p->guard_len;
    co->stack_len = (size_t)((char *)co - co->stack);
#ifdef CORO_VALGRIND
    co->vg_stack = VALGRIND_STACK_REGISTER(co->stack, (char *)co);
#endif
    return co;
}

fo_coro *fo_coro_new(fo_coro_pool *p, fo_coro_fn fn, void *arg) {
    fo_coro *co = p->idle;
    if (co) {
        p->idle = co->next_idle;
        p->n_idle--;
    } else if (!(co = map_stack(p))) {
        return NULL;
    }
    co->next_idle = NULL;
    co->fn = fn;
    co->arg = arg;
    co->state = CORO_READY;
    co->resumer = NULL;
    if (prepare(co) != 0) {
        unmap(co);
        return NULL;
    }
    p->live++;
    return co;
}

static void release(fo_coro *co) {
    fo_coro_pool *p = co->pool;
    assert(co->state == CORO_DONE && p->live > 0);
    p->live--;
    if (p->n_idle < p->max_idle) {
        co->next_idle = p->idle;
        p->idle = co;
        p->n_idle++;
    } else {
        unmap(co);
    }
}
