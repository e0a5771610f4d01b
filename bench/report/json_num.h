/* Reading numbers out of the results folder's JSON, for every part of fanout-report: one pair of
 * readers, both in double (a fraction read through an integer reader came out 0). */
#ifndef FANOUT_REPORT_JSON_NUM_H
#define FANOUT_REPORT_JSON_NUM_H

#include <jansson.h>
#include <stdint.h>

#include "fanout/load_figures.h"

/* The number at key, 0 when it is missing or not a number. */
static inline double fo_json_num(const json_t *o, const char *key) {
    return json_number_value(json_object_get(o, key));
}

/* The number at key, or dflt when it is missing (older folders lack the newer figures). */
static inline double fo_json_num_or(const json_t *o, const char *key, double dflt) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* What the load saw, from a run's load.json (fanout-load --json): the one reader for make
 * bench's rows and the ladder's steps. */
static inline fo_load_figures fo_json_load_figures(const json_t *l) {
    return (fo_load_figures){
        .requests = (uint64_t)fo_json_num(l, "requests"),
        .failures = (uint64_t)fo_json_num(json_object_get(l, "failures"), "total"),
        .in_flight_at_end = (uint64_t)fo_json_num(l, "in_flight_at_end"),
        .min_ms = fo_json_num(l, "min_ms"),
        .p95_ms = fo_json_num(l, "p95_ms"),
        .p95_locust_ms = fo_json_num(l, "p95_locust_ms"),
        .mean_ms = fo_json_num(l, "mean_ms"),
        .max_ms = fo_json_num(l, "max_ms"),
        .max_rps = fo_json_num(l, "max_rps_smoothed"),
        .max_rps_raw = fo_json_num(l, "max_rps_raw"),
    };
}

#endif
