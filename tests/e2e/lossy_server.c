/*
 * lossy_server — a deliberately unreliable websocket server for loadgen's end-to-end tests.
 *
 * One libwebsockets port serves both paths loadgen uses:
 *   POST /products  {"name":..,"price":..,"req_id":..} -> 201 + doc, X-Served-By: <pod>
 *                   (a repeated req_id -> 200 + the same doc, no new event);
 *   websocket (any path) -> {"event":"_connected",...}, the _recovery answer when the client
 *                   asks with ?since=N&epoch=E, then {"event":"new_product",...} frames.
 * Faults, each naming a req_id and optionally one client by its source address:
 *   --drop REQ[@IP]   never send that frame (to that client, or to everybody);
 *   --dup REQ[@IP]    send it twice in a row;
 *   --hold REQ[@IP]   send it after the next event's frame (out of order);
 *   --kick-after REQ  after that event, close every client with 1001 (they should resume);
 *   --no-replay       answer every resume with recovered:false.
 * --peers-log FILE receives "ws IP PATH" and "http IP" lines: the source addresses seen.
 * Replays (recovery) are sent faithfully, without faults. Test code: small and direct.
 */
#include <jansson.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RULES 64
#define MAX_BODY 65536

enum rule_kind { RULE_DROP, RULE_DUP, RULE_HOLD };

struct rule {
    enum rule_kind kind;
    char req_id[64];
    char ip[48]; /* "" = every client */
};

struct conn { /* per-session data: an HTTP request or a websocket client */
    struct conn *next;
    struct lws *wsi;
    char ip[48];
    int is_ws;
    int *queue; /* indices into the frame store */
    size_t qhead, qlen, qcap;
    int held; /* a held frame waiting for the next event, or -1 */
    int close_code;
    char *body; /* HTTP */
    size_t body_len;
    char *resp;
    size_t resp_len;
};

static struct {
    struct rule rules[MAX_RULES];
    int nrules;
    const char *kick_after;
    int no_replay;
    const char *pods[16];
    int npods, next_pod;
    FILE *peers;
    char epoch[32];
    char **store; /* every frame ever sent, control frames included */
    size_t *store_len;
    size_t nstore, capstore;
    int *by_offset; /* store index of offset k at [k] */
    size_t head;    /* last offset */
    json_t *docs;   /* req_id -> doc */
    struct conn *clients;
    volatile sig_atomic_t stop;
} S;

static int store_add(char *frame)
{
    if (S.nstore == S.capstore) {
        S.capstore = S.capstore ? S.capstore * 2 : 256;
        S.store = realloc(S.store, S.capstore * sizeof *S.store);
        S.store_len = realloc(S.store_len, S.capstore * sizeof *S.store_len);
        S.by_offset = realloc(S.by_offset, (S.capstore + 1) * sizeof *S.by_offset);
        if (!S.store || !S.store_len || !S.by_offset) {
            fprintf(stderr, "lossy_server: out of memory\n");
            exit(1);
        }
    }
    S.store[S.nstore] = frame;
    S.store_len[S.nstore] = strlen(frame);
    return (int)S.nstore++;
}

static void enqueue(struct conn *c, int idx)
{
    if (c->qhead + c->qlen == c->qcap) {
        if (c->qhead > 0) {
            memmove(c->queue, c->queue + c->qhead, c->qlen * sizeof *c->queue);
            c->qhead = 0;
        } else {
            c->qcap = c->qcap ? c->qcap * 2 : 64;
            c->queue = realloc(c->queue, c->qcap * sizeof *c->queue);
            if (!c->queue)
                exit(1);
        }
    }
    c->queue[c->qhead + c->qlen++] = idx;
    lws_callback_on_writable(c->wsi);
}

static const struct rule *match(enum rule_kind k, const char *req_id, const char *ip)
{
    for (int i = 0; i < S.nrules; i++)
        if (S.rules[i].kind == k && strcmp(S.rules[i].req_id, req_id) == 0 &&
            (S.rules[i].ip[0] == '\0' || strcmp(S.rules[i].ip, ip) == 0))
            return &S.rules[i];
    return NULL;
}

static void broadcast(json_t *doc, const char *req_id)
{
    json_t *ev = json_pack("{s:s,s:O,s:I,s:s}", "event", "new_product", "data", doc, "offset",
                           (json_int_t)(S.head + 1), "epoch", S.epoch);
    char *text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    int idx = store_add(text);
    S.by_offset[++S.head] = idx;
    for (struct conn *c = S.clients; c; c = c->next) {
        int held = c->held;
        c->held = -1;
        if (match(RULE_DROP, req_id, c->ip)) {
            /* dropped for this client */
        } else if (match(RULE_HOLD, req_id, c->ip)) {
            c->held = idx;
        } else {
            enqueue(c, idx);
            if (match(RULE_DUP, req_id, c->ip))
                enqueue(c, idx);
        }
        if (held >= 0)
            enqueue(c, held);
        if (S.kick_after && strcmp(S.kick_after, req_id) == 0) {
            c->close_code = 1001;
            lws_callback_on_writable(c->wsi);
        }
    }
}

static void send_control(struct conn *c, const char *event, json_t *data)
{
    json_t *ev = json_pack("{s:s,s:o}", "event", event, "data", data);
    enqueue(c, store_add(json_dumps(ev, JSON_COMPACT)));
    json_decref(ev);
}

static void ws_open(struct conn *c, struct lws *wsi)
{
    char path[256] = "", since[32] = "", epoch[64] = "";
    lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI);
    const char *v = lws_get_urlarg_by_name(wsi, "since=", since, sizeof since);
    int resuming = v != NULL;
    if (resuming)
        memmove(since, v, strlen(v) + 1);
    v = lws_get_urlarg_by_name(wsi, "epoch=", epoch, sizeof epoch);
    if (v)
        memmove(epoch, v, strlen(v) + 1);
    c->is_ws = 1;
    c->wsi = wsi;
    c->held = -1;
    c->next = S.clients;
    S.clients = c;
    fprintf(S.peers, "ws %s %s\n", c->ip, path);
    fflush(S.peers);
    send_control(c, "_connected",
                 json_pack("{s:I,s:s}", "offset", (json_int_t)S.head, "epoch", S.epoch));
    if (!resuming)
        return;
    long long n = atoll(since);
    int ok = !S.no_replay && strcmp(epoch, S.epoch) == 0 && n >= 0 && (size_t)n <= S.head;
    send_control(c, "_recovery",
                 json_pack("{s:b,s:s,s:I,s:I}", "recovered", ok, "epoch", S.epoch, "offset",
                           (json_int_t)S.head, "since", (json_int_t)n));
    for (size_t k = (size_t)n + 1; ok && k <= S.head; k++)
        enqueue(c, S.by_offset[k]);
}

static void ws_closed(struct conn *c)
{
    for (struct conn **pp = &S.clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    free(c->queue);
    c->queue = NULL;
}

static int ws_writeable(struct conn *c, struct lws *wsi)
{
    if (c->qlen > 0) {
        int idx = c->queue[c->qhead++];
        c->qlen--;
        size_t len = S.store_len[idx];
        unsigned char *buf = malloc(LWS_PRE + len);
        if (!buf)
            return -1;
        memcpy(buf + LWS_PRE, S.store[idx], len);
        int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
        free(buf);
        if (n < (int)len)
            return -1;
        if (c->qlen > 0 || c->close_code)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->close_code) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_code, (unsigned char *)"kick", 4);
        return -1;
    }
    return 0;
}

/* Builds the answer to POST /products in c->resp; broadcasts when a product was created. */
static int products(struct conn *c, struct lws *wsi)
{
    unsigned char hbuf[LWS_PRE + 1024], *start = hbuf + LWS_PRE, *p = start,
                                        *end = hbuf + sizeof hbuf;
    json_error_t jerr;
    json_t *in = json_loadb(c->body ? c->body : "", c->body_len, 0, &jerr);
    const char *req_id = json_string_value(json_object_get(in, "req_id"));
    unsigned status = 201;
    const char *pod = S.pods[S.next_pod];
    fprintf(S.peers, "http %s\n", c->ip);
    fflush(S.peers);
    json_t *doc = NULL;
    if (req_id == NULL) {
        status = 400;
        doc = json_pack("{s:s}", "error", "req_id missing");
    } else if ((doc = json_object_get(S.docs, req_id)) != NULL) {
        status = 200;
        json_incref(doc);
        pod = json_string_value(json_object_get(doc, "pod"));
    } else {
        S.next_pod = (S.next_pod + 1) % S.npods;
        doc = json_pack("{s:s,s:O,s:O,s:s,s:s,s:I}", "_id", req_id, "name",
                        json_object_get(in, "name"), "price", json_object_get(in, "price"),
                        "req_id", req_id, "pod", pod, "created_at", (json_int_t)time(NULL));
        json_object_set(S.docs, req_id, doc);
    }
    c->resp = json_dumps(doc, JSON_COMPACT);
    c->resp_len = strlen(c->resp);
    if (lws_add_http_common_headers(wsi, status, "application/json", c->resp_len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"X-Served-By:",
                                    (const unsigned char *)pod, (int)strlen(pod), &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end)) {
        json_decref(doc);
        json_decref(in);
        return -1;
    }
    if (status == 201)
        broadcast(doc, req_id);
    json_decref(doc);
    json_decref(in);
    lws_callback_on_writable(wsi);
    return 0;
}

/* The peer address without the IPv4-mapped prefix lws reports on a dual-stack socket. */
static void peer_ip(struct lws *wsi, char *ip, size_t cap)
{
    lws_get_peer_simple(wsi, ip, cap);
    if (strncmp(ip, "::ffff:", 7) == 0)
        memmove(ip, ip + 7, strlen(ip + 7) + 1);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        peer_ip(wsi, c->ip, sizeof c->ip);
        if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0 && strcmp(in, "/products") == 0)
            return 0; /* the body follows */
        if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
            return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_HTTP_BODY:
        if (c->body_len + len > MAX_BODY)
            return -1;
        c->body = realloc(c->body, c->body_len + len + 1);
        if (!c->body)
            return -1;
        memcpy(c->body + c->body_len, in, len);
        c->body_len += len;
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return products(c, wsi);
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (!c->resp)
            return 0;
        unsigned char *buf = malloc(LWS_PRE + c->resp_len);
        if (!buf)
            return -1;
        memcpy(buf + LWS_PRE, c->resp, c->resp_len);
        int n = lws_write(wsi, buf + LWS_PRE, c->resp_len, LWS_WRITE_HTTP_FINAL);
        free(buf);
        free(c->resp);
        c->resp = NULL;
        free(c->body);
        c->body = NULL;
        c->body_len = 0;
        if (n < 0)
            return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
        free(c->resp);
        free(c->body);
        c->resp = c->body = NULL;
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        peer_ip(wsi, c->ip, sizeof c->ip);
        ws_open(c, wsi);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ws_writeable(c, wsi);
    case LWS_CALLBACK_CLOSED:
        ws_closed(c);
        return 0;
    default:
        return 0;
    }
}

static void on_signal(int sig)
{
    (void)sig;
    S.stop = 1;
}

static int add_rule(enum rule_kind k, const char *spec)
{
    if (S.nrules == MAX_RULES)
        return -1;
    struct rule *r = &S.rules[S.nrules++];
    r->kind = k;
    const char *at = strchr(spec, '@');
    size_t n = at ? (size_t)(at - spec) : strlen(spec);
    snprintf(r->req_id, sizeof r->req_id, "%.*s", (int)n, spec);
    snprintf(r->ip, sizeof r->ip, "%s", at ? at + 1 : "");
    return 0;
}

int main(int argc, char **argv)
{
    int port = 0;
    const char *peers = "/dev/null";
    char *pods = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-replay") == 0) {
            S.no_replay = 1;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "usage: lossy_server --port N [--peers-log F] [--pods a,b] "
                            "[--drop|--dup|--hold REQ[@IP]]... [--kick-after REQ] [--no-replay]\n");
            return 2;
        }
        i++;
        if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else if (strcmp(a, "--peers-log") == 0)
            peers = v;
        else if (strcmp(a, "--pods") == 0)
            pods = strdup(v);
        else if (strcmp(a, "--kick-after") == 0)
            S.kick_after = v;
        else if (strcmp(a, "--drop") == 0 || strcmp(a, "--dup") == 0 || strcmp(a, "--hold") == 0) {
            enum rule_kind k = a[2] == 'd' ? (a[3] == 'r' ? RULE_DROP : RULE_DUP) : RULE_HOLD;
            if (add_rule(k, v) != 0)
                return 2;
        } else {
            fprintf(stderr, "lossy_server: unknown flag %s\n", a);
            return 2;
        }
    }
    if (port <= 0) {
        fprintf(stderr, "lossy_server: --port is required\n");
        return 2;
    }
    for (char *save = NULL, *t = strtok_r(pods ? pods : (pods = strdup("lossy-0")), ",", &save);
         t && S.npods < 16; t = strtok_r(NULL, ",", &save))
        S.pods[S.npods++] = t;
    S.peers = fopen(peers, "a");
    if (!S.peers) {
        perror(peers);
        return 1;
    }
    snprintf(S.epoch, sizeof S.epoch, "L%d", port);
    S.docs = json_object();
    struct lws_protocols protocols[] = {
        {"lossy", callback, sizeof(struct conn), 4096, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "lossy_server: cannot listen on %d\n", port);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fprintf(stderr, "lossy_server listening port=%d epoch=%s rules=%d\n", port, S.epoch, S.nrules);
    while (!S.stop && lws_service(ctx, 100) >= 0)
        ;
    lws_context_destroy(ctx);
    for (size_t i = 0; i < S.nstore; i++)
        free(S.store[i]);
    free(S.store);
    free(S.store_len);
    free(S.by_offset);
    json_decref(S.docs);
    fclose(S.peers);
    free(pods);
    return 0;
}
