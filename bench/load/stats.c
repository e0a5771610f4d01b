/* Per-worker counters and their merge (see stats.h). */
#include "stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *fo_fail_name(fo_fail_kind kind) {
    static const char *const names[FO_FAIL_KINDS] = {"connect", "timeout", "http", "malformed",
                                                     "closed"};
    return (unsigned)kind < FO_FAIL_KINDS ? names[kind] : "?";
}

int fo_load_stats_init(fo_load_stats *s, size_t n_stages, int with_starts) {
    memset(s, 0, sizeof *s);
    if (with_starts) {
        if (fo_hist_init(&s->lateness) < 0) return -ENOMEM;
        s->with_starts = 1;
    }
    if (n_stages == 0) return 0;
    s->stages = calloc(n_stages, sizeof *s->stages);
    if (!s->stages) return -ENOMEM;
    s->n_stages = n_stages;
    for (size_t i = 0; i < n_stages; i++) {
        if (fo_hist_init(&s->stages[i].hist) < 0) {
            fo_load_stats_free(s);
            return -ENOMEM;
        }
    }
    return 0;
}

void fo_load_stats_free(fo_load_stats *s) {
    for (size_t i = 0; i < s->n_stages; i++)
        fo_hist_free(&s->stages[i].hist);
    free(s->stages);
    s->stages = NULL;
    s->n_stages = 0;
    fo_hist_free(&s->lateness);
    s->with_starts = 0;
}

void fo_load_stats_merge(fo_load_stats *dst, const fo_load_stats *src) {
    for (int k = 0; k < FO_FAIL_KINDS; k++)
        dst->failures[k] += src->failures[k];
    dst->reconnects += src->reconnects;
    dst->dropped += src->dropped;
    for (size_t i = 0; i < dst->n_stages && i < src->n_stages; i++) {
        fo_hist_merge(&dst->stages[i].hist, &src->stages[i].hist);
        dst->stages[i].failures += src->stages[i].failures;
    }
    if (dst->with_starts && src->with_starts) {
        dst->starts += src->starts;
        dst->late += src->late;
        dst->queued += src->queued;
        dst->unsent += src->unsent;
        dst->connections += src->connections;
        fo_hist_merge(&dst->lateness, &src->lateness);
    }
}
