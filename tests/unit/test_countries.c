/* Unit tests for countries.c: the shipped list, and the lines it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_main.h"

#include "fanout/countries.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char shipped[] = FANOUT_DATADIR "/countries.tsv";

static const fo_country *find(const fo_countries *c, const char *code) {
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->items[i].code, code) == 0) return &c->items[i];
    }
    return NULL;
}

/* Writes text to a fresh temporary file; the caller unlinks path. */
static void write_temp(char path[64], const char *text) {
    snprintf(path, 64, "/tmp/fanout-countries-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int load_text(const char *text, fo_countries *c, char *err, size_t errlen) {
    char path[64];
    write_temp(path, text);
    int rc = fo_countries_load(c, path, err, errlen);
    unlink(path);
    return rc;
}

static void test_loads_the_shipped_list(void **state) {
    fo_countries c;
    char err[256] = "";
    assert_int_equal(fo_countries_load(&c, shipped, err, sizeof err), 0);
    assert_true(c.n >= 249);
    const fo_country *al = find(&c, "AL");
    assert_non_null(al);
    assert_string_equal(al->name, "Albania");
    const fo_country *ci = find(&c, "CI");
    assert_non_null(ci);
    assert_string_equal(ci->name, "C\xc3\xb4te d'Ivoire");
    for (size_t i = 0; i < c.n; i++) {
        assert_int_equal(strlen(c.items[i].code), 2);
        assert_true(strlen(c.items[i].name) > 0);
    }
    fo_countries_free(&c);
    assert_int_equal(c.n, 0);
}

static void test_pick_covers_the_list(void **state) {
    fo_countries c;
    char err[256];
    assert_int_equal(load_text("# two\nAL\tAlbania\n\r\n  \nFR\tFrance\r\n", &c, err, sizeof err),
                     0);
    assert_int_equal(c.n, 2);
    assert_string_equal(fo_countries_pick(&c, 0)->name, "Albania");
    assert_string_equal(fo_countries_pick(&c, 1)->name, "France");
    assert_string_equal(fo_countries_pick(&c, UINT64_MAX)->code, "FR");
    fo_countries_free(&c);
}

static void test_rejects_a_missing_file(void **state) {
    fo_countries c;
    char err[256] = "";
    assert_int_equal(fo_countries_load(&c, "/nonexistent/countries.tsv", err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/countries.tsv"));
    assert_int_equal(c.n, 0);
    assert_null(c.items);
}

static void expect_malformed(const char *text, const char *where) {
    fo_countries c;
    char err[256] = "";
    assert_int_equal(load_text(text, &c, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, where));
    assert_int_equal(c.n, 0);
}

static void test_rejects_malformed_lines(void **state) {
    expect_malformed("AL\tAlbania\nFR France\n", "line 2");
    expect_malformed("# c\n\nal\tAlbania\n", "line 3");
    expect_malformed("ALB\tAlbania\n", "line 1");
    expect_malformed("AL\t\n", "line 1");
    expect_malformed("AL\n", "line 1");
    expect_malformed("AL\tAl\x01"
                     "bania\n",
                     "line 1");
}

static void test_rejects_an_empty_list(void **state) {
    fo_countries c;
    char err[256] = "";
    assert_int_equal(load_text("# only a comment\n\n", &c, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "no countries"));
    assert_int_equal(load_text("", &c, err, sizeof err), -EINVAL);
}

TEST_MAIN(cmocka_unit_test(test_loads_the_shipped_list),
          cmocka_unit_test(test_pick_covers_the_list),
          cmocka_unit_test(test_rejects_a_missing_file),
          cmocka_unit_test(test_rejects_malformed_lines),
          cmocka_unit_test(test_rejects_an_empty_list))
