/*
 * log — one line per event on stderr, key=value:
 *   ts=2026-11-27T23:01:02.345Z level=info prog=relay msg=listening port=8080
 * The level check happens in the macro, so a disabled DEBUG line costs one compare.
 * By convention the text starts with a short event name followed by key=value pairs.
 */
#ifndef RELAYLAB_LOG_H
#define RELAYLAB_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
    LOG_LEVEL_OFF
};

extern enum log_level log_threshold;

/* Sets the program name printed as prog=... (the string must outlive the program). */
void log_init(const char *prog, enum log_level threshold);

/* Parses "debug", "info", "warn", "error", "off". Returns 0, or -1 for an unknown name. */
int log_level_parse(const char *name, enum log_level *out);

/* log_level_parse for the value of a --log-level flag: on failure the message in err names
 * the flag and the accepted levels. Returns 0 or -1. */
int log_level_from_flag(const char *name, enum log_level *out, char *err, size_t errlen);

void log_emit(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_AT(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((lvl) >= log_threshold)                                                                \
            log_emit((lvl), __VA_ARGS__);                                                          \
    } while (0)
#define LOG_DEBUG(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_WARN(...) LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_ERROR(...) LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
