#include "store.h"

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mongolog.h"
#include "monoclock.h"

#define STORE_COLLECTION "products"

/* Set once a store_free gave up waiting for the driver: mongoc must not be cleaned up. */
static atomic_int abandoned;

struct store {
    mongoc_uri_t *uri;
    mongoc_client_pool_t *pool;
    mongoc_client_t *probe; /* single-threaded, for store_probe() */
    long close_ms;          /* store_free waits at most this long for the driver */
    long timeout_ms;        /* serverSelectionTimeoutMS: also the budget for a re-send */
    char db[64];
    atomic_int index_ready; /* written by the probe thread, read by request threads */
};

void store_global_init(void)
{
    mongoc_init();
    mongolog_install();
}

int store_global_cleanup(void)
{
    if (atomic_load(&abandoned))
        return 1;
    mongoc_cleanup();
    return 0;
}

/* Sets an int option unless the connection string already has it. */
static void uri_default_int(mongoc_uri_t *uri, const char *key, int32_t v)
{
    if (!mongoc_uri_has_option(uri, key))
        mongoc_uri_set_option_as_int32(uri, key, v);
}

struct store *store_new(const struct store_config *c, char *err, size_t errlen)
{
    struct store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(s->db, sizeof s->db, "%s", c->db);
    s->close_ms = c->close_ms > 0 ? c->close_ms : 500;
    bson_error_t e;
    s->uri = mongoc_uri_new_with_error(c->uri, &e);
    if (s->uri == NULL) {
        snprintf(err, errlen, "bad MongoDB URI: %s", e.message);
        goto fail;
    }
    int32_t t = c->timeout_ms > 0 ? (int32_t)c->timeout_ms : 3000;
    s->timeout_ms = t;
    uri_default_int(s->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, t);
    uri_default_int(s->uri, MONGOC_URI_SOCKETTIMEOUTMS, 2 * t);
    uri_default_int(s->uri, MONGOC_URI_CONNECTTIMEOUTMS, t < 2000 ? t : 2000);
    uri_default_int(s->uri, MONGOC_URI_HEARTBEATFREQUENCYMS, 1000);
    if (!mongoc_uri_has_option(s->uri, MONGOC_URI_RETRYWRITES))
        mongoc_uri_set_option_as_bool(s->uri, MONGOC_URI_RETRYWRITES, true);
    mongoc_write_concern_t *wc = mongoc_write_concern_new();
    if (c->w > 0) {
        mongoc_write_concern_set_w(wc, c->w);
        mongoc_write_concern_set_wtimeout_int64(wc, 2 * t);
    } else {
        mongoc_write_concern_set_wmajority(wc, 2 * t);
    }
    mongoc_uri_set_write_concern(s->uri, wc);
    mongoc_write_concern_destroy(wc);

    s->pool = mongoc_client_pool_new(s->uri);
    if (s->pool == NULL) {
        snprintf(err, errlen, "cannot create the MongoDB client pool");
        goto fail;
    }
    mongoc_client_pool_set_error_api(s->pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_pool_set_appname(s->pool, "fakeapp");
    s->probe = mongoc_client_new_from_uri(s->uri);
    if (s->probe == NULL) {
        snprintf(err, errlen, "cannot create the MongoDB probe client");
        goto fail;
    }
    mongoc_client_set_error_api(s->probe, MONGOC_ERROR_API_VERSION_2);
    return s;
fail:
    store_free(s);
    return NULL;
}

/* Destroys the clients: they send endSessions, which waits for a server selection. */
static void *teardown(void *arg)
{
    struct store *s = arg;
    if (s->probe)
        mongoc_client_destroy(s->probe);
    if (s->pool)
        mongoc_client_pool_destroy(s->pool);
    if (s->uri)
        mongoc_uri_destroy(s->uri);
    return NULL;
}

int store_free(struct store *s)
{
    if (s == NULL)
        return 0;
    /* With MongoDB unreachable the pool's endSessions waits for a server selection
     * (--db-timeout); shutdown must not. Tear down on a thread and wait close_ms. */
    pthread_t th;
    if (pthread_create(&th, NULL, teardown, s) != 0) {
        teardown(s);
        free(s);
        return 0;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += s->close_ms / 1000;
    until.tv_nsec += (s->close_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(th, NULL, &until) != 0) {
        /* Leave the thread and the driver's memory to the process exit. */
        pthread_detach(th);
        atomic_store(&abandoned, 1);
        LOG_WARN("mongo_close_abandoned reason=no_server_answered wait_ms=%ld", s->close_ms);
        return -1;
    }
    free(s);
    return 0;
}

/* Server error codes that mean "no usable primary right now" (retry later). */
static int code_is_transient(uint32_t code)
{
    static const uint32_t codes[] = {6,    7,     50,    64,    89,    91,    189,  262,
                                     9001, 10107, 11600, 11602, 13435, 13436, 10058};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i] == code)
            return 1;
    return 0;
}

static int is_duplicate(const bson_error_t *e)
{
    return e->code == 11000 &&
           (e->domain == MONGOC_ERROR_SERVER || e->domain == MONGOC_ERROR_COLLECTION ||
            e->domain == MONGOC_ERROR_WRITE_CONCERN);
}

static enum store_result classify(const bson_error_t *e, const bson_t *reply)
{
    switch (e->domain) {
    case MONGOC_ERROR_SERVER_SELECTION:
    case MONGOC_ERROR_STREAM:
    case MONGOC_ERROR_PROTOCOL:
    case MONGOC_ERROR_WRITE_CONCERN:
        return STORE_UNAVAILABLE;
    default:
        break;
    }
    if (code_is_transient(e->code))
        return STORE_UNAVAILABLE;
    if (reply && (mongoc_error_has_label(reply, "RetryableWriteError") ||
                  mongoc_error_has_label(reply, "TransientTransactionError")))
        return STORE_UNAVAILABLE;
    return STORE_ERROR;
}

/* Reads a stored document into the API's JSON shape; unknown fields are ignored. */
static json_t *doc_to_json(const bson_t *b)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bson_iter_t it;
    if (bson_iter_init_find(&it, b, "_id") && BSON_ITER_HOLDS_OID(&it)) {
        char hex[25];
        bson_oid_to_string(bson_iter_oid(&it), hex);
        json_object_set_new(o, "_id", json_string(hex));
    }
    static const char *const fields[] = {"name", "price", "req_id", "store", "pod", "created_at"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!bson_iter_init_find(&it, b, fields[i]))
            continue;
        json_t *v = NULL;
        if (BSON_ITER_HOLDS_UTF8(&it)) {
            uint32_t n;
            const char *s = bson_iter_utf8(&it, &n);
            v = json_stringn(s, n);
        } else if (BSON_ITER_HOLDS_NUMBER(&it)) {
            v = json_real(bson_iter_as_double(&it));
        }
        if (v)
            json_object_set_new(o, fields[i], v);
    }
    return o;
}

static void now_iso(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

int store_index_ready(struct store *s)
{
    return atomic_load(&s->index_ready);
}

int store_probe(struct store *s, char *err, size_t errlen)
{
    bson_error_t e;
    if (!atomic_load(&s->index_ready)) {
        bson_t *cmd = BCON_NEW("createIndexes", BCON_UTF8(STORE_COLLECTION), "indexes", "[", "{",
                               "key", "{", "req_id", BCON_INT32(1), "}", "name",
                               BCON_UTF8("req_id_unique"), "unique", BCON_BOOL(true), "}", "]");
        bson_t reply;
        bool ok = mongoc_client_write_command_with_opts(s->probe, s->db, cmd, NULL, &reply, &e);
        bson_destroy(&reply);
        bson_destroy(cmd);
        if (!ok) {
            snprintf(err, errlen, "cannot create the req_id index: %s", e.message);
            return -1;
        }
        atomic_store(&s->index_ready, 1);
    }
    mongoc_server_description_t *sd = mongoc_client_select_server(s->probe, true, NULL, &e);
    if (sd == NULL) {
        snprintf(err, errlen, "no primary: %s", e.message);
        return -1;
    }
    mongoc_server_description_destroy(sd);
    return 0;
}

/* Finds one document by filter on a pooled client. */
static enum store_result find_one(mongoc_client_t *cl, const char *db, const bson_t *filter,
                                  json_t **doc, char *err, size_t errlen)
{
    mongoc_collection_t *coll = mongoc_client_get_collection(cl, db, STORE_COLLECTION);
    /* limit 1 + singleBatch: the server closes the cursor with its reply (no killCursors). */
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1), "singleBatch", BCON_BOOL(true));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *b;
    enum store_result r = STORE_NOT_FOUND;
    if (mongoc_cursor_next(cur, &b)) {
        *doc = doc_to_json(b);
        r = *doc ? STORE_OK : STORE_ERROR;
    }
    bson_error_t e;
    const bson_t *reply = NULL;
    if (r == STORE_NOT_FOUND && mongoc_cursor_error_document(cur, &e, &reply)) {
        r = classify(&e, reply);
        snprintf(err, errlen, "%s", e.message);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    mongoc_collection_destroy(coll);
    return r;
}

/* The driver could not open a connection to the server it selected: nothing was sent. */
static int never_sent(const bson_error_t *e)
{
    return e->domain == MONGOC_ERROR_STREAM && e->code == MONGOC_ERROR_STREAM_CONNECT;
}

/*
 * findAndModify, sent once more when the first attempt never reached a server: a primary
 * cut off by a network partition drops the connection attempt, which fails after
 * connectTimeoutMS, by when the others have usually elected a new primary; the driver's
 * own retryable-write retry does not cover a connection that was never opened. The driver
 * marks a server it cannot connect to Unknown, so the second attempt selects afresh. Only
 * while the first took less than the server-selection budget (a client waits for us).
 */
static bool find_and_modify(struct store *s, mongoc_collection_t *coll, const bson_t *query,
                            const mongoc_find_and_modify_opts_t *opts, const char *req_id,
                            bson_t *reply, bson_error_t *e)
{
    int64_t t0 = monoclock_ms();
    if (mongoc_collection_find_and_modify_with_opts(coll, query, opts, reply, e))
        return true;
    int64_t took = monoclock_ms() - t0;
    if (!never_sent(e) || took >= s->timeout_ms)
        return false;
    LOG_INFO("create_resend req_id=%s after_ms=%lld error=\"%s\"", req_id, (long long)took,
             e->message);
    bson_destroy(reply);
    return mongoc_collection_find_and_modify_with_opts(coll, query, opts, reply, e);
}

/*
 * One round trip for both outcomes: findAndModify({req_id}, {$setOnInsert: product},
 * upsert, new) inserts the product when the req_id is new and returns the stored one
 * otherwise. (The first version inserted, and on a duplicate key ran a find: the retry
 * path paid two round trips where a new product paid one.) It is a retryable write, so a
 * retry after a network error is answered by the server, not run twice; and the upsert
 * shows in a change stream as the insert it is. The product is ours when it carries the
 * _id we generated: a retry of our own request that landed earlier is still a creation.
 */
enum store_result store_create(struct store *s, const struct product_input *in, const char *pod,
                               json_t **doc, int *created, char *err, size_t errlen)
{
    *doc = NULL;
    *created = 0;
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    char at[40];
    now_iso(at, sizeof at);
    bson_t *query = BCON_NEW("req_id", BCON_UTF8(in->req_id));
    bson_t product = BSON_INITIALIZER;
    BSON_APPEND_OID(&product, "_id", &oid);
    BSON_APPEND_UTF8(&product, "name", in->name);
    BSON_APPEND_DOUBLE(&product, "price", in->price);
    if (in->store[0])
        BSON_APPEND_UTF8(&product, "store", in->store);
    BSON_APPEND_UTF8(&product, "pod", pod);
    BSON_APPEND_UTF8(&product, "created_at", at);
    bson_t *update = bson_new();
    BSON_APPEND_DOCUMENT(update, "$setOnInsert", &product);
    bson_destroy(&product);
    mongoc_find_and_modify_opts_t *opts = mongoc_find_and_modify_opts_new();
    mongoc_find_and_modify_opts_set_update(opts, update);
    mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_UPSERT |
                                                    MONGOC_FIND_AND_MODIFY_RETURN_NEW);
    mongoc_client_t *cl = mongoc_client_pool_pop(s->pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(cl, s->db, STORE_COLLECTION);
    bson_t reply;
    bson_error_t e;
    bson_iter_t it;
    enum store_result r;
    if (find_and_modify(s, coll, query, opts, in->req_id, &reply, &e)) {
        if (bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            uint32_t len;
            const uint8_t *data;
            bson_t value;
            bson_iter_document(&it, &len, &data);
            if (bson_init_static(&value, data, len)) {
                *doc = doc_to_json(&value);
                *created = bson_iter_init_find(&it, &value, "_id") && BSON_ITER_HOLDS_OID(&it) &&
                           bson_oid_equal(bson_iter_oid(&it), &oid);
            }
            r = *doc ? STORE_OK : STORE_ERROR;
        } else {
            r = STORE_ERROR;
            snprintf(err, errlen, "findAndModify returned no document");
        }
    } else if (is_duplicate(&e)) {
        /* Two upserts of one req_id raced (servers before 4.2 do not retry that): the other
         * one's product is there now. */
        r = find_one(cl, s->db, query, doc, err, errlen);
        if (r == STORE_NOT_FOUND) {
            r = STORE_UNAVAILABLE;
            snprintf(err, errlen, "req_id exists but its product could not be read yet");
        }
    } else {
        r = classify(&e, &reply);
        snprintf(err, errlen, "%s", e.message);
    }
    bson_destroy(&reply);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(s->pool, cl);
    mongoc_find_and_modify_opts_destroy(opts);
    bson_destroy(update);
    bson_destroy(query);
    return r;
}

enum store_result store_get(struct store *s, const char *id_hex, json_t **doc, char *err,
                            size_t errlen)
{
    *doc = NULL;
    if (!bson_oid_is_valid(id_hex, strlen(id_hex))) {
        snprintf(err, errlen, "bad id");
        return STORE_NOT_FOUND;
    }
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, id_hex);
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    mongoc_client_t *cl = mongoc_client_pool_pop(s->pool);
    enum store_result r = find_one(cl, s->db, filter, doc, err, errlen);
    mongoc_client_pool_push(s->pool, cl);
    bson_destroy(filter);
    return r;
}

enum store_result store_find_req_id(struct store *s, const char *req_id, json_t **doc, char *err,
                                    size_t errlen)
{
    *doc = NULL;
    bson_t *filter = BCON_NEW("req_id", BCON_UTF8(req_id));
    mongoc_client_t *cl = mongoc_client_pool_pop(s->pool);
    enum store_result r = find_one(cl, s->db, filter, doc, err, errlen);
    mongoc_client_pool_push(s->pool, cl);
    bson_destroy(filter);
    return r;
}

enum store_result store_list(struct store *s, long limit, json_t **arr, char *err, size_t errlen)
{
    *arr = json_array();
    if (*arr == NULL) {
        snprintf(err, errlen, "out of memory");
        return STORE_ERROR;
    }
    mongoc_client_t *cl = mongoc_client_pool_pop(s->pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(cl, s->db, STORE_COLLECTION);
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(-1), "}", "limit", BCON_INT64(limit));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
    const bson_t *b;
    enum store_result r = STORE_OK;
    while (mongoc_cursor_next(cur, &b)) {
        json_t *o = doc_to_json(b);
        if (o == NULL || json_array_append_new(*arr, o) != 0) {
            r = STORE_ERROR;
            snprintf(err, errlen, "out of memory");
            break;
        }
    }
    bson_error_t e;
    const bson_t *reply = NULL;
    if (r == STORE_OK && mongoc_cursor_error_document(cur, &e, &reply)) {
        r = classify(&e, reply);
        snprintf(err, errlen, "%s", e.message);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&filter);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(s->pool, cl);
    if (r != STORE_OK) {
        json_decref(*arr);
        *arr = NULL;
    }
    return r;
}
