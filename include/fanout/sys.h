/* Small process-level utilities shared by the binaries. */
#ifndef FANOUT_SYS_H
#define FANOUT_SYS_H

/* Raises the soft limit on open files to the hard limit (capped where the OS requires it).
 * Returns the new soft limit, or a negative errno. */
long fo_raise_fd_limit(void);

/* Parses a whole non-negative decimal number in [min, max] from s. 0, or -EINVAL / -ERANGE. */
int fo_parse_long(const char *s, long min, long max, long *out);

/* For command lines: parses flag's value as a whole number in [min, max] into *out, or prints
 * "PROG: --FLAG must be a whole number from MIN to MAX, not 'VALUE'" and returns -1. */
int fo_flag_int(const char *prog, const char *flag, const char *value, long min, long max, int *out);

#endif
