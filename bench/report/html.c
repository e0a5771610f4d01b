/* What the report's pages share: the machine's line, HTML escaping, Markdown tables as HTML. */
#include "html.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fanout/page.h"

FILE *fo_report_open(const char *dir, const char *file, char *path, size_t len) {
    snprintf(path, len, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f) fprintf(stderr, "fanout-report: cannot read %s: %s\n", path, strerror(errno));
    return f;
}

void fo_machine_line(char *out, size_t len) {
    struct utsname u;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (uname(&u) == 0)
        snprintf(out, len, "%s %s, %ld cores", u.sysname, u.machine, cpus);
    else
        snprintf(out, len, "%ld cores", cpus);
}

void fo_html_put(FILE *f, const char *s) {
    char *escaped = fo_html_escape(s);
    if (escaped) {
        fputs(escaped, f);
        free(escaped);
        return;
    }
    for (; *s; s++) /* out of memory: the text without its markup characters */
        if (!strchr("&<>\"'", *s)) fputc(*s, f);
}

/* Writes a Markdown table as an HTML table: the first line is the header, the second the rule;
 * the text after the table's last row (a line not starting with '|'), if any, as a <pre>. */
void fo_html_md_table(FILE *f, const char *md) {
    fputs("<table>\n", f);
    int line = 0;
    const char *p = md;
    for (; *p && (line < 2 || *p == '|'); line++) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (line != 1) {
            char *row = strndup(p, n);
            const char *tag = line == 0 ? "th" : "td";
            fputs("<tr>", f);
            char *save = NULL;
            for (char *cell = strtok_r(row, "|", &save); cell; cell = strtok_r(NULL, "|", &save)) {
                while (*cell == ' ')
                    cell++;
                size_t l = strlen(cell);
                while (l && cell[l - 1] == ' ')
                    cell[--l] = '\0';
                fprintf(f, "<%s>", tag);
                fo_html_put(f, cell);
                fprintf(f, "</%s>", tag);
            }
            fputs("</tr>\n", f);
            free(row);
        }
        p += n + (end ? 1 : 0);
    }
    fputs("</table>\n", f);
    if (*p) {
        fputs("<pre>", f);
        fo_html_put(f, p);
        fputs("</pre>\n", f);
    }
}
