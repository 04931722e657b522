/*
 * page — fakeapp's frontend: GET / (the seed's product page, live over Socket.IO) and
 * GET /socket.io/socket.io.js (socket.io-client's bundle, served as the Socket.IO server does).
 * Route handlers for common/httpd; ud is the struct api (its sio_client may be NULL).
 */
#ifndef FAKEAPP_PAGE_H
#define FAKEAPP_PAGE_H

#include "httpd.h"

void page_index(const struct httpd_request *req, struct httpd_response *resp, void *ud);
void page_client(const struct httpd_request *req, struct httpd_response *resp, void *ud);
/* 204: no icon, and no 404 in the browser console. */
void page_favicon(const struct httpd_request *req, struct httpd_response *resp, void *ud);

#endif
