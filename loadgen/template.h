/*
 * template — the JSON body of a create request, described by the user instead of assumed.
 *
 * A template is the body text with placeholders, rendered once per request i (0-based):
 *   {{req_id}}  the request id (prefix + (i+1)); required: it is how events are matched
 *   {{i}}       i                {{n}}      i + 1
 *   {{store}}   i % K with --channels K (0 when K is 0): request i goes to channel PREFIX<store>
 *   {{price}}   "<i % 1000>.5", fakeapp's price
 * The default is fakeapp's body: {"name":"product-{{n}}","price":{{price}},"req_id":"{{req_id}}"}
 * (plus ,"store":"{{store}}" with channels). Values are inserted as they are: write quotes
 * around the string ones in the template.
 */
#ifndef LOADGEN_TEMPLATE_H
#define LOADGEN_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#define LG_TEMPLATE_MAX 16384 /* template bytes */

/* fakeapp's body without and with the store field. */
extern const char lg_template_default[];
extern const char lg_template_default_store[];

struct lg_template_vars {
    const char *req_id;
    uint64_t i;
    uint64_t store;
};

/*
 * Checks that tpl is at most LG_TEMPLATE_MAX bytes, names only known placeholders, and has
 * {{req_id}}. Returns 0, or -1 with a message in err.
 */
int lg_template_check(const char *tpl, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Bytes a rendering of tpl may need at most (including the NUL). */
size_t lg_template_cap(const char *tpl);

/*
 * Renders tpl with v into out (NUL-terminated). Returns the length, or -1 when it does not
 * fit cap (lg_template_cap(tpl) always fits a checked template).
 */
long lg_template_render(const char *tpl, const struct lg_template_vars *v, char *out, size_t cap);

#endif
