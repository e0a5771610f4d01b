/* The live line (see output.h). */
#include <stdio.h>
#include "output.h"

void fo_load_live_line(char *buf, size_t len, const fo_window *w, size_t index, uint64_t total_ns,
                       uint64_t run_ns, const fo_driver *d) {
    uint64_t elapsed = (index + 1) * FO_NS_PER_S;
    if (elapsed > total_ns) elapsed = total_ns;
    if (run_ns && elapsed > run_ns) elapsed = run_ns;
    char clock[64];
    snprintf(clock, sizeof clock, "[%4.*f/%gs]", elapsed % FO_NS_PER_S ? 1 : 0,
             (double)elapsed / 1e9, (double)total_ns / 1e9);
    d->live_line(buf, len, w, clock, w->length_s > 0 ? 1.0 / w->length_s : 0);
}
