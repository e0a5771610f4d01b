/* The front page: which paths it answers, and the HTML it answers with. Everything here is pure
 * string work, so it is unit-tested without sockets, curl or libuv. */
#include "fanout/page.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fo_parse_ms(const char *s, size_t len, int *ms) {
    if (len == 0) return -EINVAL;
    /* Every byte is checked before the value is judged, so that "99999x" is reported as not a
     * number (-EINVAL) rather than as too large. */
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -EINVAL;
    }
    long value = 0;
    for (size_t i = 0; i < len; i++) {
        value = value * 10 + (s[i] - '0');
        /* Stopping as soon as the limit is passed keeps any number of digits from overflowing. */
        if (value > FO_MAX_MS) return -ERANGE;
    }
    *ms = (int)value;
    return 0;
}

/* A path segment is an attempt at a number of milliseconds when it starts like one: a digit or
 * a sign. Such a segment answers 400 when the number is bad, whereas any other path is simply
 * not a page of ours (404). */
static int looks_like_ms(char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+';
}

int fo_route_ms(const char *path, int *ms) {
    /* The query string (and a fragment, which clients should not send) never changes the page. */
    size_t len = strcspn(path, "?#");
    if (len == 0 || path[0] != '/') return 0;
    if (len == 1) {
        *ms = FO_DEFAULT_MS;
        return 1;
    }
    const char *seg = path + 1;
    size_t seg_len = len - 1;
    /* One trailing slash is allowed ("/300/"), the form the original page used. */
    if (seg[seg_len - 1] == '/') seg_len--;
    if (seg_len == 0 || memchr(seg, '/', seg_len) != NULL) return 0;
    if (!looks_like_ms(seg[0])) return 0;
    int value;
    int rc = fo_parse_ms(seg, seg_len, &value);
    if (rc < 0) return rc;
    *ms = value;
    return 1;
}

/* The replacement for one byte, or NULL when the byte is kept as it is. */
static const char *escape_of(unsigned char c) {
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    default:
        return NULL;
    }
}

char *fo_html_escape(const char *s) {
    /* Two passes: measure, then write, so the result is allocated exactly once. */
    size_t need = 1;
    for (const char *p = s; *p; p++) {
        const char *e = escape_of((unsigned char)*p);
        need += e ? strlen(e) : 1;
    }
    char *out = malloc(need);
    if (!out) return NULL;
    char *w = out;
    for (const char *p = s; *p; p++) {
        const char *e = escape_of((unsigned char)*p);
        if (e) {
            size_t n = strlen(e);
            memcpy(w, e, n);
            w += n;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return out;
}

/* The original page's look: a centred box with the question, the answer in an <h1>, and the
 * fan-out's duration underneath. %s is the escaped country name, %.3f the seconds. */
static const char page_format[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Random country</title>\n"
    "<style>\n"
    "body { margin: 0; min-height: 100vh; display: flex; align-items: center;"
    " justify-content: center; font-family: sans-serif; background: #f4f4f4; }\n"
    ".box { padding: 2em 3em; border: 1px solid #ccc; border-radius: 8px;"
    " background: #fff; text-align: center; }\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<div class=\"box\">\n"
    "<p>And the random country selected for today is...</p>\n"
    "<h1>%s</h1>\n"
    "<p><code>duration: %.3f</code></p>\n"
    "</div>\n"
    "</body>\n"
    "</html>\n";

char *fo_page_render(const char *country, double seconds, size_t *len) {
    char *name = fo_html_escape(country);
    if (!name) return NULL;
    int n = snprintf(NULL, 0, page_format, name, seconds);
    char *page = n < 0 ? NULL : malloc((size_t)n + 1);
    if (page) {
        snprintf(page, (size_t)n + 1, page_format, name, seconds);
        *len = (size_t)n;
    }
    free(name);
    return page;
}
