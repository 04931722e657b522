/*
 * sio_client — socket.io-client's browser bundle, loaded from its npm package (installed by
 * make deps; nothing of it is kept in git) and described as the files the Socket.IO server
 * serves: /socket.io/socket.io.js and /socket.io/socket.io.min.js (the minified bundle), and
 * their .map, with Content-Type application/javascript, ETag "<version>" and
 * Cache-Control "public, max-age=0".
 */
#ifndef RELAYLAB_SIO_CLIENT_H
#define RELAYLAB_SIO_CLIENT_H

#include <stddef.h>

#include "hub.h"

struct sio_client;

/*
 * Loads the bundle at path (…/socket.io-client/dist/socket.io.min.js); its .map beside it is
 * optional, the version comes from ../package.json. Returns NULL with a message in err when
 * the file is missing, unreadable or over 8 MiB. Caller frees with sio_client_free.
 */
struct sio_client *sio_client_load(const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void sio_client_free(struct sio_client *c); /* accepts NULL */

/* The files to serve (owned by c; valid until sio_client_free). */
const struct hub_file *sio_client_files(const struct sio_client *c, size_t *n);
/* The file served at path, or NULL. */
const struct hub_file *sio_client_find(const struct sio_client *c, const char *path);
const char *sio_client_version(const struct sio_client *c);

/*
 * Where a build puts the bundle next to the programs: <program dir>/web/socket.io-client/
 * dist/socket.io.min.js (make copies it there from the npm package). Returns 0, or -1.
 */
int sio_client_default_path(char *out, size_t len);

#endif
