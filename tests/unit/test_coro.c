/* Unit tests of the coroutines (src/coro.c): resume and park in order, coroutines resumed from
 * inside others, stacks reused from the pool and bounded, bad sizes refused, and a stack
 * overflow that dies with a clear message instead of corrupting memory (in a forked child). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout/coro.h"

static fo_coro_pool *pool(size_t stack_size, size_t max_idle) {
    fo_coro_pool_opts o = {.stack_size = stack_size,
                           .max_idle = max_idle,
                           .who = "test_coro",
                           .size_name = "--stack-size"};
    return fo_coro_pool_new(&o);
}

/* A log of steps, to check the order in which the contexts ran. */
static char steps[64];
static void step(char c) {
    size_t n = strlen(steps);
    assert_true(n + 1 < sizeof steps);
    steps[n] = c;
}

static void parks_twice(void *arg) {
    assert_ptr_equal(fo_coro_self(), *(fo_coro **)arg);
    step('a');
    fo_coro_park();
    step('b');
    fo_coro_park();
    step('c');
}

static void test_resume_and_park(void **state) {
    (void)state;
    fo_coro_pool *p = pool(64 * 1024, 4);
    assert_non_null(p);
    memset(steps, 0, sizeof steps);
    fo_coro *co = NULL;
    co = fo_coro_new(p, parks_twice, &co);
    assert_non_null(co);
    assert_null(fo_coro_self());
    assert_int_equal(fo_coro_pool_live(p), 1);
    assert_int_equal(fo_coro_resume(co), 1);
    step('1');
    assert_int_equal(fo_coro_resume(co), 1);
    step('2');
    assert_int_equal(fo_coro_resume(co), 0); /* finished: its stack is back in the pool */
    assert_string_equal(steps, "a1b2c");
    assert_null(fo_coro_self());
    assert_int_equal(fo_coro_pool_live(p), 0);
    assert_int_equal(fo_coro_pool_idle(p), 1);
    fo_coro_pool_free(p);
}

/* Nested: an outer coroutine starts an inner one, which parks back into the outer; the thread
 * then resumes the inner one itself, and it parks back into the thread. */
static fo_coro_pool *nest_pool;
static fo_coro *inner;

static void inner_fn(void *arg) {
    (void)arg;
    step('i');
    fo_coro_park();
    assert_ptr_equal(fo_coro_self(), inner);
    step('j');
}

static void outer_fn(void *arg) {
    fo_coro *self = fo_coro_self();
    (void)arg;
    step('o');
    inner = fo_coro_new(nest_pool, inner_fn, NULL);
    assert_non_null(inner);
    assert_int_equal(fo_coro_resume(inner), 1);
    assert_ptr_equal(fo_coro_self(), self); /* the inner one parked back into us */
    step('O');
}

static void test_nested(void **state) {
    (void)state;
    nest_pool = pool(64 * 1024, 4);
    assert_non_null(nest_pool);
    memset(steps, 0, sizeof steps);
    fo_coro *outer = fo_coro_new(nest_pool, outer_fn, NULL);
    assert_int_equal(fo_coro_resume(outer), 0);
    assert_int_equal(fo_coro_pool_live(nest_pool), 1);
    assert_int_equal(fo_coro_resume(inner), 0);
    assert_string_equal(steps, "oiOj");
    assert_int_equal(fo_coro_pool_live(nest_pool), 0);
    fo_coro_pool_free(nest_pool);
}

/* Stacks: a finished coroutine's stack serves the next one; no more than max_idle are kept;
 * the stack holds at least stack_size bytes and is writable throughout. */
static void where_am_i(void *arg) {
    char local;
    *(uintptr_t *)arg = (uintptr_t)&local;
    fo_coro_park();
}

static void fill_stack(void *arg) {
    size_t n = *(size_t *)arg;
    volatile char *buf = __builtin_alloca(n);
    for (size_t i = 0; i < n; i += 512)
        buf[i] = (char)i;
    buf[n - 1] = 1;
}

static void test_pool(void **state) {
    (void)state;
    fo_coro_pool *p = pool(32 * 1024, 2);
    uintptr_t at[4];
    fo_coro *co[4];
    for (int i = 0; i < 4; i++) {
        co[i] = fo_coro_new(p, where_am_i, &at[i]);
        assert_non_null(co[i]);
        assert_int_equal(fo_coro_resume(co[i]), 1);
    }
    assert_int_equal(fo_coro_pool_live(p), 4);
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < i; j++)
            assert_true(at[i] != at[j]); /* four stacks at once */
        assert_int_equal(fo_coro_resume(co[i]), 0);
    }
    assert_int_equal(fo_coro_pool_live(p), 0);
    assert_int_equal(fo_coro_pool_idle(p), 2); /* two kept, two unmapped */
    uintptr_t again;
    fo_coro *c = fo_coro_new(p, where_am_i, &again);
    assert_int_equal(fo_coro_resume(c), 1);
    assert_int_equal(fo_coro_pool_idle(p), 1);
    assert_true(again == at[0] || again == at[1]); /* a kept stack, not a new one */
    assert_int_equal(fo_coro_resume(c), 0);
    /* 28 KiB of a 32 KiB stack, written from end to end. */
    size_t n = 28 * 1024;
    c = fo_coro_new(p, fill_stack, &n);
    assert_int_equal(fo_coro_resume(c), 0);
    fo_coro_pool_free(p);
}

static void test_bad_sizes(void **state) {
    (void)state;
    errno = 0;
    assert_null(pool(FO_CORO_STACK_MIN - 1, 1));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(pool((size_t)1 << 40, 1));
    assert_int_equal(errno, EINVAL);
    fo_coro_pool *p = pool(FO_CORO_STACK_MIN, 0);
    assert_non_null(p);
    fo_coro_pool_free(p);
}

/* ---- Faults, in a child process --------------------------------------------------------- */

/* Recursion that cannot be turned into a loop: every frame keeps 256 bytes and uses them. */
static int deep(int n) {
    volatile char frame[256];
    frame[0] = (char)n;
    frame[255] = (char)n;
    return n <= 0 ? frame[0] : deep(n - 1) + frame[255];
}

static void overflow(void *arg) {
    (void)arg;
    printf("%d\n", deep(1 << 20));
}

static void bad_pointer(void *arg) {
    (void)arg;
    volatile uintptr_t addr = 16;
    *(volatile int *)addr = 1;
}

/* Runs fn in a coroutine on a 16 KiB stack in a child process; returns its wait status and
 * what it wrote to stderr. The child starts from the default fault handling of a process (the
 * test runner catches faults during a test). */
static int run_child(fo_coro_fn fn, char *err, size_t errlen) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        fo_coro_pool *p = pool(FO_CORO_STACK_MIN, 1);
        if (!p) _exit(3);
        fo_coro *co = fo_coro_new(p, fn, NULL);
        if (!co) _exit(4);
        fo_coro_resume(co);
        _exit(0); /* not reached: the coroutine faults */
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < errlen && (n = read(fds[0], err + len, errlen - 1 - len)) > 0)
        len += (size_t)n;
    err[len] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* Runs fn in a child (run_child), which must die of a memory fault: SIGSEGV or SIGBUS. */
static void expect_fault_death(fo_coro_fn fn, char *err, size_t errlen) {
    int status = run_child(fn, err, errlen);
    assert_true(WIFSIGNALED(status));
    assert_true(WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
}

static void test_overflow_is_a_clear_crash(void **state) {
    (void)state;
    char err[8192];
    /* It dies of the fault itself (SIGBUS where the system reports guard pages so). */
    expect_fault_death(overflow, err, sizeof err);
    assert_non_null(strstr(
        err, "test_coro: coroutine stack overflow (--stack-size 16384 bytes is too small)\n"));
}

static void test_other_faults_are_not_called_overflow(void **state) {
    (void)state;
    char err[8192];
    /* Passed on to the handler that was there before: here the default, death by the signal. */
    expect_fault_death(bad_pointer, err, sizeof err);
    assert_null(strstr(err, "stack overflow"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_and_park),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_bad_sizes),
        cmocka_unit_test(test_overflow_is_a_clear_crash),
        cmocka_unit_test(test_other_faults_are_not_called_overflow),
    };
    printf("# coroutine switch: %s\n", fo_coro_switch_name());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
