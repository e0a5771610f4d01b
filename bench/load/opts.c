/* Command-line parsing for fanout-load (see opts.h). A small hand-written parser rather than
 * getopt_long, so that it keeps no global state and can be tested call after call. */
#include "opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: fanout-load [options] URL\n"
    "\n"
    "A load generator with Locust's semantics: each user is a closed loop on its own HTTP/1.1\n"
    "keep-alive connection, sending its next request as soon as the last one is answered.\n"
    "With --rate it runs the open model instead: visitors arrive at a fixed rate whatever the\n"
    "server does.\n"
    "\n"
    "Load (the closed model):\n"
    "  -u, --users N            users (connections) to run (default 10)\n"
    "  -r, --spawn-rate R       users started per second, in Locust's batches of max(1, floor(R))\n"
    "                           every batch/R s, the first at 0 (default: all at once)\n"
    "  -d, --duration D         the whole run, ramp included (default 10s): 500ms, 30s, 2m, 1h\n"
    "      --stages LIST        \"10:5s,50:10s,100:15s\": ramp to 10 users (at --spawn-rate) and\n"
    "                           hold 5s, then to 50 and hold 10s, ...; figures per stage cover\n"
    "                           its hold; --duration, if given, caps the run\n"
    "      --wait MIN:MAX       wait a uniform MIN..MAX ms between a user's requests (default 0)\n"
    "      --timeout D          a request not answered within D fails (default 60s)\n"
    "  -t, --threads T          event loops to spread users (or arrivals) over (default 1)\n"
    "  -H, --header 'N: V'      add a request header (repeatable)\n"
    "\n"
    "Load (the open model; not with --users, --spawn-rate, --stages or --wait):\n"
    "      --rate R             R arrivals a second, evenly spaced (1/R s apart on a monotonic\n"
    "                           ns clock) for --duration; one global schedule, dealt\n"
    "                           round-robin over --threads\n"
    "      --rate-stages LIST   \"50:10s,200:20s\": 50/s for 10 s, then 200/s for 20 s (steps;\n"
    "                           a rate of 0 pauses); figures per stage; --duration caps the run\n"
    "      --max-connections N  the pool's cap (default 10000, lowered to fit the open-files\n"
    "                           limit; an N the limit cannot hold is an error, exit 4). Each\n"
    "                           arrival takes an idle keep-alive connection; when none is idle\n"
    "                           it waits, counted as queued, for the first ready: one coming\n"
    "                           free or one opened for it (16 at a time, up to the cap). None\n"
    "                           is dropped.\n"
    "\n"
    "Several processes (see README, \"Load from several machines\"):\n"
    "      --segment I/N        run segment I (0..N-1) of N: global user k (or arrival k) is\n"
    "                           this process's when k mod N = I, so N processes with the same\n"
    "                           options run the single process's ramp exactly; merge their JSON\n"
    "                           with fanout-report merge. --max-connections stays per process\n"
    "      --start-at TIME      start the run's clock at TIME: Unix seconds (fractions allowed)\n"
    "                           or +D from now (+10s); more than 1 s in the past is an error\n"
    "      --source ADDR        connect from the local IP address ADDR (the port is the\n"
    "                           kernel's): one source address offers a target only its\n"
    "                           ephemeral ports (~28,000 on Linux), so give each process\n"
    "                           another (127.0.0.2, 127.0.0.3, ... are loopback on Linux)\n"
    "\n"
    "Output:\n"
    "  -q, --quiet              no live line on stderr\n"
    "      --json FILE          write the results as JSON (schema below)\n"
    "      --csv PREFIX         write Locust's PREFIX_stats.csv and PREFIX_stats_history.csv\n"
    "      --max-failure-ratio X  exit 1 when failures/requests exceeds X (default 0.01)\n"
    "  -h, --help               this text\n"
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

const char *fo_load_usage(void) {
    return usage_text;
}

int fo_load_fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

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
        return fo_load_fail(err, errlen, "URL must start with http:// (https is not supported): %s",
                            url);
    const char *h = url + sizeof scheme - 1;
    const char *host_end, *rest;
    if (*h == '[') {
        host_end = strchr(h, ']');
        if (!host_end)
            return fo_load_fail(err, errlen, "URL has an unclosed [ in its host: %s", url);
        h++;
        rest = host_end + 1;
    } else {
        host_end = h + strcspn(h, ":/?#");
        rest = host_end;
    }
    size_t hlen = (size_t)(host_end - h);
    if (hlen == 0 || hlen > FO_LOAD_MAX_HOST)
        return fo_load_fail(err, errlen, "URL has no usable host: %s", url);
    memcpy(o->host, h, hlen);
    o->host[hlen] = '\0';
    o->port = 80;
    if (*rest == ':') {
        uint32_t port;
        char digits[8];
        size_t plen = strcspn(rest + 1, "/?#");
        if (plen == 0 || plen >= sizeof digits)
            return fo_load_fail(err, errlen, "URL has a bad port: %s", url);
        memcpy(digits, rest + 1, plen);
        digits[plen] = '\0';
        if (parse_u32(digits, 1, 65535, &port) < 0)
            return fo_load_fail(err, errlen, "URL has a bad port: %s", url);
        o->port = (int)port;
        rest += 1 + plen;
    }
    const char *path = *rest ? rest : "/";
    if (*path == '#') path = "/";
    size_t plen = strcspn(path, "#");
    if (plen > FO_LOAD_MAX_PATH) return fo_load_fail(err, errlen, "URL path is too long");
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
            return fo_load_fail(err, errlen, "URL path has a space or control character");
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
    if (!*p) return fo_load_fail(err, errlen, "%s is empty", opt);
    while (*p) {
        size_t len = strcspn(p, ",");
        char item[64];
        if (len == 0 || len >= sizeof item)
            return fo_load_fail(err, errlen, "%s: bad stage near \"%.20s\"", opt, p);
        memcpy(item, p, len);
        item[len] = '\0';
        char *colon = strchr(item, ':');
        if (!colon)
            return fo_load_fail(err, errlen, "%s: \"%s\" is not %s:DURATION", opt, item, what);
        *colon = '\0';
        uint64_t hold;
        if (fo_parse_duration(colon + 1, &hold) < 0)
            return fo_load_fail(err, errlen, "%s: \"%s\" is not a duration (e.g. 500ms, 30s, 2m)",
                                opt, colon + 1);
        if (add(list, item, hold, err, errlen) < 0) return -EINVAL;
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) return fo_load_fail(err, errlen, "%s ends with a comma", opt);
        }
    }
    return 0;
}

static int add_users_stage(void *list, const char *count, uint64_t hold, char *err, size_t errlen) {
    uint32_t users;
    if (parse_u32(count, 0, FO_SCHED_MAX_USERS, &users) < 0)
        return fo_load_fail(err, errlen, "--stages: \"%s\" is not a user count (0..%u)", count,
                            FO_SCHED_MAX_USERS);
    if (fo_sched_add_stage(list, users, hold) < 0)
        return fo_load_fail(err, errlen, "--stages: at most %d stages", FO_SCHED_MAX_STAGES);
    return 0;
}

int fo_parse_stages(fo_sched *s, const char *list, char *err, size_t errlen) {
    return parse_stage_list("--stages", "USERS", list, add_users_stage, s, err, errlen);
}

static int add_rate_stage(void *list, const char *count, uint64_t hold, char *err, size_t errlen) {
    double rate;
    if (parse_double(count, 0, FO_RATES_MAX_RATE, &rate) < 0)
        return fo_load_fail(err, errlen, "--rate-stages: \"%s\" is not a rate (0 to %g a second)",
                            count, FO_RATES_MAX_RATE);
    if (fo_rates_add_stage(list, rate, hold) < 0)
        return fo_load_fail(err, errlen, "--rate-stages: at most %d stages", FO_RATES_MAX_STAGES);
    return 0;
}

int fo_parse_rate_stages(fo_rates *r, const char *list, char *err, size_t errlen) {
    return parse_stage_list("--rate-stages", "RATE", list, add_rate_stage, r, err, errlen);
}

static int parse_wait(fo_load_opts *o, const char *v, char *err, size_t errlen) {
    const char *colon = strchr(v, ':');
    char a[32], b[32];
    size_t alen = colon ? (size_t)(colon - v) : strlen(v);
    const char *bs = colon ? colon + 1 : v;
    if (alen == 0 || alen >= sizeof a || strlen(bs) == 0 || strlen(bs) >= sizeof b)
        return fo_load_fail(err, errlen, "--wait wants MIN:MAX in ms, got \"%s\"", v);
    memcpy(a, v, alen);
    a[alen] = '\0';
    strcpy(b, bs);
    double lo, hi;
    if (parse_double(a, 0, 3600e3, &lo) < 0 || parse_double(b, 0, 3600e3, &hi) < 0 || hi < lo)
        return fo_load_fail(err, errlen, "--wait wants MIN:MAX in ms with MIN <= MAX, got \"%s\"",
                            v);
    o->wait_min_ns = (uint64_t)(lo * 1e6);
    o->wait_max_ns = (uint64_t)(hi * 1e6);
    return 0;
}

static int add_header(fo_load_opts *o, const char *v, char *err, size_t errlen) {
    const char *colon = strchr(v, ':');
    if (!colon || colon == v)
        return fo_load_fail(err, errlen, "--header wants \"Name: value\", got \"%s\"", v);
    for (const char *c = v; *c; c++)
        if (*c == '\r' || *c == '\n') return fo_load_fail(err, errlen, "--header must be one line");
    size_t have = strlen(o->headers), add = strlen(v) + 2;
    if (have + add > FO_LOAD_MAX_HEADERS)
        return fo_load_fail(err, errlen, "--header: too many header bytes");
    memcpy(o->headers + have, v, add - 2);
    memcpy(o->headers + have + add - 2, "\r\n", 3);
    return 0;
}

/* Matches argv[*i] against an option with short form `s` (may be 0) and long form `l`; on a
 * match sets *val to its value (from "--l=v" or the next argument) when the option takes one. */
static int match(int argc, char **argv, int *i, char s, const char *l, int takes, const char **val,
                 int *missing) {
    const char *a = argv[*i];
    size_t ll = strlen(l);
    int hit = 0;
    const char *inline_val = NULL;
    if (s && a[0] == '-' && a[1] == s && a[2] == '\0') hit = 1;
    if (a[0] == '-' && a[1] == '-' && strncmp(a + 2, l, ll) == 0) {
        if (a[2 + ll] == '\0')
            hit = 1;
        else if (a[2 + ll] == '=' && takes) {
            hit = 1;
            inline_val = a + 3 + ll;
        }
    }
    if (!hit) return 0;
    if (!takes) return 1;
    if (inline_val) {
        *val = inline_val;
    } else if (*i + 1 < argc) {
        *val = argv[++*i];
    } else {
        *missing = 1;
    }
    return 1;
}

static void defaults(fo_load_opts *o) {
    memset(o, 0, sizeof *o);
    o->users = 10;
    o->threads = 1;
    o->timeout_ns = 60ull * 1000000000ull;
    o->max_failure_ratio = 0.01;
    o->seg_count = 1;
}

/* The open model: --rate or --rate-stages, checked against the closed model's options. */
static int finish_open(fo_load_opts *o, double rate, const char *rate_stages,
                       const char *closed_opt, char *err, size_t errlen) {
    if (rate > 0 && rate_stages)
        return fo_load_fail(err, errlen,
                            "--rate and --rate-stages do not go together: stages set the rate");
    const char *which = rate_stages ? "--rate-stages" : "--rate";
    if (closed_opt)
        return fo_load_fail(err, errlen,
                            "%s and %s do not go together: the open model has arrivals, not users "
                            "(see --max-connections)",
                            which, closed_opt);
    o->open = 1;
    if (rate_stages) {
        if (fo_parse_rate_stages(&o->rates, rate_stages, err, errlen) < 0) return -EINVAL;
        o->staged = 1;
        fo_rates_finish(&o->rates, o->duration_ns);
    } else {
        if (!o->duration_ns) o->duration_ns = 10ull * 1000000000ull;
        fo_rates_simple(&o->rates, rate, o->duration_ns);
    }
    if (o->rates.total == 0) return fo_load_fail(err, errlen, "%s never sends a request", which);
    if (!o->max_connections_given) o->max_connections = FO_LOAD_DEFAULT_MAX_CONNECTIONS;
    o->users = 0;
    fo_sched_simple(&o->sched, 0, 0, o->rates.total_ns);
    /* Each thread needs a connection of its own. */
    if (o->threads > o->max_connections) o->threads = o->max_connections;
    return 0;
}

#define MAX_SEGMENTS 10000u

/* "I/N" with 0 <= I < N <= MAX_SEGMENTS. */
static int parse_segment(fo_load_opts *o, const char *v, char *err, size_t errlen) {
    const char *slash = strchr(v, '/');
    char a[16];
    size_t alen = slash ? (size_t)(slash - v) : 0;
    uint32_t i, n;
    if (!slash || alen == 0 || alen >= sizeof a)
        return fo_load_fail(err, errlen, "--segment wants I/N (e.g. 0/4), got \"%s\"", v);
    memcpy(a, v, alen);
    a[alen] = '\0';
    if (parse_u32(slash + 1, 1, MAX_SEGMENTS, &n) < 0)
        return fo_load_fail(err, errlen,
                            "--segment I/N: N must be a whole number from 1 to %u, got \"%s\"",
                            MAX_SEGMENTS, v);
    if (parse_u32(a, 0, n - 1, &i) < 0)
        return fo_load_fail(err, errlen,
                            "--segment I/N: I must be a whole number from 0 to N-1, got \"%s\"", v);
    o->seg_index = i;
    o->seg_count = n;
    return 0;
}

/* "+DURATION" (from now) or Unix seconds with an optional fraction. */
static int parse_start_at(fo_load_opts *o, const char *v, char *err, size_t errlen) {
    if (v[0] == '+') {
        if (fo_parse_duration(v + 1, &o->start_at_rel_ns) < 0)
            return fo_load_fail(err, errlen,
                                "--start-at +D wants a duration (e.g. +10s), got \"%s\"", v);
        o->start_at = FO_START_REL;
        return 0;
    }
    /* Unix seconds from 2001 to 2286: anything else is a typo (ms, or a duration without +). */
    if (parse_double(v, 1e9, 1e10 - 1, &o->start_at_unix) < 0)
        return fo_load_fail(
            err, errlen,
            "--start-at wants Unix seconds (e.g. $(date +%%s) + 10) or +D (e.g. +10s), "
            "got \"%s\"",
            v);
    o->start_at = FO_START_ABS;
    return 0;
}

/* An IPv4 or IPv6 literal: a name would need a resolver, and could give several addresses. */
static int parse_source(fo_load_opts *o, const char *v, char *err, size_t errlen) {
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, v, buf) != 1 && inet_pton(AF_INET6, v, buf) != 1)
        return fo_load_fail(err, errlen,
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
        return fo_load_fail(
            err, errlen,
            "--start-at %.3f is %.3f s in the past (more than %g s): give a later time",
            o->start_at_unix, now_unix - o->start_at_unix, FO_START_LATE_MAX_S);
    o->start_unix = o->start_at_unix;
    return 0;
}

uint32_t fo_load_segment_share(const fo_load_opts *o, uint32_t total) {
    return fo_sched_share(total, o->seg_index, o->seg_count);
}

int fo_load_opts_parse(fo_load_opts *o, int argc, char **argv, char *err, size_t errlen) {
    const char *url = NULL, *stages = NULL, *rate_stages = NULL, *v = NULL;
    const char *closed_opt = NULL; /* an option of the closed model only, when given */
    int users_given = 0;
    double rate = 0;
    defaults(o);
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *a = argv[i];
        uint32_t u32;
        if (match(argc, argv, &i, 'h', "help", 0, &v, &missing))
            return FO_LOAD_OPTS_HELP;
        else if (match(argc, argv, &i, 'q', "quiet", 0, &v, &missing))
            o->quiet = 1;
        else if (match(argc, argv, &i, 'u', "users", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (parse_u32(v, 1, FO_SCHED_MAX_USERS, &o->users) < 0)
                return fo_load_fail(err, errlen,
                                    "--users wants a whole number from 1 to %u, got \"%s\"",
                                    FO_SCHED_MAX_USERS, v);
            users_given = 1;
            closed_opt = "--users";
        } else if (match(argc, argv, &i, 'r', "spawn-rate", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (parse_double(v, 0.001, 1e6, &o->spawn_rate) < 0)
                return fo_load_fail(err, errlen,
                                    "--spawn-rate wants users per second above 0, got \"%s\"", v);
            closed_opt = "--spawn-rate";
        } else if (match(argc, argv, &i, 'd', "duration", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (fo_parse_duration(v, &o->duration_ns) < 0 || o->duration_ns < 1000000)
                return fo_load_fail(
                    err, errlen,
                    "--duration wants a duration of 1ms or more (e.g. 500ms, 30s, 2m), got \"%s\"",
                    v);
        } else if (match(argc, argv, &i, 0, "stages", 1, &v, &missing)) {
            if (missing) goto missing_value;
            stages = v;
            closed_opt = "--stages";
        } else if (match(argc, argv, &i, 0, "wait", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (parse_wait(o, v, err, errlen) < 0) return -EINVAL;
            closed_opt = "--wait";
        } else if (match(argc, argv, &i, 0, "rate-stages", 1, &v, &missing)) {
            if (missing) goto missing_value;
            rate_stages = v;
        } else if (match(argc, argv, &i, 0, "rate", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (parse_double(v, 0.001, FO_RATES_MAX_RATE, &rate) < 0)
                return fo_load_fail(err, errlen,
                                    "--rate wants arrivals a second from 0.001 to %g, got \"%s\"",
                                    FO_RATES_MAX_RATE, v);
        } else if (match(argc, argv, &i, 0, "max-connections", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (parse_u32(v, 1, FO_LOAD_MAX_CONNECTIONS, &o->max_connections) < 0)
                return fo_load_fail(
                    err, errlen, "--max-connections wants a whole number from 1 to %u, got \"%s\"",
                    FO_LOAD_MAX_CONNECTIONS, v);
            o->max_connections_given = 1;
        } else if (match(argc, argv, &i, 0, "timeout", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (fo_parse_duration(v, &o->timeout_ns) < 0 || o->timeout_ns < 1000000)
                return fo_load_fail(err, errlen,
                                    "--timeout wants a duration of 1ms or more, got \"%s\"", v);
        } else if (match(argc, argv, &i, 't', "threads", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (parse_u32(v, 1, FO_LOAD_MAX_THREADS, &u32) < 0)
                return fo_load_fail(err, errlen,
                                    "--threads wants a whole number from 1 to %d, got \"%s\"",
                                    FO_LOAD_MAX_THREADS, v);
            o->threads = u32;
        } else if (match(argc, argv, &i, 'H', "header", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (add_header(o, v, err, errlen) < 0) return -EINVAL;
        } else if (match(argc, argv, &i, 0, "segment", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (parse_segment(o, v, err, errlen) < 0) return -EINVAL;
        } else if (match(argc, argv, &i, 0, "start-at", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (parse_start_at(o, v, err, errlen) < 0) return -EINVAL;
        } else if (match(argc, argv, &i, 0, "source", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (parse_source(o, v, err, errlen) < 0) return -EINVAL;
        } else if (match(argc, argv, &i, 0, "json", 1, &v, &missing)) {
            if (missing) goto missing_value;
            o->json_path = v;
        } else if (match(argc, argv, &i, 0, "csv", 1, &v, &missing)) {
            if (missing) goto missing_value;
            o->csv_prefix = v;
        } else if (match(argc, argv, &i, 0, "max-failure-ratio", 1, &v, &missing)) {
            if (missing) goto missing_value;
            if (parse_double(v, 0, 1, &o->max_failure_ratio) < 0)
                return fo_load_fail(
                    err, errlen, "--max-failure-ratio wants a number from 0 to 1, got \"%s\"", v);
        } else if (a[0] == '-' && a[1] != '\0') {
            return fo_load_fail(err, errlen, "unknown option %s (see --help)", a);
        } else if (url) {
            return fo_load_fail(err, errlen, "one URL only, got \"%s\" and \"%s\"", url, a);
        } else {
            url = a;
        }
        continue;
    missing_value:
        return fo_load_fail(err, errlen, "%s needs a value", a);
    }
    if (!url)
        return fo_load_fail(err, errlen,
                            "no URL given (usage: fanout-load [options] URL; see --help)");
    if (fo_load_parse_url(o, url, err, errlen) < 0) return -EINVAL;
    o->rate = rate;
    o->plan_text = stages ? stages : rate_stages;
    if (rate > 0 || rate_stages) {
        if (finish_open(o, rate, rate_stages, closed_opt, err, errlen) < 0) return -EINVAL;
        if (o->seg_count > o->rates.total)
            return fo_load_fail(err, errlen,
                                "--segment %u/%u: more segments than the run's %llu arrivals",
                                o->seg_index, o->seg_count, (unsigned long long)o->rates.total);
        return FO_LOAD_OPTS_RUN;
    }
    if (o->max_connections_given)
        return fo_load_fail(err, errlen,
                            "--max-connections is for the open model: give --rate too");
    if (stages) {
        if (users_given)
            return fo_load_fail(err, errlen,
                                "--stages and --users do not go together: stages set the users");
        if (fo_parse_stages(&o->sched, stages, err, errlen) < 0) return -EINVAL;
        o->staged = 1;
        fo_sched_finish(&o->sched, o->spawn_rate, o->duration_ns);
        o->users = o->sched.max_users;
        if (o->users == 0) return fo_load_fail(err, errlen, "--stages never runs a user");
    } else {
        if (!o->duration_ns) o->duration_ns = 10ull * 1000000000ull;
        fo_sched_simple(&o->sched, o->users, o->spawn_rate, o->duration_ns);
    }
    if (o->sched.total_ns == 0) return fo_load_fail(err, errlen, "the run would last no time");
    if (o->seg_count > o->users)
        return fo_load_fail(err, errlen, "--segment %u/%u: more segments than the run's %u users",
                            o->seg_index, o->seg_count, o->users);
    uint32_t mine = fo_load_segment_share(o, o->users);
    if (o->threads > mine) o->threads = mine;
    return FO_LOAD_OPTS_RUN;
}
