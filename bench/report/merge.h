/* fanout-report merge: the exact merge of several fanout-load --segment results (see merge.c). */
#ifndef FANOUT_REPORT_MERGE_H
#define FANOUT_REPORT_MERGE_H

/* argv[1] is "merge"; returns the process's exit code. */
int fo_report_merge_main(int argc, char **argv);

#endif
