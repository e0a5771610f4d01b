/* What the load generator saw in one run (fanout-load's JSON): the figures every table of the
 * suite reports, held once by make bench's rows (report.h) and the ladder's steps (scale.h). */
#ifndef FANOUT_LOAD_FIGURES_H
#define FANOUT_LOAD_FIGURES_H

#include <stdint.h>

typedef struct fo_load_figures {
    uint64_t requests, failures;
    uint64_t in_flight_at_end; /* sent, not answered when the run ended: in neither count */
    double min_ms, p95_ms, p95_locust_ms, mean_ms, max_ms;
    double max_rps;     /* peak of Locust's smoothed current RPS: the blog's column */
    double max_rps_raw; /* peak of raw one-second counts */
} fo_load_figures;

#endif
