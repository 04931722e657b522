/*
 * fakeapp_stepdown — products survive a MongoDB primary step-down exactly once.
 *
 *   fakeapp_stepdown APP_PORT MONGO_PORT PRODUCTS WORKERS
 *
 * WORKERS threads POST PRODUCTS products (unique req_ids) to one fakeapp; once a quarter are
 * acknowledged, the mongosim primary is stepped down ({mongosimStepDown: 1, secs: 2}, sent
 * over the wire protocol by hand: this helper links no MongoDB driver). A request that gets
 * anything but 201/200 is retried with the same req_id, as a real client would. Then every
 * acknowledged product must be in the database exactly once, with the _id it was answered
 * with (checked through GET /products?limit=1000).
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define MAX_PRODUCTS 1000

struct product {
    int status;  /* final answer: 201 or 200, 0 = never acknowledged */
    char id[25]; /* _id it was answered with */
    int attempts;
};

static struct product products[MAX_PRODUCTS];
static int nproducts, app_port;
static atomic_int next_k, acked, retries, unavailable;
static char prefix[32];

/* --- a minimal OP_MSG client for mongosim's admin commands ------------------------------- */

static size_t put_i32(unsigned char *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(u >> (8 * i));
    return 4;
}

static int32_t get_i32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

/* Appends an int32 element to a BSON document being built at doc (length fixed later). */
static size_t bson_int(unsigned char *p, const char *key, int32_t v)
{
    size_t n = 0;
    p[n++] = 0x10;
    memcpy(p + n, key, strlen(key) + 1);
    n += strlen(key) + 1;
    return n + put_i32(p + n, v);
}

/*
 * Runs {cmd: 1[, secs: secs]} on the admin database of 127.0.0.1:port. Returns the length of
 * the reply document copied into reply, or -1.
 */
static int admin_command(int port, const char *cmd, int secs, unsigned char *reply, size_t cap)
{
    unsigned char doc[256];
    size_t n = 4;
    n += bson_int(doc + n, cmd, 1);
    if (secs > 0)
        n += bson_int(doc + n, "secs", secs);
    doc[n++] = 0x02;
    memcpy(doc + n, "$db", 4);
    n += 4;
    n += put_i32(doc + n, 6);
    memcpy(doc + n, "admin", 6);
    n += 6;
    doc[n++] = 0;
    put_i32(doc, (int32_t)n);
    unsigned char msg[300];
    size_t m = 16;
    m += put_i32(msg + m, 0); /* flagBits */
    msg[m++] = 0;             /* section kind 0: the body */
    memcpy(msg + m, doc, n);
    m += n;
    put_i32(msg, (int32_t)m);
    put_i32(msg + 4, 1);     /* requestID */
    put_i32(msg + 8, 0);     /* responseTo */
    put_i32(msg + 12, 2013); /* OP_MSG */

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = -1;
    unsigned char in[65536];
    size_t got = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || write(fd, msg, m) != (ssize_t)m)
        goto out;
    while (got < 4 || got < (size_t)get_i32(in)) {
        ssize_t r = read(fd, in + got, sizeof in - got);
        if (r <= 0)
            goto out;
        got += (size_t)r;
    }
    int32_t dlen = get_i32(in + 21);
    if (get_i32(in + 12) != 2013 || dlen < 5 || (size_t)dlen + 21 > got || (size_t)dlen > cap)
        goto out;
    memcpy(reply, in + 21, (size_t)dlen);
    rc = dlen;
out:
    close(fd);
    return rc;
}

/* Finds a top-level numeric field of a BSON document; returns 0 and the value, or -1. */
static int bson_number(const unsigned char *d, int len, const char *key, double *out)
{
    int i = 4;
    while (i < len - 1) {
        unsigned char t = d[i++];
        const char *k = (const char *)d + i;
        i += (int)strnlen(k, (size_t)(len - i)) + 1;
        int size;
        switch (t) {
        case 0x01:
        case 0x09:
        case 0x11:
        case 0x12:
            size = 8;
            break;
        case 0x02:
            size = 4 + get_i32(d + i);
            break;
        case 0x03:
        case 0x04:
            size = get_i32(d + i);
            break;
        case 0x05:
            size = 5 + get_i32(d + i);
            break;
        case 0x07:
            size = 12;
            break;
        case 0x08:
            size = 1;
            break;
        case 0x0A:
            size = 0;
            break;
        case 0x10:
            size = 4;
            break;
        default:
            return -1;
        }
        if (strcmp(k, key) == 0 && i + size <= len) {
            if (t == 0x01) {
                memcpy(out, d + i, 8);
            } else if (t == 0x10) {
                *out = get_i32(d + i);
            } else if (t == 0x12) {
                int64_t v = (int64_t)((uint64_t)(uint32_t)get_i32(d + i) |
                                      (uint64_t)(uint32_t)get_i32(d + i + 4) << 32);
                *out = (double)v;
            } else {
                return -1;
            }
            return 0;
        }
        i += size;
    }
    return -1;
}

static double sim_term(int port)
{
    unsigned char r[65536];
    double term = -1;
    int n = admin_command(port, "mongosimStatus", 0, r, sizeof r);
    if (n < 0 || bson_number(r, n, "term", &term) != 0)
        return -1;
    return term;
}

/* --- the HTTP side ------------------------------------------------------------------------- */

static void *worker(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/products", app_port);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, e2e_sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    double deadline = now_s() + 40;
    int k;
    while ((k = atomic_fetch_add(&next_k, 1)) < nproducts) {
        char body[160];
        snprintf(body, sizeof body, "{\"name\":\"sd %d\",\"price\":%d,\"req_id\":\"%s%d\"}", k, k,
                 prefix, k);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        while (now_s() < deadline) {
            struct e2e_buf out = {.len = 0};
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
            long code = 0;
            products[k].attempts++;
            if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
            if (code == 201 || code == 200) {
                json_t *v = json_loads(out.data, 0, NULL);
                const char *id = json_string_value(json_object_get(v, "_id"));
                snprintf(products[k].id, sizeof products[k].id, "%s", id ? id : "");
                products[k].status = (int)code;
                json_decref(v);
                atomic_fetch_add(&acked, 1);
                break;
            }
            if (code == 503)
                atomic_fetch_add(&unavailable, 1);
            atomic_fetch_add(&retries, 1);
            usleep(100000);
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

struct growbuf {
    char *p;
    size_t len;
};

static size_t grow_sink(char *p, size_t s, size_t n, void *ud)
{
    struct growbuf *b = ud;
    size_t k = s * n;
    char *q = realloc(b->p, b->len + k + 1);
    if (q == NULL)
        return 0;
    memcpy(q + b->len, p, k);
    b->p = q;
    b->len += k;
    b->p[b->len] = '\0';
    return k;
}

/* Reads what the database holds and compares it with what was acknowledged. */
static void verify(void)
{
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/products?limit=1000", app_port);
    CURL *c = curl_easy_init();
    struct growbuf b = {NULL, 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    json_t *arr = b.p ? json_loads(b.p, 0, NULL) : NULL;
    free(b.p);
    check(code == 200 && json_is_array(arr), "list_products", "status %ld", code);
    static int count[MAX_PRODUCTS];
    int mine = 0, wrong_id = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *rid = json_string_value(json_object_get(v, "req_id"));
        if (rid == NULL || strncmp(rid, prefix, strlen(prefix)) != 0)
            continue;
        int k = atoi(rid + strlen(prefix));
        if (k < 0 || k >= nproducts)
            continue;
        mine++;
        count[k]++;
        const char *id = json_string_value(json_object_get(v, "_id"));
        if (products[k].status && (id == NULL || strcmp(id, products[k].id) != 0))
            wrong_id++;
    }
    json_decref(arr);
    int once = 0, missing = 0, twice = 0, n200 = 0;
    for (int k = 0; k < nproducts; k++) {
        if (products[k].status == 0)
            continue;
        n200 += products[k].status == 200;
        once += count[k] == 1;
        missing += count[k] == 0;
        twice += count[k] > 1;
    }
    int nacked = atomic_load(&acked);
    check(once == nacked && missing == 0 && twice == 0, "acknowledged_exactly_once",
          "%d of %d acknowledged stored once, %d missing, %d more than once", once, nacked, missing,
          twice);
    check(wrong_id == 0, "stored_id_matches_answer", "%d stored with another _id", wrong_id);
    check(mine == nacked, "no_extra_products", "%d stored, %d acknowledged", mine, nacked);
    printf("info: %d products, %d answered 200 (retry found it stored), %d retries, %d x 503\n",
           nproducts, n200, atomic_load(&retries), atomic_load(&unavailable));
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: fakeapp_stepdown APP_PORT MONGO_PORT PRODUCTS WORKERS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    app_port = atoi(argv[1]);
    int mongo = atoi(argv[2]);
    nproducts = atoi(argv[3]);
    int nworkers = atoi(argv[4]);
    if (nproducts < 4 || nproducts > MAX_PRODUCTS || nworkers < 1 || nworkers > 32) {
        fprintf(stderr, "PRODUCTS must be 4..%d, WORKERS 1..32\n", MAX_PRODUCTS);
        return 2;
    }
    snprintf(prefix, sizeof prefix, "sd-%d-", (int)getpid());
    curl_global_init(CURL_GLOBAL_DEFAULT);
    double term0 = sim_term(mongo);
    pthread_t t[32];
    for (int i = 0; i < nworkers; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    double end = now_s() + 30;
    while (atomic_load(&acked) < nproducts / 4 && now_s() < end)
        usleep(5000);
    unsigned char r[4096];
    double ok = 0;
    int n = admin_command(mongo, "mongosimStepDown", 2, r, sizeof r);
    check(n > 0 && bson_number(r, n, "ok", &ok) == 0 && ok == 1, "stepdown_accepted",
          "reply length %d ok=%g", n, ok);
    int at_stepdown = atomic_load(&acked);
    for (int i = 0; i < nworkers; i++)
        pthread_join(t[i], NULL);
    double term1 = sim_term(mongo);
    check(term0 >= 0 && term1 > term0, "new_primary_elected", "term %g -> %g", term0, term1);
    check(at_stepdown < nproducts, "stepdown_during_writes", "all %d acknowledged before it",
          at_stepdown);
    check(atomic_load(&acked) == nproducts, "every_product_acknowledged",
          "%d of %d acknowledged within the deadline", atomic_load(&acked), nproducts);
    verify();
    curl_global_cleanup();
    return e2e_failures ? 1 : 0;
}
