/* Unit tests for cli.c: the defaults, the parser and --help all read from one option table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fanout/cli.h"
#include "test_refusal.h"

typedef struct t_opts {
    int port;
    long cap;
    uint32_t users;
    double ratio;
    const char *host;
    int quiet;
    int custom; /* set by parse_twice: twice the value */
} t_opts;

static int parse_twice(void *opts, const fo_cli_opt *row, const char *v, char *err, size_t errlen) {
    (void)row;
    int n = atoi(v);
    if (n <= 0) return fo_cli_fail(err, errlen, "--twice wants a positive number");
    ((t_opts *)opts)->custom = 2 * n;
    return 0;
}

enum { HELP = FO_CLI_HELP, OTHER = 7 };

static const fo_cli_opt rows[] = {
    {FO_CLI_SECTION, .help = "Section:"},
    {FO_CLI_INT, "port", 'p', offsetof(t_opts, port), 0, 65535, 8000, .arg = "PORT",
     .help = "the port"},
    {FO_CLI_LONG, "cap", 0, offsetof(t_opts, cap), 1, 100, 0, .arg = "N", .def_help = "",
     .help = "a cap from {min} to {max}"},
    {FO_CLI_U32, "users", 'u', offsetof(t_opts, users), 1, 10, 3, .arg = "N",
     .help = "users\n(default {default}, two lines)"},
    {FO_CLI_DOUBLE, "ratio", 0, offsetof(t_opts, ratio), .dmin = 0, .dmax = 1, .ddef = 0.5,
     .arg = "X", .help = "a ratio"},
    {FO_CLI_STR, "host", 0, offsetof(t_opts, host), .def_str = "localhost", .arg = "HOST",
     .help = "the host"},
    {FO_CLI_FLAG, "quiet", 'q', offsetof(t_opts, quiet), .help = "say less"},
    {FO_CLI_CUSTOM, "twice", 0, .def_str = "1", .arg = "N", .parse = parse_twice,
     .help = "doubled"},
    {FO_CLI_ACTION, "other", 0, .action = OTHER, .help = "another action"},
    {FO_CLI_ACTION, "help", 'h', .action = HELP, .help = "this help"},
    {.kind = FO_CLI_END},
};

static const fo_cli cli = {.prog = "t", .rows = rows, .col = 20, .max_operands = 1};

/* What a parse gives: the options, the operands, the reason of a refusal. */
typedef struct parsed {
    t_opts o;
    fo_cli_result res;
    char err[256];
} parsed;

/* Parses argv (NULL-terminated, argv[0] the program) into p, its options holding the defaults
 * first, as a binary's main does; returns fo_cli_parse's result. */
static int run(parsed *p, unsigned char *given, const char **argv) {
    int argc = 0;
    while (argv[argc])
        argc++;
    memset(p, 0, sizeof *p);
    fo_cli_defaults(&cli, &p->o);
    return fo_cli_parse(&cli, &p->o, argc, (char **)argv, &p->res, given, p->err, sizeof p->err);
}

/* Checks every field the rows set against want's. */
static void assert_opts(const t_opts *o, const t_opts *want) {
    assert_int_equal(o->port, want->port);
    assert_int_equal(o->cap, want->cap);
    assert_int_equal(o->users, want->users);
    assert_true(o->ratio == want->ratio);
    assert_string_equal(o->host, want->host);
    assert_int_equal(o->quiet, want->quiet);
    assert_int_equal(o->custom, want->custom);
}

static void test_defaults_come_from_the_rows(void **state) {
    (void)state;
    parsed p;
    const char *argv[] = {"t", NULL};
    assert_int_equal(run(&p, NULL, argv), 0);
    /* cap and quiet: 0; custom: the custom row's default ("1") went through its parser */
    const t_opts want = {.port = 8000, .users = 3, .ratio = 0.5, .host = "localhost", .custom = 2};
    assert_opts(&p.o, &want);
    assert_int_equal(p.res.n_operands, 0);
}

static void test_every_form_parses(void **state) {
    (void)state;
    parsed p;
    unsigned char given[sizeof rows / sizeof rows[0]] = {0};
    const char *argv[] = {"t",         "-p", "81",      "--cap=7", "URL",
                          "-u",        "10", "--ratio", "0.25",    "--host",
                          "h.example", "-q", "--twice", "4",       NULL};
    assert_int_equal(run(&p, given, argv), 0);
    const t_opts want = {.port = 81,
                         .cap = 7,
                         .users = 10,
                         .ratio = 0.25,
                         .host = "h.example",
                         .quiet = 1,
                         .custom = 8};
    assert_opts(&p.o, &want);
    assert_int_equal(p.res.n_operands, 1);
    assert_string_equal(p.res.operands[0], "URL");
    assert_int_equal(given[1], 1); /* port */
    assert_int_equal(given[0], 0); /* the section */
    assert_ptr_equal(fo_cli_row(&cli, "ratio"), &rows[4]);
    assert_null(fo_cli_row(&cli, "nope"));
    /* After "--" everything is an operand. */
    const char *dashes[] = {"t", "--", "-p", NULL};
    assert_int_equal(run(&p, NULL, dashes), 0);
    assert_string_equal(p.res.operands[0], "-p");
    assert_int_equal(p.o.port, 8000);
}

static void test_help_stops_parsing(void **state) {
    (void)state;
    parsed p;
    const char *argv[] = {"t", "-h", "--port", "x", NULL};
    assert_int_equal(run(&p, NULL, argv), HELP);
}

/* What main() gets: go on, an action, or the status to exit with. */
static void test_main(void **state) {
    (void)state;
    t_opts o;
    fo_cli_result res;
    int exit_now = 99;
    const char *go[] = {"t", "-p", "1"};
    assert_int_equal(fo_cli_main(&cli, &o, 3, (char **)go, &res, &exit_now), 0);
    assert_int_equal(exit_now, -1);
    assert_int_equal(o.port, 1);
    assert_int_equal(o.users, 3); /* defaults filled */
    const char *other[] = {"t", "--other"};
    assert_int_equal(fo_cli_main(&cli, &o, 2, (char **)other, &res, &exit_now), OTHER);
    assert_int_equal(exit_now, -1);
    const char *bad[] = {"t", "--port", "x"}; /* prints "t: ... (try --help)" */
    assert_int_equal(fo_cli_main(&cli, &o, 3, (char **)bad, &res, &exit_now), 0);
    assert_int_equal(exit_now, FO_CLI_EXIT_USAGE);
}

/* Each refusal is one line that names the problem. */
static void test_refusals(void **state) {
    (void)state;
    static const char *bad[][3] = {
        {"--port", "65536", "--port must be a whole number from 0 to 65535, not '65536'"},
        {"--port", "8x", "--port must be a whole number"},
        {"--users", "0", "--users must be a whole number from 1 to 10"},
        {"--cap", "-1", "--cap must be"},
        {"--ratio", "2", "--ratio must be a number from 0 to 1, not '2'"},
        {"--ratio", "", "--ratio must be a number"},
        {"--twice", "0", "--twice wants a positive number"},
        {"--quiet=1", "x", "--quiet takes no value"},
        {"--bogus", "1", "unknown option --bogus"},
        {"--portx", "1", "unknown option --portx"},
        {"a", "b", "unexpected argument 'b'"},
    };
    parsed p;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[] = {"t", bad[i][0], bad[i][1], NULL};
        assert_refused(run(&p, NULL, argv), p.err, bad[i]);
    }
    const char *argv[] = {"t", "--port", NULL};
    assert_true(run(&p, NULL, argv) < 0);
    assert_string_equal(p.err, "--port needs a value");
}

static void test_help_from_the_rows(void **state) {
    (void)state;
    char buf[4096] = "";
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    assert_non_null(f);
    fo_cli_help(&cli, f);
    fclose(f);
    static const char *want[] = {
        "Section:\n",
        "  -p, --port PORT   the port (default 8000)\n",
        "      --cap N       a cap from 1 to 100\n", /* def_help "": no default shown */
        "  -u, --users N     users\n                    (default 3, two lines)\n",
        "      --ratio X     a ratio (default 0.5)\n",
        "      --host HOST   the host (default localhost)\n",
        "  -q, --quiet       say less\n",
        "      --twice N     doubled (default 1)\n",
        "  -h, --help        this help\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(buf, want[i])) fail_msg("--help lacks \"%s\" in:\n%s", want[i], buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_come_from_the_rows),
        cmocka_unit_test(test_every_form_parses),
        cmocka_unit_test(test_help_stops_parsing),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_main),
        cmocka_unit_test(test_help_from_the_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
