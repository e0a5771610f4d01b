/* The open model's arrival schedule (see arrivals.h). */
#include "arrivals.h"

#include <errno.h>
#include <string.h>

/* Offset of a stage's j-th arrival from its start. Doubles keep it within a few ns over years
 * of arrivals; rounding down keeps the offsets non-decreasing. */
static uint64_t offset_ns(double rate, uint64_t j) {
    return (uint64_t)((double)j * 1e9 / rate);
}

/* Arrivals j >= 0 with offset_ns(j) < span. */
static uint64_t count_within(double rate, uint64_t span) {
    if (rate <= 0 || span == 0) return 0;
    uint64_t n = (uint64_t)((double)span * rate / 1e9);
    /* The estimate (rounded down) may be off by one either way: settle it. */
    while (n > 0 && offset_ns(rate, n - 1) >= span)
        n--;
    while (offset_ns(rate, n) < span)
        n++;
    return n;
}

void fo_rates_simple(fo_rates *r, double rate, uint64_t duration_ns) {
    memset(r, 0, sizeof *r);
    fo_rates_add_stage(r, rate, duration_ns);
    fo_rates_finish(r, 0);
}

int fo_rates_add_stage(fo_rates *r, double rate, uint64_t hold_ns) {
    if (r->n_stages >= FO_RATES_MAX_STAGES) return -E2BIG;
    fo_rate_stage *st = &r->stages[r->n_stages++];
    memset(st, 0, sizeof *st);
    st->rate = rate > 0 ? rate : 0;
    st->hold_ns = hold_ns;
    return 0;
}

void fo_rates_finish(fo_rates *r, uint64_t cap_ns) {
    uint64_t t = 0, first = 0;
    r->max_rate = 0;
    for (size_t i = 0; i < r->n_stages; i++) {
        fo_rate_stage *st = &r->stages[i];
        st->start_ns = t;
        st->end_ns = t + st->hold_ns;
        if (cap_ns && st->end_ns > cap_ns) st->end_ns = cap_ns;
        if (st->end_ns < st->start_ns) st->end_ns = st->start_ns;
        st->first = first;
        st->count = count_within(st->rate, st->end_ns - st->start_ns);
        first += st->count;
        t = st->end_ns;
        if (st->rate > r->max_rate) r->max_rate = st->rate;
    }
    r->total_ns = t;
    r->total = first;
}

uint64_t fo_rates_at(const fo_rates *r, uint64_t k) {
    for (size_t i = 0; i < r->n_stages; i++) {
        const fo_rate_stage *st = &r->stages[i];
        if (k < st->first + st->count) return st->start_ns + offset_ns(st->rate, k - st->first);
    }
    return UINT64_MAX;
}

uint64_t fo_rates_count_before(const fo_rates *r, uint64_t t) {
    for (size_t i = 0; i < r->n_stages; i++) {
        const fo_rate_stage *st = &r->stages[i];
        if (t < st->end_ns)
            return st->first + (t > st->start_ns ? count_within(st->rate, t - st->start_ns) : 0);
    }
    return r->total;
}

int fo_rates_stage_at(const fo_rates *r, uint64_t t) {
    for (size_t i = 0; i < r->n_stages; i++)
        if (t >= r->stages[i].start_ns && t < r->stages[i].end_ns) return (int)i;
    return -1;
}
