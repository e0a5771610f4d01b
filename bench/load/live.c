/* The live line (see output.h). */
#include <stdio.h>
#include "output.h"

void fo_load_live_line(char *buf, size_t len, const fo_window *w, size_t index, uint64_t total_ns,
                       uint64_t run_ns, int open) {
    uint64_t elapsed = (index + 1) * FO_NS_PER_S;
    if (elapsed > total_ns) elapsed = total_ns;
    if (run_ns && elapsed > run_ns) elapsed = run_ns;
    double per_s = w->length_s > 0 ? 1.0 / w->length_s : 0;
    double rps = (double)w->requests * per_s;
    if (open) {
        snprintf(buf, len,
                 "[%4.*f/%gs] offered %.0f/s  sent %.0f/s  done %.0f/s  response p95 %.1f ms  "
                 "service p95 %.1f ms  late %llu  failures %llu",
                 elapsed % FO_NS_PER_S ? 1 : 0, (double)elapsed / 1e9, (double)total_ns / 1e9,
                 (double)w->offered * per_s, (double)w->starts * per_s, rps,
                 (double)w->pct_ns[5] / 1e6, (double)w->service_pct_ns[5] / 1e6,
                 (unsigned long long)w->late, (unsigned long long)w->total_failures);
        return;
    }
    snprintf(buf, len, "[%4.*f/%gs] users %u  rps %.0f  p50 %.1f ms  p95 %.1f ms  failures %llu",
             elapsed % FO_NS_PER_S ? 1 : 0, (double)elapsed / 1e9, (double)total_ns / 1e9, w->users,
             rps, (double)w->pct_ns[0] / 1e6, (double)w->pct_ns[5] / 1e6,
             (unsigned long long)w->total_failures);
}
