/*
 * store — products in MongoDB through mongo-c-driver.
 *
 * Request threads share one mongoc_client_pool (each call pops a client and pushes it
 * back). Writes use w:majority with retryable writes; server selection and sockets have
 * bounded timeouts, so every call returns within a few seconds even when the database is
 * gone. req_id has a unique index: creating a product whose req_id exists returns the
 * stored one instead, in the same single round trip (an upserting findAndModify).
 *
 * A second, single-threaded client serves store_probe(), which creates the index and
 * checks that a primary is known; call it from one thread only.
 */
#ifndef FAKEAPP_STORE_H
#define FAKEAPP_STORE_H

#include <jansson.h>
#include <stddef.h>

#include "product.h"

struct store;

enum store_result {
    STORE_OK = 0,
    STORE_NOT_FOUND,
    STORE_UNAVAILABLE, /* no primary, network, timeout, step-down: retry later (503) */
    STORE_ERROR,       /* anything else (500) */
};

struct store_config {
    const char *uri; /* mongodb:// connection string */
    const char *db;
    long timeout_ms; /* serverSelectionTimeoutMS; socketTimeoutMS = 2 x; 0 = 3000 */
    long close_ms;   /* store_free waits at most this for the driver's goodbye; 0 = 500 */
    int w;           /* write concern: 0 = majority, else w:N (wtimeout 2 x timeout_ms) */
};

/*
 * Must be called once before store_new (mongoc_init, and the driver's log through ours:
 * mongolog_install, so after log_init) and after the last store_free (mongoc_cleanup,
 * skipped when a store_free had to leave the driver to the process exit). The cleanup
 * returns 1 in that case: a thread is still inside the driver with the store's memory, so
 * the caller should leave with _exit (no exit handlers, no leak report), else 0.
 */
void store_global_init(void);
int store_global_cleanup(void);

/* Parses the URI and creates the pool; does not connect. Returns NULL with a message in err. */
struct store *store_new(const struct store_config *c, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/*
 * Frees the store (accepts NULL). The driver says goodbye to the servers (endSessions),
 * which with MongoDB unreachable would wait a full server selection; store_free waits at
 * most close_ms for it. Returns 0, or -1 when it gave up: the driver is then left to the
 * process exit (store_global_cleanup skips mongoc_cleanup), and the caller should exit.
 */
int store_free(struct store *s);

/*
 * Ensures the unique index on req_id (once per store) and checks that a primary can be
 * selected. Returns 0 when the store is ready for writes, -1 with a message in err.
 * Single thread only; blocks at most about timeout_ms.
 */
int store_probe(struct store *s, char *err, size_t errlen) __attribute__((warn_unused_result));

/* 1 once store_probe() has created the unique index (creates are refused before). */
int store_index_ready(struct store *s);

/*
 * Inserts a product (a new _id, created_at now, pod). On success *doc is the stored
 * document (caller decrefs) and *created is 1, or 0 when req_id already existed and *doc is
 * that earlier product. Other results leave *doc NULL and a message in err.
 */
enum store_result store_create(struct store *s, const struct product_input *in, const char *pod,
                               json_t **doc, int *created, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Finds one product by its 24-hex _id. *doc is a new reference on STORE_OK. */
enum store_result store_get(struct store *s, const char *id_hex, json_t **doc, char *err,
                            size_t errlen) __attribute__((warn_unused_result));

/* Finds the product created with req_id. *doc is a new reference on STORE_OK. */
enum store_result store_find_req_id(struct store *s, const char *req_id, json_t **doc, char *err,
                                    size_t errlen) __attribute__((warn_unused_result));

/* The newest `limit` products (by _id, descending). *arr is a new JSON array on STORE_OK. */
enum store_result store_list(struct store *s, long limit, json_t **arr, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
