/* Command lines from one table per binary (see cli.h): the defaults, the parser and --help, all
 * read from the same rows. */
#include "fanout/cli.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/sys.h"

int fo_cli_fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int fo_cli_error(const char *prog, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s (try --help)\n", prog, why);
    return FO_CLI_EXIT_USAGE;
}

static void *field_of(void *opts, const fo_cli_opt *row) {
    return (char *)opts + row->field;
}

static int is_option(const fo_cli_opt *row) {
    return row->kind != FO_CLI_END && row->kind != FO_CLI_SECTION;
}

static int takes_value(const fo_cli_opt *row) {
    return row->kind != FO_CLI_FLAG && row->kind != FO_CLI_ACTION;
}

const fo_cli_opt *fo_cli_row(const fo_cli *cli, const char *name) {
    for (const fo_cli_opt *r = cli->rows; r->kind != FO_CLI_END; r++)
        if (is_option(r) && strcmp(r->name, name) == 0) return r;
    return NULL;
}

/* Stores a whole number already checked against the row's bounds. */
static void store_whole(void *opts, const fo_cli_opt *row, long v) {
    void *p = field_of(opts, row);
    switch (row->kind) {
    case FO_CLI_INT:
        *(int *)p = (int)v;
        break;
    case FO_CLI_LONG:
        *(long *)p = v;
        break;
    case FO_CLI_U32:
        *(uint32_t *)p = (uint32_t)v;
        break;
    default:
        assert(!"not a whole-number row");
    }
}

void fo_cli_defaults(const fo_cli *cli, void *opts) {
    char err[128];
    for (const fo_cli_opt *r = cli->rows; r->kind != FO_CLI_END; r++) {
        if (!is_option(r) || r->def_later) continue;
        switch (r->kind) {
        case FO_CLI_INT:
        case FO_CLI_LONG:
        case FO_CLI_U32:
            store_whole(opts, r, r->def);
            break;
        case FO_CLI_DOUBLE:
            *(double *)field_of(opts, r) = r->ddef;
            break;
        case FO_CLI_STR:
            *(const char **)field_of(opts, r) = r->def_str;
            break;
        case FO_CLI_FLAG:
            *(int *)field_of(opts, r) = 0;
            break;
        case FO_CLI_CUSTOM: {
            /* A custom row's default goes through its own parser, so it is stated once. */
            int rc = r->def_str ? r->parse(opts, r, r->def_str, err, sizeof err) : 0;
            assert(rc == 0 && "a custom row's default must parse");
            (void)rc;
            break;
        }
        default:
            break;
        }
    }
}

/* Parses value into the row's field, checked against its bounds. */
static int set_value(void *opts, const fo_cli_opt *row, const char *value, char *err,
                     size_t errlen) {
    switch (row->kind) {
    case FO_CLI_INT:
    case FO_CLI_LONG:
    case FO_CLI_U32: {
        long v;
        if (fo_parse_long(value, row->min, row->max, &v) != 0)
            return fo_cli_fail(err, errlen, "--%s must be a whole number from %ld to %ld, not '%s'",
                               row->name, row->min, row->max, value);
        store_whole(opts, row, v);
        return 0;
    }
    case FO_CLI_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (!*value || errno || *end || !(v >= row->dmin && v <= row->dmax))
            return fo_cli_fail(err, errlen, "--%s must be a number from %g to %g, not '%s'",
                               row->name, row->dmin, row->dmax, value);
        *(double *)field_of(opts, row) = v;
        return 0;
    }
    case FO_CLI_STR:
        *(const char **)field_of(opts, row) = value;
        return 0;
    case FO_CLI_CUSTOM:
        return row->parse(opts, row, value, err, errlen);
    default:
        assert(!"a row without a value");
        return -EINVAL;
    }
}

/* The row arg names ("--name", "--name=v" or "-s"), or NULL; *inline_val is v of "--name=v". */
static const fo_cli_opt *match(const fo_cli *cli, const char *arg, const char **inline_val) {
    *inline_val = NULL;
    for (const fo_cli_opt *r = cli->rows; r->kind != FO_CLI_END; r++) {
        if (!is_option(r)) continue;
        if (r->short_name && arg[0] == '-' && arg[1] == r->short_name && arg[2] == '\0') return r;
        size_t len = strlen(r->name);
        if (arg[0] != '-' || arg[1] != '-' || strncmp(arg + 2, r->name, len) != 0) continue;
        if (arg[2 + len] == '\0') return r;
        if (arg[2 + len] == '=') {
            *inline_val = arg + 3 + len;
            return r;
        }
    }
    return NULL;
}

static int add_operand(const fo_cli *cli, fo_cli_result *res, const char *arg, char *err,
                       size_t errlen) {
    int cap = (int)(sizeof res->operands / sizeof res->operands[0]);
    if (res->n_operands >= cli->max_operands || res->n_operands >= cap) {
        res->bad = arg;
        return fo_cli_fail(err, errlen, "unexpected argument '%s'", arg);
    }
    res->operands[res->n_operands++] = arg;
    return 0;
}

int fo_cli_parse(const fo_cli *cli, void *opts, int argc, char **argv, fo_cli_result *res,
                 unsigned char *given, char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    int only_operands = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        if (only_operands || a[0] != '-' || a[1] == '\0') {
            if (add_operand(cli, res, a, err, errlen) < 0) return -EINVAL;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_operands = 1;
            continue;
        }
        const fo_cli_opt *row = match(cli, a, &val);
        res->bad = a;
        if (!row) return fo_cli_fail(err, errlen, "unknown option %s", a);
        if (given) given[row - cli->rows] = 1;
        if (!takes_value(row)) {
            if (val) return fo_cli_fail(err, errlen, "--%s takes no value", row->name);
            if (row->kind == FO_CLI_ACTION) return row->action;
            *(int *)field_of(opts, row) = 1;
            continue;
        }
        if (!val && i + 1 >= argc) return fo_cli_fail(err, errlen, "%s needs a value", a);
        if (!val) val = argv[++i];
        if (set_value(opts, row, val, err, errlen) < 0) return -EINVAL;
    }
    res->bad = NULL;
    return 0;
}

int fo_cli_main(const fo_cli *cli, void *opts, int argc, char **argv, fo_cli_result *res,
                int *exit_now) {
    char err[256];
    fo_cli_defaults(cli, opts);
    int rc = fo_cli_parse(cli, opts, argc, argv, res, NULL, err, sizeof err);
    *exit_now = -1;
    if (rc < 0) {
        *exit_now = fo_cli_error(cli->prog, "%s", err);
    } else if (rc == FO_CLI_HELP) {
        if (cli->help)
            cli->help(stdout);
        else
            fo_cli_help(cli, stdout);
        *exit_now = 0;
    }
    return rc > 0 && rc != FO_CLI_HELP ? rc : 0;
}

const char *fo_cli_default_text(const fo_cli_opt *row, char *buf, size_t len) {
    buf[0] = '\0';
    if (row->def_help) {
        snprintf(buf, len, "%s", row->def_help);
        return buf;
    }
    switch (row->kind) {
    case FO_CLI_INT:
    case FO_CLI_LONG:
    case FO_CLI_U32:
        snprintf(buf, len, "%ld", row->def);
        break;
    case FO_CLI_DOUBLE:
        snprintf(buf, len, "%g", row->ddef);
        break;
    case FO_CLI_STR:
    case FO_CLI_CUSTOM:
        snprintf(buf, len, "%s", row->def_str ? row->def_str : "");
        break;
    default:
        break;
    }
    return buf;
}

/* Writes text with "{default}", "{min}" and "{max}" replaced by the row's; 1 when it had
 * "{default}". */
static int put_expanded(FILE *f, const fo_cli_opt *row, const char *text, size_t len) {
    char dflt[128];
    int had_default = 0;
    const char *end = text + len;
    while (text < end) {
        const char *brace = memchr(text, '{', (size_t)(end - text));
        if (!brace) brace = end;
        fwrite(text, 1, (size_t)(brace - text), f);
        text = brace;
        if (text == end) break;
        if (strncmp(text, "{default}", 9) == 0) {
            fputs(fo_cli_default_text(row, dflt, sizeof dflt), f);
            had_default = 1;
            text += 9;
        } else if (strncmp(text, "{min}", 5) == 0) {
            fprintf(f, "%ld", row->min);
            text += 5;
        } else if (strncmp(text, "{max}", 5) == 0) {
            fprintf(f, "%ld", row->max);
            text += 5;
        } else {
            fputc(*text++, f);
        }
    }
    return had_default;
}

/* "  -u, --users N", "      --rate R" (under the long flags of rows with a short one, when
 * indent) or "  --port PORT": a row's flag, padded to col (or one space when longer). */
static void put_flag(FILE *f, const fo_cli_opt *row, int col, int indent) {
    char head[8] = "  ";
    if (row->short_name)
        snprintf(head, sizeof head, "  -%c, ", row->short_name);
    else if (indent)
        snprintf(head, sizeof head, "      ");
    int n =
        fprintf(f, "%s--%s%s%s", head, row->name, row->arg ? " " : "", row->arg ? row->arg : "");
    fprintf(f, "%*s", n < col ? col - n : 1, "");
}

static void put_row(FILE *f, const fo_cli_opt *row, int col, int indent) {
    if (row->print_help) {
        row->print_help(f, row, col);
        return;
    }
    put_flag(f, row, col, indent);
    const char *line = row->help, *nl;
    int had_default = 0;
    while ((nl = strchr(line, '\n'))) {
        had_default |= put_expanded(f, row, line, (size_t)(nl - line));
        fprintf(f, "\n%*s", col, "");
        line = nl + 1;
    }
    had_default |= put_expanded(f, row, line, strlen(line));
    char dflt[128];
    if (!had_default && fo_cli_default_text(row, dflt, sizeof dflt)[0])
        fprintf(f, " (default %s)", dflt);
    fputc('\n', f);
}

void fo_cli_help(const fo_cli *cli, FILE *f) {
    int indent = 0; /* long-only flags line up under the long flags of "-s, --long" rows */
    for (const fo_cli_opt *r = cli->rows; r->kind != FO_CLI_END; r++)
        if (is_option(r) && r->short_name && r->kind != FO_CLI_ACTION) indent = 1;
    if (cli->synopsis) fputs(cli->synopsis, f);
    for (const fo_cli_opt *r = cli->rows; r->kind != FO_CLI_END; r++) {
        if (r->kind == FO_CLI_SECTION)
            fprintf(f, "%s\n", r->help);
        else
            put_row(f, r, cli->col, indent);
    }
    if (cli->epilog) fputs(cli->epilog, f);
}
