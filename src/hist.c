/* The log-linear latency histogram (see fanout/hist.h for the layout and its error bound).
 *
 * Bucket index of a value v: values below 2 * FO_HIST_SUB_COUNT are their own index. Above, with
 * k = floor(log2(v)) and shift = k - FO_HIST_SUB_BITS, the top FO_HIST_SUB_BITS + 1 bits of v
 * (v >> shift, in [SUB_COUNT, 2 * SUB_COUNT)) pick the bucket within the octave, and the octave
 * adds shift * SUB_COUNT. The two formulas meet without a gap, so indexes are dense. */
#include <assert.h>
#include "fanout/hist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static unsigned floor_log2(uint64_t v) {
#if defined(__GNUC__) || defined(__clang__)
    return 63u - (unsigned)__builtin_clzll(v);
#else
    unsigned k = 0;
    while (v >>= 1)
        k++;
    return k;
#endif
}

size_t fo_hist_index(uint64_t ns) {
    if (ns > FO_HIST_MAX_NS) ns = FO_HIST_MAX_NS;
    if (ns < 2 * (uint64_t)FO_HIST_SUB_COUNT) return (size_t)ns;
    unsigned shift = floor_log2(ns) - FO_HIST_SUB_BITS;
    return (size_t)shift * FO_HIST_SUB_COUNT + (size_t)(ns >> shift);
}

void fo_hist_bucket_bounds(size_t index, uint64_t *lo_ns, uint64_t *hi_ns) {
    if (index < 2 * (size_t)FO_HIST_SUB_COUNT) {
        *lo_ns = index;
        *hi_ns = (uint64_t)index + 1;
        return;
    }
    unsigned shift = (unsigned)(index / FO_HIST_SUB_COUNT) - 1;
    uint64_t top = index - (size_t)shift * FO_HIST_SUB_COUNT;
    *lo_ns = top << shift;
    *hi_ns = (top + 1) << shift;
}

int fo_hist_init(fo_hist *h) {
    memset(h, 0, sizeof *h);
    h->counts = calloc(FO_HIST_BUCKETS, sizeof *h->counts);
    if (!h->counts) return -ENOMEM;
    h->min_ns = UINT64_MAX;
    return 0;
}

void fo_hist_free(fo_hist *h) {
    free(h->counts);
    h->counts = NULL;
}

void fo_hist_reset(fo_hist *h) {
    if (h->hi > h->lo) memset(h->counts + h->lo, 0, (h->hi - h->lo) * sizeof *h->counts);
    h->n = 0;
    h->sum_ns = 0;
    h->min_ns = UINT64_MAX;
    h->max_ns = 0;
    h->lo = h->hi = 0;
}

/* Widens the used range [lo, hi) to cover buckets [lo, hi). */
static void widen(fo_hist *h, size_t lo, size_t hi) {
    if (h->lo == h->hi) {
        h->lo = lo;
        h->hi = hi;
        return;
    }
    if (lo < h->lo) h->lo = lo;
    if (hi > h->hi) h->hi = hi;
}

void fo_hist_record(fo_hist *h, uint64_t ns) {
    size_t i = fo_hist_index(ns);
    h->counts[i]++;
    widen(h, i, i + 1);
    h->n++;
    h->sum_ns += ns;
    if (ns < h->min_ns) h->min_ns = ns;
    if (ns > h->max_ns) h->max_ns = ns;
}

void fo_hist_add_bucket(fo_hist *h, size_t index, uint64_t count) {
    assert(index < FO_HIST_BUCKETS);
    if (!count) return;
    uint64_t lo, hi;
    fo_hist_bucket_bounds(index, &lo, &hi);
    h->counts[index] += count;
    widen(h, index, index + 1);
    h->n += count;
    h->sum_ns += count * lo;
    if (lo < h->min_ns) h->min_ns = lo;
    if (hi - 1 > h->max_ns) h->max_ns = hi - 1;
}

void fo_hist_merge(fo_hist *dst, const fo_hist *src) {
    if (src->n == 0) return;
    for (size_t i = src->lo; i < src->hi; i++)
        dst->counts[i] += src->counts[i];
    widen(dst, src->lo, src->hi);
    dst->n += src->n;
    dst->sum_ns += src->sum_ns;
    if (src->min_ns < dst->min_ns) dst->min_ns = src->min_ns;
    if (src->max_ns > dst->max_ns) dst->max_ns = src->max_ns;
}

uint64_t fo_hist_value_at_rank(const fo_hist *h, uint64_t r) {
    if (h->n == 0) return 0;
    if (r >= h->n - 1) return h->max_ns;
    if (r == 0) return h->min_ns;
    uint64_t seen = 0;
    for (size_t i = h->lo; i < h->hi; i++) {
        seen += h->counts[i];
        if (seen > r) {
            uint64_t lo, hi;
            fo_hist_bucket_bounds(i, &lo, &hi);
            /* The midpoint of [lo, hi - 1], the values the bucket can hold. */
            uint64_t v = lo + (hi - 1 - lo) / 2;
            if (v < h->min_ns) v = h->min_ns;
            if (v > h->max_ns) v = h->max_ns;
            return v;
        }
    }
    return h->max_ns;
}

uint64_t fo_hist_percentile(const fo_hist *h, double p) {
    if (h->n == 0) return 0;
    if (p >= 100.0) return h->max_ns;
    /* ceil(want) - 1, without libm. */
    double want = p / 100.0 * (double)h->n;
    uint64_t whole = want > 0.0 ? (uint64_t)want : 0;
    if ((double)whole < want) whole++;
    uint64_t rank = whole ? whole - 1 : 0;
    return fo_hist_value_at_rank(h, rank);
}

double fo_hist_mean(const fo_hist *h) {
    return h->n ? (double)h->sum_ns / (double)h->n : 0.0;
}
