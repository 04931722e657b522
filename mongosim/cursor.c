#include "cursor.h"

#include <stdlib.h>
#include <string.h>

#include "changestream.h"
#include "exec.h"

struct cursors {
    struct cursor *head;
    int64_t next_id;
    size_t n;
};

struct cursors *cursors_new(void)
{
    struct cursors *t = calloc(1, sizeof *t);
    if (t)
        t->next_id = 1000001;
    return t;
}

static void cursor_free(struct cursor *c)
{
    for (size_t i = c->pos; i < c->n; i++)
        bson_destroy(c->docs[i]);
    free(c->docs);
    cs_free(c->cs);
    lazy_free(c->lazy);
    free(c);
}

void cursors_free(struct cursors *t)
{
    if (t == NULL)
        return;
    while (t->head) {
        struct cursor *c = t->head;
        t->head = c->next;
        cursor_free(c);
    }
    free(t);
}

struct cursor *cursors_add(struct cursors *t, int member, const char *ns, bson_t **docs, size_t n,
                           struct cs *cs, struct lazy *lazy, int64_t now)
{
    struct cursor *c = calloc(1, sizeof *c);
    if (c == NULL) {
        for (size_t i = 0; i < n; i++)
            bson_destroy(docs[i]);
        free(docs);
        cs_free(cs);
        lazy_free(lazy);
        return NULL;
    }
    c->id = t->next_id++;
    c->member = member;
    strncpy(c->ns, ns, sizeof c->ns - 1);
    c->docs = docs;
    c->n = n;
    c->cs = cs;
    c->lazy = lazy;
    c->last_used = now;
    c->next = t->head;
    t->head = c;
    t->n++;
    return c;
}

struct cursor *cursors_get(struct cursors *t, int64_t id)
{
    for (struct cursor *c = t->head; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

/* Unlinks and frees every cursor for which pred(c, arg) holds. Returns how many. */
static int remove_if(struct cursors *t, int (*pred)(const struct cursor *, const void *),
                     const void *arg)
{
    int n = 0;
    for (struct cursor **pp = &t->head; *pp;) {
        struct cursor *c = *pp;
        if (pred(c, arg)) {
            *pp = c->next;
            cursor_free(c);
            t->n--;
            n++;
        } else {
            pp = &c->next;
        }
    }
    return n;
}

static int by_member(const struct cursor *c, const void *arg)
{
    return c->member == *(const int *)arg;
}

static int by_age(const struct cursor *c, const void *arg)
{
    return c->last_used < *(const int64_t *)arg;
}

int cursors_kill(struct cursors *t, int64_t id)
{
    /* Ids are unique: stop at the first (a new cursor is at the head). */
    for (struct cursor **pp = &t->head; *pp; pp = &(*pp)->next) {
        struct cursor *c = *pp;
        if (c->id == id) {
            *pp = c->next;
            cursor_free(c);
            t->n--;
            return 1;
        }
    }
    return 0;
}

void cursors_kill_member(struct cursors *t, int member)
{
    remove_if(t, by_member, &member);
}

static int by_store(const struct cursor *c, const void *arg)
{
    return c->lazy != NULL && c->store == arg;
}

void cursors_kill_store(struct cursors *t, const struct store *s)
{
    remove_if(t, by_store, s);
}

int cursors_expire(struct cursors *t, int64_t now, int64_t idle_ms)
{
    int64_t cutoff = now - idle_ms;
    return remove_if(t, by_age, &cutoff);
}

size_t cursors_count(const struct cursors *t)
{
    return t->n;
}
