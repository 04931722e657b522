/*
 * frames — what loadgen reads from one server message, in either client protocol:
 *   plain websocket  {"event":E,"data":{...},"offset":N,"epoch":"P","channel":"C"}
 *   Socket.IO event  2["E",{...},"P:N"]   (the Socket.IO packet inside an Engine.IO "4"
 *                    message; the last argument is the recovery offset; the relay's older
 *                    {"offset":N,"epoch":"P"} last argument is read too)
 * Allocation-free: every field is a span of the input. Where the request id sits inside the
 * event's data is the --id-path (dotted, e.g. "req_id" or "product.id").
 */
#ifndef LOADGEN_FRAMES_H
#define LOADGEN_FRAMES_H

#include <stddef.h>

struct lg_frame_fields {
    const char *event, *epoch, *req_id, *pod, *channel;
    size_t event_len, epoch_len, req_id_len, pod_len, channel_len;
    const char *sio_offset; /* Socket.IO: the last argument when it is a string (opaque) */
    size_t sio_offset_len;
    long long offset; /* -1 when absent */
    int recovered;    /* -1 absent, 0 false, 1 true */
};

/*
 * Scans a plain frame. Fills event; offset and epoch (top level, else inside data, as the
 * control frames carry them); req_id at id_path inside data (a string, or a number's
 * digits); pod (data.pod); channel; recovered (data.recovered). Returns 0, or -1 when the
 * frame is not a JSON object.
 */
int lg_scan_frame(const char *data, size_t len, const char *id_path, struct lg_frame_fields *f);

/*
 * The same for an app whose frames name the event and its data otherwise ({"type":...,
 * "payload":...}): event_key and data_key replace "event" and "data".
 */
int lg_scan_frame_keys(const char *data, size_t len, const char *id_path, const char *event_key,
                       const char *data_key, struct lg_frame_fields *f);

/*
 * Scans a Socket.IO EVENT packet ("2[...]", "2/nsp,[...]" or "2<ack id>[...]"; binary
 * events are not read). Fills the same fields from the arguments: event = first, data =
 * second, the recovery offset = the last one when there are three or more ("P:N" also gives
 * epoch P and offset N). Returns 0, 1 when the packet is for another namespace than "/",
 * or -1 when it is malformed.
 */
int lg_scan_sio_event(const char *pkt, size_t len, const char *id_path, struct lg_frame_fields *f);

#endif
