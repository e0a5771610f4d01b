/* Locust's rounding, percentile index and smoothed current RPS (see locust.h). */
#include "locust.h"

/* Python's round(x / unit) * unit for x >= 0: halves go to the even multiple. */
static double round_half_even(double x, double unit) {
    double q = x / unit;
    double whole = (double)(uint64_t)q;
    double frac = q - whole;
    if (frac > 0.5 || (frac == 0.5 && (uint64_t)whole % 2 == 1)) whole += 1.0;
    return whole * unit;
}

double fo_locust_round(double ms) {
    if (ms < 0) return 0;
    if (ms < 100) return round_half_even(ms, 1);
    if (ms < 1000) return round_half_even(ms, 10);
    if (ms < 10000) return round_half_even(ms, 100);
    return round_half_even(ms, 1000);
}

uint64_t fo_locust_index(uint64_t n, double q) {
    if (n == 0) return 0;
    uint64_t i = (uint64_t)((double)n * q);
    return i < n - 1 ? i : n - 1;
}

double fo_locust_current_rps(const uint64_t *counts, size_t n, size_t now) {
    /* Locust: range(max(L - 12, start), L - 2) with L the current second. */
    if (now < 3) return 0.0;
    size_t first = now >= 12 ? now - 12 : 0;
    size_t last = now - 3; /* inclusive */
    uint64_t sum = 0;
    for (size_t s = first; s <= last; s++)
        if (s < n) sum += counts[s];
    return (double)sum / (double)(last - first + 1);
}

double fo_locust_max_rps(const uint64_t *counts, size_t n) {
    double peak = 0.0;
    for (size_t now = 0; now <= n; now++) {
        double r = fo_locust_current_rps(counts, n, now);
        if (r > peak) peak = r;
    }
    return peak;
}
