/* Unit tests for page.c: parsing the delay, routing, escaping and rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"

#include "fanout/page.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *s, int *ms) {
    return fo_parse_ms(s, strlen(s), ms);
}

/* Every input is refused by fn with rc, and ms left as it was. */
static void expect_refused(int (*fn)(const char *, int *), const char *const *inputs, size_t n,
                           int rc) {
    for (size_t i = 0; i < n; i++) {
        int ms = 42;
        int got = fn(inputs[i], &ms);
        if (got != rc || ms != 42)
            fail_msg("\"%s\": %d (ms %d), expected %d", inputs[i], got, ms, rc);
    }
}
#define EXPECT_REFUSED(fn, rc, ...)                                                                \
    do {                                                                                           \
        static const char *const inputs_[] = {__VA_ARGS__};                                        \
        expect_refused(fn, inputs_, sizeof inputs_ / sizeof inputs_[0], rc);                       \
    } while (0)

/* s escapes to want. */
static void expect_escaped(const char *s, const char *want) {
    char *got = fo_html_escape(s);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* s parses as ms (a whole string) / path routes to the page of ms. */
static void expect_parsed(const char *s, int ms) {
    int got = -1;
    assert_int_equal(parse(s, &got), 0);
    assert_int_equal(got, ms);
}

static void expect_routed(const char *path, int ms) {
    int got = -1;
    assert_int_equal(fo_route_ms(path, &got), 1);
    assert_int_equal(got, ms);
}

static void test_parse_ms_accepts_the_range(void **state) {
    expect_parsed("0", 0);
    expect_parsed("300", 300);
    expect_parsed("60000", 60000);
    expect_parsed("0150", 150);
}

static void test_parse_ms_rejects_too_large(void **state) {
    EXPECT_REFUSED(parse, -ERANGE, "60001", "99999999999999999999", "18446744073709551617");
}

static void test_parse_ms_rejects_non_numbers(void **state) {
    EXPECT_REFUSED(parse, -EINVAL, "", "-1", "+5", "12a", "abc", " 5", "99999999999x");
}

static void test_parse_ms_uses_only_len_bytes(void **state) {
    int ms = -1;
    assert_int_equal(fo_parse_ms("300/", 3, &ms), 0);
    assert_int_equal(ms, 300);
}

static void test_route_matches_the_page(void **state) {
    expect_routed("/", FO_DEFAULT_MS);
    expect_routed("/300", 300);
    expect_routed("/600/", 600);
    expect_routed("/0/", 0);
}

static void test_route_ignores_the_query(void **state) {
    expect_routed("/?user=7", FO_DEFAULT_MS);
    expect_routed("/150/?x=1&y=/2/", 150);
    expect_routed("/150?", 150);
}

static void test_route_bad_numbers_are_errors(void **state) {
    EXPECT_REFUSED(fo_route_ms, -EINVAL, "/-5/", "/+5", "/12a/");
    EXPECT_REFUSED(fo_route_ms, -ERANGE, "/60001/", "/99999999999999999999/?q");
}

static void test_route_other_paths_do_not_match(void **state) {
    EXPECT_REFUSED(fo_route_ms, 0, "/abc/", "/favicon.ico", "/300/extra", "/300//", "//", "", "300",
                   "http://example.com/");
}

static void test_escape_specials(void **state) {
    expect_escaped("a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&#39;f");
    expect_escaped("", "");
}

static void test_escape_keeps_utf8(void **state) {
    expect_escaped("C\xc3\xb4te d'Ivoire", "C\xc3\xb4te d&#39;Ivoire");
    expect_escaped("\xc3\x85land Islands", "\xc3\x85land Islands");
}

static void test_render_has_the_page(void **state) {
    size_t len = 0;
    char *page = fo_page_render("C\xc3\xb4te d'Ivoire <script>", 0.6125, &len);
    assert_non_null(page);
    assert_int_equal(len, strlen(page));
    assert_non_null(strstr(page, "<!DOCTYPE html>"));
    assert_non_null(strstr(page, "<meta charset=\"utf-8\">"));
    assert_non_null(strstr(page, "And the random country selected for today is..."));
    assert_non_null(strstr(page, "<h1>C\xc3\xb4te d&#39;Ivoire &lt;script&gt;</h1>"));
    assert_null(strstr(page, "<script>"));
    assert_non_null(strstr(page, "<code>duration: 0.61"));
    assert_non_null(strstr(page, "</html>"));
    free(page);
}

static void test_render_duration_seconds(void **state) {
    size_t len = 0;
    char *page = fo_page_render("Albania", 1.5, &len);
    assert_non_null(strstr(page, "<h1>Albania</h1>"));
    assert_non_null(strstr(page, "<code>duration: 1.500</code>"));
    free(page);
}

TEST_MAIN(cmocka_unit_test(test_parse_ms_accepts_the_range),
          cmocka_unit_test(test_parse_ms_rejects_too_large),
          cmocka_unit_test(test_parse_ms_rejects_non_numbers),
          cmocka_unit_test(test_parse_ms_uses_only_len_bytes),
          cmocka_unit_test(test_route_matches_the_page),
          cmocka_unit_test(test_route_ignores_the_query),
          cmocka_unit_test(test_route_bad_numbers_are_errors),
          cmocka_unit_test(test_route_other_paths_do_not_match),
          cmocka_unit_test(test_escape_specials), cmocka_unit_test(test_escape_keeps_utf8),
          cmocka_unit_test(test_render_has_the_page),
          cmocka_unit_test(test_render_duration_seconds))
