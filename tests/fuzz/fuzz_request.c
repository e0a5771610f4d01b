/* libFuzzer target over the whole request path, without sockets: bytes in, responses out.
 *
 * The input is read as
 *   byte 0      how the request bytes arrive: in pieces of this many bytes (0 = all at once),
 *               as a server receives them from the network;
 *   bytes 1..3  how each of the three upstream calls of a fan-out ends (see fake_call);
 *   bytes 4, 5  L, the length of the upstream body that follows (little-endian, up to 64 KiB);
 *   L bytes     the body the country API "answered" (parsed as country JSON), also used as a
 *               curl error message or a raw country name;
 *   the rest    the bytes a client sent: possibly several pipelined requests.
 *
 * Like the servers, the target feeds the bytes to fo_http_parse, answers every complete request
 * in order (fo_handle_begin; for a fan-out, fake outcomes and fo_handle_finish), formats each
 * answer with fo_response_format, and stops at the first parse error after answering it. It
 * checks the invariants the servers rely on and aborts (a finding) when one breaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/handler.h"
#include "fanout/http.h"
#include "fanout/upstream.h"

#define HEADER_BYTES 6

static void fail(const char *what) {
    fprintf(stderr, "fuzz_request: invariant broken: %s\n", what);
    abort();
}

static char *copy(const uint8_t *data, size_t len) {
    char *p = malloc(len + 1);
    if (!p) fail("out of memory");
    if (len) memcpy(p, data, len);
    p[len] = '\0';
    return p;
}

/* Makes call end the way mode says, as fo_call_finish would have left it. */
static void fake_call(fo_call *call, uint8_t mode, const uint8_t *body, size_t body_len) {
    const char *why = NULL;
    size_t n;
    switch (mode % 8) {
    case 0: /* 200 with the fuzzed body */
        call->body = copy(body, body_len);
        call->body_len = call->body_cap = body_len;
        call->http_status = 200;
        if (fo_country_parse(call->body, body_len, call->country, sizeof call->country, &why) ==
            0) {
            call->outcome = FO_CALL_OK;
            if (strlen(call->country) >= sizeof call->country) fail("country name not terminated");
        } else {
            if (!why) fail("a refused body without a reason");
            call->outcome = FO_CALL_BAD_BODY;
            snprintf(call->error, sizeof call->error, "%s", why);
        }
        break;
    case 1: /* a valid country */
        call->outcome = FO_CALL_OK;
        call->http_status = 200;
        snprintf(call->country, sizeof call->country, "%s", "C\xc3\xb4te d'Ivoire <&>");
        break;
    case 2:
        call->outcome = FO_CALL_CONNECT;
        snprintf(call->error, sizeof call->error, "%s", "Connection refused");
        break;
    case 3:
        call->outcome = FO_CALL_TIMEOUT;
        break;
    case 4:
        call->outcome = FO_CALL_HTTP_STATUS;
        call->http_status = body_len ? (long)body[0] * 3 : 500;
        break;
    case 5: /* an I/O error whose message is the fuzzed bytes */
        call->outcome = FO_CALL_IO;
        n = body_len < sizeof call->error - 1 ? body_len : sizeof call->error - 1;
        memcpy(call->error, body, n);
        call->error[n] = '\0';
        break;
    case 6: /* a country name of raw fuzzed bytes: the page must escape it */
        call->outcome = FO_CALL_OK;
        n = body_len < sizeof call->country - 1 ? body_len : sizeof call->country - 1;
        memcpy(call->country, body, n);
        call->country[n] = '\0';
        break;
    default:
        break; /* FO_CALL_PENDING: never finished */
    }
}

/* Formats resp as a server would send it, checks the bytes, and frees resp. */
static void send_answer(fo_response *resp) {
    if (resp->status < 200 || resp->status > 599) fail("status out of range");
    if (resp->body_len && !resp->body) fail("a body length without a body");
    size_t len = 0;
    char *out = fo_response_format(resp, &len);
    if (out) {
        if (len < 12 || memcmp(out, "HTTP/1.1 ", 9) != 0) fail("answer does not start HTTP/1.1");
        char want[64];
        int n = snprintf(want, sizeof want, "Content-Length: %zu\r\n", resp->body_len);
        const char *end = NULL;
        for (size_t i = 0; i + 4 <= len; i++)
            if (memcmp(out + i, "\r\n\r\n", 4) == 0) {
                end = out + i + 4;
                break;
            }
        if (!end) fail("answer has no end of headers");
        if ((size_t)(end - out) + resp->body_len != len) fail("answer length is not head + body");
        int found = 0;
        for (const char *h = out; h + n <= end; h++)
            if (memcmp(h, want, (size_t)n) == 0) found = 1;
        if (!found) fail("Content-Length does not match the body");
        free(out);
    }
    fo_response_free(resp);
}

/* Answers one complete request, faking the fan-out's outcomes. */
static void answer(const fo_request *req, const uint8_t *modes, const uint8_t *body,
                   size_t body_len) {
    if (req->path_len > FO_HTTP_MAX_URL || strlen(req->path) != req->path_len)
        fail("request target length");
    if (strlen(req->method) >= sizeof req->method) fail("method not terminated");
    fo_response resp;
    fo_fanout fanout;
    if (fo_handle_begin(req, &resp, &fanout) == FO_HANDLE_FANOUT) {
        for (int i = 0; i < FO_FANOUT_CALLS; i++) {
            if (fanout.calls[i].outcome != FO_CALL_PENDING) fail("a planned call is not pending");
            fake_call(&fanout.calls[i], modes[i], body, body_len);
        }
        fanout.start_ns = 1000;
        fanout.end_ns = 1000 + (uint64_t)modes[0] * 1000003u;
        fo_handle_finish(req, &fanout, &resp);
        for (int i = 0; i < FO_FANOUT_CALLS; i++)
            if (fanout.calls[i].body) fail("fo_handle_finish left a body behind");
        int st = resp.status;
        if (st != 200 && st != 502 && st != 504 && st != 500) fail("a fan-out answered oddly");
    }
    send_answer(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < HEADER_BYTES) return 0;
    size_t chunk = data[0];
    const uint8_t *modes = data + 1;
    size_t body_len = (size_t)data[4] | (size_t)data[5] << 8;
    if (body_len > size - HEADER_BYTES) body_len = size - HEADER_BYTES;
    const uint8_t *body = data + HEADER_BYTES;
    const uint8_t *in = body + body_len;
    size_t in_len = size - HEADER_BYTES - body_len;

    /* As a server does: received bytes wait in a buffer until the parser has used them. */
    char *buf = malloc(in_len + 1);
    if (!buf) return 0;
    size_t len = 0, fed = 0;
    fo_http_parser parser;
    fo_http_parser_init(&parser);
    static fo_request req; /* large (the 8 KiB target): not on the stack */
    int spent = 0, answers = 0;
    while (!spent && (fed < in_len || len > 0)) {
        size_t n = chunk == 0 ? in_len - fed : chunk;
        if (n > in_len - fed) n = in_len - fed;
        memcpy(buf + len, in + fed, n);
        len += n;
        fed += n;
        for (;;) {
            size_t used = 0;
            int rc = fo_http_parse(&parser, buf, len, &req, &used);
            if (used > len) fail("parser used more bytes than it was given");
            memmove(buf, buf + used, len - used);
            len -= used;
            if (rc == FO_HTTP_REQUEST) {
                answer(&req, modes, body, body_len);
                answers++;
                continue;
            }
            if (rc == FO_HTTP_ERROR) {
                int st = parser.error_status;
                if (st != 400 && st != 405 && st != 414 && st != 431 && st != 505)
                    fail("unexpected parse error status");
                if (!parser.error_text) fail("a parse error without a reason");
                fo_response resp;
                if (fo_response_text(&resp, st, parser.error_text, 0) == 0) send_answer(&resp);
                spent = 1;
            } else if (rc != FO_HTTP_NEED_MORE) {
                fail("unknown parse result");
            } else if (len != 0) {
                fail("NEED_MORE left bytes unused");
            }
            break;
        }
        if (n == 0) break; /* everything fed; what is left is an incomplete request */
    }
    (void)answers;
    free(buf);
    return 0;
}
