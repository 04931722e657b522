/*
 * jsonx — JSON helpers on jansson for network input: size, NUL bytes, depth and UTF-8 are
 * checked before and during parsing, and every failure names the problem in plain words.
 */
#ifndef RELAYLAB_JSONX_H
#define RELAYLAB_JSONX_H

#include <jansson.h>
#include <stddef.h>

/*
 * Returns the maximum nesting depth of arrays/objects in buf (strings are skipped), or -1
 * as soon as the depth exceeds limit.
 */
int jsonx_depth(const char *buf, size_t len, int limit);

/*
 * Parses buf as one JSON value. Rejects NUL bytes, nesting deeper than max_depth, invalid
 * UTF-8, duplicate keys and trailing garbage. Returns a new reference (caller decrefs) or
 * NULL with a message in err such as "invalid JSON at line 1 column 7: ...".
 */
json_t *jsonx_parse(const char *buf, size_t len, int max_depth, char *err, size_t errlen);

/*
 * jsonx_parse, then requires an object: "body must be a JSON object, got array" otherwise.
 * Returns a new reference or NULL with the message in err.
 */
json_t *jsonx_parse_object(const char *buf, size_t len, int max_depth, char *err, size_t errlen);

/* Compact, key order preserved. Returns a malloc'd string (caller frees) or NULL. */
char *jsonx_dump(const json_t *v, size_t *len);

/* Returns the JSON type name ("object", "string", ...) for error messages. */
const char *jsonx_type_name(const json_t *v);

/* Builds an error body {"error":"<code>","message":"<msg>"}. Caller frees. */
char *jsonx_error_body(const char *code, const char *msg, size_t *len);

#endif
