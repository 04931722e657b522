/*
 * page — fakeapp's frontend, the seed's product page: GET / lists the products
 * (GET /products) and adds each new_product as it arrives over Socket.IO, using
 * socket.io-client with its default options (io(): long-polling first, then the upgrade to
 * websocket, same origin). A form creates products (POST /products); a created product is
 * shown only when its new_product event arrives, as in the seed, so a missed event is a
 * missing product. The client bundle is served at /socket.io/socket.io.js the way the
 * Socket.IO server serves it (sio_client.h). Behind the ingress, /, /products and /socket.io/
 * share one origin whichever architecture serves /socket.io/ (the app itself or the relay);
 * opened on the app's own HTTP port, the page reaches its embedded server on the ws port,
 * or says why it cannot be live (the relay is behind the ingress).
 */
#include "page.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "sio_client.h"

static const char index_head[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>relaylab products</title>\n"
    "<style>\n"
    "body{font:15px/1.4 system-ui,sans-serif;margin:2em auto;max-width:44em;color:#222}\n"
    "h1{font-size:1.5em;margin:0 0 .3em}\n"
    "#status{padding:.3em .6em;border-radius:4px;background:#eee;display:inline-block}\n"
    "#status.live{background:#d7f5dd}#status.down{background:#fbe0e0}\n"
    "form{margin:1em 0}input{font:inherit;padding:.25em}button{font:inherit}\n"
    "ul{padding-left:1.2em}li.live{color:#064}li small{color:#777}\n"
    "#counts{color:#555}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<h1>Products</h1>\n"
    "<p><span id=\"status\">connecting&hellip;</span> <span id=\"counts\"></span></p>\n"
    "<form id=\"create\">\n"
    "<input name=\"name\" placeholder=\"name\" required maxlength=\"200\">\n"
    "<input name=\"price\" type=\"number\" placeholder=\"price\" step=\"0.01\" min=\"0\" "
    "required>\n"
    "<button type=\"submit\">Add product</button>\n"
    "</form>\n"
    "<ul id=\"products\"></ul>\n";

/* After the head, page_index writes window.relaylabApp: {pod, mode, http_port, ws_port}. */
static const char index_tail[] =
    "<script src=\"/socket.io/socket.io.js\"></script>\n"
    "<script>\n"
    "(function () {\n"
    "  'use strict';\n"
    "  var list = document.getElementById('products');\n"
    "  var status = document.getElementById('status');\n"
    "  var counts = document.getElementById('counts');\n"
    "  var state = window.relaylab = { listed: 0, live: 0, created: 0, transport: null,\n"
    "    recovered: null, connects: 0, errors: [] };\n"
    "  var shown = {};\n"
    "  function render() {\n"
    "    counts.textContent = state.created + ' created here, ' + state.live +\n"
    "      ' arrived live, ' + state.listed + ' listed';\n"
    "    document.body.dataset.live = state.live;\n"
    "  }\n"
    "  function show(p, how) {\n"
    "    if (!p || !p._id || shown[p._id]) return;\n"
    "    shown[p._id] = true;\n"
    "    state[how]++;\n"
    "    var li = document.createElement('li');\n"
    "    li.className = how;\n"
    "    li.dataset.id = p._id;\n"
    "    li.appendChild(document.createTextNode(p.name + ' \\u2014 ' + p.price + ' '));\n"
    "    var s = document.createElement('small');\n"
    "    s.textContent = '(' + (p.pod || '?') + (how === 'live' ? ', live' : '') + ')';\n"
    "    li.appendChild(s);\n"
    "    if (how === 'live') list.insertBefore(li, list.firstChild); else list.appendChild(li);\n"
    "    render();\n"
    "  }\n"
    "  function load() {\n"
    "    return fetch('/products?limit=100').then(function (r) { return r.json(); })\n"
    "      .then(function (ps) { if (Array.isArray(ps)) ps.forEach(function (p) { show(p, "
    "'listed'); }); })\n"
    "      .catch(function (e) { console.error('GET /products failed: ' + e.message); });\n"
    "  }\n"
    "  document.getElementById('create').addEventListener('submit', function (ev) {\n"
    "    ev.preventDefault();\n"
    "    var f = ev.target;\n"
    "    var body = { name: f.name.value, price: Number(f.price.value),\n"
    "      req_id: 'page-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, "
    "10) };\n"
    "    fetch('/products', { method: 'POST', headers: { 'Content-Type': 'application/json' },\n"
    "      body: JSON.stringify(body) })\n"
    "      .then(function (r) {\n"
    "        if (r.status !== 201) throw new Error('POST /products answered ' + r.status);\n"
    "        state.created++; render(); f.reset();\n"
    "      })\n"
    "      .catch(function (e) { console.error(e.message); state.errors.push(e.message); });\n"
    "  });\n"
    "  render();\n"
    "  load();\n"
    "  /* Through the ingress, /socket.io/ shares the page's origin. Opened on this app's own\n"
    "   * HTTP port, it does not: that port serves no Socket.IO. The app's own Socket.IO\n"
    "   * server (embedded) is on another port; the relay is reachable through the ingress\n"
    "   * only. */\n"
    "  var app = window.relaylabApp || {};\n"
    "  var url = null;\n"
    "  state.direct = !!app.http_port && location.port === String(app.http_port);\n"
    "  if (state.direct && app.mode === 'embedded' && app.ws_port) {\n"
    "    url = location.protocol + '//' + location.hostname + ':' + app.ws_port;\n"
    "    console.log('opened on ' + app.pod + '\\'s own port ' + app.http_port +\n"
    "      ': Socket.IO from its own server at ' + url);\n"
    "  } else if (state.direct) {\n"
    "    state.note = 'not live: this page was opened on ' + app.pod + '\\'s own port ' +\n"
    "      app.http_port + ', which serves no Socket.IO. In this topology (--ws-mode ' +\n"
    "      app.mode + ') the relay sends new products, and only the ingress routes ' +\n"
    "      '/socket.io/ to it: open the page through the ingress (lab status prints its URL).';\n"
    "    status.textContent = state.note;\n"
    "    status.className = 'down';\n"
    "    console.warn(state.note);\n"
    "    return;\n"
    "  }\n"
    "  if (typeof io !== 'function') {\n"
    "    status.textContent = 'socket.io client not available';\n"
    "    status.className = 'down';\n"
    "    console.error('socket.io client not loaded from /socket.io/socket.io.js');\n"
    "    return;\n"
    "  }\n"
    /* With client authentication on, the app hands the page a token (GET /token); as a
     * function, auth is asked again on every reconnect, so a fresh token is sent. */
    "  var opts = { auth: function (cb) {\n"
    "    fetch('/token').then(function (r) { return r.ok ? r.json() : {}; })\n"
    "      .then(function (j) { cb(j.token ? { token: j.token } : {}); })\n"
    "      .catch(function () { cb({}); });\n"
    "  } };\n"
    "  var socket = url ? io(url, opts) : io(opts);\n"
    "  socket.io.on('open', function () {\n"
    "    var engine = socket.io.engine;\n"
    "    engine.on('upgrade', function (t) {\n"
    "      state.transport = t.name;\n"
    "      status.textContent = 'live (' + t.name + ')';\n"
    "      console.log('transport upgraded to ' + t.name);\n"
    "    });\n"
    "  });\n"
    "  socket.on('connect', function () {\n"
    "    state.connects++;\n"
    "    state.transport = socket.io.engine.transport.name;\n"
    "    state.recovered = socket.recovered;\n"
    "    status.textContent = 'live (' + state.transport + ')';\n"
    "    status.className = 'live';\n"
    "    console.log('connected transport=' + state.transport + ' recovered=' + "
    "socket.recovered);\n"
    "  });\n"
    "  socket.on('disconnect', function (reason) {\n"
    "    status.textContent = 'disconnected: ' + reason;\n"
    "    status.className = 'down';\n"
    "    console.warn('disconnected: ' + reason);\n"
    "  });\n"
    "  socket.on('connect_error', function (e) {\n"
    "    state.errors.push(e.message);\n"
    "    if (url) {\n"
    "      status.textContent = 'cannot reach ' + app.pod + '\\'s Socket.IO server at ' + url +\n"
    "        ' (' + e.message + '); open the page through the ingress';\n"
    "      status.className = 'down';\n"
    "    }\n"
    "    console.error('connect_error: ' + e.message);\n"
    "  });\n"
    "  socket.on('new_product', function (p) { show(p, 'live'); });\n"
    "  socket.on('_recovery', function (r) {\n"
    "    if (r && r.recovered === false) { console.warn('missed events: ' + r.reason); load(); }\n"
    "  });\n"
    "})();\n"
    "</script>\n"
    "</body>\n"
    "</html>\n";

void page_index(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    struct api *a = ud;
    /* The pod name is [A-Za-z0-9._-] (config.c) and the mode a fixed word: safe in JSON in a
     * script element. */
    char cfg[256];
    int n = snprintf(cfg, sizeof cfg,
                     "<script>window.relaylabApp = "
                     "{\"pod\":\"%s\",\"mode\":\"%s\",\"http_port\":%d,\"ws_port\":%d};</script>\n",
                     a->pod, a->ws_mode_name ? a->ws_mode_name : "", atomic_load(&a->http_port),
                     a->ws_port);
    if (n < 0 || (size_t)n >= sizeof cfg) {
        httpd_reply_error(resp, 500, "page_error", "pod name too long for the page");
        return;
    }
    char html[sizeof index_head + sizeof cfg + sizeof index_tail];
    size_t len = 0;
    memcpy(html, index_head, sizeof index_head - 1);
    len += sizeof index_head - 1;
    memcpy(html + len, cfg, (size_t)n);
    len += (size_t)n;
    memcpy(html + len, index_tail, sizeof index_tail - 1);
    len += sizeof index_tail - 1;
    httpd_reply_text(resp, 200, "text/html; charset=utf-8", html, len);
    httpd_add_header(resp, "Cache-Control", "no-cache");
    httpd_add_header(resp, "X-Served-By", a->pod);
}

void page_client(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    struct api *a = ud;
    const struct hub_file *f = sio_client_find(a->sio_client, req->path);
    if (f == NULL) {
        httpd_reply_error(resp, 404, "not_found",
                          a->sio_client ? "no such file; the client is at /socket.io/socket.io.js"
                                        : "socket.io client not installed (make deps; "
                                          "--sio-client FILE)");
        return;
    }
    const char *inm = httpd_header(req, "If-None-Match");
    if (inm && (strcmp(inm, f->etag) == 0 ||
                (strncmp(inm, "W/", 2) == 0 && strcmp(inm + 2, f->etag) == 0))) {
        httpd_reply_text(resp, 304, f->content_type, "", 0);
    } else {
        httpd_reply_text(resp, 200, f->content_type, f->body, f->len);
    }
    httpd_add_header(resp, "ETag", f->etag);
    httpd_add_header(resp, "Cache-Control", f->cache_control);
}

void page_favicon(const struct httpd_request *req, struct httpd_response *resp, void *ud)
{
    (void)req;
    (void)ud;
    httpd_reply_text(resp, 204, "image/x-icon", "", 0);
    httpd_add_header(resp, "Cache-Control", "public, max-age=86400");
}
