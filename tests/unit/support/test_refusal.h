/* What the command-line tests ask of every refusal (test_cli.c's parser, fanout-load's options
 * in test_load_opts.c): the parse failed, and its reason is one line naming the problem. A
 * refusal to test is a row {flag, value, what the reason must hold}. Include after cmocka.h. */
#ifndef FANOUT_TEST_REFUSAL_H
#define FANOUT_TEST_REFUSAL_H

#include <string.h>

/* Checks that the parse of bad's flag and value returned rc < 0 with err, one line, holding
 * bad's text; a failure names the flag, the value and the reason given. */
static inline void assert_refused(int rc, const char *err, const char *const bad[3]) {
    if (rc >= 0) fail_msg("for %s %s: accepted (%d)", bad[0], bad[1], rc);
    if (!strstr(err, bad[2])) fail_msg("for %s %s: \"%s\"", bad[0], bad[1], err);
    assert_null(strchr(err, '\n'));
}

#endif
