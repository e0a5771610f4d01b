/* The front page: routing and rendering. Pure functions: no sockets, no curl, no libuv. */
#ifndef FANOUT_PAGE_H
#define FANOUT_PAGE_H

#include <stddef.h>

#define FO_DEFAULT_MS 300
#define FO_MAX_MS 60000

/* Parses a whole decimal number of milliseconds, 0..FO_MAX_MS, from s[0..len).
 * Returns 0 and sets *ms, or -EINVAL (empty, sign, not a digit) or -ERANGE (above FO_MAX_MS). */
int fo_parse_ms(const char *s, size_t len, int *ms);

/* Matches "/" (ms = FO_DEFAULT_MS), "/<ms>" and "/<ms>/"; a query string is ignored.
 * Returns 1 and sets *ms on a match, 0 when the path is something else, or -EINVAL/-ERANGE when
 * it has the shape /<digits-or-sign>/ but the number is not acceptable (answer 400). */
int fo_route_ms(const char *path, int *ms);

/* HTML-escapes s (& < > " '), keeping every other byte, UTF-8 included. malloc'd, NULL on OOM. */
char *fo_html_escape(const char *s);

/* Renders the front page for a country name and the fan-out duration in seconds.
 * Returns a malloc'd NUL-terminated page and sets *len; NULL when out of memory. */
char *fo_page_render(const char *country, double seconds, size_t *len);

#endif
