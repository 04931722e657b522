#include "jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jsonx_depth(const char *buf, size_t len, int limit)
{
    int depth = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
            if (max > limit)
                return -1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

json_t *jsonx_parse(const char *buf, size_t len, int max_depth, char *err, size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "empty body");
        return NULL;
    }
    const char *nul = memchr(buf, '\0', len);
    if (nul != NULL) {
        snprintf(err, errlen, "body contains a NUL byte at position %zu", (size_t)(nul - buf));
        return NULL;
    }
    if (jsonx_depth(buf, len, max_depth) < 0) {
        snprintf(err, errlen, "JSON nested deeper than %d levels", max_depth);
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (v == NULL) {
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    return v;
}

json_t *jsonx_parse_object(const char *buf, size_t len, int max_depth, char *err, size_t errlen)
{
    json_t *v = jsonx_parse(buf, len, max_depth, err, errlen);
    if (v && !json_is_object(v)) {
        snprintf(err, errlen, "body must be a JSON object, got %s", jsonx_type_name(v));
        json_decref(v);
        return NULL;
    }
    return v;
}

char *jsonx_dump(const json_t *v, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s && len)
        *len = strlen(s);
    return s;
}

const char *jsonx_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

char *jsonx_error_body(const char *code, const char *msg, size_t *len)
{
    json_t *o = json_pack("{s:s, s:s}", "error", code, "message", msg);
    if (o == NULL)
        return NULL;
    char *s = jsonx_dump(o, len);
    json_decref(o);
    return s;
}
