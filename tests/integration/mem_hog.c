/* A process tree of known memory, for fanout-mem's test (test_mem.sh):
 *
 *   mem_hog [--touch MIB] [--fork K] [--chain] [--threads T] [--lifetime S]
 *
 * The process allocates MIB MiB and writes every page (so each is resident and private to it),
 * then starts T threads that only sleep, then forks K children that read every page and write
 * none (so the pages stay shared copy-on-write: resident in every process, but one copy). With
 * --chain each child forks the next instead, a tree K deep, to show that descendants beyond the
 * first level are counted. When the whole tree is set up it prints "mem_hog: ready PID" (with a
 * note when AddressSanitizer's shadow adds to what it touched) and
 * waits; every process ends on SIGTERM, when its parent ends, or after S seconds (default 60),
 * so a forgotten tree never lingers. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* AddressSanitizer keeps a shadow byte for every 8 bytes the program touches: under it, the
 * process really costs 9/8 of what it touched, and says so for the test to expect. */
#if defined(__SANITIZE_ADDRESS__)
#define SHADOW_NOTE " (address sanitizer: a shadow byte per 8)"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHADOW_NOTE " (address sanitizer: a shadow byte per 8)"
#endif
#endif
#ifndef SHADOW_NOTE
#define SHADOW_NOTE ""
#endif

static volatile sig_atomic_t stop;

static void on_term(int sig) {
    (void)sig;
    stop = 1;
}

static void *sleeper(void *arg) {
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

/* Reads every page of the block, so that the child maps them (shared with the parent). */
static unsigned long read_all(const unsigned char *p, size_t len) {
    unsigned long sum = 0;
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < len; i += (size_t)page)
        sum += p[i];
    return sum;
}

/* Waits, asleep, until told to stop (a signal interrupts poll), the parent is gone (life_fd,
 * the read end of a pipe whose write end only the parent holds, reads end-of-file), or the
 * lifetime is over. life_fd -1: the original process, which has no parent to watch. Asleep,
 * because a tree of thousands of processes that polled would load the machine it measures. */
static void wait_out(int life_fd, int lifetime_s) {
    struct pollfd p = {.fd = life_fd, .events = POLLIN};
    time_t end = time(NULL) + lifetime_s;
    time_t left;
    while (!stop && (left = end - time(NULL)) > 0) {
        int n = poll(&p, life_fd >= 0 ? 1 : 0, (int)left * 1000);
        if (n > 0) return; /* end-of-file: the parent has ended */
    }
}

/* A pipe whose write end this process keeps for its life: its children watch the read end. */
static int life_pipe[2] = {-1, -1};

static long arg_long(const char *flag, const char *v, long max) {
    char *end;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : -1;
    if (!v || errno || *end || n < 0 || n > max) {
        fprintf(stderr, "mem_hog: %s takes a whole number from 0 to %ld\n", flag, max);
        exit(2);
    }
    return n;
}

static pid_t spawn(long after, int chain, const unsigned char *block, size_t len, int lifetime_s,
                   int ready_fd);

/* A child's life: read the block, then (in a chain with links left) fork the next link, else
 * say it is ready; then wait until the parent ends. */
static void child_life(long after, int chain, const unsigned char *block, size_t len,
                       int lifetime_s, int ready_fd) {
    /* Only the parent may hold the write end, or the end-of-file would never come. */
    int parent_fd = life_pipe[0];
    close(life_pipe[1]);
    life_pipe[0] = life_pipe[1] = -1;
    volatile unsigned long sink = read_all(block, len);
    (void)sink;
    if (chain && after > 0)
        spawn(after - 1, chain, block, len, lifetime_s, ready_fd);
    else if (write(ready_fd, "r", 1) != 1)
        _exit(1);
    wait_out(parent_fd, lifetime_s);
    _exit(0);
}

/* Forks one child; after is how many links a chain has below it. The child's PID. */
static pid_t spawn(long after, int chain, const unsigned char *block, size_t len, int lifetime_s,
                   int ready_fd) {
    if (life_pipe[1] < 0 && pipe(life_pipe) != 0) {
        perror("mem_hog: pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("mem_hog: fork");
        exit(1);
    }
    if (pid == 0) child_life(after, chain, block, len, lifetime_s, ready_fd);
    return pid;
}

int main(int argc, char **argv) {
    long mib = 0, forks = 0, threads = 0, lifetime_s = 60;
    int chain = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--touch") == 0)
            mib = arg_long("--touch", v, 4096), i++;
        else if (strcmp(argv[i], "--fork") == 0)
            forks = arg_long("--fork", v, 20000), i++;
        else if (strcmp(argv[i], "--threads") == 0)
            threads = arg_long("--threads", v, 1000), i++;
        else if (strcmp(argv[i], "--lifetime") == 0)
            lifetime_s = arg_long("--lifetime", v, 3600), i++;
        else if (strcmp(argv[i], "--chain") == 0)
            chain = 1;
        else {
            fprintf(stderr, "usage: mem_hog [--touch MIB] [--fork K] [--chain] [--threads T] "
                            "[--lifetime S]\n");
            return 2;
        }
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    /* mmap, not malloc: exactly MIB MiB of pages, whatever the allocator (a sanitizer's adds
     * redzones and its own bookkeeping to a malloc'd block). */
    size_t len = (size_t)mib << 20;
    unsigned char *block = NULL;
    if (len) {
        block = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (block == MAP_FAILED) {
            fprintf(stderr, "mem_hog: cannot map %ld MiB: %s\n", mib, strerror(errno));
            return 1;
        }
    }
    if (len) memset(block, 0x5a, len); /* every page written: resident and private */
    volatile unsigned long sink = len ? read_all(block, len) : 0; /* the writes are used */
    (void)sink;
    for (long i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, sleeper, NULL) != 0) {
            fprintf(stderr, "mem_hog: cannot start thread %ld\n", i + 1);
            return 1;
        }
        pthread_detach(t);
    }
    /* Each child writes a byte here when it has read the block. */
    int ready[2];
    if (pipe(ready) != 0) {
        perror("mem_hog: pipe");
        return 1;
    }
    long want = chain ? (forks > 0) : forks;
    if (chain && forks > 0) spawn(forks - 1, chain, block, len, (int)lifetime_s, ready[1]);
    for (long i = 0; !chain && i < forks; i++)
        spawn(0, chain, block, len, (int)lifetime_s, ready[1]);
    char c;
    for (long got = 0; got < want;)
        if (read(ready[0], &c, 1) == 1)
            got++;
        else if (errno != EINTR)
            return 1;
    printf("mem_hog: ready %d%s\n", (int)getpid(), SHADOW_NOTE);
    fflush(stdout);
    /* Children see this process end (end-of-file on the life pipe) and end too. */
    wait_out(-1, (int)lifetime_s);
    return 0;
}
