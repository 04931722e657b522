#include "memstat.h"

#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
/* Under AddressSanitizer malloc is ASan's: glibc's arenas hold next to nothing. */
size_t __sanitizer_get_current_allocated_bytes(void);
size_t __sanitizer_get_free_bytes(void);
#endif

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? resident * (uint64_t)page : 0;
}

void memstat_read(struct memstat *m)
{
    m->rss_bytes = rss_bytes();
#if defined(__SANITIZE_ADDRESS__)
    m->heap_bytes = __sanitizer_get_current_allocated_bytes();
    m->heap_free_bytes = __sanitizer_get_free_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    m->heap_bytes = mi.uordblks + mi.hblkhd;
    m->heap_free_bytes = mi.fordblks;
#endif
}
