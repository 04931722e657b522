/*
 * mstore internals shared by mstore.c (connection, catalog, epoch), mseq.c (the sequencer),
 * mtail.c (change stream, trimming), mfetch.c (replays) and mwatch.c (watched collections).
 */
#ifndef RELAY_MSTORE_IMPL_H
#define RELAY_MSTORE_IMPL_H

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "mstore.h"

#define MSTORE_BATCH 256        /* emits per insert at most */
#define MSTORE_FETCH_BATCH 500  /* events per replay answer at most */
#define MSTORE_AWAIT_MS 1000    /* change stream getMore wait */
#define MSTORE_WATCH_QUEUE 4096 /* watched inserts waiting for the sequencer at most */
#define MSTORE_STUCK_MS 3000    /* a committed offset not delivered this long: reopen */
#define MSTORE_HOST_MAX 262     /* "host:port" as the driver names a member */

/* One emit on its way through the sequencer; shared by the caller and the sequencer. */
struct mseq_item {
    struct mseq_item *next;
    int refs; /* caller + queue; guarded by the sequencer lock */
    char event[ENVELOPE_EVENT_MAX + 1];
    char channel[ENVELOPE_CHANNEL_MAX + 1];
    char id[160];  /* the emit id, or an internal one */
    int client_id; /* the id came from the app (a retry is "duplicate") */
    char *data;    /* payload JSON, owned */
    size_t data_len;
    bson_t *extra; /* fields stored besides the event (watch: src, wt), owned */
    int64_t deadline_ms;
    int attempted; /* an insert of it went out and its outcome is unknown */
    int done;      /* 0 waiting, else an mstore_result + 1 */
    uint64_t offset;
    void (*on_done)(void *ud, struct mseq_item *it); /* instead of a waiting caller */
    void *ud;
};

struct mstore {
    struct relay_config cfg;
    volatile sig_atomic_t *stop;
    atomic_int stopping;
    char epoch[ENVELOPE_EPOCH_BUF];
    uint64_t head0; /* newest offset when opened */
    mongoc_uri_t *wuri, *ruri;
    mongoc_client_pool_t *wpool; /* writes: socket timeout = emit timeout */
    mongoc_client_pool_t *rpool; /* change streams and reads */
    struct hub *hub;

    /* sequencer */
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    struct mseq_item *head, *tail; /* queue */
    size_t queued;
    uint64_t seq_head;              /* newest offset known committed (0 = unknown: read it) */
    atomic_uint_fast64_t acked_max; /* newest offset this relay acknowledged */
    int64_t acked_at_ms;            /* when acked_max last grew (guarded by lock) */
    pthread_t seq_thread, tail_thread, fetch_thread, trim_thread;
    int seq_started, tail_started, fetch_started, trim_started;
    char auto_prefix[24];
    atomic_uint_fast64_t auto_seq;

    /* tail */
    atomic_int stream_up;           /* change stream open and caught up */
    atomic_int_fast64_t poll_ms;    /* last time the stream answered (monotonic ms) */
    atomic_uint_fast64_t tail_last; /* newest offset appended to the hub */
    atomic_int_fast64_t lag_ms;
    atomic_uint_fast64_t stream_opens; /* $changeStream aggregates on events (APM, mstore.c) */

    /* fetcher: requests copied from the hub */
    struct mfetch_req *fq_head, *fq_tail;
    pthread_cond_t fwork;

    /* watchers */
    struct mwatch *watch[RELAY_WATCH_MAX];
    int nwatch;

    int64_t close_deadline_ms; /* threads still in a driver call after this are abandoned */
    int abandoned;
    struct metric *m_silent; /* relay_stream_silent_ms, set when /metrics is read */
    struct metric *m_batches, *m_conflicts, *m_stream_up, *m_lag, *m_resumes, *m_gaps, *m_offset,
        *m_trimmed, *m_stuck, *m_watch_stuck, *m_fetch_rows, *m_fetch_reads, *m_watch_events,
        *m_unconfirmed, *m_watch_skipped;
};

int64_t mstore_now_ms(void);
int64_t mstore_wall_ms(void);
/* Sleeps up to ms, waking early when the store stops. Returns 1 when stopping. */
int mstore_nap(struct mstore *s, long ms);
int mstore_stopping(struct mstore *s);
/* Joins a store thread by the close deadline. 0 joined; -1 abandoned (detached: it is
 * stuck in a driver call to an unreachable MongoDB) and s->abandoned set. */
int mstore_join(struct mstore *s, pthread_t th);
/* <db>.events of a pooled client, with read concern majority. Caller destroys. */
mongoc_collection_t *mstore_events(struct mstore *s, mongoc_client_t *cl);
/* Newest (desc = 1) or oldest stored offset, 0 when empty; -1 on error (message in err). */
int mstore_edge(struct mstore *s, mongoc_client_t *cl, int desc, uint64_t *out, char *err,
                size_t errlen);
/* The member that answered this thread's last getMore or aggregate ("host:port"; "" when
 * none yet): the member a change stream followed by this thread reads from. */
const char *mstore_read_host(void);
/* The primary the driver would send a write to now, as "host:port" in out. 0, or -1 when
 * there is none within the server selection timeout. */
int mstore_primary_host(mongoc_client_t *cl, char *out, size_t outlen);
/* Reads an int64/int32/double field as an offset; 0 when absent or not a positive integer. */
uint64_t mstore_offset_of(const bson_t *doc);
/* Builds the hub frame of one stored event document, or NULL when malformed. */
struct frame *mstore_frame(struct mstore *s, const bson_t *doc);

/* Sequencer (mseq.c). */
int mseq_start(struct mstore *s);
void mseq_stop(struct mstore *s);
/* Queues it (the queue takes a reference). Returns 0, or -1 when stopping or full. */
int mseq_submit(struct mstore *s, struct mseq_item *it, size_t max_queued);
void mseq_item_release(struct mstore *s, struct mseq_item *it);

/* Tail and trim (mtail.c). */
int mtail_start(struct mstore *s);
void mtail_stop(struct mstore *s);

/* Fetcher (mfetch.c). */
int mfetch_start(struct mstore *s);
void mfetch_stop(struct mstore *s);
void mfetch_request(void *ud, const struct hub_fetch *req); /* a hub_fetch_fn */

/* Watched collections (mwatch.c). */
int mwatch_start(struct mstore *s);
void mwatch_stop(struct mstore *s);
/*
 * The channel of an inserted document under w's @CHANNEL, written to out: 1 with out
 * filled, 0 for a broadcast (no @CHANNEL, or the document lacks the field or holds null),
 * -1 when the field holds something no channel name can be made of (a NUL byte, an empty
 * or too long string, a charset outside channel names, a type other than string or
 * integer): such an insert is not announced.
 */
int mwatch_doc_channel(const struct relay_watch *w, const bson_t *doc, char *out, size_t outlen);

#endif
