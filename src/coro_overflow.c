/* A coroutine's stack overflow (coro_impl.h): a fault in the running coroutine's guard page is
 * reported in one line before the process dies of it; any other fault goes to the handler that
 * was there before. The handler runs on an alternate signal stack of each thread's own. */
#include "coro_impl.h"

/* The alternate signal stack the overflow handler runs on (a sanitizer's handler runs there
 * too when we pass a fault on, so not the bare minimum). */
#define ALTSTACK_BYTES (64u * 1024u)

static struct sigaction previous_segv, previous_bus;
static _Thread_local int altstack_ready;

/* A fault in the running coroutine's guard page is a stack overflow: say so, and die of the
 * signal (the default action, once the faulting instruction runs again). Any other fault goes to
 * the handler that was there before us. Only async-signal-safe calls here. */
static void on_fault(int sig, siginfo_t *info, void *uctx) {
    (void)uctx;
    fo_coro *co = fo_coro__current;
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
    void *mem =
        mmap(NULL, ALTSTACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
int fo_coro__catch_overflow(void) {
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
