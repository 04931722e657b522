#include "bproc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bproc_parse(struct bproc_set *s, const char *list, char *err, size_t errlen)
{
    s->n = 0;
    const char *p = list;
    while (p && *p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v <= 0 || (*end != ',' && *end != '\0') || s->n >= BPROC_MAX) {
            snprintf(err, errlen, "bad process list '%s' (up to %d pids, comma-separated)", list,
                     BPROC_MAX);
            return -1;
        }
        s->pid[s->n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* utime + stime in clock ticks; the fields after the last ')' (comm may hold spaces). */
static long long ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
     */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

double bproc_cpu_s(const struct bproc_set *s)
{
    long long t = 0;
    for (int i = 0; i < s->n; i++) {
        long long v = ticks(s->pid[i]);
        if (v < 0)
            return -1;
        t += v;
    }
    return (double)t / (double)sysconf(_SC_CLK_TCK);
}

double bproc_self_cpu_s(void)
{
    return (double)ticks(getpid()) / (double)sysconf(_SC_CLK_TCK);
}

long bproc_rss_kib(const struct bproc_set *s)
{
    long sum = 0;
    for (int i = 0; i < s->n; i++) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", s->pid[i]);
        FILE *f = fopen(path, "r");
        long kib = -1;
        if (f == NULL)
            return -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                break;
        fclose(f);
        if (kib < 0)
            return -1;
        sum += kib;
    }
    return sum;
}
