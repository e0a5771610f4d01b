/* Command-line parsing for fanout-load (see opts.h). A small hand-written parser rather than
 * getopt_long, so that it keeps no global state and can be tested call after call. */
#include "opts.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char synopsis[] =
    "usage: fanout-load [options] URL\n"
    "\n"
    "A load generator with Locust's semantics: each user is a closed loop on its own HTTP/1.1\n"
    "keep-alive connection, sending its next request as soon as the last one is answered.\n"
    "With --rate it runs the open model instead: visitors arrive at a fixed rate whatever the\n"
    "server does.\n"
    "\n";

static const char epilog[] =
    "\n"
    "Response time: from the first byte of the request sent (or the connect started, when the\n"
    "user has to connect first) to the last byte of the response. In the open model that is the\n"
    "service time, and the response time starts at the arrival's intended time (what a visitor\n"
    "waits: their difference is queueing, which a closed model hides); a start more than 1 ms\n"
    "after its intended time is late, and --timeout counts from the send.\n"
    "Failures (connect, timeout, HTTP status >= 400, malformed response, connection closed\n"
    "mid-response) are counted by kind and never enter the latency figures. Requests still\n"
    "in flight at the end are in neither count: the summary, the JSON (in_flight_at_end) and\n"
    "the CSV (\"In Flight At End\") say how many.\n"
    "Ctrl-C (or SIGTERM) ends the run early and still reports it; a second one kills it.\n"
    "Max RPS is given twice: the peak of Locust's smoothed \"current RPS\" (mean of seconds\n"
    "[L-12, L-3]) and the peak of raw one-second counts.\n"
    "\n"
    "The last two lines on stdout are the blog's table header and this run's row:\n"
    "  | Min(ms) | 95%-ile(ms) | Average(ms) | Max RPS |   (exact p95; smoothed Max RPS;\n"
    "  the open model: response times)\n"
    "\n"
    "JSON (--json): one object. Times are ms unless named _s or _ns.\n"
    "  url, users, threads, duration_s, interrupted, requests, failures {total, connect,\n"
    "  timeout, http, malformed, closed}, reconnects, in_flight_at_end, bytes, min_ms, max_ms, "
    "mean_ms,\n"
    "  p50_ms, p90_ms, p95_ms, p99_ms, p999_ms, p95_locust_ms, rps, max_rps_smoothed,\n"
    "  max_rps_raw, failure_ratio,\n"
    "  windows [{t_s, users, requests, failures, p50_ms, p95_ms, rps_smoothed, buckets}] (one\n"
    "  a second; buckets as the histogram's),\n"
    "  stages [{users, start_s, end_s, requests, failures, rps, min_ms, mean_ms, p50_ms,\n"
    "  p95_ms, p99_ms, max_ms, histogram}] (with --stages),\n"
    "  histogram {unit: \"ns\", sub_bucket_bits, count, sum_ns, min_ns, max_ns,\n"
    "  buckets [[lo_ns, hi_ns, count], ...]} (non-empty buckets, values in [lo, hi)).\n"
    "  model (\"closed\" or \"open\"), start_unix (the run's clock start, Unix s),\n"
    "  segment {index, count} (users, window users and arrivals are the segment's), plan\n"
    "  {model, users, spawn_rate, rate, stages, total_s, wait_min_ms, wait_max_ms} (the whole\n"
    "  run's settings). The open model: the latency keys above are response\n"
    "  times, and also offered_rps, achieved_rps (sent/s), arrivals, sent, unsent,\n"
    "  max_connections, connections, late_starts, queued_starts, lateness {late_ms, mean_ms,\n"
    "  p50_ms, p90_ms, p99_ms, p999_ms, max_ms}, response and service {min_ms, mean_ms, p50_ms,\n"
    "  p90_ms, p95_ms, p99_ms, p999_ms, max_ms}, service_histogram, lateness_histogram;\n"
    "  windows add offered, sent,\n"
    "  late, p99_ms, service_p50_ms, service_p95_ms, service_p99_ms, service_buckets; stages\n"
    "  have rate.\n"
    "\n"
    "Exit status: 0 success; 1 failure ratio above --max-failure-ratio; 2 bad arguments;\n"
    "3 target unreachable at the start; 4 other errors (the open-files limit, out of memory,\n"
    "output files).\n";

int fo_parse_duration(const char *s, uint64_t *ns) {
    static const struct {
        const char *name;
        double ns;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    double total = 0;
    if (!s || !*s) return -EINVAL;
    while (*s) {
        if (!(*s >= '0' && *s <= '9') && *s != '.') return -EINVAL;
        char *end;
        double v = strtod(s, &end);
        if (end == s || v < 0) return -EINVAL;
        s = end;
        size_t len = 0;
        while ((s[len] >= 'a' && s[len] <= 'z'))
            len++;
        double mult = 0;
        if (len == 0) {
            if (*s) return -EINVAL;
            mult = 1e9; /* a bare number is seconds */
        }
        for (size_t i = 0; len && i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].name) == len && strncmp(units[i].name, s, len) == 0)
                mult = units[i].ns;
        if (mult == 0) return -EINVAL;
        total += v * mult;
        s += len;
    }
    if (total > 1e18) return -EINVAL;
    *ns = (uint64_t)(total + 0.5);
    return 0;
}

/* A whole number in [min, max]. */
static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out) {
    if (!s || !*s || *s == '-' || *s == '+') return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max) return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

static int parse_double(const char *s, double min, double max, double *out) {
    if (!s || !*s) return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= min && v <= max)) return -EINVAL;
    *out = v;
    return 0;
}

int fo_load_parse_url(fo_load_opts *o, const char *url, char *err, size_t errlen) {
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return fo_cli_fail(err, errlen, "URL must start with http:// (https is not supported): %s",
                           url);
    const char *h = url + sizeof scheme - 1;
    const char *host_end, *rest;
    if (*h == '[') {
        host_end = strchr(h, ']');
        if (!host_end)
            return fo_cli_fail(err, errlen, "URL has an unclosed [ in its host: %s", url);
        h++;
        rest = host_end + 1;
    } else {
        host_end = h + strcspn(h, ":/?#");
        rest = host_end;
    }
    size_t hlen = (size_t)(host_end - h);
    if (hlen == 0 || hlen > FO_LOAD_MAX_HOST)
        return fo_cli_fail(err, errlen, "URL has no usable host: %s", url);
    memcpy(o->host, h, hlen);
    o->host[hlen] = '\0';
    o->port = 80;
    if (*rest == ':') {
        uint32_t port;
        char digits[8];
        size_t plen = strcspn(rest + 1, "/?#");
        if (plen == 0 || plen >= sizeof digits)
            return fo_cli_fail(err, errlen, "URL has a bad port: %s", url);
        memcpy(digits, rest + 1, plen);
        digits[plen] = '\0';
        if (parse_u32(digits, 1, 65535, &port) < 0)
            return fo_cli_fail(err, errlen, "URL has a bad port: %s", url);
        o->port = (int)port;
        rest += 1 + plen;
    }
    const char *path = *rest ? rest : "/";
    if (*path == '#') path = "/";
    size_t plen = strcspn(path, "#");
    if (plen > FO_LOAD_MAX_PATH) return fo_cli_fail(err, errlen, "URL path is too long");
    if (*path == '?') {
        o->path[0] = '/';
        memcpy(o->path + 1, path, plen < FO_LOAD_MAX_PATH ? plen : FO_LOAD_MAX_PATH - 1);
        o->path[1 + (plen < FO_LOAD_MAX_PATH ? plen : FO_LOAD_MAX_PATH - 1)] = '\0';
    } else {
        memcpy(o->path, path, plen);
        o->path[plen] = '\0';
    }
    for (const char *c = o->path; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return fo_cli_fail(err, errlen, "URL path has a space or control character");
    int v6 = strchr(o->host, ':') != NULL;
    if (o->port == 80)
        snprintf(o->host_header, sizeof o->host_header, v6 ? "[%s]" : "%s", o->host);
    else
        snprintf(o->host_header, sizeof o->host_header, v6 ? "[%s]:%d" : "%s:%d", o->host, o->port);
    o->url = url;
    return 0;
}

/* Adds one stage, given its count's text and its hold; 0, or -EINVAL with err set. */
typedef int (*stage_fn)(void *list, const char *count, uint64_t hold, char *err, size_t errlen);

/* Splits "COUNT:DURATION,COUNT:DURATION,..." (COUNT named `what` in errors) for option `opt`
 * and hands each stage to add. 0, or -EINVAL with a one-line reason. */
static int parse_stage_list(const char *opt, const char *what, const char *text, stage_fn add,
                            void *list, char *err, size_t errlen) {
    const char *p = text;
    if (!*p) return fo_cli_fail(err, errlen, "%s is empty", opt);
    while (*p) {
        size_t len = strcspn(p, ",");
        char item[64];
        if (len == 0 || len >= sizeof item)
            return fo_cli_fail(err, errlen, "%s: bad stage near \"%.20s\"", opt, p);
        memcpy(item, p, len);
        item[len] = '\0';
        char *colon = strchr(item, ':');
        if (!colon)
            return fo_cli_fail(err, errlen, "%s: \"%s\" is not %s:DURATION", opt, item, what);
        *colon = '\0';
        uint64_t hold;
        if (fo_parse_duration(colon + 1, &hold) < 0)
            return fo_cli_fail(err, errlen, "%s: \"%s\" is not a duration (e.g. 500ms, 30s, 2m)",
                               opt, colon + 1);
        if (add(list, item, hold, err, errlen) < 0) return -EINVAL;
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) return fo_cli_fail(err, errlen, "%s ends with a comma", opt);
        }
    }
    return 0;
}

static int add_users_stage(void *list, const char *count, uint64_t hold, char *err, size_t errlen) {
    uint32_t users;
    if (parse_u32(count, 0, FO_SCHED_MAX_USERS, &users) < 0)
        return fo_cli_fail(err, errlen, "--stages: \"%s\" is not a user count (0..%u)", count,
                           FO_SCHED_MAX_USERS);
    if (fo_sched_add_stage(list, users, hold) < 0)
        return fo_cli_fail(err, errlen, "--stages: at most %d stages", FO_SCHED_MAX_STAGES);
    return 0;
}

int fo_parse_stages(fo_sched *s, const char *list, char *err, size_t errlen) {
    return parse_stage_list("--stages", "USERS", list, add_users_stage, s, err, errlen);
}

static int add_rate_stage(void *list, const char *count, uint64_t hold, char *err, size_t errlen) {
    double rate;
    if (parse_double(count, 0, FO_RATES_MAX_RATE, &rate) < 0)
        return fo_cli_fail(err, errlen, "--rate-stages: \"%s\" is not a rate (0 to %g a second)",
                           count, FO_RATES_MAX_RATE);
    if (fo_rates_add_stage(list, rate, hold) < 0)
        return fo_cli_fail(err, errlen, "--rate-stages: at most %d stages", FO_RATES_MAX_STAGES);
    return 0;
}

int fo_parse_rate_stages(fo_rates *r, const char *list, char *err, size_t errlen) {
    return parse_stage_list("--rate-stages", "RATE", list, add_rate_stage, r, err, errlen);
}

static int parse_wait(void *opts, const fo_cli_opt *row, const char *v, char *err, size_t errlen) {
    fo_load_opts *o = opts;
    (void)row;
    const char *colon = strchr(v, ':');
    char a[32], b[32];
    size_t alen = colon ? (size_t)(colon - v) : strlen(v);
    const char *bs = colon ? colon + 1 : v;
    if (alen == 0 || alen >= sizeof a || strlen(bs) == 0 || strlen(bs) >= sizeof b)
        return fo_cli_fail(err, errlen, "--wait wants MIN:MAX in ms, got \"%s\"", v);
    memcpy(a, v, alen);
    a[alen] = '\0';
    strcpy(b, bs);
    double lo, hi;
    if (parse_double(a, 0, 3600e3, &lo) < 0 || parse_double(b, 0, 3600e3, &hi) < 0 || hi < lo)
        return fo_cli_fail(err, errlen, "--wait wants MIN:MAX in ms with MIN <= MAX, got \"%s\"",
                           v);
    o->wait_min_ns = (uint64_t)(lo * 1e6);
    o->wait_max_ns = (uint64_t)(hi * 1e6);
    return 0;
}

static int add_header(void *opts, const fo_cli_opt *row, const char *v, char *err, size_t errlen) {
    fo_load_opts *o = opts;
    (void)row;
    const char *colon = strchr(v, ':');
    if (!colon || colon == v)
        return fo_cli_fail(err, errlen, "--header wants \"Name: value\", got \"%s\"", v);
    for (const char *c = v; *c; c++)
        if (*c == '\r' || *c == '\n') return fo_cli_fail(err, errlen, "--header must be one line");
    size_t have = strlen(o->headers), add = strlen(v) + 2;
    if (have + add > FO_LOAD_MAX_HEADERS)
        return fo_cli_fail(err, errlen, "--header: too many header bytes");
    memcpy(o->headers + have, v, add - 2);
    memcpy(o->headers + have + add - 2, "\r\n", 3);
    return 0;
}

/* The open model: --rate or --rate-stages, checked against the closed model's options. */
static int finish_open(fo_load_opts *o, double rate, const char *rate_stages,
                       const char *closed_opt, char *err, size_t errlen) {
    if (rate > 0 && rate_stages)
        return fo_cli_fail(err, errlen,
                           "--rate and --rate-stages do not go together: stages set the rate");
    const char *which = rate_stages ? "--rate-stages" : "--rate";
    if (closed_opt)
        return fo_cli_fail(err, errlen,
                           "%s and %s do not go together: the open model has arrivals, not users "
                           "(see --max-connections)",
                           which, closed_opt);
    o->open = 1;
    if (rate_stages) {
        if (fo_parse_rate_stages(&o->rates, rate_stages, err, errlen) < 0) return -EINVAL;
        o->staged = 1;
        fo_rates_finish(&o->rates, o->duration_ns);
    } else {
        fo_rates_simple(&o->rates, rate, o->duration_ns);
    }
    if (o->rates.total == 0) return fo_cli_fail(err, errlen, "%s never sends a request", which);
    o->users = 0;
    fo_sched_simple(&o->sched, 0, 0, o->rates.total_ns);
    /* Each thread needs a connection of its own. */
    if (o->threads > o->max_connections) o->threads = o->max_connections;
    return 0;
}

#define MAX_SEGMENTS 10000u

/* "I/N" with 0 <= I < N <= MAX_SEGMENTS. */
static int parse_segment(void *opts, const fo_cli_opt *row, const char *v, char *err,
                         size_t errlen) {
    fo_load_opts *o = opts;
    (void)row;
    const char *slash = strchr(v, '/');
    char a[16];
    size_t alen = slash ? (size_t)(slash - v) : 0;
    uint32_t i, n;
    if (!slash || alen == 0 || alen >= sizeof a)
        return fo_cli_fail(err, errlen, "--segment wants I/N (e.g. 0/4), got \"%s\"", v);
    memcpy(a, v, alen);
    a[alen] = '\0';
    if (parse_u32(slash + 1, 1, MAX_SEGMENTS, &n) < 0)
        return fo_cli_fail(err, errlen,
                           "--segment I/N: N must be a whole number from 1 to %u, got \"%s\"",
                           MAX_SEGMENTS, v);
    if (parse_u32(a, 0, n - 1, &i) < 0)
        return fo_cli_fail(err, errlen,
                           "--segment I/N: I must be a whole number from 0 to N-1, got \"%s\"", v);
    o->seg_index = i;
    o->seg_count = n;
    return 0;
}

/* "+DURATION" (from now) or Unix seconds with an optional fraction. */
static int parse_start_at(void *opts, const fo_cli_opt *row, const char *v, char *err,
                          size_t errlen) {
    fo_load_opts *o = opts;
    (void)row;
    if (v[0] == '+') {
        if (fo_parse_duration(v + 1, &o->start_at_rel_ns) < 0)
            return fo_cli_fail(err, errlen,
                               "--start-at +D wants a duration (e.g. +10s), got \"%s\"", v);
        o->start_at = FO_START_REL;
        return 0;
    }
    /* Unix seconds from 2001 to 2286: anything else is a typo (ms, or a duration without +). */
    if (parse_double(v, 1e9, 1e10 - 1, &o->start_at_unix) < 0)
        return fo_cli_fail(
            err, errlen,
            "--start-at wants Unix seconds (e.g. $(date +%%s) + 10) or +D (e.g. +10s), "
            "got \"%s\"",
            v);
    o->start_at = FO_START_ABS;
    return 0;
}

/* An IPv4 or IPv6 literal: a name would need a resolver, and could give several addresses. */
static int parse_source(void *opts, const fo_cli_opt *row, const char *v, char *err,
                        size_t errlen) {
    fo_load_opts *o = opts;
    (void)row;
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, v, buf) != 1 && inet_pton(AF_INET6, v, buf) != 1)
        return fo_cli_fail(err, errlen,
                           "--source wants an IP address (e.g. 127.0.0.2 or ::1), got \"%s\"", v);
    o->source = v;
    return 0;
}

int fo_load_start_resolve(fo_load_opts *o, double now_unix, char *err, size_t errlen) {
    switch (o->start_at) {
    case FO_START_NOW:
        o->start_unix = 0;
        return 0;
    case FO_START_REL:
        o->start_unix = now_unix + (double)o->start_at_rel_ns / 1e9;
        return 0;
    default:
        break;
    }
    if (o->start_at_unix < now_unix - FO_START_LATE_MAX_S)
        return fo_cli_fail(
            err, errlen,
            "--start-at %.3f is %.3f s in the past (more than %g s): give a later time",
            o->start_at_unix, now_unix - o->start_at_unix, FO_START_LATE_MAX_S);
    o->start_unix = o->start_at_unix;
    return 0;
}

uint32_t fo_load_segment_share(const fo_load_opts *o, uint32_t total) {
    return (uint32_t)fo_sched_share(total, o->seg_index, o->seg_count);
}

/* A duration of 1ms or more into the row's uint64_t field (ns). */
static int parse_duration_row(void *opts, const fo_cli_opt *row, const char *v, char *err,
                              size_t errlen) {
    uint64_t *ns = (uint64_t *)((char *)opts + row->field);
    if (fo_parse_duration(v, ns) < 0 || *ns < (uint64_t)row->min)
        return fo_cli_fail(err, errlen,
                           "--%s wants a duration of 1ms or more (e.g. 500ms, 30s, 2m), got \"%s\"",
                           row->name, v);
    return 0;
}

#define FIELD(f) .field = offsetof(fo_load_opts, f)
#define MS_NS 1000000L

/* fanout-load's options: each one's flag, field, bounds, default and help, once. */
static const fo_cli_opt rows[] = {
    {FO_CLI_SECTION, .help = "Load (the closed model):"},
    {FO_CLI_U32, "users", 'u', FIELD(users), 1, FO_SCHED_MAX_USERS, 10, .arg = "N",
     .help = "users (connections) to run"},
    {FO_CLI_DOUBLE, "spawn-rate", 'r', FIELD(spawn_rate), .dmin = 0.001, .dmax = 1e6, .arg = "R",
     .def_help = "",
     .help = "users started per second, in Locust's batches of max(1, floor(R))\nevery batch/R "
             "s, the first at 0 (default: all at once)"},
    {FO_CLI_CUSTOM, "duration", 'd', FIELD(duration_ns), .min = MS_NS, .def_str = "10s",
     .def_later = 1, .arg = "D", .parse = parse_duration_row,
     .help = "the whole run, ramp included (default {default}): 500ms, 30s, 2m, 1h"},
    {FO_CLI_STR, "stages", 0, FIELD(stages), .arg = "LIST",
     .help = "\"10:5s,50:10s,100:15s\": ramp to 10 users (at --spawn-rate) and\nhold 5s, then "
             "to 50 and hold 10s, ...; figures per stage cover\nits hold; --duration, if "
             "given, caps the run"},
    {FO_CLI_CUSTOM, "wait", 0, .def_str = "0:0", .arg = "MIN:MAX", .parse = parse_wait,
     .help = "wait a uniform MIN..MAX ms between a user's requests"},
    {FO_CLI_CUSTOM, "timeout", 0, FIELD(timeout_ns), .min = MS_NS, .def_str = "60s", .arg = "D",
     .parse = parse_duration_row, .help = "a request not answered within D fails"},
    {FO_CLI_U32, "threads", 't', FIELD(threads), 1, FO_LOAD_MAX_THREADS, 1, .arg = "T",
     .help = "event loops to spread users (or arrivals) over"},
    {FO_CLI_CUSTOM, "header", 'H', .arg = "'N: V'", .parse = add_header,
     .help = "add a request header (repeatable)"},
    {FO_CLI_SECTION, .help = "\nLoad (the open model; not with --users, --spawn-rate, --stages "
                             "or --wait):"},
    {FO_CLI_DOUBLE, "rate", 0, FIELD(rate), .dmin = 0.001, .dmax = FO_RATES_MAX_RATE, .arg = "R",
     .def_help = "",
     .help = "R arrivals a second, evenly spaced (1/R s apart on a monotonic\nns clock) for "
             "--duration; one global schedule, dealt\nround-robin over --threads"},
    {FO_CLI_STR, "rate-stages", 0, FIELD(rate_stages), .arg = "LIST",
     .help = "\"50:10s,200:20s\": 50/s for 10 s, then 200/s for 20 s (steps;\na rate of 0 "
             "pauses); figures per stage; --duration caps the run"},
    {FO_CLI_U32, "max-connections", 0, FIELD(max_connections), 1, FO_LOAD_MAX_CONNECTIONS,
     FO_LOAD_DEFAULT_MAX_CONNECTIONS, .def_later = 1, .arg = "N",
     .help = "the pool's cap (default {default}, lowered to fit the open-files\nlimit; an N the "
             "limit cannot hold is an error, exit 4). Each\narrival takes an idle keep-alive "
             "connection; when none is idle\nit waits, counted as queued, for the first ready: "
             "one coming\nfree or one opened for it (16 at a time, up to the cap). None\nis "
             "dropped."},
    {FO_CLI_SECTION, .help = "\nSeveral processes (see README, \"Load from several machines\"):"},
    {FO_CLI_CUSTOM, "segment", 0, .def_str = "0/1", .def_help = "", .arg = "I/N",
     .parse = parse_segment,
     .help = "run segment I (0..N-1) of N: global user k (or arrival k) is\nthis process's when "
             "k mod N = I, so N processes with the same\noptions run the single process's ramp "
             "exactly; merge their JSON\nwith fanout-report merge. --max-connections stays per "
             "process"},
    {FO_CLI_CUSTOM, "start-at", 0, .arg = "TIME", .parse = parse_start_at,
     .help = "start the run's clock at TIME: Unix seconds (fractions allowed)\nor +D from now "
             "(+10s); more than 1 s in the past is an error"},
    {FO_CLI_CUSTOM, "source", 0, .arg = "ADDR", .parse = parse_source,
     .help = "connect from the local IP address ADDR (the port is the\nkernel's): one source "
             "address offers a target only its\nephemeral ports (~28,000 on Linux), so give "
             "each process\nanother (127.0.0.2, 127.0.0.3, ... are loopback on Linux)"},
    {FO_CLI_SECTION, .help = "\nOutput:"},
    {FO_CLI_FLAG, "quiet", 'q', FIELD(quiet), .help = "no live line on stderr"},
    {FO_CLI_STR, "json", 0, FIELD(json_path), .arg = "FILE",
     .help = "write the results as JSON (schema below)"},
    {FO_CLI_STR, "csv", 0, FIELD(csv_prefix), .arg = "PREFIX",
     .help = "write Locust's PREFIX_stats.csv and PREFIX_stats_history.csv"},
    {FO_CLI_DOUBLE, "max-failure-ratio", 0, FIELD(max_failure_ratio), .dmin = 0, .dmax = 1,
     .ddef = 0.01, .arg = "X", .help = "exit 1 when failures/requests exceeds X"},
    {FO_CLI_ACTION, "help", 'h', .action = FO_CLI_HELP, .help = "this text"},
    {.kind = FO_CLI_END},
};

static const fo_cli cli = {.prog = "fanout-load",
                           .rows = rows,
                           .synopsis = synopsis,
                           .epilog = epilog,
                           .col = 27,
                           .max_operands = 2};

void fo_load_help(FILE *f) {
    fo_cli_help(&cli, f);
}

/* A row's default that the parser leaves for later (def_later), applied now. */
static void apply_later(fo_load_opts *o, const char *name) {
    const fo_cli_opt *row = fo_cli_row(&cli, name);
    assert(row && row->def_later);
    if (row->kind == FO_CLI_U32) {
        *(uint32_t *)((char *)o + row->field) = (uint32_t)row->def;
        return;
    }
    char err[64];
    int rc = row->parse(o, row, row->def_str, err, sizeof err);
    assert(rc == 0);
    (void)rc;
}

static int given_row(const unsigned char *given, const char *name) {
    const fo_cli_opt *row = fo_cli_row(&cli, name);
    assert(row);
    return given[row - rows];
}

/* The closed model's option that was given, as "--users", or NULL. */
static const char *closed_given(const unsigned char *given) {
    static const char *const closed[] = {"--users", "--spawn-rate", "--stages", "--wait"};
    for (size_t i = 0; i < sizeof closed / sizeof closed[0]; i++)
        if (given_row(given, closed[i] + 2)) return closed[i];
    return NULL;
}

/* The closed model: --users or --stages, and --spawn-rate. */
static int finish_closed(fo_load_opts *o, int users_given, char *err, size_t errlen) {
    if (o->max_connections_given)
        return fo_cli_fail(err, errlen, "--max-connections is for the open model: give --rate too");
    if (o->stages) {
        if (users_given)
            return fo_cli_fail(err, errlen,
                               "--stages and --users do not go together: stages set the users");
        if (fo_parse_stages(&o->sched, o->stages, err, errlen) < 0) return -EINVAL;
        o->staged = 1;
        fo_sched_finish(&o->sched, o->spawn_rate, o->duration_ns);
        o->users = o->sched.max_users;
        if (o->users == 0) return fo_cli_fail(err, errlen, "--stages never runs a user");
    } else {
        fo_sched_simple(&o->sched, o->users, o->spawn_rate, o->duration_ns);
    }
    if (o->sched.total_ns == 0) return fo_cli_fail(err, errlen, "the run would last no time");
    if (o->seg_count > o->users)
        return fo_cli_fail(err, errlen, "--segment %u/%u: more segments than the run's %u users",
                           o->seg_index, o->seg_count, o->users);
    uint32_t mine = fo_load_segment_share(o, o->users);
    if (o->threads > mine) o->threads = mine;
    return FO_LOAD_OPTS_RUN;
}

/* What the rows alone cannot check: the URL, which model, the defaults that depend on it. */
static int finish(fo_load_opts *o, const fo_cli_result *res, const unsigned char *given, char *err,
                  size_t errlen) {
    if (res->n_operands == 0)
        return fo_cli_fail(err, errlen, "no URL given (usage: fanout-load [options] URL)");
    if (res->n_operands > 1)
        return fo_cli_fail(err, errlen, "one URL only, got \"%s\" and \"%s\"", res->operands[0],
                           res->operands[1]);
    if (fo_load_parse_url(o, res->operands[0], err, errlen) < 0) return -EINVAL;
    o->max_connections_given = given_row(given, "max-connections");
    o->plan_text = o->stages ? o->stages : o->rate_stages;
    /* A plan of stages sets the length; --duration, when given, only caps it. */
    if (!given_row(given, "duration") && !o->plan_text) apply_later(o, "duration");
    if (o->rate > 0 || o->rate_stages) {
        if (!o->max_connections_given) apply_later(o, "max-connections");
        if (finish_open(o, o->rate, o->rate_stages, closed_given(given), err, errlen) < 0)
            return -EINVAL;
        if (o->seg_count > o->rates.total)
            return fo_cli_fail(err, errlen,
                               "--segment %u/%u: more segments than the run's %llu arrivals",
                               o->seg_index, o->seg_count, (unsigned long long)o->rates.total);
        return FO_LOAD_OPTS_RUN;
    }
    return finish_closed(o, given_row(given, "users"), err, errlen);
}

int fo_load_opts_parse(fo_load_opts *o, int argc, char **argv, char *err, size_t errlen) {
    unsigned char given[sizeof rows / sizeof rows[0]] = {0};
    fo_cli_result res;
    memset(o, 0, sizeof *o);
    fo_cli_defaults(&cli, o);
    int rc = fo_cli_parse(&cli, o, argc, argv, &res, given, err, errlen);
    if (rc == FO_CLI_HELP) return FO_LOAD_OPTS_HELP;
    if (rc < 0) return rc;
    return finish(o, &res, given, err, errlen);
}
