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

static void test_parse_ms_accepts_the_range(void **state) {
    int ms = -1;
    assert_int_equal(parse("0", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(parse("300", &ms), 0);
    assert_int_equal(ms, 300);
    assert_int_equal(parse("60000", &ms), 0);
    assert_int_equal(ms, 60000);
    assert_int_equal(parse("0150", &ms), 0);
    assert_int_equal(ms, 150);
}

static void test_parse_ms_rejects_too_large(void **state) {
    int ms = 42;
    assert_int_equal(parse("60001", &ms), -ERANGE);
    assert_int_equal(parse("99999999999999999999", &ms), -ERANGE);
    assert_int_equal(parse("18446744073709551617", &ms), -ERANGE);
    assert_int_equal(ms, 42);
}

static void test_parse_ms_rejects_non_numbers(void **state) {
    int ms = 42;
    assert_int_equal(parse("", &ms), -EINVAL);
    assert_int_equal(parse("-1", &ms), -EINVAL);
    assert_int_equal(parse("+5", &ms), -EINVAL);
    assert_int_equal(parse("12a", &ms), -EINVAL);
    assert_int_equal(parse("abc", &ms), -EINVAL);
    assert_int_equal(parse(" 5", &ms), -EINVAL);
    assert_int_equal(parse("99999999999x", &ms), -EINVAL);
    assert_int_equal(ms, 42);
}

static void test_parse_ms_uses_only_len_bytes(void **state) {
    int ms = -1;
    assert_int_equal(fo_parse_ms("300/", 3, &ms), 0);
    assert_int_equal(ms, 300);
}

static void test_route_matches_the_page(void **state) {
    int ms = -1;
    assert_int_equal(fo_route_ms("/", &ms), 1);
    assert_int_equal(ms, FO_DEFAULT_MS);
    assert_int_equal(fo_route_ms("/300", &ms), 1);
    assert_int_equal(ms, 300);
    assert_int_equal(fo_route_ms("/600/", &ms), 1);
    assert_int_equal(ms, 600);
    assert_int_equal(fo_route_ms("/0/", &ms), 1);
    assert_int_equal(ms, 0);
}

static void test_route_ignores_the_query(void **state) {
    int ms = -1;
    assert_int_equal(fo_route_ms("/?user=7", &ms), 1);
    assert_int_equal(ms, FO_DEFAULT_MS);
    assert_int_equal(fo_route_ms("/150/?x=1&y=/2/", &ms), 1);
    assert_int_equal(ms, 150);
    assert_int_equal(fo_route_ms("/150?", &ms), 1);
    assert_int_equal(ms, 150);
}

static void test_route_bad_numbers_are_errors(void **state) {
    int ms = 42;
    assert_int_equal(fo_route_ms("/-5/", &ms), -EINVAL);
    assert_int_equal(fo_route_ms("/+5", &ms), -EINVAL);
    assert_int_equal(fo_route_ms("/12a/", &ms), -EINVAL);
    assert_int_equal(fo_route_ms("/60001/", &ms), -ERANGE);
    assert_int_equal(fo_route_ms("/99999999999999999999/?q", &ms), -ERANGE);
    assert_int_equal(ms, 42);
}

static void test_route_other_paths_do_not_match(void **state) {
    int ms = 42;
    assert_int_equal(fo_route_ms("/abc/", &ms), 0);
    assert_int_equal(fo_route_ms("/favicon.ico", &ms), 0);
    assert_int_equal(fo_route_ms("/300/extra", &ms), 0);
    assert_int_equal(fo_route_ms("/300//", &ms), 0);
    assert_int_equal(fo_route_ms("//", &ms), 0);
    assert_int_equal(fo_route_ms("", &ms), 0);
    assert_int_equal(fo_route_ms("300", &ms), 0);
    assert_int_equal(fo_route_ms("http://example.com/", &ms), 0);
    assert_int_equal(ms, 42);
}

static void test_escape_specials(void **state) {
    char *s = fo_html_escape("a&b<c>d\"e'f");
    assert_non_null(s);
    assert_string_equal(s, "a&amp;b&lt;c&gt;d&quot;e&#39;f");
    free(s);
    s = fo_html_escape("");
    assert_string_equal(s, "");
    free(s);
}

static void test_escape_keeps_utf8(void **state) {
    char *s = fo_html_escape("C\xc3\xb4te d'Ivoire");
    assert_string_equal(s, "C\xc3\xb4te d&#39;Ivoire");
    free(s);
    s = fo_html_escape("\xc3\x85land Islands");
    assert_string_equal(s, "\xc3\x85land Islands");
    free(s);
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
