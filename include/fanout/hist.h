/* A latency histogram in the style of HdrHistogram: log-linear buckets over nanoseconds, so that
 * every recorded value is known to within 0.1% of itself from 1 ns up to about 73 minutes, in a
 * fixed 270 KB and with O(1) recording. Raw samples are never kept or sorted. The exact count,
 * sum, minimum and maximum are kept beside the buckets, so those figures carry no error at all.
 *
 * Histograms with the same layout merge by adding their buckets, so per-thread or per-second
 * histograms combine into exactly the histogram that one recorder would have built.
 *
 * Pure computation: no I/O, no clock, no threads. A histogram is not thread-safe; give each
 * thread its own and merge them. */
#ifndef FANOUT_HIST_H
#define FANOUT_HIST_H

#include <stddef.h>
#include <stdint.h>

/* Each power-of-two range [2^k, 2^(k+1)) is split into 2^FO_HIST_SUB_BITS equal buckets, so a
 * bucket is at most 1/1024 of the values in it wide: every value in it is within 0.098% of any
 * other, and within 0.05% of the midpoint that queries report. Values below 2048 ns are exact. */
#define FO_HIST_SUB_BITS 10
#define FO_HIST_SUB_COUNT (1u << FO_HIST_SUB_BITS)
/* The largest value kept in its own bucket: 2^42 - 1 ns, about 73 minutes. Larger values are
 * counted in the last bucket; the exact maximum and sum still see them as they are. */
#define FO_HIST_MAX_NS ((UINT64_C(1) << 42) - 1)
#define FO_HIST_BUCKETS ((42 - FO_HIST_SUB_BITS) * FO_HIST_SUB_COUNT + FO_HIST_SUB_COUNT)

typedef struct fo_hist {
    uint64_t *counts; /* FO_HIST_BUCKETS counters, owned */
    uint64_t n;       /* values recorded */
    uint64_t sum_ns;  /* exact sum of the values */
    uint64_t min_ns;  /* exact minimum; UINT64_MAX while empty */
    uint64_t max_ns;  /* exact maximum; 0 while empty */
    size_t lo, hi;    /* the non-empty buckets all lie in [lo, hi); lo == hi while empty */
} fo_hist;

/* Caller-allocated; allocates the buckets. 0, or -ENOMEM. Free with fo_hist_free. */
int fo_hist_init(fo_hist *h);
void fo_hist_free(fo_hist *h);

/* Empties h, keeping its memory. Costs only the range of buckets that was used. */
void fo_hist_reset(fo_hist *h);

/* Records one value in nanoseconds. */
void fo_hist_record(fo_hist *h, uint64_t ns);

/* Adds every value of src to dst, as if they had been recorded in dst. */
void fo_hist_merge(fo_hist *dst, const fo_hist *src);

/* Adds `count` values to bucket `index` (< FO_HIST_BUCKETS) whose exact values are not known,
 * as when reading exported buckets back: the count and the used range grow, and the sum,
 * minimum and maximum take the bucket's lower and upper bounds. A reader that knows the exact
 * sum, minimum and maximum sets those fields afterwards. */
void fo_hist_add_bucket(fo_hist *h, size_t index, uint64_t count);

/* The bucket a value falls in, and the bucket's bounds [*lo_ns, *hi_ns). For tests and for
 * writers that export the buckets. */
size_t fo_hist_index(uint64_t ns);
void fo_hist_bucket_bounds(size_t index, uint64_t *lo_ns, uint64_t *hi_ns);

/* The value at 0-based rank r of the sorted values (r < n), to within 0.05%: the midpoint of its
 * bucket, kept inside the exact [min, max]. 0 when empty; r beyond the end gives the maximum. */
uint64_t fo_hist_value_at_rank(const fo_hist *h, uint64_t r);

/* The p-th percentile (0 < p <= 100) by the nearest-rank definition: the value at rank
 * ceil(p/100 * n) - 1. p = 100 gives the exact maximum; 0 when empty. */
uint64_t fo_hist_percentile(const fo_hist *h, double p);

/* The exact mean in nanoseconds; 0 when empty. */
double fo_hist_mean(const fo_hist *h);

#endif
