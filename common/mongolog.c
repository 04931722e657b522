#include "mongolog.h"

#include <fcntl.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"

/* Our level for one of the driver's. */
static enum log_level level_of(mongoc_log_level_t l)
{
    switch (l) {
    case MONGOC_LOG_LEVEL_ERROR:
    case MONGOC_LOG_LEVEL_CRITICAL:
        return LOG_LEVEL_ERROR;
    case MONGOC_LOG_LEVEL_WARNING:
        return LOG_LEVEL_WARN;
    case MONGOC_LOG_LEVEL_MESSAGE:
    case MONGOC_LOG_LEVEL_INFO:
        return LOG_LEVEL_INFO;
    default:
        return LOG_LEVEL_DEBUG;
    }
}

/* Copies s into out as one line a key=value reader can take: quotes become single quotes,
 * control characters spaces; truncated to the buffer. */
static void clean(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; s && *s && k + 1 < n; s++)
        out[k++] = *s == '"' ? '\'' : (unsigned char)*s < 0x20 ? ' ' : *s;
    out[k] = '\0';
}

static void handler(mongoc_log_level_t l, const char *domain, const char *message, void *ud)
{
    (void)ud;
    enum log_level lvl = level_of(l);
    if (lvl < log_threshold)
        return;
    char dom[64], msg[1024];
    clean(domain, dom, sizeof dom);
    clean(message, msg, sizeof msg);
    log_emit(lvl, "mongoc domain=%s msg=\"%s\"", dom[0] ? dom : "-", msg);
}

void mongolog_install(void)
{
    mongoc_log_trace_disable();
    mongoc_log_set_handler(handler, NULL);
    /* The driver maps its performance counters from /dev/shm/mongoc-PID when it loads and
     * removes the file only at a normal exit: every killed or _exit-ed process (the lab
     * kills on purpose) left one, and a later process given the same pid then printed
     * "Falling back to malloc for counters" before main. The mapping outlives its name. */
    char name[32];
    snprintf(name, sizeof name, "/mongoc-%u", (unsigned)getpid());
    (void)shm_unlink(name);
}
