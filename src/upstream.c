/* The fan-out's plan, the setup and outcome of one call, and the country JSON. The runners
 * (upstream_block.c, upstream_uv.c) only drive curl; what a call is and what its answer means
 * lives here, once. */
#include "fanout/upstream.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A country answer is a few dozen bytes. Anything past this is not the country API talking, and
 * collecting it would let a broken upstream grow a worker's memory without bound. */
#define BODY_MAX (64 * 1024)

void fo_fanout_plan(fo_fanout *f, int ms) {
    memset(f, 0, sizeof *f);
    f->calls[0].ms = ms;
    f->calls[1].ms = FO_FLOOR_MS(ms); /* the slowest call sets the floor */
    f->calls[2].ms = ms / 2;
}

void fo_fanout_release(fo_fanout *f) {
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        free(f->calls[i].body);
        f->calls[i].body = NULL;
        f->calls[i].body_len = 0;
        f->calls[i].body_cap = 0;
    }
}

void fo_fanout_cancel_pending(fo_fanout *f, const char *why) {
    for (int i = 0; i < FO_FANOUT_CALLS; i++) {
        fo_call *call = &f->calls[i];
        if (call->outcome != FO_CALL_PENDING) continue;
        call->outcome = FO_CALL_CANCELLED;
        snprintf(call->error, sizeof call->error, "%s", why);
        f->done++;
    }
}

int fo_call_failed(const fo_call *call) {
    return call->outcome != FO_CALL_PENDING && call->outcome != FO_CALL_OK &&
           call->outcome != FO_CALL_CANCELLED;
}

int fo_country_parse(const char *json, size_t len, char *name, size_t cap, const char **why) {
    if (len == 0) {
        *why = "empty body";
        return -1;
    }
    json_error_t err;
    /* JSON_DECODE_ANY accepts a lone string or number, so that the reason says "not an object"
     * for valid JSON of the wrong shape rather than "not JSON". */
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &err);
    if (!root) {
        *why = "not JSON";
        return -1;
    }
    int rc = -1;
    json_t *jname = json_object_get(root, "name");
    json_t *jcode = json_object_get(root, "code");
    if (!json_is_object(root)) {
        *why = "not a JSON object";
    } else if (!jname) {
        *why = "\"name\" missing";
    } else if (!json_is_string(jname)) {
        *why = "\"name\" not a string";
    } else if (jcode && !json_is_string(jcode)) {
        *why = "\"code\" not a string";
    } else if (json_string_length(jname) == 0) {
        *why = "\"name\" empty";
    } else if (json_string_length(jname) >= cap) {
        *why = "\"name\" too long";
    } else {
        /* jansson rejects \u0000 by default, so the name has no NUL inside and its length fits. */
        memcpy(name, json_string_value(jname), json_string_length(jname) + 1);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* CURLOPT_WRITEFUNCTION: appends to call->body, keeping it NUL-terminated. The first piece gets
 * a buffer of its own size: an answer comes whole in one piece (curl's buffer holds 1 KiB), and
 * the page holds it until the call ends. Returning less than asked makes curl fail the transfer
 * with CURLE_WRITE_ERROR. */
static size_t collect_body(char *data, size_t size, size_t nmemb, void *userp) {
    fo_call *call = userp;
    size_t n = size * nmemb;
    if (n > BODY_MAX - call->body_len) return 0;
    if (call->body_len + n + 1 > call->body_cap) {
        size_t cap = call->body_cap ? call->body_cap : n + 1;
        while (cap < call->body_len + n + 1)
            cap *= 2;
        char *grown = realloc(call->body, cap);
        if (!grown) return 0;
        call->body = grown;
        call->body_cap = cap;
    }
    memcpy(call->body + call->body_len, data, n);
    call->body_len += n;
    call->body[call->body_len] = '\0';
    return n;
}

/* How many comma-separated URLs base_url holds. */
static unsigned count_bases(const char *base_url) {
    unsigned n = 1;
    for (const char *p = base_url; *p; p++)
        n += *p == ',';
    return n;
}

int fo_upstream_check(const char *base_url, char *err, size_t errlen) {
    const char *p = base_url;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len <= 7 || strncmp(p, "http://", 7) != 0) {
            snprintf(err, errlen, "each upstream must be an http:// URL, not '%.*s'", (int)len, p);
            return -1;
        }
        if (!p[len]) return 0;
        p += len + 1;
    }
}

/* The base URL numbered turn modulo their count + "/<ms>/", with exactly one slash between
 * them whether or not the base ends in one. malloc'd; NULL when out of memory. */
static char *call_url(const char *base_url, unsigned turn, int ms) {
    for (unsigned skip = turn % count_bases(base_url); skip > 0; skip--)
        base_url = strchr(base_url, ',') + 1;
    size_t base_len = strcspn(base_url, ",");
    while (base_len > 0 && base_url[base_len - 1] == '/')
        base_len--;
    size_t cap = base_len + 32;
    char *url = malloc(cap);
    if (!url) return NULL;
    snprintf(url, cap, "%.*s/%d/", (int)base_len, base_url, ms);
    return url;
}

int fo_call_setup(CURL *easy, const fo_upstream_cfg *cfg, fo_call *call, unsigned turn) {
    call->outcome = FO_CALL_PENDING;
    call->http_status = 0;
    call->body_len = 0;
    if (call->body) call->body[0] = '\0';
    call->country[0] = '\0';
    call->error[0] = '\0';

    char *url = call_url(cfg->base_url, turn, call->ms);
    if (!url) return -ENOMEM;
    /* Each option is set on every call because the runners reuse their easy handles: nothing may
     * be left over from the previous fan-out. The first failure is kept; later ones are skipped. */
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK) rc = curl_easy_setopt(easy, opt, val);                                 \
    } while (0)
    SET(CURLOPT_URL, url); /* curl keeps its own copy */
    SET(CURLOPT_HTTPGET, 1L);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_WRITEFUNCTION, collect_body);
    SET(CURLOPT_WRITEDATA, call);
    SET(CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
    /* Connecting can never take longer than the whole call; 0 leaves curl's default. */
    SET(CURLOPT_CONNECTTIMEOUT_MS, cfg->timeout_ms);
    /* Timeouts must not use signals: workers are threads, and SIGALRM would hit any of them. */
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    /* An http_proxy in the environment must not send benchmark traffic off the loopback. */
    SET(CURLOPT_PROXY, "");
    /* Connections are kept and reused across fan-outs; that is what a keep-alive pool means. */
    SET(CURLOPT_FORBID_REUSE, 0L);
    SET(CURLOPT_FRESH_CONNECT, 0L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    /* Set on every call too, like every option here (a handle from a pool carries the last
     * call's settings, and a fresh one curl's 16 KiB). curl refuses
     * it only while it still holds the buffer of a transfer in progress, which it frees when the
     * transfer ends; the runners set up only handles that are not running. That is the only
     * large buffer a GET's transfer holds: curl's upload buffer (CURLOPT_UPLOAD_BUFFERSIZE) is
     * allocated for uploads and TLS only, and the header buffer grows with the headers. */
    SET(CURLOPT_BUFFERSIZE, FO_CALL_BUFFER_BYTES);
#undef SET
    free(url);
    if (rc == CURLE_OUT_OF_MEMORY) return -ENOMEM;
    return rc == CURLE_OK ? 0 : -EINVAL;
}

/* The outcome of a transfer that curl reports as failed. A name that does not resolve is as much
 * "could not connect" as a refused connection. */
static fo_call_outcome outcome_of(CURLcode result) {
    switch (result) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return FO_CALL_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return FO_CALL_TIMEOUT;
    default:
        return FO_CALL_IO;
    }
}

/* Why a transfer failed, in call->error: curl's name for result, the system's words for the
 * socket's error when there was one, and for a timeout how long the call ran. */
static void transfer_error(fo_call *call, CURL *easy, CURLcode result) {
    if (result == CURLE_WRITE_ERROR) {
        snprintf(call->error, sizeof call->error, "response body over %d bytes (or out of memory)",
                 BODY_MAX);
        return;
    }
    long os_errno = 0;
    curl_off_t us = 0;
    char why[64] = "";
    if (result == CURLE_OPERATION_TIMEDOUT &&
        curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK)
        snprintf(why, sizeof why, "after %ld ms", (long)(us / 1000));
    else if (curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK || os_errno == 0 ||
             strerror_r((int)os_errno, why, sizeof why) != 0)
        why[0] = '\0';
    if (why[0])
        snprintf(call->error, sizeof call->error, "%s (%s)", curl_easy_strerror(result), why);
    else
        snprintf(call->error, sizeof call->error, "%s", curl_easy_strerror(result));
}

/* The outcome of an ended transfer, and the country or why not. */
static void call_judge(fo_call *call, CURL *easy, CURLcode result) {
    if (result != CURLE_OK) {
        call->outcome = outcome_of(result);
        transfer_error(call, easy, result);
        return;
    }
    if (call->http_status != 200) {
        call->outcome = FO_CALL_HTTP_STATUS;
        snprintf(call->error, sizeof call->error, "HTTP %ld", call->http_status);
        return;
    }
    const char *why = NULL;
    if (fo_country_parse(call->body ? call->body : "", call->body_len, call->country,
                         sizeof call->country, &why) != 0) {
        call->outcome = FO_CALL_BAD_BODY;
        snprintf(call->error, sizeof call->error, "invalid country JSON: %s", why);
        return;
    }
    call->outcome = FO_CALL_OK;
}

void fo_call_finish(fo_call *call, CURL *easy, CURLcode result) {
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    call->http_status = status;
    call_judge(call, easy, result);
    /* The answer is read: the page keeps only its verdict while its other calls run. */
    free(call->body);
    call->body = NULL;
    call->body_cap = 0;
}
