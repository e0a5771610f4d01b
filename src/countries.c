/* Reads the country list. The file is data shipped with the suite, so any line that does not
 * have the expected shape is an error worth stopping for, named by its line number. */
#include "fanout/countries.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fo_countries_free(fo_countries *c) {
    for (size_t i = 0; i < c->n; i++)
        free(c->items[i].name);
    free(c->items);
    c->items = NULL;
    c->n = 0;
}

const fo_country *fo_countries_pick(const fo_countries *c, uint64_t r) {
    return &c->items[r % c->n];
}

/* 1 when the line has nothing but white space (a blank line, CRLF endings included). */
static int is_blank(const char *s) {
    for (; *s; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
    }
    return 1;
}

static int is_upper(char ch) {
    return ch >= 'A' && ch <= 'Z';
}

/* Checks "XX<TAB>Name" (line already stripped of its end of line) and fills *out. The name is
 * taken whole: it may contain spaces, commas and any UTF-8, but no control characters, which
 * would only be a sign of a damaged file. Returns 0, -EINVAL or -ENOMEM. */
static int parse_line(const char *line, fo_country *out) {
    if (!is_upper(line[0]) || !is_upper(line[1]) || line[2] != '\t') return -EINVAL;
    const char *name = line + 3;
    if (*name == '\0') return -EINVAL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) return -EINVAL;
    }
    out->name = strdup(name);
    if (!out->name) return -ENOMEM;
    out->code[0] = line[0];
    out->code[1] = line[1];
    out->code[2] = '\0';
    return 0;
}

static int append(fo_countries *c, size_t *cap, const fo_country *item) {
    if (c->n == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 256;
        fo_country *grown = realloc(c->items, grown_cap * sizeof *grown);
        if (!grown) return -ENOMEM;
        c->items = grown;
        *cap = grown_cap;
    }
    c->items[c->n++] = *item;
    return 0;
}

/* Reads every line of f into c; on failure err says which line and why. */
static int read_lines(FILE *f, const char *path, fo_countries *c, char *err, size_t errlen) {
    char *line = NULL;
    size_t line_cap = 0, cap = 0;
    long lineno = 0;
    int rc = 0;
    ssize_t got;
    while (rc == 0 && (got = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if (line[0] == '#' || is_blank(line)) continue;
        fo_country item;
        rc = parse_line(line, &item);
        if (rc == 0) {
            rc = append(c, &cap, &item);
            if (rc < 0) free(item.name);
        }
        if (rc == -EINVAL) {
            snprintf(err, errlen, "%s: line %ld: expected a two-letter code, a tab and a name",
                     path, lineno);
        }
    }
    if (rc == 0 && ferror(f)) {
        rc = -EIO;
        snprintf(err, errlen, "%s: read error", path);
    }
    if (rc == -ENOMEM) snprintf(err, errlen, "%s: out of memory", path);
    free(line);
    return rc;
}

int fo_countries_load(fo_countries *c, const char *path, char *err, size_t errlen) {
    c->items = NULL;
    c->n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    int rc = read_lines(f, path, c, err, errlen);
    fclose(f);
    if (rc == 0 && c->n == 0) {
        rc = -EINVAL;
        snprintf(err, errlen, "%s: no countries in the file", path);
    }
    if (rc < 0) fo_countries_free(c);
    return rc;
}
