/*
 * fakeapp configuration: one struct, filled by one pure function from argv and the
 * environment (each flag has an environment twin, the names the Kubernetes manifests use).
 */
#ifndef FAKEAPP_CONFIG_H
#define FAKEAPP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum fakeapp_ws_mode { FAKEAPP_WS_NONE = 0, FAKEAPP_WS_EMBEDDED, FAKEAPP_WS_RELAY };

struct fakeapp_config {
    long port;
    long ws_port;
    const char *bind;
    const char *mongo_uri;
    const char *db;
    const char *ws_mode_name;
    enum fakeapp_ws_mode ws_mode; /* parsed from ws_mode_name */
    const char *relay_url;
    const char *relay_token;
    const char *pod;
    const char *log_level;
    long http_threads;
    size_t max_body;
    long db_timeout_ms;        /* serverSelectionTimeoutMS; socketTimeoutMS is twice this */
    const char *write_concern; /* "majority" or a member count, as given */
    int write_w;               /* parsed: 0 = majority, else w:N */
    long emit_queue;           /* relay mode: events waiting to be sent, more are dropped */
    long emit_retries;         /* relay mode: attempts after the first */
    long emit_timeout_ms;      /* relay mode: one POST /emit */
    long drain_ms;             /* on SIGTERM: time to finish requests and flush the queue */
    const char *sio_client; /* socket.io-client bundle for the page; NULL = next to the program */
    int store_channels;     /* a product with a store is announced on channel store-<store> */
    long emit_delay_ms;     /* lab only: a pause between the write and the announcement */
    const char *client_jwt_secret; /* GET /token mints the page's client JWT with it */
    long client_jwt_ttl_ms;
};

/*
 * Parses argv and the environment into c (defaults first). Returns 0 on success, 1 when
 * --help was asked for, -1 with a message in err on a bad flag or value.
 */
int fakeapp_config_parse(struct fakeapp_config *c, int argc, char **argv, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Prints --help. */
void fakeapp_config_usage(FILE *out);

/* "embedded", "relay" or "none". */
const char *fakeapp_ws_mode_name(enum fakeapp_ws_mode m);

#endif
