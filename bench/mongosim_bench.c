/*
 * mongosim_bench — mongosim through the real C driver, printing figures (bench/mongosim.sh):
 *
 *   mongosim_bench lookup URI SIZES N   findOne({req_id}) and insertOne time per collection
 *                                        size (SIZES comma-separated), N operations each
 *   mongosim_bench trim URI TOTAL OLD   deleteMany of the OLD oldest of TOTAL relay events,
 *                                        by _id and by date + _id, while another client
 *                                        pings every 5 ms: trim time and the longest ping
 *   mongosim_bench fill URI DB COLL N P  inserts N products with req_id P-0 .. P-(N-1), as
 *                                        fakeapp stores them (bench/fakeapp_dup.sh)
 *
 * Prints "RESULT key=value ..." lines. Exit 0, or 1 when an operation fails.
 */
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int64_t now_us(void)
{
    return bson_get_monotonic_time();
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static mongoc_client_t *client(const char *uri)
{
    mongoc_client_t *c = mongoc_client_new(uri);
    if (c == NULL) {
        fprintf(stderr, "mongosim_bench: bad URI %s\n", uri);
        exit(2);
    }
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    return c;
}

static void die(const char *what, const bson_error_t *e)
{
    fprintf(stderr, "mongosim_bench: %s: %s\n", what, e->message);
    exit(1);
}

static void create_index(mongoc_client_t *c, const char *db, const char *coll, const char *json)
{
    char cmd[512];
    bson_error_t e;
    snprintf(cmd, sizeof cmd, "{\"createIndexes\": \"%s\", \"indexes\": %s}", coll, json);
    bson_t *b = bson_new_from_json((const uint8_t *)cmd, -1, &e);
    if (b == NULL || !mongoc_client_write_command_with_opts(c, db, b, NULL, NULL, &e))
        die("createIndexes", &e);
    bson_destroy(b);
}

/* Inserts n documents made by make(i) in batches of 1000. */
static void fill(mongoc_collection_t *coll, int64_t from, int64_t n, bson_t *(*make)(int64_t i))
{
    bson_t *docs[1000];
    for (int64_t base = from; base < from + n; base += 1000) {
        int k = 0;
        for (int64_t i = base; i < from + n && k < 1000; i++)
            docs[k++] = make(i);
        bson_error_t e;
        if (!mongoc_collection_insert_many(coll, (const bson_t **)docs, (size_t)k, NULL, NULL, &e))
            die("insert_many", &e);
        for (int j = 0; j < k; j++)
            bson_destroy(docs[j]);
    }
}

static bson_t *product(int64_t i)
{
    char rid[32];
    snprintf(rid, sizeof rid, "r-%lld", (long long)i);
    return BCON_NEW("name", BCON_UTF8("bench product"), "price", BCON_DOUBLE(9.5), "req_id",
                    BCON_UTF8(rid), "pod", BCON_UTF8("bench"));
}

static void lookup(const char *uri, const char *sizes, int n)
{
    mongoc_client_t *c = client(uri);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "bench", "lookup_c");
    int64_t *lat = malloc((size_t)n * sizeof *lat);
    char *list = strdup(sizes);
    srand(42);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int64_t size = atoll(tok);
        bson_error_t e;
        mongoc_collection_drop(coll, NULL);
        create_index(c, "bench", "lookup_c",
                     "[{\"key\": {\"req_id\": 1}, \"name\": \"req_id_1\", \"unique\": true}]");
        fill(coll, 0, size, product);
        bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
        for (int i = -n / 4; i < n; i++) { /* the first n/4: warm-up, not counted */
            char rid[32];
            snprintf(rid, sizeof rid, "r-%lld", (long long)(rand() % size));
            bson_t *f = BCON_NEW("req_id", BCON_UTF8(rid));
            int64_t t0 = now_us();
            mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, f, opts, NULL);
            const bson_t *d;
            if (!mongoc_cursor_next(cur, &d)) {
                mongoc_cursor_error(cur, &e);
                die("findOne found nothing", &e);
            }
            mongoc_cursor_destroy(cur);
            if (i >= 0)
                lat[i] = now_us() - t0;
            bson_destroy(f);
        }
        bson_destroy(opts);
        int64_t sum = 0;
        for (int i = 0; i < n; i++)
            sum += lat[i];
        qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
        double find_avg = (double)sum / n;
        int64_t find_p99 = lat[(n * 99) / 100];
        int64_t t0 = now_us();
        for (int i = 0; i < n; i++) {
            bson_t *d = product(size + i);
            if (!mongoc_collection_insert_one(coll, d, NULL, NULL, &e))
                die("insert_one", &e);
            bson_destroy(d);
        }
        double ins_avg = (double)(now_us() - t0) / n;
        printf("RESULT driver=c docs=%lld findone_avg_us=%.0f findone_p99_us=%lld "
               "insertone_avg_us=%.0f\n",
               (long long)size, find_avg, (long long)find_p99, ins_avg);
        fflush(stdout);
    }
    mongoc_collection_drop(coll, NULL);
    free(list);
    free(lat);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}

static bson_t *relay_event(int64_t i)
{
    char id[32];
    snprintf(id, sizeof id, "emit-%lld", (long long)i);
    return BCON_NEW("_id", BCON_INT64(i), "event", BCON_UTF8("new_product"), "channel",
                    BCON_UTF8(i % 4 ? "store-1" : "store-2"), "data",
                    BCON_UTF8("{\"name\":\"bench product\",\"price\":9.5}"), "id", BCON_UTF8(id),
                    "at", BCON_DATE_TIME(1700000000000 + i));
}

struct pinger {
    const char *uri;
    atomic_int stop;
    atomic_llong max_us;
    atomic_int n;
};

static void *ping_main(void *arg)
{
    struct pinger *p = arg;
    mongoc_client_t *c = client(p->uri);
    bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
    while (!atomic_load(&p->stop)) {
        int64_t t0 = now_us();
        bson_error_t e;
        mongoc_client_command_simple(c, "admin", ping, NULL, NULL, &e);
        int64_t dt = now_us() - t0;
        if (dt > atomic_load(&p->max_us))
            atomic_store(&p->max_us, dt);
        atomic_fetch_add(&p->n, 1);
        usleep(5000);
    }
    bson_destroy(ping);
    mongoc_client_destroy(c);
    return NULL;
}

/* Times deleteMany(filter) while a second client pings; prints one RESULT line. */
static void timed_trim(mongoc_collection_t *coll, const char *uri, bson_t *filter, const char *what,
                       int64_t want)
{
    struct pinger p = {.uri = uri};
    pthread_t th;
    pthread_create(&th, NULL, ping_main, &p);
    usleep(50000);
    atomic_store(&p.max_us, 0);
    bson_t reply;
    bson_error_t e;
    int64_t t0 = now_us();
    if (!mongoc_collection_delete_many(coll, filter, NULL, &reply, &e))
        die("delete_many", &e);
    int64_t dt = now_us() - t0;
    usleep(20000);
    atomic_store(&p.stop, 1);
    pthread_join(th, NULL);
    bson_iter_t it;
    int64_t n = bson_iter_init_find(&it, &reply, "deletedCount") ? bson_iter_as_int64(&it) : -1;
    bson_destroy(&reply);
    printf("RESULT trim=%s deleted=%lld trim_ms=%.1f longest_ping_ms=%.1f pings=%d\n", what,
           (long long)n, dt / 1000.0, atomic_load(&p.max_us) / 1000.0, atomic_load(&p.n));
    fflush(stdout);
    if (n != want) {
        fprintf(stderr, "mongosim_bench: deleted %lld, expected %lld\n", (long long)n,
                (long long)want);
        exit(1);
    }
}

static void trim(const char *uri, int64_t total, int64_t old)
{
    mongoc_client_t *c = client(uri);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "bench", "events");
    mongoc_collection_drop(coll, NULL);
    create_index(c, "bench", "events",
                 "[{\"key\": {\"channel\": 1, \"_id\": 1}, \"name\": \"channel_1__id_1\"},"
                 "{\"key\": {\"id\": 1}, \"name\": \"id_1\", \"unique\": true, \"sparse\": true}]");
    int64_t t0 = now_us();
    fill(coll, 1, total, relay_event);
    printf("RESULT events=%lld insert_many_ms=%.0f per_event_us=%.1f\n", (long long)total,
           (now_us() - t0) / 1000.0, (double)(now_us() - t0) / (double)total);
    bson_t *f = BCON_NEW("_id", "{", "$lt", BCON_INT64(old + 1), "}");
    timed_trim(coll, uri, f, "by_id", old);
    bson_destroy(f);
    fill(coll, total + 1, old, relay_event); /* back to TOTAL events, the oldest now old+1 */
    f = BCON_NEW("at", "{", "$lt", BCON_DATE_TIME(1700000000000 + 2 * old + 1), "}", "_id", "{",
                 "$lt", BCON_INT64(2 * old + 1), "}");
    timed_trim(coll, uri, f, "by_date_and_id", old);
    bson_destroy(f);
    mongoc_collection_drop(coll, NULL);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}

static const char *fill_prefix = "dup";

static bson_t *named_product(int64_t i)
{
    char rid[64];
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    snprintf(rid, sizeof rid, "%s-%lld", fill_prefix, (long long)i);
    return BCON_NEW("_id", BCON_OID(&oid), "name", BCON_UTF8("bench product"), "price",
                    BCON_DOUBLE(9.5), "req_id", BCON_UTF8(rid), "pod", BCON_UTF8("bench"),
                    "created_at", BCON_UTF8("2026-01-01T00:00:00.000Z"));
}

/* Inserts n products with req_id PREFIX-0 .. PREFIX-(n-1), as fakeapp stores them. */
static void fill_products(const char *uri, const char *db, const char *coll, int64_t n,
                          const char *prefix)
{
    mongoc_client_t *c = client(uri);
    mongoc_collection_t *cl = mongoc_client_get_collection(c, db, coll);
    fill_prefix = prefix;
    int64_t t0 = now_us();
    fill(cl, 0, n, named_product);
    printf("RESULT filled=%lld collection=%s.%s ms=%.0f\n", (long long)n, db, coll,
           (now_us() - t0) / 1000.0);
    mongoc_collection_destroy(cl);
    mongoc_client_destroy(c);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "lookup") == 0) {
        mongoc_init();
        lookup(argv[2], argv[3], atoi(argv[4]));
    } else if (argc == 5 && strcmp(argv[1], "trim") == 0) {
        mongoc_init();
        trim(argv[2], atoll(argv[3]), atoll(argv[4]));
    } else if (argc == 7 && strcmp(argv[1], "fill") == 0) {
        mongoc_init();
        fill_products(argv[2], argv[3], argv[4], atoll(argv[5]), argv[6]);
    } else {
        fprintf(stderr, "usage: mongosim_bench lookup URI SIZES N | trim URI TOTAL OLD | fill URI "
                        "DB COLL N PREFIX\n");
        return 2;
    }
    mongoc_cleanup();
    return 0;
}
