/*
 * hub_sio_events — the events a Socket.IO client emits to the relay, which is one-way: it
 * acts on "subscribe" and "unsubscribe" (rooms are channels) and reads and drops every other
 * event, text or binary, answering the acks they ask for. Packets are parsed in eio.c and
 * dispatched by hub_sio.c. lws service thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "eio.h"
#include "hub_poll.h"
#include "jsonx.h"

/*
 * An event the hub does not act on (any but subscribe/unsubscribe, or a binary one) is read
 * and dropped; when the client asked for an acknowledgement it gets one saying so at once,
 * 43<id>[{"ok":false,"error":"unsupported_event","message":..}], rather than never (a
 * Socket.IO server without a handler for the event never calls the ack: the client's
 * callback would wait forever, or until its timeout()).
 */
void hub_sio_ignore_event(struct hub *h, struct hub_client *c, int64_t ack_id, int binary)
{
    metric_inc(h->polls ? h->polls->m_pkt_ignored : NULL);
    if (ack_id < 0)
        return;
    json_t *r = json_pack("[{s:b, s:s, s:s}]", "ok", 0, "error", "unsupported_event", "message",
                          binary ? "the relay does not act on binary events"
                                 : "the relay only delivers events; it acts on subscribe and "
                                   "unsubscribe alone");
    size_t jl = 0;
    char *js = r ? jsonx_dump(r, &jl) : NULL;
    if (js)
        hub_queue_ctrl(c, eio_ack(ack_id, js, jl));
    free(js);
    json_decref(r);
    hub_want_write(c);
}

/*
 * 42["subscribe", "a" | ["a","b"]] or "unsubscribe", optionally with an ack id (42<id>[..]):
 * joins or leaves rooms (channels). The ack (43<id>[{ok,channels,refused}]) or, without one,
 * a _subscribed event tells the client where it stands. Other events: hub_sio_ignore_event().
 */
void hub_sio_event(struct hub *h, struct hub_client *c, const struct eio_sio *p)
{
    char err[64];
    json_t *m = jsonx_parse(p->payload, p->plen, 32, err, sizeof err);
    const char *name = json_string_value(json_array_get(m, 0));
    int join = name && strcmp(name, "subscribe") == 0;
    if (!join && !(name && strcmp(name, "unsubscribe") == 0)) {
        json_decref(m);
        hub_sio_ignore_event(h, c, p->ack_id, 0);
        return;
    }
    json_t *arg = json_array_get(m, 1), *refused = json_array();
    const char *names[HUB_CHANNELS_MAX];
    size_t n = 0;
    if (json_is_string(arg)) {
        names[n++] = json_string_value(arg);
    } else if (json_is_array(arg)) {
        size_t i;
        json_t *v;
        json_array_foreach(arg, i, v)
        {
            if (n < HUB_CHANNELS_MAX && json_is_string(v))
                names[n++] = json_string_value(v);
            else
                json_array_append_new(refused,
                                      json_pack("{s:s, s:s}", "channel", "", "reason",
                                                n < HUB_CHANNELS_MAX ? "invalid" : "limit"));
        }
    }
    hub_client_channels(h, c, names, n, join, refused);
    hub_sio_record_rooms(c);
    /* _subscribed (before the ack, if one is asked), its offset argument recording the new
     * rooms: the client has been sent everything before `from`, and a recovery from here
     * joins these. While a replay is under way that offset would skip the rest of it: the
     * event then goes without one (the next event records the rooms). */
    uint64_t from = hub_client_next_offset(h, c);
    int record = !c->fetch_ticket && c->npend == 0 && from > 0;
    if (record || p->ack_id < 0) {
        char ep[ENVELOPE_EPOCH_BUF];
        json_t *d = json_pack("{s:o, s:O, s:I}", "channels", hub_client_channel_list(c), "refused",
                              refused, "from", (json_int_t)from);
        size_t dl = 0;
        char *ds = d ? jsonx_dump(d, &dl) : NULL;
        if (ds)
            hub_queue_ctrl(c, record ? hub_sio_with_rooms(c, eio_event("_subscribed", ds, dl,
                                                                       from - 1, hub_epoch(h, ep)))
                                     : eio_event("_subscribed", ds, dl, 0, NULL));
        free(ds);
        json_decref(d);
    }
    if (p->ack_id >= 0) {
        json_t *r = json_pack("[{s:b, s:o, s:O}]", "ok", json_array_size(refused) == 0, "channels",
                              hub_client_channel_list(c), "refused", refused);
        size_t jl = 0;
        char *js = r ? jsonx_dump(r, &jl) : NULL;
        if (js)
            hub_queue_ctrl(c, eio_ack(p->ack_id, js, jl));
        free(js);
        json_decref(r);
    }
    json_decref(refused);
    json_decref(m);
    hub_want_write(c);
}
