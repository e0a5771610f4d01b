/* Command lines from one table per binary. Each option is one row (its flag, the field it sets,
 * its bounds, its default and its help), as Redis declares each setting once in config.c's
 * static_configs: parsing, the defaults and the options part of --help all come from the rows,
 * so none of them can disagree with the others. The parser keeps no global state (unlike
 * getopt), so a table can be tested call after call; it writes a one-line reason into the
 * caller's buffer, and fo_cli_error prints it in the one format every binary uses:
 * "PROG: REASON (try --help)". Usage errors exit with FO_CLI_EXIT_USAGE. */
#ifndef FANOUT_CLI_H
#define FANOUT_CLI_H

#include <stddef.h>
#include <stdio.h>

/* A macro's value as a string literal, for help texts: FO_CLI_TEXT(FO_MAX_MS) is "60000". */
#define FO_CLI_TEXT(x) FO_CLI_TEXT_(x)
#define FO_CLI_TEXT_(x) #x

/* The exit status of a command line that could not be parsed. */
#define FO_CLI_EXIT_USAGE 2

typedef enum fo_cli_kind {
    FO_CLI_END = 0, /* ends the table */
    FO_CLI_SECTION, /* no option: `help` is a heading line in --help */
    FO_CLI_INT,     /* an int field, a whole number in [min, max] */
    FO_CLI_LONG,    /* a long field, a whole number in [min, max] */
    FO_CLI_U32,     /* a uint32_t field, a whole number in [min, max] */
    FO_CLI_DOUBLE,  /* a double field, a number in [dmin, dmax] */
    FO_CLI_STR,     /* a const char * field: the argument itself (argv outlives the options) */
    FO_CLI_FLAG,    /* an int field set to 1; takes no value */
    FO_CLI_ACTION,  /* no field: parsing stops and returns `action` (--help, --list-models) */
    FO_CLI_CUSTOM,  /* the value goes to parse() */
} fo_cli_kind;

typedef struct fo_cli_opt fo_cli_opt;

/* Parses value into the field of opts that row names; 0, or -EINVAL with a one-line reason in
 * err. For FO_CLI_CUSTOM rows. */
typedef int (*fo_cli_parse_fn)(void *opts, const fo_cli_opt *row, const char *value, char *err,
                               size_t errlen);

struct fo_cli_opt {
    fo_cli_kind kind;
    const char *name;        /* the long flag without its dashes: "header-timeout" */
    char short_name;         /* the one-letter flag ('u' for -u), or 0 */
    size_t field;            /* offsetof the field in the options struct */
    long min, max, def;      /* FO_CLI_INT, _LONG, _U32 */
    double dmin, dmax, ddef; /* FO_CLI_DOUBLE */
    const char *def_str;     /* FO_CLI_STR's default; FO_CLI_CUSTOM's, given to parse() */
    int def_later;           /* 1: fo_cli_defaults leaves the field alone (0 = not given);
                              * the program applies the default it states when it must */
    const char *arg;         /* the value's name in --help: "MS" (NULL for no value) */
    /* The help, one or more lines separated by '\n'. "{default}", "{min}" and "{max}" are
     * replaced by the row's default and bounds; without "{default}", " (default D)" is added
     * to the last line when the row has a default to show. */
    const char *help;
    /* How --help states a default the row does not hold ("what the open-files limit fits"),
     * or NULL to state the row's own; "" states none. */
    const char *def_help;
    /* Prints the row's help lines in place of the generic ones, or NULL. */
    void (*print_help)(FILE *f, const fo_cli_opt *row, int col);
    fo_cli_parse_fn parse; /* FO_CLI_CUSTOM */
    int action;            /* FO_CLI_ACTION: what fo_cli_parse returns, above 0 */
};

/* A binary's command line: its rows, and the text --help puts around them. */
typedef struct fo_cli {
    const char *prog; /* "fanout-server": the first word of every error */
    const fo_cli_opt *rows;
    const char *synopsis;  /* --help's text before the options, or NULL */
    const char *epilog;    /* --help's text after them, or NULL */
    int col;               /* the column the options' help starts at */
    int max_operands;      /* arguments that are not options the binary takes (fanout-load's URL) */
    void (*help)(FILE *f); /* writes --help for fo_cli_main when fo_cli_help is not all of it */
} fo_cli;

/* The action of a --help row: fo_cli_main answers it itself. */
#define FO_CLI_HELP 1

/* What fo_cli_parse found besides the options. */
typedef struct fo_cli_result {
    const char *operands[4]; /* the arguments that are not options, in order */
    int n_operands;
    const char *bad; /* not an error: the argument a parse error is about, or NULL */
} fo_cli_result;

/* Sets every field the rows name to its default (rows with def_later excepted). */
void fo_cli_defaults(const fo_cli *cli, void *opts);

/* Parses argv (argv[0] is the program) into opts, which fo_cli_defaults has filled: "--name
 * VALUE", "--name=VALUE", "-s VALUE", options and operands in any order, "--" ending the
 * options. Returns 0, a row's action (above 0) when one was given (parsing stops there), or
 * -EINVAL with a one-line reason in err. given, when not NULL, has one byte per row, set to 1
 * for each row given. */
int fo_cli_parse(const fo_cli *cli, void *opts, int argc, char **argv, fo_cli_result *res,
                 unsigned char *given, char *err, size_t errlen);

/* For main(): fills opts' defaults, parses argv into it, and answers what ends the program at
 * once: a bad command line (fo_cli_error; *exit_now = FO_CLI_EXIT_USAGE) and --help (the
 * FO_CLI_HELP action: cli->help or fo_cli_help to stdout; *exit_now = 0). Otherwise *exit_now
 * is -1 and it returns 0, or the action of another row that was given (--list-models). */
int fo_cli_main(const fo_cli *cli, void *opts, int argc, char **argv, fo_cli_result *res,
                int *exit_now);

/* The row whose long flag is name, or NULL. */
const fo_cli_opt *fo_cli_row(const fo_cli *cli, const char *name);

/* Writes --help: the synopsis, a line or more per row, the epilog. */
void fo_cli_help(const fo_cli *cli, FILE *f);

/* The row's default as --help states it, in buf; "" when it has none to state. */
const char *fo_cli_default_text(const fo_cli_opt *row, char *buf, size_t len);

/* Prints "PROG: REASON (try --help)" to stderr, REASON from fmt; returns FO_CLI_EXIT_USAGE,
 * for `return fo_cli_error(...)` from main. */
int fo_cli_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes a one-line reason into err and returns -EINVAL: the error path of parse functions. */
int fo_cli_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
