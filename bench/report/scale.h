/* fanout-report --scale: the report of scripts/bench-scale.sh (see scale.c). */
#ifndef FANOUT_REPORT_SCALE_H
#define FANOUT_REPORT_SCALE_H

/* argv[1] is --scale or --scale-step; returns the process's exit code. */
int fo_report_scale_main(int argc, char **argv);

#endif
