/* The command line of fanout-load: parsing and validation, with a one-line reason for anything
 * it refuses. No I/O except through the caller's error buffer. */
#ifndef FANOUT_LOAD_OPTS_H
#define FANOUT_LOAD_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fanout/cli.h"
#include "arrivals.h"
#include "schedule.h"

#define FO_LOAD_MAX_HOST 255
#define FO_LOAD_MAX_PATH 4096
#define FO_LOAD_MAX_HEADERS 4096 /* bytes of extra header lines, CRLFs included */
#define FO_LOAD_MAX_THREADS 64
#define FO_LOAD_DEFAULT_MAX_CONNECTIONS 10000u /* the open model's pool, when not given */
#define FO_LOAD_MAX_CONNECTIONS 1000000u

typedef struct fo_load_opts {
    /* The target, from the URL. */
    const char *url;
    char host[FO_LOAD_MAX_HOST + 1];        /* without brackets for IPv6 */
    char host_header[FO_LOAD_MAX_HOST + 9]; /* host[:port] as the Host header wants it */
    int port;
    char path[FO_LOAD_MAX_PATH + 1];
    char headers[FO_LOAD_MAX_HEADERS + 1]; /* extra "Name: value\r\n" lines from -H */
    /* The load. */
    uint32_t users;
    double spawn_rate;    /* 0 = all at once */
    uint64_t duration_ns; /* 0 = not given */
    int staged;           /* 1 when --stages (or --rate-stages) was given */
    fo_sched sched;       /* filled by fo_load_opts_parse; the open model: 0 users, its length */
    /* The open model (--rate or --rate-stages): arrivals instead of users. */
    int open;
    fo_rates rates;           /* filled by fo_load_opts_parse */
    uint32_t max_connections; /* the pool's cap over all threads */
    int max_connections_given;
    unsigned threads;
    uint64_t timeout_ns;
    uint64_t wait_min_ns, wait_max_ns;
    /* Several processes (--segment i/N): this one runs global users (or arrivals) k with
     * k mod N = i, so N of them together run the single process's schedule exactly. */
    uint32_t seg_index, seg_count;    /* 0 and 1 when not given */
    const char *stages, *rate_stages; /* the --stages and --rate-stages texts, or NULL */
    const char *plan_text;            /* the --stages or --rate-stages text, or NULL */
    double rate;                      /* --rate, or 0 */
    /* --start-at: an absolute Unix time, or a delay from the moment of fo_load_start_resolve. */
    int start_at; /* FO_START_NOW, FO_START_ABS or FO_START_REL */
    double start_at_unix;
    uint64_t start_at_rel_ns;
    double start_unix; /* set by fo_load_start_resolve: when the run's clock starts, or 0 = now */
    /* --source ADDR: the local IP address every connection is made from, or NULL (the kernel
     * picks). One pair of addresses offers a target port only ~28,000 source ports, so the
     * processes of a large load each take an address of their own (127.0.0.2, ... on Linux). */
    const char *source;
    /* Outcome and output. */
    double max_failure_ratio;
    const char *json_path;
    const char *csv_prefix;
    int quiet;
} fo_load_opts;

enum { FO_LOAD_OPTS_RUN = 0, FO_LOAD_OPTS_HELP = 1 };
enum { FO_START_NOW = 0, FO_START_ABS = 1, FO_START_REL = 2 };

/* The most a --start-at may lie in the past (a clock's skew, a slow pod start): a second. */
#define FO_START_LATE_MAX_S 1.0

/* Parses argv (argv[0] is the program). Returns FO_LOAD_OPTS_RUN, FO_LOAD_OPTS_HELP (--help
 * was asked), or -EINVAL with a one-line reason in err. */
int fo_load_opts_parse(fo_load_opts *o, int argc, char **argv, char *err, size_t errlen);

/* Parses a duration: a number with a unit (ns, us, ms, s, m, h; none means seconds), or
 * several summed ("1m30s"). 0 and sets *ns, or -EINVAL. */
int fo_parse_duration(const char *s, uint64_t *ns);

/* Parses "http://host[:port][/path]" into o's host, host_header, port and path. 0 or -EINVAL. */
int fo_load_parse_url(fo_load_opts *o, const char *url, char *err, size_t errlen);

/* Parses "users:hold,users:hold,..." into stages of s (holds are durations). 0 or -EINVAL. */
int fo_parse_stages(fo_sched *s, const char *list, char *err, size_t errlen);

/* Parses "rate:hold,rate:hold,..." (arrivals a second, durations) into stages of r. 0 or
 * -EINVAL. */
int fo_parse_rate_stages(fo_rates *r, const char *list, char *err, size_t errlen);

/* Turns --start-at into o->start_unix, given the wall clock's now (Unix seconds). 0, or
 * -EINVAL with a one-line reason when the start lies more than FO_START_LATE_MAX_S in the past. */
int fo_load_start_resolve(fo_load_opts *o, double now_unix, char *err, size_t errlen);

/* The users (closed model) of segment o->seg_index of o->seg_count that run when the whole
 * schedule runs `total`: global users k with k mod count = index. */
uint32_t fo_load_segment_share(const fo_load_opts *o, uint32_t total);

/* Writes --help: the synopsis, the options from the option table, the output's description. */
void fo_load_help(FILE *f);

#endif
