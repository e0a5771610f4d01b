/* Reading numbers out of the results folder's JSON, for every part of fanout-report: one pair of
 * readers, both in double (a fraction read through an integer reader came out 0). */
#ifndef FANOUT_REPORT_JSON_NUM_H
#define FANOUT_REPORT_JSON_NUM_H

#include <jansson.h>

/* The number at key, 0 when it is missing or not a number. */
static inline double fo_json_num(const json_t *o, const char *key) {
    return json_number_value(json_object_get(o, key));
}

/* The number at key, or dflt when it is missing (older folders lack the newer figures). */
static inline double fo_json_num_or(const json_t *o, const char *key, double dflt) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

#endif
