/* The country list the country API picks from: ISO 3166-1 codes and names, read from a
 * tab-separated file (servers/api/countries.tsv). */
#ifndef FANOUT_COUNTRIES_H
#define FANOUT_COUNTRIES_H

#include <stddef.h>
#include <stdint.h>

typedef struct fo_country {
    char code[3]; /* two upper-case letters, NUL-terminated */
    char *name;   /* UTF-8, malloc'd */
} fo_country;

typedef struct fo_countries {
    fo_country *items;
    size_t n;
} fo_countries;

/* Loads path: one "CODE<TAB>Name" per line; lines starting with '#' and blank lines are skipped.
 * Returns 0, or a negative errno with a one-line reason in err (naming the line when one is
 * malformed): -ENOENT etc. when the file cannot be read, -EINVAL for a malformed line or an empty
 * list, -ENOMEM. On failure *c is left empty and needs no free. */
int fo_countries_load(fo_countries *c, const char *path, char *err, size_t errlen);

void fo_countries_free(fo_countries *c);

/* The country for a random 64-bit number r: items[r % n]. With ~250 entries the modulo bias is
 * below 1e-16, so a uniform r gives a uniform country. c must not be empty. */
const fo_country *fo_countries_pick(const fo_countries *c, uint64_t r);

#endif
