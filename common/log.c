#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

enum log_level log_threshold = LOG_LEVEL_INFO;
static const char *log_prog = "relaylab";

void log_init(const char *prog, enum log_level threshold)
{
    log_prog = prog;
    log_threshold = threshold;
}

int log_level_parse(const char *name, enum log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i <= LOG_LEVEL_OFF; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = LOG_LEVEL_WARN;
        return 0;
    }
    return -1;
}

int log_level_from_flag(const char *name, enum log_level *out, char *err, size_t errlen)
{
    if (log_level_parse(name, out) == 0)
        return 0;
    snprintf(err, errlen, "--log-level must be debug, info, warn or error, got '%s'", name);
    return -1;
}

void log_emit(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n =
        snprintf(line, sizeof line,
                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s prog=%s msg=", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (long)(tv.tv_usec / 1000), names[level < LOG_LEVEL_OFF ? level : 0], log_prog);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    /* One write per line so lines from several threads do not interleave. */
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}
