/*
 * bproc — what a user can read about a server process: CPU time (utime + stime from
 * /proc/PID/stat, all threads) and resident memory (VmRSS from /proc/PID/status), summed
 * over a list of processes (nginx's workers, or one relay).
 */
#ifndef RELAYLAB_BENCH_BPROC_H
#define RELAYLAB_BENCH_BPROC_H

#include <stddef.h>

#define BPROC_MAX 16

struct bproc_set {
    int pid[BPROC_MAX];
    int n;
};

/* Parses "123,456" into s. Returns 0, or -1 with a message in err. */
int bproc_parse(struct bproc_set *s, const char *list, char *err, size_t errlen);
/* CPU seconds (user + system) used so far by the processes; -1 when one is gone. */
double bproc_cpu_s(const struct bproc_set *s);
/* The same for the calling process (every thread). */
double bproc_self_cpu_s(void);
/* Sum of VmRSS in KiB; -1 when one is gone. */
long bproc_rss_kib(const struct bproc_set *s);

#endif
