/* What fanout-report's pages share (bench/report), and how it opens a results folder's files. */
#ifndef FANOUT_REPORT_HTML_H
#define FANOUT_REPORT_HTML_H

#include <stdio.h>

/* Opens dir/file for reading, its path in path (len bytes); NULL after saying why it could not. */
FILE *fo_report_open(const char *dir, const char *file, char *path, size_t len);

/* "Linux x86_64, 2 cores" */
void fo_machine_line(char *out, size_t len);

/* Writes s as HTML text, escaped by the library's fo_html_escape (fanout/page.h). */
void fo_html_put(FILE *f, const char *s);

/* Writes a Markdown table as an HTML table: the first line is the header, the second the rule. */
void fo_html_md_table(FILE *f, const char *md);

#endif
