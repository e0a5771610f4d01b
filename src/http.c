/* HTTP/1.1 request parsing on llhttp, and response formatting.
 *
 * The parser pauses llhttp at the end of every request, so a connection answers pipelined
 * requests one at a time and in order: the engine feeds bytes, gets one request back with the
 * number of bytes used, answers it, and feeds the rest. Bodies are not accepted (every route is a
 * GET), which also closes the door on request smuggling through bodies. */
#include "fanout/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fo_http_parser *parser_of(llhttp_t *l) {
    return (fo_http_parser *)l->data;
}

static int fail(fo_http_parser *p, int status, const char *text) {
    p->error_status = status;
    p->error_text = text;
    return -1;
}

/* The first size of a request's target buffer: enough for "/300/" and most others. */
#define PATH_FIRST_CAP 32

/* Makes room for len bytes and the NUL in r's target. 0, or -1 when out of memory. */
static int path_reserve(fo_request *r, size_t len) {
    if (len + 1 <= r->path_cap) return 0;
    size_t cap = r->path_cap ? r->path_cap : PATH_FIRST_CAP;
    while (cap < len + 1)
        cap *= 2;
    char *path = realloc(r->path, cap);
    if (!path) return -1;
    r->path = path;
    r->path_cap = cap;
    return 0;
}

void fo_request_free(fo_request *r) {
    free(r->path);
    r->path = NULL;
    r->path_len = r->path_cap = 0;
}

static int on_message_begin(llhttp_t *l) {
    fo_http_parser *p = parser_of(l);
    fo_request *r = p->req;
    p->in_message = 1;
    p->header_bytes = 0;
    r->method[0] = '\0';
    r->path_len = 0;
    p->keep_alive = 0;
    /* Every request has a target, possibly empty, from here on. */
    if (path_reserve(r, 0) != 0) return fail(p, 503, "out of memory\n");
    r->path[0] = '\0';
    return 0;
}

static int on_url(llhttp_t *l, const char *at, size_t len) {
    fo_http_parser *p = parser_of(l);
    fo_request *r = p->req;
    if (len > FO_HTTP_MAX_URL - r->path_len) return fail(p, 414, "request target too long\n");
    if (path_reserve(r, r->path_len + len) != 0) return fail(p, 503, "out of memory\n");
    memcpy(r->path + r->path_len, at, len);
    r->path_len += len;
    r->path[r->path_len] = '\0';
    return 0;
}

static int on_header_bytes(llhttp_t *l, const char *at, size_t len) {
    fo_http_parser *p = parser_of(l);
    (void)at;
    p->header_bytes += len;
    if (p->header_bytes > FO_HTTP_MAX_HEADER_BYTES)
        return fail(p, 431, "request header fields too large\n");
    return 0;
}

/* RFC 9112 section 5.1: no whitespace between a field name and its colon, answered 400, since
 * proxies disagree on what such a name means (a smuggling vector). llhttp lets it through. */
static int on_header_field(llhttp_t *l, const char *at, size_t len) {
    if (memchr(at, ' ', len) || memchr(at, '\t', len))
        return fail(parser_of(l), 400, "whitespace in a header field name\n");
    return on_header_bytes(l, at, len);
}

static int on_headers_complete(llhttp_t *l) {
    fo_http_parser *p = parser_of(l);
    fo_request *r = p->req;
    const char *m = llhttp_method_name((llhttp_method_t)l->method);
    snprintf(r->method, sizeof r->method, "%s", m ? m : "?");
    if (l->http_major != 1) return fail(p, 505, "HTTP version not supported\n");
    /* A request with a body: none of our routes takes one, and reading bodies we would throw
     * away only widens the attack surface. Other methods still get their 405. */
    if ((l->flags & F_CHUNKED) || ((l->flags & F_CONTENT_LENGTH) && l->content_length > 0)) {
        if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)
            return fail(p, 400, "a GET request has no body\n");
        return fail(p, 405, "method not allowed\n");
    }
    return 0;
}

static int on_message_complete(llhttp_t *l) {
    fo_http_parser *p = parser_of(l);
    p->in_message = 0;
    p->complete = 1;
    p->keep_alive = llhttp_should_keep_alive(l);
    return HPE_PAUSED;
}

/* The callbacks, the same for every parser: one table, not a copy in each connection. */
static const llhttp_settings_t callbacks = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_bytes,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

void fo_http_parser_init(fo_http_parser *p) {
    memset(p, 0, sizeof *p);
    llhttp_init(&p->llhttp, HTTP_REQUEST, &callbacks);
    p->llhttp.data = p;
}

/* Maps an llhttp error that our callbacks did not set to a status. */
static int status_for(llhttp_errno_t e) {
    switch (e) {
    case HPE_INVALID_VERSION:
        return 505;
    default:
        return 400;
    }
}

int fo_http_parse(fo_http_parser *p, const char *data, size_t len, fo_request *req,
                  size_t *consumed) {
    *consumed = 0;
    if (p->error_status) return FO_HTTP_ERROR;
    p->req = req;
    p->complete = 0;
    if (llhttp_get_errno(&p->llhttp) == HPE_PAUSED) llhttp_resume(&p->llhttp);
    if (len == 0) return FO_HTTP_NEED_MORE;

    llhttp_errno_t e = llhttp_execute(&p->llhttp, data, len);
    if (e == HPE_OK) {
        *consumed = len;
        return FO_HTTP_NEED_MORE;
    }
    if (e == HPE_PAUSED && p->complete) {
        *consumed = (size_t)(llhttp_get_error_pos(&p->llhttp) - data);
        return FO_HTTP_REQUEST;
    }
    if (!p->error_status) {
        p->error_status = status_for(e);
        p->error_text = "malformed request\n";
    }
    *consumed = len;
    return FO_HTTP_ERROR;
}

int fo_http_parser_mid_request(const fo_http_parser *p) {
    return p->in_message;
}

int fo_http_parser_keep_alive(const fo_http_parser *p) {
    return p->keep_alive;
}

const char *fo_http_reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

int fo_response_text(fo_response *r, int status, const char *text) {
    size_t n = strlen(text);
    memset(r, 0, sizeof *r);
    r->status = status;
    r->body = malloc(n + 1);
    if (!r->body) return -ENOMEM;
    memcpy(r->body, text, n + 1);
    r->body_len = n;
    return 0;
}

int fo_response_head(const fo_response *r, int keep_alive, char *buf, size_t cap) {
    /* "Connection: keep-alive" is said even though HTTP/1.1 implies it: an HTTP/1.0 client (ab -k)
     * keeps the connection only when told so. */
    const char *ctype = r->content_type ? r->content_type : "text/plain; charset=utf-8";
    int n = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "%s"
                     "\r\n",
                     r->status, fo_http_reason(r->status), ctype, r->body_len,
                     r->status == 405 ? "Allow: GET\r\n" : "",
                     keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

char *fo_response_format(const fo_response *r, int keep_alive, size_t *len) {
    char head[FO_HTTP_HEAD_MAX];
    int n = fo_response_head(r, keep_alive, head, sizeof head);
    if (n < 0) return NULL;
    char *out = malloc((size_t)n + r->body_len);
    if (!out) return NULL;
    memcpy(out, head, (size_t)n);
    if (r->body_len) memcpy(out + n, r->body, r->body_len);
    *len = (size_t)n + r->body_len;
    return out;
}

void fo_response_free(fo_response *r) {
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}
