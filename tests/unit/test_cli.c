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

static int run(t_opts *o, fo_cli_result *res, unsigned char *given, char *err, int argc,
               const char **argv) {
    memset(o, 0, sizeof *o);
    fo_cli_defaults(&cli, o);
    return fo_cli_parse(&cli, o, argc, (char **)argv, res, given, err, 256);
}

static void test_defaults_come_from_the_rows(void **state) {
    (void)state;
    t_opts o;
    fo_cli_result res;
    char err[256];
    const char *argv[] = {"t"};
    assert_int_equal(run(&o, &res, NULL, err, 1, argv), 0);
    assert_int_equal(o.port, 8000);
    assert_int_equal(o.cap, 0);
    assert_int_equal(o.users, 3);
    assert_true(o.ratio == 0.5);
    assert_string_equal(o.host, "localhost");
    assert_int_equal(o.quiet, 0);
    assert_int_equal(o.custom, 2); /* the custom row's default went through its parser */
    assert_int_equal(res.n_operands, 0);
}

static void test_every_form_parses(void **state) {
    (void)state;
    t_opts o;
    fo_cli_result res;
    char err[256];
    unsigned char given[sizeof rows / sizeof rows[0]] = {0};
    const char *argv[] = {"t",       "-p",   "81",     "--cap=7",   "URL", "-u",      "10",
                          "--ratio", "0.25", "--host", "h.example", "-q",  "--twice", "4"};
    assert_int_equal(run(&o, &res, given, err, 14, argv), 0);
    assert_int_equal(o.port, 81);
    assert_int_equal(o.cap, 7);
    assert_int_equal(o.users, 10);
    assert_true(o.ratio == 0.25);
    assert_string_equal(o.host, "h.example");
    assert_int_equal(o.quiet, 1);
    assert_int_equal(o.custom, 8);
    assert_int_equal(res.n_operands, 1);
    assert_string_equal(res.operands[0], "URL");
    assert_int_equal(given[1], 1); /* port */
    assert_int_equal(given[0], 0); /* the section */
    assert_ptr_equal(fo_cli_row(&cli, "ratio"), &rows[4]);
    assert_null(fo_cli_row(&cli, "nope"));
    /* After "--" everything is an operand. */
    const char *dashes[] = {"t", "--", "-p"};
    assert_int_equal(run(&o, &res, NULL, err, 3, dashes), 0);
    assert_string_equal(res.operands[0], "-p");
    assert_int_equal(o.port, 8000);
}

static void test_help_stops_parsing(void **state) {
    (void)state;
    t_opts o;
    fo_cli_result res;
    char err[256];
    const char *argv[] = {"t", "-h", "--port", "x"};
    assert_int_equal(run(&o, &res, NULL, err, 4, argv), HELP);
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
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t_opts o;
        fo_cli_result res;
        char err[256] = "";
        const char *argv[] = {"t", bad[i][0], bad[i][1]};
        assert_refused(run(&o, &res, NULL, err, 3, argv), err, bad[i]);
    }
    t_opts o;
    fo_cli_result res;
    char err[256] = "";
    const char *argv[] = {"t", "--port"};
    assert_true(run(&o, &res, NULL, err, 2, argv) < 0);
    assert_string_equal(err, "--port needs a value");
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
