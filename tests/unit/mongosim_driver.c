/*
 * mongosim against the real mongo-c-driver: CRUD, unique indexes, retryable writes through
 * a step-down, change streams across a step-down and a resume, fail-over after a kill,
 * discovery from one seed. Each case starts its own mongosim on ports derived from its pid.
 */
#include <check.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "sim.h"
#include "wire.h"

/* --- a mongosim subprocess per test case ------------------------------------------- */

struct sim {
    pid_t pid;
    int port, members;
};

/* Short-lived BSON from JSON; the last few stay reachable, so nothing leaks per call site. */
static bson_t *tmp_bson(const char *json)
{
    static bson_t *ring[32];
    static int next;
    bson_error_t err;
    bson_t *b = bson_new_from_json((const uint8_t *)json, -1, &err);
    ck_assert_msg(b != NULL, "bad test JSON %s: %s", json, err.message);
    if (ring[next])
        bson_destroy(ring[next]);
    ring[next] = b;
    next = (next + 1) % 32;
    return b;
}

static int sim_hello(const struct sim *s, int member, bson_t *reply)
{
    int fd = client_connect("127.0.0.1", s->port + member, 200);
    if (fd < 0)
        return -1;
    int rc = client_command(fd, "admin", tmp_bson("{\"hello\": 1}"), reply, 2000);
    close(fd);
    return rc;
}

static void sim_start(struct sim *s, int members, const char *election)
{
    const char *dir = getenv("RELAYLAB_BIN") ? getenv("RELAYLAB_BIN") : "bin";
    char exe[512], port[16], nm[16];
    snprintf(exe, sizeof exe, "%s/mongosim", dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        s->members = members;
        s->port = 12000 + (int)((getpid() * 7 + attempt * 131) % 2300) * 8;
        snprintf(port, sizeof port, "%d", s->port);
        snprintf(nm, sizeof nm, "%d", members);
        s->pid = fork();
        ck_assert_int_ge(s->pid, 0);
        if (s->pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            execl(exe, exe, "--port", port, "--members", nm, "--election-timeout", election,
                  "--log-level", getenv("MSIM_TEST_LOG") ? getenv("MSIM_TEST_LOG") : "warn",
                  (char *)NULL);
            _exit(127);
        }
        int ready = 0;
        for (int t = 0; t < 250 && !ready; t++) {
            int st;
            if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
                s->pid = -1;
                break; /* exited: port in use, try another base */
            }
            bson_t reply;
            if (sim_hello(s, members - 1, &reply) == 0) {
                bson_iter_t it;
                ready = bson_iter_init_find(&it, &reply, "setName") &&
                        strcmp(bson_iter_utf8(&it, NULL), "rs0") == 0;
                bson_destroy(&reply);
            } else {
                usleep(20000);
            }
        }
        if (ready)
            return;
        if (s->pid > 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
    }
    ck_abort_msg("mongosim did not start (%s)", exe);
}

static void sim_stop(struct sim *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    int st = 0;
    pid_t r = 0;
    for (int t = 0; t < 1000 && r == 0; t++) {
        r = waitpid(s->pid, &st, WNOHANG);
        if (r == 0)
            usleep(10000);
    }
    if (r == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &st, 0);
    }
    s->pid = -1;
    ck_assert_msg(r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "mongosim did not exit 0 on SIGTERM (status %d)", st);
}

static void sim_uri(const struct sim *s, char *buf, size_t n, const char *extra)
{
    snprintf(buf, n,
             "mongodb://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/"
             "?replicaSet=rs0&serverSelectionTimeoutMS=15000%s",
             s->port, s->port + 1, s->port + 2, extra ? extra : "");
}

/* Returns the member index hello names as primary (waiting up to 10 s for one). */
static int sim_primary(const struct sim *s)
{
    for (int t = 0; t < 200; t++) {
        for (int m = 0; m < s->members; m++) {
            bson_t reply;
            if (sim_hello(s, m, &reply) != 0)
                continue;
            bson_iter_t it;
            int p = bson_iter_init_find(&it, &reply, "isWritablePrimary") && bson_iter_as_bool(&it);
            bson_destroy(&reply);
            if (p)
                return m;
        }
        usleep(50000);
    }
    ck_abort_msg("no primary within 10 s");
    return -1;
}

static int sim_primary_port(const struct sim *s)
{
    return s->port + sim_primary(s);
}

/* Runs a command on the admin database of member (-1: the primary); asserts ok:1. */
static void sim_admin(const struct sim *s, int member, const char *json, bson_t *out)
{
    if (member < 0)
        member = sim_primary(s);
    int fd = client_connect("127.0.0.1", s->port + member, 2000);
    ck_assert_int_ge(fd, 0);
    bson_t reply;
    ck_assert_int_eq(client_command(fd, "admin", tmp_bson(json), &reply, 5000), 0);
    close(fd);
    bson_iter_t it;
    char *txt = bson_as_relaxed_extended_json(&reply, NULL);
    int ok = bson_iter_init_find(&it, &reply, "ok") && bson_iter_as_bool(&it);
    ck_assert_msg(ok, "%s failed: %s", json, txt);
    bson_free(txt);
    if (out)
        bson_steal(out, bson_copy(&reply));
    bson_destroy(&reply);
}

static struct sim sim;

static void setup(void)
{
    sim_start(&sim, 3, "300ms");
}

static void teardown(void)
{
    sim_stop(&sim);
}

static mongoc_client_t *client_for(const char *extra)
{
    char uri[512];
    sim_uri(&sim, uri, sizeof uri, extra);
    mongoc_client_t *c = mongoc_client_new(uri);
    ck_assert_ptr_nonnull(c);
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    return c;
}

static void insert_i(mongoc_collection_t *coll, int i, int g)
{
    bson_error_t err;
    bson_t *doc = BCON_NEW("i", BCON_INT32(i), "g", BCON_INT32(g));
    ck_assert_msg(mongoc_collection_insert_one(coll, doc, NULL, NULL, &err), "insert %d: %s", i,
                  err.message);
    bson_destroy(doc);
}

START_TEST(test_insert_find_sort_limit)
{
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "items");
    for (int i = 0; i < 20; i++)
        insert_i(coll, i, i % 3);
    bson_t *filter = BCON_NEW("g", BCON_INT32(1));
    bson_t *opts = BCON_NEW("sort", "{", "i", BCON_INT32(-1), "}", "limit", BCON_INT64(3),
                            "projection", "{", "i", BCON_INT32(1), "_id", BCON_INT32(0), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc;
    int want[] = {19, 16, 13}, k = 0;
    bson_iter_t it;
    while (mongoc_cursor_next(cur, &doc)) {
        ck_assert_int_lt(k, 3);
        ck_assert(bson_iter_init_find(&it, doc, "i"));
        ck_assert_int_eq(bson_iter_int32(&it), want[k++]);
        ck_assert(!bson_iter_init_find(&it, doc, "g")); /* projected away */
        ck_assert(!bson_iter_init_find(&it, doc, "_id"));
    }
    ck_assert_int_eq(k, 3);
    bson_error_t err;
    ck_assert_msg(!mongoc_cursor_error(cur, &err), "%s", err.message);
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    bson_destroy(opts);

    /* $in / $gt / $lte with a small batch size, so getMore is exercised. */
    filter = BCON_NEW("i", "{", "$gt", BCON_INT32(4), "$lte", BCON_INT32(15), "}", "g", "{", "$in",
                      "[", BCON_INT32(0), BCON_INT32(2), "]", "}");
    opts = BCON_NEW("sort", "{", "i", BCON_INT32(1), "}", "batchSize", BCON_INT32(2));
    cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    int got[20], n = 0;
    while (mongoc_cursor_next(cur, &doc) && n < 20) {
        ck_assert(bson_iter_init_find(&it, doc, "i"));
        got[n++] = bson_iter_int32(&it);
    }
    ck_assert_msg(!mongoc_cursor_error(cur, &err), "%s", err.message);
    int expect[] = {5, 6, 8, 9, 11, 12, 14, 15};
    ck_assert_int_eq(n, 8);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(got[i], expect[i]);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);

    int64_t cnt = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err);
    ck_assert_msg(cnt == 8, "count_documents %lld: %s", (long long)cnt, err.message);
    bson_destroy(filter);
    filter = BCON_NEW("nope", "{", "$exists", BCON_BOOL(false), "}");
    ck_assert_int_eq(mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err), 20);
    bson_destroy(filter);

    /* Skip past the end, and an unknown operator is an error, not a crash. */
    filter = BCON_NEW("i", "{", "$regexish", BCON_INT32(1), "}");
    cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    ck_assert(!mongoc_cursor_next(cur, &doc));
    ck_assert(mongoc_cursor_error(cur, &err));
    ck_assert_int_eq(err.code, 2);
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);

    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_unique_index_violation)
{
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "products");
    bson_error_t err;
    mongoc_database_t *db = mongoc_client_get_database(c, "t");
    ck_assert_msg(mongoc_database_write_command_with_opts(
                      db,
                      tmp_bson("{\"createIndexes\": \"products\", \"indexes\": [{\"key\": "
                               "{\"req_id\": 1}, \"name\": \"req_id_1\", \"unique\": true}]}"),
                      NULL, NULL, &err),
                  "%s", err.message);
    mongoc_database_destroy(db);
    bson_t *doc = BCON_NEW("req_id", "r1", "name", "a");
    ck_assert(mongoc_collection_insert_one(coll, doc, NULL, NULL, &err));
    bson_destroy(doc);
    doc = BCON_NEW("req_id", "r1", "name", "b");
    bson_t reply;
    ck_assert(!mongoc_collection_insert_one(coll, doc, NULL, &reply, &err));
    ck_assert_int_eq(err.code, 11000);
    ck_assert_msg(strstr(err.message, "duplicate key") != NULL, "%s", err.message);
    bson_destroy(&reply);
    bson_destroy(doc);
    ck_assert_int_eq(
        mongoc_collection_count_documents(coll, tmp_bson("{}"), NULL, NULL, NULL, &err), 1);

    /* An unordered batch keeps going past the duplicate. */
    mongoc_bulk_operation_t *bulk =
        mongoc_collection_create_bulk_operation_with_opts(coll, tmp_bson("{\"ordered\": false}"));
    const char *ids[] = {"r2", "r1", "r3"};
    for (int i = 0; i < 3; i++) {
        bson_t *d = BCON_NEW("req_id", BCON_UTF8(ids[i]));
        mongoc_bulk_operation_insert(bulk, d);
        bson_destroy(d);
    }
    ck_assert(!mongoc_bulk_operation_execute(bulk, &reply, &err));
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "nInserted"));
    ck_assert_int_eq(bson_iter_as_int64(&it), 2);
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);
    ck_assert_int_eq(
        mongoc_collection_count_documents(coll, tmp_bson("{}"), NULL, NULL, NULL, &err), 3);

    /* listIndexes reports it as unique. */
    mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts(coll, NULL);
    const bson_t *ix;
    int found = 0;
    while (mongoc_cursor_next(cur, &ix))
        if (bson_iter_init_find(&it, ix, "name") &&
            strcmp(bson_iter_utf8(&it, NULL), "req_id_1") == 0)
            found = bson_iter_init_find(&it, ix, "unique") && bson_iter_as_bool(&it);
    ck_assert(found);
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

struct writer {
    mongoc_client_pool_t *pool;
    int t, n;
    volatile int *acked_total;
    pthread_mutex_t *mu;
    int acked[500];
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    mongoc_client_t *c = mongoc_client_pool_pop(w->pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "retry");
    bson_t opts = BSON_INITIALIZER;
    mongoc_write_concern_t *wc = mongoc_write_concern_new();
    mongoc_write_concern_set_w(wc, MONGOC_WRITE_CONCERN_W_MAJORITY);
    mongoc_write_concern_append(wc, &opts);
    for (int i = 0; i < w->n; i++) {
        bson_error_t err;
        bson_t *doc = BCON_NEW("t", BCON_INT32(w->t), "i", BCON_INT32(i));
        if (mongoc_collection_insert_one(coll, doc, &opts, NULL, &err)) {
            w->acked[i] = 1;
            pthread_mutex_lock(w->mu);
            (*w->acked_total)++;
            pthread_mutex_unlock(w->mu);
        } else {
            fprintf(stderr, "insert t=%d i=%d failed: %s\n", w->t, i, err.message);
        }
        bson_destroy(doc);
    }
    mongoc_write_concern_destroy(wc);
    bson_destroy(&opts);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(w->pool, c);
    return NULL;
}

START_TEST(test_stepdown_during_retryable_inserts)
{
    char uri_s[512];
    sim_uri(&sim, uri_s, sizeof uri_s, NULL);
    mongoc_uri_t *uri = mongoc_uri_new(uri_s);
    mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    volatile int total = 0;
    static struct writer w[2];
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t] = (struct writer){.pool = pool, .t = t, .n = 500, .acked_total = &total, .mu = &mu};
        ck_assert_int_eq(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
    }
    /* Step the primary down once a third of the inserts are acknowledged. */
    int at = 0;
    for (int spin = 0; spin < 20000; spin++) {
        pthread_mutex_lock(&mu);
        at = total;
        pthread_mutex_unlock(&mu);
        if (at >= 300)
            break;
        usleep(1000);
    }
    ck_assert_int_ge(at, 300);
    int before = sim_primary_port(&sim);
    sim_admin(&sim, -1, "{\"replSetStepDown\": 10}", NULL);
    ck_assert_int_lt(at, 1000); /* the step-down really happened mid-run */
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    ck_assert_int_eq(total, 1000);
    int after = sim_primary_port(&sim);
    ck_assert_int_ne(before, after);

    /* Every acknowledged insert is present exactly once. */
    mongoc_client_t *c = mongoc_client_pool_pop(pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "retry");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, tmp_bson("{}"), NULL, NULL);
    static int seen[2][500];
    memset(seen, 0, sizeof seen);
    const bson_t *doc;
    int n = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t a, b;
        ck_assert(bson_iter_init_find(&a, doc, "t") && bson_iter_init_find(&b, doc, "i"));
        seen[bson_iter_int32(&a)][bson_iter_int32(&b)]++;
        n++;
    }
    bson_error_t err;
    ck_assert_msg(!mongoc_cursor_error(cur, &err), "%s", err.message);
    ck_assert_int_eq(n, 1000);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 500; i++)
            ck_assert_msg(seen[t][i] == w[t].acked[i], "t=%d i=%d seen %d times, acked %d", t, i,
                          seen[t][i], w[t].acked[i]);
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(pool, c);
    mongoc_client_pool_destroy(pool);
    mongoc_uri_destroy(uri);
}
END_TEST

/* Reads change events from s until want events arrived (or ~10 s passed); appends their i. */
static int read_events(mongoc_change_stream_t *s, int *out, int want)
{
    int n = 0;
    const bson_t *ev;
    for (int tries = 0; n < want && tries < 100; tries++) {
        while (n < want && mongoc_change_stream_next(s, &ev)) {
            bson_iter_t it;
            ck_assert(bson_iter_init(&it, ev) &&
                      bson_iter_find_descendant(&it, "fullDocument.i", &it));
            out[n++] = bson_iter_int32(&it);
        }
        bson_error_t err;
        const bson_t *edoc;
        ck_assert_msg(!mongoc_change_stream_error_document(s, &err, &edoc), "%s", err.message);
    }
    return n;
}

START_TEST(test_change_stream_stepdown_resume)
{
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "cs");
    mongoc_change_stream_t *s =
        mongoc_collection_watch(coll, tmp_bson("{}"), tmp_bson("{\"maxAwaitTimeMS\": 100}"));
    int got[200];
    for (int i = 0; i < 30; i++)
        insert_i(coll, i, 0);
    ck_assert_int_eq(read_events(s, got, 30), 30);
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(got[i], i);

    /* The same stream keeps working across a step-down (its cursor lives on the old primary). */
    sim_admin(&sim, -1, "{\"replSetStepDown\": 10}", NULL);
    for (int i = 30; i < 40; i++)
        insert_i(coll, i, 0); /* retried until the new primary is elected */
    ck_assert_int_eq(read_events(s, got, 10), 10);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(got[i], 30 + i);

    /* Resume from the token in a new stream: nothing missed, nothing repeated. */
    bson_t *token = bson_copy(mongoc_change_stream_get_resume_token(s));
    mongoc_change_stream_destroy(s);
    for (int i = 40; i < 60; i++)
        insert_i(coll, i, 0);
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT(&opts, "resumeAfter", token);
    BSON_APPEND_INT32(&opts, "maxAwaitTimeMS", 100);
    s = mongoc_collection_watch(coll, tmp_bson("{}"), &opts);
    ck_assert_int_eq(read_events(s, got, 20), 20);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(got[i], 40 + i);
    const bson_t *ev;
    ck_assert(!mongoc_change_stream_next(s, &ev)); /* and nothing more */
    mongoc_change_stream_destroy(s);
    bson_destroy(&opts);
    bson_destroy(token);

    /* A token older than the oplog is refused with ChangeStreamHistoryLost only when lost;
     * a garbage token is refused outright. */
    s = mongoc_collection_watch(coll, tmp_bson("{}"),
                                tmp_bson("{\"resumeAfter\": {\"_data\": \"zz\"}}"));
    bson_error_t err;
    const bson_t *edoc;
    ck_assert(!mongoc_change_stream_next(s, &ev));
    ck_assert(mongoc_change_stream_error_document(s, &err, &edoc));
    mongoc_change_stream_destroy(s);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_killed_primary_fails_over)
{
    char uri_s[512];
    sim_uri(&sim, uri_s, sizeof uri_s, NULL);
    mongoc_uri_t *uri = mongoc_uri_new(uri_s);
    mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_t *c = mongoc_client_pool_pop(pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "failover");
    insert_i(coll, 1, 0);
    mongoc_change_stream_t *s =
        mongoc_collection_watch(coll, tmp_bson("{}"), tmp_bson("{\"maxAwaitTimeMS\": 100}"));
    const bson_t *ev;
    ck_assert(!mongoc_change_stream_next(s, &ev)); /* open the cursor on member 0 */
    ck_assert_int_eq(sim_primary_port(&sim), sim.port);

    /* Kill member 0 through member 2. */
    sim_admin(&sim, 2, "{\"mongosimKill\": 1, \"member\": 0}", NULL);
    insert_i(coll, 2, 0); /* network error, retried on the new primary */
    int p = sim_primary_port(&sim);
    ck_assert_int_ne(p, sim.port);
    ck_assert(p == sim.port + 1 || p == sim.port + 2);

    /* The change stream resumes by itself on the new primary and sees the insert once. */
    int got[4];
    ck_assert_int_eq(read_events(s, got, 1), 1);
    ck_assert_int_eq(got[0], 2);
    ck_assert(!mongoc_change_stream_next(s, &ev));
    mongoc_change_stream_destroy(s);

    /* Restart it: it comes back as a secondary and the data is all there. */
    bson_t reply;
    sim_admin(&sim, 2, "{\"mongosimRestart\": 1, \"member\": 0}", NULL);
    sim_admin(&sim, 0, "{\"replSetGetStatus\": 1}", &reply);
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "myState"));
    ck_assert_int_eq(bson_iter_int32(&it), 2);
    bson_destroy(&reply);
    bson_error_t err;
    ck_assert_int_eq(
        mongoc_collection_count_documents(coll, tmp_bson("{}"), NULL, NULL, NULL, &err), 2);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(pool, c);
    mongoc_client_pool_destroy(pool);
    mongoc_uri_destroy(uri);
}
END_TEST

START_TEST(test_discovery_from_one_seed)
{
    char uri[256];
    snprintf(uri, sizeof uri,
             "mongodb://127.0.0.1:%d/?replicaSet=rs0&serverSelectionTimeoutMS=5000", sim.port + 2);
    mongoc_client_t *c = mongoc_client_new(uri);
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "seed");
    insert_i(coll, 7, 0);
    size_t n = 0;
    mongoc_server_description_t **sds = mongoc_client_get_server_descriptions(c, &n);
    ck_assert_int_eq((int)n, 3);
    int primaries = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(mongoc_server_description_type(sds[i]), "RSPrimary") == 0) {
            primaries++;
            ck_assert_int_eq(mongoc_server_description_host(sds[i])->port, sim.port);
        } else {
            ck_assert_str_eq(mongoc_server_description_type(sds[i]), "RSSecondary");
        }
    }
    ck_assert_int_eq(primaries, 1);
    mongoc_server_descriptions_destroy_all(sds, n);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_error_shapes)
{
    bson_t reply;
    bson_error_t err;
    /* Unknown command. */
    mongoc_client_t *c = client_for(NULL);
    ck_assert(
        !mongoc_client_command_simple(c, "admin", tmp_bson("{\"fooBar\": 1}"), NULL, &reply, &err));
    ck_assert_int_eq(err.code, 59);
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "codeName"));
    ck_assert_str_eq(bson_iter_utf8(&it, NULL), "CommandNotFound");
    bson_destroy(&reply);
    mongoc_client_destroy(c);
    /* A write sent straight to a secondary: NotWritablePrimary; like mongod, the retryable
     * label only on a retryable write (one with a txnNumber). */
    char uri[256];
    snprintf(uri, sizeof uri, "mongodb://127.0.0.1:%d/?directConnection=true", sim.port + 1);
    c = mongoc_client_new(uri);
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    ck_assert(!mongoc_client_command_simple(
        c, "t", tmp_bson("{\"insert\": \"x\", \"documents\": [{\"a\": 1}]}"), NULL, &reply, &err));
    ck_assert_int_eq(err.code, 10107);
    ck_assert(!mongoc_error_has_label(&reply, "RetryableWriteError"));
    bson_destroy(&reply);
    ck_assert(!mongoc_client_command_simple(
        c, "t",
        tmp_bson("{\"insert\": \"x\", \"documents\": [{\"a\": 1}], \"lsid\": {\"id\": "
                 "{\"$binary\": {\"base64\": \"AAAAAAAAAAAAAAAAAAAAAA==\", \"subType\": "
                 "\"04\"}}}, \"txnNumber\": {\"$numberLong\": \"1\"}}"),
        NULL, &reply, &err));
    ck_assert_int_eq(err.code, 10107);
    ck_assert(mongoc_error_has_label(&reply, "RetryableWriteError"));
    bson_destroy(&reply);
    mongoc_client_destroy(c);
}
END_TEST

/* Builds a raw message: header (length, id, 0, opcode) followed by body. Caller frees. */
static uint8_t *raw_msg(int32_t declared_len, int32_t opcode, const void *body, size_t blen,
                        size_t *out_len)
{
    uint8_t *p = calloc(1, 16 + blen);
    int32_t h[4] = {declared_len, 7, 0, opcode};
    memcpy(p, h, 16); /* little-endian host */
    memcpy(p + 16, body, blen);
    *out_len = 16 + blen;
    return p;
}

/* Sends bytes on a fresh connection to member 0; returns 1 when the server closed it. */
static int closes_after(const void *bytes, size_t n)
{
    int fd = client_connect("127.0.0.1", sim.port, 2000);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(client_send(fd, bytes, n), 0);
    int closed = client_wait_closed(fd, 3000);
    close(fd);
    return closed;
}

START_TEST(test_bad_input_closes_only_that_connection)
{
    /* A healthy connection opened first must survive everything below. */
    int good = client_connect("127.0.0.1", sim.port, 2000);
    ck_assert_int_ge(good, 0);
    bson_t reply;
    ck_assert_int_eq(client_command(good, "admin", tmp_bson("{\"ping\": 1}"), &reply, 2000), 0);
    bson_destroy(&reply);

    size_t n;
    uint8_t *m;
    uint8_t zeros[64] = {0};
    /* Length below the minimum. */
    m = raw_msg(5, 2013, zeros, 8, &n);
    ck_assert(closes_after(m, n));
    free(m);
    /* Length over 48 MB: refused from the header alone. */
    m = raw_msg(48000001 + 1000, 2013, zeros, 8, &n);
    ck_assert(closes_after(m, n));
    free(m);
    /* Unknown opcode. */
    m = raw_msg(16 + 21, 2010, zeros, 21, &n);
    ck_assert(closes_after(m, n));
    free(m);
    /* OP_MSG whose body claims more bytes than the message has (invalid BSON). */
    uint8_t body[32] = {0, 0, 0, 0, 0, 100, 0, 0, 0, 2, 'a', 0};
    m = raw_msg(16 + 21, 2013, body, 21, &n);
    ck_assert(closes_after(m, n));
    free(m);
    /* OP_MSG with an unknown required flag bit. */
    bson_t *ping = tmp_bson("{\"ping\": 1, \"$db\": \"admin\"}");
    uint8_t *enc = wire_encode_msg(9, 0x4, ping, &n);
    ck_assert(closes_after(enc, n));
    free(enc);
    /* OP_QUERY that is not the handshake (a legacy find). */
    uint8_t q[128];
    size_t ql = 0;
    memset(q, 0, 4);
    ql = 4;
    memcpy(q + ql, "t.items", 8);
    ql += 8;
    memset(q + ql, 0, 8);
    ql += 8;
    bson_t *filter = tmp_bson("{\"a\": 1}");
    memcpy(q + ql, bson_get_data(filter), filter->len);
    ql += filter->len;
    m = raw_msg((int32_t)(16 + ql), 2004, q, ql, &n);
    ck_assert(closes_after(m, n));
    free(m);
    /* ...while the legacy handshake itself is answered with OP_REPLY. */
    ql = 4;
    memcpy(q + ql, "admin.$cmd", 11);
    ql += 11;
    memset(q + ql, 0, 4);
    int32_t minus1 = -1;
    memcpy(q + ql + 4, &minus1, 4);
    ql += 8;
    bson_t *hs = tmp_bson("{\"isMaster\": 1, \"helloOk\": true}");
    memcpy(q + ql, bson_get_data(hs), hs->len);
    ql += hs->len;
    m = raw_msg((int32_t)(16 + ql), 2004, q, ql, &n);
    int fd = client_connect("127.0.0.1", sim.port, 2000);
    ck_assert_int_eq(client_send(fd, m, n), 0);
    free(m);
    ck_assert_int_eq(client_read_reply(fd, &reply, 2000), 0);
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "ismaster") && bson_iter_as_bool(&it));
    ck_assert(bson_iter_init_find(&it, &reply, "maxWireVersion"));
    ck_assert_int_eq(bson_iter_int32(&it), 17);
    bson_destroy(&reply);
    close(fd);
    /* Truncated message, then the client gives up: the server just drops it. */
    m = raw_msg(200, 2013, zeros, 10, &n);
    fd = client_connect("127.0.0.1", sim.port, 2000);
    ck_assert_int_eq(client_send(fd, m, n), 0);
    free(m);
    close(fd);

    /* The healthy connection and the driver still get answers. */
    ck_assert_int_eq(client_command(good, "admin", tmp_bson("{\"ping\": 1}"), &reply, 2000), 0);
    ck_assert(bson_iter_init_find(&it, &reply, "ok") && bson_iter_as_bool(&it));
    bson_destroy(&reply);
    close(good);
    mongoc_client_t *c = client_for(NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", "after");
    insert_i(coll, 1, 1);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}
END_TEST

START_TEST(test_awaitable_hello_waits_for_change)
{
    int fd = client_connect("127.0.0.1", sim.port + 1, 2000);
    bson_t reply;
    ck_assert_int_eq(client_command(fd, "admin", tmp_bson("{\"hello\": 1}"), &reply, 2000), 0);
    bson_t tv;
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "topologyVersion"));
    uint32_t l;
    const uint8_t *d;
    bson_iter_document(&it, &l, &d);
    bson_init_static(&tv, d, l);
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_INT32(&cmd, "hello", 1);
    BSON_APPEND_DOCUMENT(&cmd, "topologyVersion", &tv);
    BSON_APPEND_INT64(&cmd, "maxAwaitTimeMS", 300);
    /* Unchanged topology: the reply is held for maxAwaitTimeMS. */
    int64_t t0 = msim_now_ms();
    bson_t r2;
    ck_assert_int_eq(client_command(fd, "admin", &cmd, &r2, 3000), 0);
    int64_t waited = msim_now_ms() - t0;
    ck_assert_msg(waited >= 250, "held only %lld ms", (long long)waited);
    bson_destroy(&r2);
    /* A step-down while it waits (long maxAwaitTimeMS) answers at once with a newer counter. */
    bson_t cmd2 = BSON_INITIALIZER;
    BSON_APPEND_INT32(&cmd2, "hello", 1);
    BSON_APPEND_DOCUMENT(&cmd2, "topologyVersion", &tv);
    BSON_APPEND_INT64(&cmd2, "maxAwaitTimeMS", 10000);
    bson_t full = BSON_INITIALIZER;
    bson_concat(&full, &cmd2);
    BSON_APPEND_UTF8(&full, "$db", "admin");
    size_t n;
    uint8_t *m = wire_encode_msg(5, 0x10000 /* exhaustAllowed */, &full, &n);
    ck_assert_int_eq(client_send(fd, m, n), 0);
    free(m);
    usleep(100000);
    t0 = msim_now_ms();
    sim_admin(&sim, 2, "{\"mongosimStepDown\": 1, \"secs\": 5}", NULL);
    ck_assert_int_eq(client_read_reply(fd, &r2, 3000), 0);
    ck_assert_int_lt(msim_now_ms() - t0, 2000);
    bson_iter_t c1, c2;
    ck_assert(bson_iter_init(&c1, &reply) &&
              bson_iter_find_descendant(&c1, "topologyVersion.counter", &c1));
    ck_assert(bson_iter_init(&c2, &r2) &&
              bson_iter_find_descendant(&c2, "topologyVersion.counter", &c2));
    ck_assert_int_gt(bson_iter_as_int64(&c2), bson_iter_as_int64(&c1));
    ck_assert(!bson_iter_init_find(&it, &r2, "primary")); /* no primary until the election */
    bson_destroy(&r2);
    bson_destroy(&full);
    bson_destroy(&cmd2);
    bson_destroy(&cmd);
    bson_destroy(&reply);
    close(fd);
    /* The new primary's electionId is greater than the old one's. */
    ck_assert_int_ne(sim_primary(&sim), 0);
}
END_TEST

START_TEST(test_retried_txn_number_inserts_once)
{
    int p = sim_primary(&sim);
    int fd = client_connect("127.0.0.1", sim.port + p, 2000);
    const char *ins = "{\"insert\": \"once\", \"documents\": [{\"_id\": 1}, {\"_id\": 2}], "
                      "\"lsid\": {\"id\": {\"$binary\": {\"base64\": \"AAAAAAAAAAAAAAAAAAAAAA==\", "
                      "\"subType\": \"04\"}}}, \"txnNumber\": {\"$numberLong\": \"5\"}}";
    bson_t reply;
    bson_iter_t it;
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(client_command(fd, "t", tmp_bson(ins), &reply, 2000), 0);
        ck_assert(bson_iter_init_find(&it, &reply, "n"));
        ck_assert_int_eq(bson_iter_as_int64(&it), 2); /* the retry is answered like the first */
        ck_assert(!bson_iter_init_find(&it, &reply, "writeErrors"));
        bson_destroy(&reply);
    }
    ck_assert_int_eq(client_command(fd, "t", tmp_bson("{\"count\": \"once\"}"), &reply, 2000), 0);
    ck_assert(bson_iter_init_find(&it, &reply, "n"));
    ck_assert_int_eq(bson_iter_as_int64(&it), 2);
    bson_destroy(&reply);
    /* An older txnNumber on the same session is refused. */
    const char *old = "{\"insert\": \"once\", \"documents\": [{\"_id\": 3}], "
                      "\"lsid\": {\"id\": {\"$binary\": {\"base64\": \"AAAAAAAAAAAAAAAAAAAAAA==\", "
                      "\"subType\": \"04\"}}}, \"txnNumber\": {\"$numberLong\": \"4\"}}";
    ck_assert_int_eq(client_command(fd, "t", tmp_bson(old), &reply, 2000), 0);
    ck_assert(bson_iter_init_find(&it, &reply, "code"));
    ck_assert_int_eq(bson_iter_int32(&it), 225);
    bson_destroy(&reply);
    close(fd);
}
END_TEST

START_TEST(test_pause_resume_and_latency)
{
    bson_t reply;
    int fd = client_connect("127.0.0.1", sim.port + 1, 2000);
    ck_assert_int_ge(fd, 0);
    /* Latency: every reply of member 1 is held back. */
    sim_admin(&sim, 0, "{\"mongosimLatency\": 1, \"member\": 1, \"ms\": 300}", NULL);
    int64_t t0 = msim_now_ms();
    ck_assert_int_eq(client_command(fd, "admin", tmp_bson("{\"ping\": 1}"), &reply, 3000), 0);
    ck_assert_int_ge(msim_now_ms() - t0, 250);
    bson_destroy(&reply);
    sim_admin(&sim, 0, "{\"mongosimLatency\": 1, \"member\": 1, \"ms\": 0}", NULL);
    t0 = msim_now_ms();
    ck_assert_int_eq(client_command(fd, "admin", tmp_bson("{\"ping\": 1}"), &reply, 3000), 0);
    ck_assert_int_lt(msim_now_ms() - t0, 200);
    bson_destroy(&reply);
    /* Pause: the member accepts and reads but never answers, until resumed. */
    sim_admin(&sim, 0, "{\"mongosimPause\": 1, \"member\": 1}", NULL);
    ck_assert_int_ne(client_command(fd, "admin", tmp_bson("{\"ping\": 1}"), &reply, 400), 0);
    int fd2 = client_connect("127.0.0.1", sim.port + 1, 2000);
    ck_assert_int_ge(fd2, 0); /* still accepting */
    ck_assert_int_ne(client_command(fd2, "admin", tmp_bson("{\"ping\": 1}"), &reply, 300), 0);
    sim_admin(&sim, 0, "{\"mongosimResume\": 1, \"member\": 1}", NULL);
    ck_assert_int_eq(client_read_reply(fd, &reply, 2000), 0); /* the held ping is answered */
    bson_iter_t it;
    ck_assert(bson_iter_init_find(&it, &reply, "ok") && bson_iter_as_bool(&it));
    bson_destroy(&reply);
    ck_assert_int_eq(client_read_reply(fd2, &reply, 2000), 0);
    bson_destroy(&reply);
    close(fd);
    close(fd2);
    /* Pausing the primary gets a new one elected; after resuming it is a secondary. */
    sim_admin(&sim, 1, "{\"mongosimPause\": 1, \"member\": 0}", NULL);
    int p = sim_primary(&sim);
    ck_assert_int_ne(p, 0);
    sim_admin(&sim, 1, "{\"mongosimResume\": 1, \"member\": 0}", NULL);
    sim_admin(&sim, 0, "{\"replSetGetStatus\": 1}", &reply);
    ck_assert(bson_iter_init_find(&it, &reply, "myState"));
    ck_assert_int_eq(bson_iter_int32(&it), 2);
    bson_destroy(&reply);
}
END_TEST

int main(void)
{
    mongoc_init();
    Suite *s = suite_create("mongosim_driver");
    TCase *tc = tcase_create("driver");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_insert_find_sort_limit);
    tcase_add_test(tc, test_unique_index_violation);
    tcase_add_test(tc, test_stepdown_during_retryable_inserts);
    tcase_add_test(tc, test_change_stream_stepdown_resume);
    tcase_add_test(tc, test_killed_primary_fails_over);
    tcase_add_test(tc, test_discovery_from_one_seed);
    tcase_add_test(tc, test_error_shapes);
    tcase_add_test(tc, test_bad_input_closes_only_that_connection);
    tcase_add_test(tc, test_awaitable_hello_waits_for_change);
    tcase_add_test(tc, test_retried_txn_number_inserts_once);
    tcase_add_test(tc, test_pause_resume_and_latency);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    mongoc_cleanup();
    return failed == 0 ? 0 : 1;
}
