/* Coroutines on pooled, guarded stacks (fanout/coro.h): the switch and running them. The stacks
 * are coro_stack.c's, the stack-overflow handler coro_overflow.c's (coro_impl.h has the structs).
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
#include "coro_impl.h"

_Thread_local fo_coro *fo_coro__current;

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
    ".globl " #name "\n.hidden " #name "\n.type " #name "," ASM_FUNCTION "\n.p2align 4\n" #name    \
    ":\n"
#define ASM_END(name) ".size " #name ",.-" #name "\n"
#define ASM_TEXT ".pushsection .text\n"
#define ASM_POP ".popsection\n"
#endif

#if defined(__x86_64__)
/* System V: rbx, rbp, r12-r15 and the SSE and x87 control words are the callee's to keep. */
__asm__(ASM_TEXT ASM_FUNC(fo_coro__switch) "    pushq %rbp\n"
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
                                           "    ret\n" ASM_END(fo_coro__switch) ASM_FUNC(
                                               fo_coro__start) "    movq %r12, %rdi\n"
                                                               "    callq *%r13\n"
                                                               "    ud2\n" ASM_END(fo_coro__start)
                                                                   ASM_POP);

/* The frame fo_coro__switch pops for a new coroutine: control words, r15..r12, rbx, rbp, and
 * the address it returns to. */
enum { FRAME_WORDS = 8, FRAME_ARG = 4, FRAME_ENTRY = 3, FRAME_RET = 7 };
#define FRAME_CONTROL 0x037F00001F80ull /* x87 control word 0x37F, MXCSR 0x1F80: the defaults */
#elif defined(__aarch64__)
/* AAPCS64: x19-x28, the frame pointer x29, the link register x30 and d8-d15 are the callee's. */
__asm__(ASM_TEXT ASM_FUNC(
    fo_coro__switch) "    sub sp, sp, #160\n"
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
                         ASM_FUNC(fo_coro__start) "    mov x0, x19\n"
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
    coro_entry(fo_coro__current);
}
#endif

/* Sets co up to start at coro_entry on its next resume (coro_impl.h). */
int fo_coro__prepare(fo_coro *co) {
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
    return fo_coro__current;
}

int fo_coro_resume(fo_coro *co) {
    assert(co->state == CORO_READY || co->state == CORO_PARKED);
    assert(co != fo_coro__current);
    co->resumer = fo_coro__current;
    co->state = CORO_RUNNING;
    fo_coro__current = co;
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
    fo_coro__current = co->resumer;
    assert(co->state == CORO_PARKED || co->state == CORO_DONE);
    if (co->state == CORO_PARKED) return 1;
    fo_coro__release(co);
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
    fo_coro *co = fo_coro__current;
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
    assert(co->state == CORO_RUNNING && fo_coro__current == co);
}
