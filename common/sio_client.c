#include "sio_client.h"

#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIO_CLIENT_MAX (8u << 20)

struct sio_client {
    char *js, *map;
    size_t js_len, map_len;
    char version[32];
    char etag[40];
    struct hub_file files[4];
    size_t nfiles;
};

/* Reads a whole file of at most SIO_CLIENT_MAX bytes. Returns NULL with errno-like text. */
static char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s", path);
        return NULL;
    }
    char *buf = malloc(SIO_CLIENT_MAX + 1);
    size_t n = buf ? fread(buf, 1, SIO_CLIENT_MAX + 1, f) : 0;
    int bad = buf == NULL || ferror(f) || n > SIO_CLIENT_MAX;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s is unreadable or over %u bytes", path, SIO_CLIENT_MAX);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* "version" of the package.json two levels up from dist/<file>. */
static void read_version(const char *path, char *out, size_t outlen)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    char pkg[4200];
    snprintf(pkg, sizeof pkg, "%s/../package.json", dirname(copy));
    json_t *j = json_load_file(pkg, 0, NULL);
    const char *v = json_string_value(json_object_get(j, "version"));
    snprintf(out, outlen, "%s", v && strlen(v) < outlen && !strpbrk(v, "\"\\") ? v : "unknown");
    json_decref(j);
}

struct sio_client *sio_client_load(const char *path, char *err, size_t errlen)
{
    struct sio_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->js = slurp(path, &c->js_len, err, errlen);
    if (c->js == NULL) {
        free(c);
        return NULL;
    }
    char map_path[4200], scratch[128];
    snprintf(map_path, sizeof map_path, "%s.map", path);
    c->map = slurp(map_path, &c->map_len, scratch, sizeof scratch); /* optional */
    read_version(path, c->version, sizeof c->version);
    snprintf(c->etag, sizeof c->etag, "\"%s\"", c->version);
    static const char *const js_paths[] = {"/socket.io/socket.io.js",
                                           "/socket.io/socket.io.min.js"};
    static const char *const map_paths[] = {"/socket.io/socket.io.js.map",
                                            "/socket.io/socket.io.min.js.map"};
    for (int i = 0; i < 2; i++)
        c->files[c->nfiles++] = (struct hub_file){
            js_paths[i],        c->js, c->js_len, "application/javascript; charset=utf-8", c->etag,
            "public, max-age=0"};
    for (int i = 0; c->map && i < 2; i++)
        c->files[c->nfiles++] = (struct hub_file){map_paths[i], c->map,
                                                  c->map_len,   "application/json; charset=utf-8",
                                                  c->etag,      "public, max-age=0"};
    return c;
}

void sio_client_free(struct sio_client *c)
{
    if (c == NULL)
        return;
    free(c->js);
    free(c->map);
    free(c);
}

const struct hub_file *sio_client_files(const struct sio_client *c, size_t *n)
{
    *n = c->nfiles;
    return c->files;
}

const struct hub_file *sio_client_find(const struct sio_client *c, const char *path)
{
    for (size_t i = 0; c && i < c->nfiles; i++)
        if (strcmp(c->files[i].path, path) == 0)
            return &c->files[i];
    return NULL;
}

const char *sio_client_version(const struct sio_client *c)
{
    return c->version;
}

int sio_client_default_path(char *out, size_t len)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    int w = snprintf(out, len, "%s/web/socket.io-client/dist/socket.io.min.js", dirname(exe));
    return w > 0 && (size_t)w < len ? 0 : -1;
}
