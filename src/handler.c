/* The request handler shared by every concurrency model: route, then (after the engine has run
 * the fan-out) render. It never touches sockets, threads or loops, so each engine only decides
 * who calls it and when. */
#include "fanout/handler.h"

#include "fanout/page.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Short plain-text answers. A failed copy (out of memory) still leaves the status set, with an
 * empty body, which is the best that can be sent then. Whether the connection stays open is not
 * the handler's to say: the connection layer decides it. */
static void answer_text(fo_response *resp, int status, const char *text) {
    fo_response_text(resp, status, text);
}

fo_handle_step fo_handle_begin(const fo_request *req, fo_response *resp, fo_fanout *fanout) {
    memset(resp, 0, sizeof *resp);
    if (strcmp(req->method, "GET") != 0) {
        /* fo_response_format adds "Allow: GET" to every 405. */
        answer_text(resp, 405, "method not allowed: only GET\n");
        return FO_HANDLE_DONE;
    }
    int ms = 0;
    int rc = fo_route_ms(req->path, &ms);
    if (rc == -ERANGE) {
        char text[64];
        snprintf(text, sizeof text, "bad delay: at most %d ms\n", FO_MAX_MS);
        answer_text(resp, 400, text);
        return FO_HANDLE_DONE;
    }
    if (rc < 0) {
        answer_text(resp, 400, "bad delay: not a whole number of milliseconds\n");
        return FO_HANDLE_DONE;
    }
    if (rc == 0) {
        answer_text(resp, 404, "not found\n");
        return FO_HANDLE_DONE;
    }
    fo_fanout_plan(fanout, ms);
    return FO_HANDLE_FANOUT;
}

/* How describe_failure names an outcome that carries curl's or the parser's message: the words
 * before it ("" for none); NULL where the message is not the point. */
static const char *const failure_words[] = {
    [FO_CALL_CONNECT] = "could not connect: ",
    [FO_CALL_BAD_BODY] = "",
    [FO_CALL_IO] = "I/O error: ",
    [FO_CALL_CANCELLED] = "cancelled: ",
};

/* One line naming the call that failed and how, e.g. "upstream /600/: HTTP 500". */
static void describe_failure(const fo_call *call, char *out, size_t cap) {
    size_t k = (size_t)call->outcome;
    const char *words =
        k < sizeof failure_words / sizeof failure_words[0] ? failure_words[k] : NULL;
    if (call->outcome == FO_CALL_TIMEOUT)
        snprintf(out, cap, "upstream timed out: /%d/\n", call->ms);
    else if (call->outcome == FO_CALL_HTTP_STATUS)
        snprintf(out, cap, "upstream /%d/: HTTP %ld\n", call->ms, call->http_status);
    else if (words)
        snprintf(out, cap, "upstream /%d/: %s%s\n", call->ms, words, call->error);
    else /* pending, or OK: not a failure at all */
        snprintf(out, cap, "upstream /%d/: did not complete\n", call->ms);
}

/* The call that decides a failed page, or NULL when all succeeded. A timeout wins over other
 * failures, because a 504 tells the operator something more specific than a 502; a call that
 * failed wins over the calls cancelled because of it. Calls cancelled with none failed (the
 * client left) still make the page a 502, which nobody reads. */
static const fo_call *failed_call(const fo_fanout *fanout) {
    const fo_call *failed = NULL, *cancelled = NULL;
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        const fo_call *call = &fanout->calls[i];
        if (call->outcome == FO_CALL_TIMEOUT) return call;
        if (fo_call_failed(call) && failed == NULL) failed = call;
        if (call->outcome != FO_CALL_OK && cancelled == NULL) cancelled = call;
    }
    return failed ? failed : cancelled;
}

void fo_handle_finish(const fo_request *req, fo_fanout *fanout, fo_response *resp) {
    memset(resp, 0, sizeof *resp);
    const fo_call *failed = failed_call(fanout);
    if (failed) {
        char text[FO_CALL_ERROR_MAX + 64];
        describe_failure(failed, text, sizeof text);
        answer_text(resp, failed->outcome == FO_CALL_TIMEOUT ? 504 : 502, text);
        fo_fanout_release(fanout);
        return;
    }
    uint64_t ns = fanout->end_ns > fanout->start_ns ? fanout->end_ns - fanout->start_ns : 0;
    size_t len = 0;
    char *page = fo_page_render(fanout->calls[0].country, (double)ns / 1e9, &len);
    fo_fanout_release(fanout);
    if (!page) {
        answer_text(resp, 500, "out of memory\n");
        return;
    }
    resp->status = 200;
    resp->content_type = "text/html; charset=utf-8";
    resp->body = page;
    resp->body_len = len;
}
