/*
 * strtab — interns byte strings (request ids, epochs, pod names) as dense indices 0..n-1.
 *
 * Open addressing over an arena of copies; lookups never allocate, interning allocates only
 * when the table or the arena grows. Not thread-safe.
 */
#ifndef LOADGEN_STRTAB_H
#define LOADGEN_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#define STRTAB_NONE UINT32_MAX

struct strtab;

/* Returns an empty table, or NULL when out of memory. Caller frees with strtab_free. */
struct strtab *strtab_new(void);
void strtab_free(struct strtab *t); /* accepts NULL */

/* Returns the index of s (adding a copy when new), or STRTAB_NONE when out of memory. */
uint32_t strtab_intern(struct strtab *t, const char *s, size_t len);
/* Returns the index of s, or STRTAB_NONE when absent. */
uint32_t strtab_find(const struct strtab *t, const char *s, size_t len);
/* The NUL-terminated string at idx (valid until the next intern). */
const char *strtab_get(const struct strtab *t, uint32_t idx);
uint32_t strtab_count(const struct strtab *t);

#endif
