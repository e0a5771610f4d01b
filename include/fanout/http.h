/* HTTP/1.1 for the servers: an incremental request parser on top of llhttp, and response
 * formatting. No sockets here: engines feed bytes in and write the formatted bytes out. */
#ifndef FANOUT_HTTP_H
#define FANOUT_HTTP_H

#include <llhttp.h>
#include <stddef.h>

/* Limits of a request. A longer request line is answered 414, a larger header section 431. */
#define FO_HTTP_MAX_URL 8192
#define FO_HTTP_MAX_HEADER_BYTES 8192

/* One parsed request. Only what the handlers need is kept. The target is on the heap, as long
 * as it is (up to FO_HTTP_MAX_URL), and its buffer is kept for the connection's next request:
 * a connection holds a few bytes for it, not the 8 KiB the longest target would take. Start
 * zeroed; fo_request_free when the connection is done. */
typedef struct fo_request {
    char method[16]; /* "GET", "POST", ...; NUL-terminated */
    char *path;      /* the request target as sent, NUL-terminated; owned */
    size_t path_len, path_cap;
} fo_request;

/* Frees the request's target; the request may be parsed into again afterwards. */
void fo_request_free(fo_request *r);

/* What fo_http_parse found. */
enum {
    FO_HTTP_NEED_MORE = 0, /* all bytes consumed; no complete request yet */
    FO_HTTP_REQUEST = 1,   /* *req holds a complete request; bytes after it are not consumed yet */
    FO_HTTP_ERROR = -1,    /* the bytes are not acceptable HTTP: answer error_status and close */
};

/* A request parser for one connection. Caller-allocated; init before use, no free needed. */
typedef struct fo_http_parser {
    llhttp_t llhttp;     /* its callbacks are one table shared by every parser */
    fo_request *req;     /* where callbacks write; valid only inside fo_http_parse */
    size_t header_bytes; /* bytes of header fields and values seen in this request */
    int in_message;      /* 1 once a request has started and until it is complete */
    int keep_alive;      /* the last complete request allows another after it */
    int complete;        /* 1 when the current call completed a request */
    int error_status;    /* after FO_HTTP_ERROR: the status to answer (400, 414, 431, 405, 505) */
    const char *error_text; /* after FO_HTTP_ERROR: a short reason, a static string */
} fo_http_parser;

void fo_http_parser_init(fo_http_parser *p);

/* Feeds len bytes. Returns FO_HTTP_NEED_MORE, FO_HTTP_REQUEST or FO_HTTP_ERROR and sets *consumed
 * to the number of bytes used. After FO_HTTP_REQUEST, call again with the unconsumed bytes (a
 * pipelined request may be there) once the request has been answered. After FO_HTTP_ERROR the
 * parser is spent: answer and close the connection. */
int fo_http_parse(fo_http_parser *p, const char *data, size_t len, fo_request *req,
                  size_t *consumed);

/* 1 when a request has begun but is not complete (bytes of it are buffered in the parser). */
int fo_http_parser_mid_request(const fo_http_parser *p);

/* After FO_HTTP_REQUEST: 1 when the request lets the connection serve another after it (HTTP/1.1
 * without "Connection: close", or HTTP/1.0 with "Connection: keep-alive"). The connection
 * layers (server_uv, conn_block) start from this verdict; the handlers never see it. */
int fo_http_parser_keep_alive(const fo_http_parser *p);

/* A response to send. body is owned by the response (malloc'd or NULL). */
typedef struct fo_response {
    int status;
    const char *content_type; /* static string; NULL for text/plain */
    char *body;
    size_t body_len;
} fo_response;

/* Fills r with a short text response (a copy of text), e.g. fo_response_text(r, 404, "not
 * found\n"). */
int fo_response_text(fo_response *r, int status, const char *text);

/* Room for any response head fo_response_head writes (the longest is about 150 bytes). */
#define FO_HTTP_HEAD_MAX 256

/* Formats the status line and headers (up to the blank line) into buf, for the body to be written
 * right after it from where it is: engines write head and body with one gathering write, without
 * copying the body. keep_alive is the connection's decision: 0 says "Connection: close". Returns
 * the head's length, or -1 when it does not fit in cap. */
int fo_response_head(const fo_response *r, int keep_alive, char *buf, size_t cap);

/* Head and body in one malloc'd buffer of *len bytes; NULL when out of memory. For tests and
 * clients that want the whole answer as one string; the engines use fo_response_head. */
char *fo_response_format(const fo_response *r, int keep_alive, size_t *len);

void fo_response_free(fo_response *r);

/* The reason phrase for a status code ("OK", "Bad Gateway", ...). */
const char *fo_http_reason(int status);

#endif
