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

/* The length of s escaped. */
static size_t escaped_len(const char *s) {
    size_t need = 0;
    for (const char *p = s; *p; p++) {
        const char *e = escape_of((unsigned char)*p);
        need += e ? strlen(e) : 1;
    }
    return need;
}

/* Writes s escaped at out, which has room for escaped_len(s) bytes; returns the end. */
static char *escape_into(char *out, const char *s) {
    for (const char *p = s; *p; p++) {
        const char *e = escape_of((unsigned char)*p);
        if (e) {
            size_t n = strlen(e);
            memcpy(out, e, n);
            out += n;
        } else {
            *out++ = *p;
        }
    }
    return out;
}

char *fo_html_escape(const char *s) {
    /* Two passes: measure, then write, so the result is allocated exactly once. */
    char *out = malloc(escaped_len(s) + 1);
    if (!out) return NULL;
    *escape_into(out, s) = '\0';
    return out;
}

/* The original page's look: a centred box with the question, the answer in an <h1>, and the
 * fan-out's duration underneath. The escaped country name goes between the first two parts,
 * the seconds (%.3f) between the last two. */
static const char page_head[] =
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
    "<h1>";
static const char page_middle[] = "</h1>\n"
                                  "<p><code>duration: ";
static const char page_tail[] = "</code></p>\n"
                                "</div>\n"
                                "</body>\n"
                                "</html>\n";

/* Appends the n bytes of s at out; returns the end. */
static char *put(char *out, const char *s, size_t n) {
    memcpy(out, s, n);
    return out + n;
}

char *fo_page_render(const char *country, double seconds, size_t *len) {
    /* The page is built in place, in one buffer of its exact size: no escaped copy of the
     * name, no second formatting pass. */
    char dur[32];
    int dur_len = snprintf(dur, sizeof dur, "%.3f", seconds);
    if (dur_len < 0 || (size_t)dur_len >= sizeof dur) return NULL;
    size_t n = sizeof page_head - 1 + escaped_len(country) + sizeof page_middle - 1 +
               (size_t)dur_len + sizeof page_tail - 1;
    char *page = malloc(n + 1);
    if (!page) return NULL;
    char *w = put(page, page_head, sizeof page_head - 1);
    w = escape_into(w, country);
    w = put(w, page_middle, sizeof page_middle - 1);
    w = put(w, dur, (size_t)dur_len);
    w = put(w, page_tail, sizeof page_tail - 1);
    *w = '\0';
    *len = n;
    return page;
}
