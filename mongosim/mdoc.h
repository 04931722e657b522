/*
 * mdoc — a mutable document tree for update operators: a BSON document becomes a tree of
 * nodes whose sub-documents and arrays are expanded only when a path reaches into them,
 * is changed through dotted paths ("a.b.0"), and is serialised back to BSON.
 */
#ifndef MONGOSIM_MDOC_H
#define MONGOSIM_MDOC_H

#include <bson/bson.h>
#include <stddef.h>

enum mkind { MN_VALUE, MN_DOC, MN_ARRAY };

struct mnode {
    char *key; /* owned; unused for array elements */
    enum mkind kind;
    bson_value_t v; /* MN_VALUE: an owned deep copy (documents and arrays not yet expanded) */
    struct mnode *kids;
    size_t n, cap;
};

/* Builds the tree of doc into root. Returns 0, or -1 on OOM (root is then empty). */
int mdoc_init(struct mnode *root, const bson_t *doc) __attribute__((warn_unused_result));

/* Frees what node holds (not node itself). */
void mnode_cleanup(struct mnode *node);

/* Serialises a document node into out (initialised here). */
void mdoc_to_bson(struct mnode *root, bson_t *out);

/* The node at a dotted path, or NULL when some part is missing. */
struct mnode *mdoc_get(struct mnode *root, const char *path);

/*
 * The node at a dotted path, created when missing (then it holds no value: v.value_type is
 * BSON_TYPE_EOD until set; missing parents become documents, arrays are padded with nulls). Returns
 * it, or NULL with code 28 (PathNotViable) and a message in err when a parent is neither a document
 * nor an array (or a segment is not an index into an array), or 146 on OOM.
 */
struct mnode *mdoc_make(struct mnode *root, const char *path, int *code, char *err, size_t errlen);

/* Removes the field at path (an array element becomes null). Returns 1 when it existed. */
int mdoc_unset(struct mnode *root, const char *path);

/* Detaches the node at path into *out (the caller cleans it up). Returns 1 when it existed. */
int mdoc_take(struct mnode *root, const char *path, struct mnode *out);

/* Replaces node's content by a copy of v. */
void mnode_set(struct mnode *node, const bson_value_t *v);

/* Replaces node's content by src's (src is left empty). */
void mnode_move(struct mnode *node, struct mnode *src);

/* Makes node an array (expanding it, or an empty one when create and it is missing/null).
 * Returns 0, or -1 when it holds something else. */
int mnode_as_array(struct mnode *node);

/* Appends a copy of v to an array node at position pos (clamped; -1 for the end). Returns 0
 * or -1 on OOM. */
int mnode_array_insert(struct mnode *arr, const bson_value_t *v, long pos);

/* Removes element i of an array node. */
void mnode_array_remove(struct mnode *arr, size_t i);

/* Fills v with a view of a value node's content, serialising an expanded node into tmp
 * (initialised here when used; the caller destroys it when *used is set). */
void mnode_value(struct mnode *node, bson_value_t *v, bson_t *tmp, int *used);

#endif
