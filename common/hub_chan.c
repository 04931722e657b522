/*
 * hub_chan — the channels a hub client joined, and the rules for joining: valid names, a
 * per-client limit, and (with authentication) the channels the client's token allows.
 * A set is small (max_channels, 32 by default) and is only allocated for clients that join
 * a channel, so a broadcast-only client costs nothing here. Runs on the lws thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "hub_impl.h"
#include "log.h"

int hub_chanset_has(const struct hub_chanset *s, const char *name)
{
    if (s == NULL)
        return 0;
    uint64_t hsh = frame_channel_hash(name, strlen(name));
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i].hash == hsh && strcmp(s->v[i].name, name) == 0)
            return 1;
    return 0;
}

int hub_chanset_add(struct hub_chanset **sp, const char *name)
{
    struct hub_chanset *s = *sp;
    if (hub_chanset_has(s, name))
        return 1;
    if (s == NULL || s->n == s->cap) {
        uint32_t cap = s ? s->cap * 2 : 4;
        struct hub_chanset *g = realloc(s, sizeof *g + cap * sizeof g->v[0]);
        if (g == NULL)
            return -1;
        if (s == NULL)
            g->n = 0;
        g->cap = cap;
        *sp = s = g;
    }
    char *copy = strdup(name);
    if (copy == NULL)
        return -1;
    s->v[s->n].name = copy;
    s->v[s->n].hash = frame_channel_hash(name, strlen(name));
    s->n++;
    return 0;
}

int hub_chanset_remove(struct hub_chanset *s, const char *name)
{
    if (s == NULL)
        return 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].name, name) == 0) {
            free(s->v[i].name);
            s->v[i] = s->v[--s->n];
            return 1;
        }
    }
    return 0;
}

size_t hub_chanset_count(const struct hub_chanset *s)
{
    return s ? s->n : 0;
}

void hub_chanset_free(struct hub_chanset *s)
{
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < s->n; i++)
        free(s->v[i].name);
    free(s);
}

struct hub_chanset *hub_chanset_from_grant(const struct hub_grant *g)
{
    if (g->any)
        return NULL;
    /* An empty set (not NULL): the token allows the broadcast channel only. */
    struct hub_chanset *s = calloc(1, sizeof *s + 4 * sizeof s->v[0]);
    if (s == NULL)
        return NULL;
    s->cap = 4;
    for (size_t i = 0; i < g->n; i++)
        if (hub_chanset_add(&s, g->names[i]) < 0)
            break;
    return s;
}

static void refuse(json_t *refused, const char *name, const char *reason)
{
    if (refused)
        json_array_append_new(refused, json_pack("{s:s, s:s}", "channel", name, "reason", reason));
}

int hub_client_channels(struct hub *h, struct hub_client *c, const char *const *names, size_t n,
                        int join, json_t *refused)
{
    int done = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i];
        if (!envelope_channel_valid(name, strlen(name))) {
            char shown[ENVELOPE_CHANNEL_MAX + 1];
            snprintf(shown, sizeof shown, "%s", name);
            refuse(refused, shown, "invalid");
            metric_inc(h->m_chan_refused);
            continue;
        }
        if (!join) {
            done += hub_chanset_remove(c->chans, name);
            continue;
        }
        if (c->allowed && !hub_chanset_has(c->allowed, name)) {
            refuse(refused, name, "forbidden");
            metric_inc(h->m_chan_refused);
            LOG_INFO("channel_refused hub=%s peer=%s channel=%s reason=forbidden", h->cfg.name,
                     c->peer, name);
            continue;
        }
        if (!hub_chanset_has(c->chans, name) &&
            hub_chanset_count(c->chans) >= (size_t)h->cfg.max_channels) {
            refuse(refused, name, "limit");
            metric_inc(h->m_chan_refused);
            continue;
        }
        if (hub_chanset_add(&c->chans, name) < 0) {
            refuse(refused, name, "out_of_memory");
            continue;
        }
        done++;
    }
    return done;
}

json_t *hub_client_channel_list(const struct hub_client *c)
{
    json_t *a = json_array();
    for (uint32_t i = 0; c->chans && i < c->chans->n; i++)
        json_array_append_new(a, json_string(c->chans->v[i].name));
    return a;
}

void hub_queue_subscribed(struct hub *h, struct hub_client *c, json_t *refused, uint64_t from)
{
    (void)h;
    json_t *d = json_pack("{s:o, s:o, s:I}", "channels", hub_client_channel_list(c), "refused",
                          refused ? refused : json_array(), "from", (json_int_t)from);
    hub_queue_ctrl(c, hub_control_frame(c, "_subscribed", d));
    json_decref(d);
}
