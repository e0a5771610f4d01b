/* Coroutine stacks (coro_impl.h): each a mapping of its own, a guard page below the stack and
 * the coroutine's struct above it, kept in a pool for the next coroutine up to max_idle. */
#include "coro_impl.h"

/* Below every stack: enough that a function with a few KiB of locals still lands in it. */
#define GUARD_BYTES 16384u
/* The largest stack a pool accepts. */
#define STACK_MAX (1024u * 1024u * 1024u)

static size_t round_up(size_t n, size_t to) {
    return (n + to - 1) / to * to;
}

fo_coro_pool *fo_coro_pool_new(const fo_coro_pool_opts *opts) {
    if (opts->stack_size < FO_CORO_STACK_MIN || opts->stack_size > STACK_MAX) {
        errno = EINVAL;
        return NULL;
    }
    if (fo_coro__catch_overflow() != 0) return NULL;
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
    p->overflow_len = n < 0                                ? 0
                      : (size_t)n < sizeof p->overflow_msg ? (size_t)n
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
    if (fo_coro__prepare(co) != 0) {
        unmap(co);
        return NULL;
    }
    p->live++;
    return co;
}

void fo_coro__release(fo_coro *co) {
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
