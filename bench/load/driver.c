/* Picking a model's driver, and what both models' plans share (see driver.h). */
#include "driver.h"

#include <uv.h>

const fo_driver *fo_driver_of(const fo_load_opts *o) {
    return o->open ? &fo_driver_open : &fo_driver_closed;
}

fo_fd_need fo_driver_fd_need(const fo_load_opts *o) {
    fo_fd_need need = {.fixed = FO_FD_RESERVE + 8L * o->threads, .per_conn = 1};
    return need;
}

uint64_t fo_ms_until(uint64_t t0, uint64_t t) {
    uint64_t at = t0 + t, now = uv_hrtime();
    return at > now ? (at - now + 999999) / 1000000 : 0;
}
