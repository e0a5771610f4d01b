/* Locust's own ways of summarising, reproduced exactly so that figures can be put beside a
 * Locust run's (see shared WORKLOAD.md): its rounding of response times, its percentile index
 * rule, and the smoothed "current RPS" that its chart plots. Pure functions. */
#ifndef FANOUT_LOAD_LOCUST_H
#define FANOUT_LOAD_LOCUST_H

#include <stddef.h>
#include <stdint.h>

/* Rounds a response time in ms as Locust stores it: to 1 ms below 100 ms, to 10 ms below
 * 1000 ms, to 100 ms below 10000 ms, to 1000 ms above; exact halves go to the even neighbour, as
 * Python's round() does (145 -> 140, 155 -> 160). */
double fo_locust_round(double ms);

/* The 0-based index into n sorted values that Locust reads for percentile q (0..1):
 * min(floor(n * q), n - 1). 0 when n is 0. */
uint64_t fo_locust_index(uint64_t n, double q);

/* Locust's "current RPS" when second `now` of the run has begun: the mean of the per-second
 * completion counts over seconds [max(now - 12, 0), now - 3], where seconds without a count (or
 * beyond n) are 0. 0 when that range is empty (the first three seconds). counts[s] is the number
 * of requests completed in second s of the run. */
double fo_locust_current_rps(const uint64_t *counts, size_t n, size_t now);

/* The peak of fo_locust_current_rps over every `now` from 0 to n (the second after the last
 * complete one): what the blog read off Locust's chart as "Max RPS". */
double fo_locust_max_rps(const uint64_t *counts, size_t n);

#endif
