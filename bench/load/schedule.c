/* Locust's spawn schedule and stages (see schedule.h). */
#include "schedule.h"

#include <errno.h>
#include <string.h>

static uint32_t diff_u32(uint32_t a, uint32_t b) {
    return a > b ? a - b : b - a;
}

/* How long a ramp over `delta` users lasts: from its first batch to its last. */
static uint64_t ramp_ns(const fo_sched *s, uint32_t delta) {
    if (delta == 0 || s->interval_ns == 0) return 0;
    uint64_t batches = (delta + s->batch - 1) / s->batch;
    return (batches - 1) * s->interval_ns;
}

void fo_sched_simple(fo_sched *s, uint32_t users, double rate, uint64_t duration_ns) {
    memset(s, 0, sizeof *s);
    s->n_stages = 1;
    s->stages[0].users = users;
    /* The hold lasts to the end: fo_sched_finish caps it at the duration. */
    s->stages[0].hold_ns = UINT64_MAX / 4;
    fo_sched_finish(s, rate, duration_ns);
}

int fo_sched_add_stage(fo_sched *s, uint32_t users, uint64_t hold_ns) {
    if (s->n_stages >= FO_SCHED_MAX_STAGES) return -E2BIG;
    fo_stage *st = &s->stages[s->n_stages++];
    memset(st, 0, sizeof *st);
    st->users = users;
    st->hold_ns = hold_ns;
    return 0;
}

void fo_sched_finish(fo_sched *s, double rate, uint64_t cap_ns) {
    s->rate = rate > 0 ? rate : 0;
    s->batch = rate >= 1.0 ? (uint32_t)rate : 1;
    s->interval_ns = rate > 0 ? (uint64_t)((double)s->batch / rate * 1e9 + 0.5) : 0;
    uint64_t t = 0;
    uint32_t prev = 0;
    s->max_users = 0;
    for (size_t i = 0; i < s->n_stages; i++) {
        fo_stage *st = &s->stages[i];
        st->ramp_start_ns = t;
        st->hold_start_ns = t + ramp_ns(s, diff_u32(prev, st->users));
        st->end_ns = st->hold_start_ns + st->hold_ns;
        if (cap_ns && st->end_ns > cap_ns) st->end_ns = cap_ns;
        if (cap_ns && st->hold_start_ns > cap_ns) st->hold_start_ns = cap_ns;
        t = st->end_ns;
        prev = st->users;
        if (st->users > s->max_users) s->max_users = st->users;
    }
    s->total_ns = t;
}

/* The stage whose ramp or hold contains t, or -1 after the end. */
static int stage_index(const fo_sched *s, uint64_t t) {
    for (size_t i = 0; i < s->n_stages; i++)
        if (t < s->stages[i].end_ns) return (int)i;
    return -1;
}

uint32_t fo_sched_users_at(const fo_sched *s, uint64_t t) {
    int i = stage_index(s, t);
    if (i < 0) return 0;
    const fo_stage *st = &s->stages[i];
    uint32_t prev = i > 0 ? s->stages[i - 1].users : 0;
    if (t < st->ramp_start_ns) return prev; /* cannot happen: stages are contiguous */
    if (s->interval_ns == 0 || t >= st->hold_start_ns) return st->users;
    uint64_t batches = (t - st->ramp_start_ns) / s->interval_ns + 1;
    uint64_t moved = batches * s->batch;
    uint32_t delta = diff_u32(prev, st->users);
    if (moved > delta) moved = delta;
    return st->users > prev ? prev + (uint32_t)moved : prev - (uint32_t)moved;
}

uint64_t fo_sched_next_change(const fo_sched *s, uint64_t t) {
    uint32_t now = fo_sched_users_at(s, t);
    /* Candidate times: the next batch of the current ramp, or the next stage's first batch. */
    for (size_t i = 0; i < s->n_stages; i++) {
        const fo_stage *st = &s->stages[i];
        if (st->end_ns <= t) continue;
        if (st->end_ns >= s->total_ns && t >= st->hold_start_ns) return UINT64_MAX;
        uint64_t next;
        if (t < st->hold_start_ns && s->interval_ns) {
            uint64_t k = t < st->ramp_start_ns ? 0 : (t - st->ramp_start_ns) / s->interval_ns + 1;
            next = st->ramp_start_ns + k * s->interval_ns;
        } else {
            next = st->end_ns;
        }
        if (next >= s->total_ns) return UINT64_MAX;
        if (fo_sched_users_at(s, next) != now) return next;
        t = next; /* a stage with the same count as before: look further */
        now = fo_sched_users_at(s, t);
        i = (size_t)-1; /* rescan from the stage that contains the new t */
    }
    return UINT64_MAX;
}

int fo_sched_stage_at(const fo_sched *s, uint64_t t) {
    int i = stage_index(s, t);
    if (i < 0) return -1;
    return t >= s->stages[i].hold_start_ns ? i : -1;
}

uint64_t fo_sched_share(uint64_t total, unsigned k, unsigned n) {
    if (n == 0 || total <= k) return 0;
    return (total - k - 1) / n + 1;
}

uint64_t fo_sched_index(unsigned k, unsigned n, uint64_t i) {
    return i * n + k;
}

unsigned fo_sched_slot(unsigned segment, unsigned n_segments, unsigned thread) {
    return segment + n_segments * thread;
}
