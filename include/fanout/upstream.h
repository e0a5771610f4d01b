/* The fan-out to the country API: the plan of three calls, their outcomes, and the parsing of
 * the country JSON. The runners (upstream_block.h, upstream_uv.h) perform the calls. */
#ifndef FANOUT_UPSTREAM_H
#define FANOUT_UPSTREAM_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include "fanout/sys.h" /* fo_now_ns: the clock of start_ns and end_ns */

#include "fanout/settings.h" /* FO_FANOUT_CALLS, FO_FLOOR_MS */

/* Room for a country's name and its NUL: the longest ISO 3166-1 short name (South Georgia and the
 * South Sandwich Islands) is 44 bytes. */
#define FO_COUNTRY_NAME_MAX 128

/* The download buffer curl allocates for each transfer while it runs (CURLOPT_BUFFERSIZE; curl's
 * default is 16 KiB). The country API's whole answer, headers included, is about 200 bytes, so
 * curl's minimum, 1 KiB, reads it in one go; a larger answer only takes more reads. Every model
 * gets the same size through fo_call_setup. */
#define FO_CALL_BUFFER_BYTES 1024L

/* Where the upstream is and how long a call may take. Shared, read-only, by the runners. */
/* Room for why a call failed: our own words, or curl's name for its error code with the
 * system's for the socket's error. Not curl's own message buffer (CURLOPT_ERRORBUFFER): that
 * must be CURL_ERROR_SIZE (256 bytes) for every call in flight, three a page, more than all the
 * rest of a page waiting on its calls. */
#define FO_CALL_ERROR_MAX 96

typedef struct fo_upstream_cfg {
    /* "http://127.0.0.1:5000", no trailing slash needed; or several, comma-separated, over
     * which the calls are spread in turn (one address pair offers only ~28,000 ports). */
    const char *base_url;
    long timeout_ms; /* whole-call timeout; 0 = none */
    /* Idle connections a runner keeps for reuse. The uv runner needs one for every call it may
     * have in flight, or it closes and reopens connections under load; 0 = 4096. */
    long pool;
    /* 0 (the default): a fan-out ends as soon as one call fails (its page answers 502 or 504
     * at once), and the engines stop a page's calls when its client leaves. 1: every call runs
     * to its end and nobody watches for clients that leave, the behaviour before cancellation,
     * kept so that a run can show what not cancelling costs (fanout-server --no-cancel). */
    int no_cancel;
} fo_upstream_cfg;

typedef enum fo_call_outcome {
    FO_CALL_PENDING = 0,
    FO_CALL_OK,          /* 200 with a valid country */
    FO_CALL_CONNECT,     /* could not connect */
    FO_CALL_TIMEOUT,     /* no complete answer within timeout_ms */
    FO_CALL_HTTP_STATUS, /* answered, but not 200 */
    FO_CALL_BAD_BODY,    /* 200 whose body is not a country object */
    FO_CALL_IO,          /* anything else: reset, closed mid-body, ... */
    FO_CALL_CANCELLED,   /* stopped before its end: another call failed, or the client left */
} fo_call_outcome;

typedef struct fo_call {
    int ms; /* the delay asked of the API */
    fo_call_outcome outcome;
    long http_status;
    /* The answer while it arrives (malloc'd, grows); freed once the call has ended, when
     * body_len still says how long it was. */
    char *body;
    size_t body_len, body_cap;
    char country[FO_COUNTRY_NAME_MAX]; /* after FO_CALL_OK: the country's name */
    char error[FO_CALL_ERROR_MAX];     /* why the call failed, when it did */
} fo_call;

/* One page's fan-out: three calls made at once, and how long they took together. */
typedef struct fo_fanout {
    fo_call calls[FO_FANOUT_CALLS];
    uint64_t start_ns, end_ns; /* monotonic clock around the whole fan-out */
    int done;                  /* calls finished so far */
    void *run;                 /* the runner's own record while the calls run (upstream_uv) */
} fo_fanout;

/* Ends every call of f still pending as FO_CALL_CANCELLED, with why as its error. */
void fo_fanout_cancel_pending(fo_fanout *f, const char *why);

/* 1 when call ended in a way that decides its page (failed, not cancelled). */
int fo_call_failed(const fo_call *call);

/* Resets f and plans the calls for a page at ms: ms, 2*ms, ms/2 (in that order). */
void fo_fanout_plan(fo_fanout *f, int ms);

/* Frees the call bodies; f can be planned again afterwards. */
void fo_fanout_release(fo_fanout *f);

/* Parses {"name": "...", "code": "XX"}. Returns 0 and copies the name, or -1 with *why set to a
 * short static reason (not JSON, not an object, name missing or not a string, too long, ...). */
int fo_country_parse(const char *json, size_t len, char *name, size_t cap, const char **why);

/* Checks a base_url list: one or more comma-separated http:// URLs. 0, or -1 with a one-line
 * reason in err. */
int fo_upstream_check(const char *base_url, char *err, size_t errlen);

/* Prepares an easy handle for a call (URL, timeouts, body collection, keep-alive), to the
 * base URL numbered turn modulo their count: runners pass a counter, so calls spread evenly.
 * CURLOPT_PRIVATE is left to the runner. Returns 0 or -ENOMEM. */
int fo_call_setup(CURL *easy, const fo_upstream_cfg *cfg, fo_call *call, unsigned turn);

/* Records how a call ended, from curl's result code and the handle's response code, and
 * parses the body when the status is 200. */
void fo_call_finish(fo_call *call, CURL *easy, CURLcode result);

#endif
