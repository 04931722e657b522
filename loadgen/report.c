#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static json_t *ratio_or_null(int has, double v)
{
    return has ? json_real(v) : json_null();
}

static json_t *ms_or_null(const struct hist *h, double pct)
{
    if (hist_count(h) == 0)
        return json_null();
    uint64_t us = pct < 0 ? hist_max(h) : hist_percentile(h, pct);
    return json_real((double)us / 1000.0);
}

static json_t *latency_json(const struct hist *h)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:I}", "p50", ms_or_null(h, 50), "p90",
                     ms_or_null(h, 90), "p99", ms_or_null(h, 99), "p999", ms_or_null(h, 99.9),
                     "max", ms_or_null(h, -1), "mean",
                     hist_count(h) ? json_real(hist_mean(h) / 1000.0) : json_null(), "count",
                     (json_int_t)hist_count(h));
}

static json_t *anomalies_json(const struct lg_anomaly_list *l, const struct lg_result *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < l->n; i++) {
        const struct lg_anomaly *x = &l->items[i];
        json_t *o =
            x->client == LG_NO_CLIENT
                ? json_pack("{s:s}", "req_id", x->req_id)
                : json_pack("{s:I,s:s}", "client", (json_int_t)x->client, "req_id", x->req_id);
        if (o && x->client < r->nper_client && r->per_client[x->client].src[0])
            json_object_set_new(o, "src", json_string(r->per_client[x->client].src));
        if (o && x->offset >= 0)
            json_object_set_new(o, "offset", json_integer(x->offset));
        json_array_append_new(a, o);
    }
    return a;
}

/* At most this many points in latency_cdf: enough for a plot, small in the report. */
#define CDF_POINTS 200

struct cdf_walk {
    json_t *arr;
    uint64_t total, seen;
    double last_frac;
};

static int cdf_point(uint64_t value, uint64_t count, void *ud)
{
    struct cdf_walk *w = ud;
    w->seen += count;
    double frac = (double)w->seen / (double)w->total;
    /* A point per 1/CDF_POINTS of the samples, and always the last one. */
    if (frac - w->last_frac >= 1.0 / CDF_POINTS || w->seen == w->total) {
        json_array_append_new(w->arr, json_pack("[f,f]", (double)value / 1000.0, frac));
        w->last_frac = frac;
    }
    return 0;
}

/* Event latency as [[ms, fraction of received events at or below], ...]. */
static json_t *cdf_json(const struct hist *h)
{
    struct cdf_walk w = {json_array(), hist_count(h), 0, 0};
    if (w.arr && w.total > 0)
        hist_foreach(h, cdf_point, &w);
    return w.arr;
}

static json_t *count_or_null(int has, uint64_t v)
{
    return has ? json_integer((json_int_t)v) : json_null();
}

/* The fields beyond the original report: one judge for everything the lab asks. */
static void add_products(json_t *o, const struct lg_result *r)
{
    json_t *req = json_object_get(o, "requests");
    json_object_set_new(req, "committed_unknown",
                        count_or_null(r->has_verify, r->req_committed_unknown));
    json_object_set_new(req, "uncommitted_unknown",
                        count_or_null(r->has_verify, r->req_uncommitted_unknown));
    json_object_set_new(req, "unverified", json_integer((json_int_t)r->req_unverified));
    json_object_set_new(req, "acked_missing", json_integer((json_int_t)r->req_acked_missing));
    json_t *ev = json_object_get(o, "events");
    json_object_set_new(ev, "gap_lost", json_integer((json_int_t)r->ev_gap_lost));
    json_object_set_new(ev, "missed", json_integer((json_int_t)(r->ev_lost + r->ev_gap_lost)));
    json_object_set_new(ev, "undelivered", json_integer((json_int_t)r->ev_undelivered));
    json_object_set_new(ev, "unannounced", count_or_null(r->has_verify, r->ev_unannounced));
    json_object_set_new(ev, "unknown_expected",
                        count_or_null(r->has_verify, r->ev_unknown_expected));
    json_object_set_new(ev, "unknown_lost", count_or_null(r->has_verify, r->ev_unknown_lost));
    json_t *an = json_object_get(o, "anomalies");
    json_object_set_new(an, "unannounced", anomalies_json(&r->unannounced, r));
    json_object_set_new(an, "unknown_lost", anomalies_json(&r->unknown_lost, r));
    if (r->unannounced.total > r->unannounced.n || r->unknown_lost.total > r->unknown_lost.n)
        json_object_set_new(an, "truncated", json_true());
    json_object_set_new(o, "latency_cdf", cdf_json(r->latency));
    json_t *hi = json_object_get(o, "history");
    json_object_set_new(hi, "shards", json_integer((json_int_t)r->shards));
    json_object_set_new(hi, "aligned", json_boolean(r->aligned));
    json_object_set_new(hi, "skew_margin_ms", json_real((double)r->skew_margin_us / 1000.0));
}

static json_t *per_client_json(const struct lg_result *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < r->nper_client; i++) {
        const struct lg_client_stats *s = &r->per_client[i];
        json_array_append_new(
            a, json_pack("{s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "client",
                         (json_int_t)s->id, "src", s->src, "entitled", (json_int_t)s->entitled,
                         "received", (json_int_t)s->received, "lost", (json_int_t)s->lost,
                         "duplicated", (json_int_t)s->duplicated, "out_of_order",
                         (json_int_t)s->out_of_order, "unexpected", (json_int_t)s->unexpected,
                         "frames", (json_int_t)s->frames, "connects", (json_int_t)s->connects,
                         "failed", (json_int_t)s->failed, "drops", (json_int_t)s->drops, "gap_lost",
                         (json_int_t)s->gap_lost));
    }
    return a;
}

json_t *lg_report_json(const struct lg_result *r, int details)
{
    json_t *pods = json_object();
    for (size_t i = 0; pods && i < r->npods; i++)
        json_object_set_new(pods, r->pods[i].name, json_integer((json_int_t)r->pods[i].count));
    json_t *codes = json_object();
    for (size_t i = 0; codes && i < r->nclose_codes; i++) {
        char k[16];
        snprintf(k, sizeof k, "%d", r->close_codes[i].code);
        json_object_set_new(codes, k, json_integer((json_int_t)r->close_codes[i].count));
    }
    int truncated = r->lost.total > r->lost.n || r->duplicated.total > r->duplicated.n ||
                    r->out_of_order.total > r->out_of_order.n ||
                    r->unexpected.total > r->unexpected.n;
    json_t *o = json_pack(
        "{s:I,s:{s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:o,s:{s:o,s:o,s:o},"
        "s:o,s:o,s:o,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:o},"
        "s:{s:o,s:o,s:o,s:o,s:b},s:{s:I,s:I,s:f}}",
        "clients", (json_int_t)r->clients, "requests", "sent", (json_int_t)r->req_sent, "ok",
        (json_int_t)r->req_ok, "failed", (json_int_t)r->req_failed, "unknown",
        (json_int_t)r->req_unknown, "events", "expected", (json_int_t)r->ev_expected, "received",
        (json_int_t)r->ev_received, "lost", (json_int_t)r->ev_lost, "duplicated",
        (json_int_t)r->ev_duplicated, "out_of_order", (json_int_t)r->ev_out_of_order, "unexpected",
        (json_int_t)r->ev_unexpected, "frames", (json_int_t)r->ev_frames, "unentitled",
        (json_int_t)r->ev_unentitled, "delivery_ratio",
        ratio_or_null(r->has_delivery_ratio, r->delivery_ratio), "client_delivery", "min",
        ratio_or_null(r->has_client_delivery, r->client_delivery_min), "mean",
        ratio_or_null(r->has_client_delivery, r->client_delivery_mean), "max",
        ratio_or_null(r->has_client_delivery, r->client_delivery_max), "latency_ms",
        latency_json(r->latency), "request_latency_ms", latency_json(r->req_latency),
        "requests_per_pod", pods, "pod_share_max",
        ratio_or_null(r->has_pod_share, r->pod_share_max), "connections", "opened",
        (json_int_t)r->conn_opened, "failed", (json_int_t)r->conn_failed, "dropped",
        (json_int_t)r->conn_dropped, "recovered", (json_int_t)r->conn_recovered, "recovery_failed",
        (json_int_t)r->conn_recovery_failed, "close_codes", codes, "anomalies", "lost",
        anomalies_json(&r->lost, r), "duplicated", anomalies_json(&r->duplicated, r),
        "out_of_order", anomalies_json(&r->out_of_order, r), "unexpected",
        anomalies_json(&r->unexpected, r), "truncated", truncated, "history", "lines",
        (json_int_t)r->history_lines, "malformed", (json_int_t)r->history_malformed, "duration_s",
        (double)r->duration_us / 1e6);
    if (o)
        add_products(o, r);
    if (o)
        json_object_set_new(json_object_get(o, "events"), "wrong_channel",
                            json_integer((json_int_t)r->ev_wrong_channel));
    if (o)
        json_object_set_new(o, "socketio",
                            json_pack("{s:I,s:I,s:I,s:I,s:I}", "handshake_failed",
                                      (json_int_t)r->sio_handshake_failed, "transport_errors",
                                      (json_int_t)r->sio_transport_errors, "unknown_sid",
                                      (json_int_t)r->sio_unknown_sid, "upgraded",
                                      (json_int_t)r->sio_upgraded, "upgrade_failed",
                                      (json_int_t)r->sio_upgrade_failed));
    if (o && details)
        json_object_set_new(o, "per_client", per_client_json(r));
    return o;
}

static void print_ms(FILE *out, const char *name, const struct hist *h)
{
    if (hist_count(h) == 0) {
        fprintf(out, "  %-22s (no samples)\n", name);
        return;
    }
    fprintf(out, "  %-22s p50 %.3f  p90 %.3f  p99 %.3f  p999 %.3f  max %.3f ms (n=%llu)\n", name,
            hist_percentile(h, 50) / 1000.0, hist_percentile(h, 90) / 1000.0,
            hist_percentile(h, 99) / 1000.0, hist_percentile(h, 99.9) / 1000.0,
            hist_max(h) / 1000.0, (unsigned long long)hist_count(h));
}

void lg_report_table(FILE *out, const struct lg_result *r)
{
    fprintf(out, "loadgen summary (%.1f s of history, %llu clients)\n",
            (double)r->duration_us / 1e6, (unsigned long long)r->clients);
    fprintf(out, "  %-22s sent %llu  ok %llu  failed %llu  unknown %llu\n", "requests",
            (unsigned long long)r->req_sent, (unsigned long long)r->req_ok,
            (unsigned long long)r->req_failed, (unsigned long long)r->req_unknown);
    fprintf(out,
            "  %-22s expected %llu  received %llu  lost %llu  duplicated %llu  "
            "out_of_order %llu  unexpected %llu\n",
            "events", (unsigned long long)r->ev_expected, (unsigned long long)r->ev_received,
            (unsigned long long)r->ev_lost, (unsigned long long)r->ev_duplicated,
            (unsigned long long)r->ev_out_of_order, (unsigned long long)r->ev_unexpected);
    fprintf(out, "  %-22s gap_lost %llu  undelivered %llu  unannounced ", "",
            (unsigned long long)r->ev_gap_lost, (unsigned long long)r->ev_undelivered);
    if (r->has_verify)
        fprintf(out, "%llu  committed_unknown %llu  unknown_lost %llu of %llu\n",
                (unsigned long long)r->ev_unannounced, (unsigned long long)r->req_committed_unknown,
                (unsigned long long)r->ev_unknown_lost, (unsigned long long)r->ev_unknown_expected);
    else
        fprintf(out, "n/a (unknown outcomes not verified)\n");
    if (r->shards > 1)
        fprintf(out, "  %-22s %u shards, %s\n", "history", (unsigned)r->shards,
                r->aligned ? "one timeline (wall_us)" : "each judged on its own clock");
    if (r->has_delivery_ratio)
        fprintf(out, "  %-22s %.6f\n", "delivery_ratio", r->delivery_ratio);
    else
        fprintf(out, "  %-22s n/a (nothing expected)\n", "delivery_ratio");
    if (r->has_client_delivery)
        fprintf(out, "  %-22s min %.4f  mean %.4f  max %.4f\n", "client_delivery",
                r->client_delivery_min, r->client_delivery_mean, r->client_delivery_max);
    print_ms(out, "event latency", r->latency);
    print_ms(out, "request latency", r->req_latency);
    fprintf(out, "  %-22s", "requests_per_pod");
    for (size_t i = 0; i < r->npods; i++)
        fprintf(out, " %s=%llu", r->pods[i].name, (unsigned long long)r->pods[i].count);
    if (r->has_pod_share)
        fprintf(out, "  (max share %.3f)", r->pod_share_max);
    fputc('\n', out);
    fprintf(out,
            "  %-22s opened %llu  failed %llu  dropped %llu  recovered %llu  "
            "recovery_failed %llu\n",
            "connections", (unsigned long long)r->conn_opened, (unsigned long long)r->conn_failed,
            (unsigned long long)r->conn_dropped, (unsigned long long)r->conn_recovered,
            (unsigned long long)r->conn_recovery_failed);
    if (r->sio_handshake_failed || r->sio_transport_errors || r->sio_upgraded ||
        r->sio_upgrade_failed)
        fprintf(out,
                "  %-22s handshake_failed %llu  transport_errors %llu (unknown sid %llu)  "
                "upgraded %llu  upgrade_failed %llu\n",
                "socketio", (unsigned long long)r->sio_handshake_failed,
                (unsigned long long)r->sio_transport_errors, (unsigned long long)r->sio_unknown_sid,
                (unsigned long long)r->sio_upgraded, (unsigned long long)r->sio_upgrade_failed);
    if (r->ev_wrong_channel)
        fprintf(out, "  %-22s %llu events of channels the client never joined\n", "wrong_channel",
                (unsigned long long)r->ev_wrong_channel);
    if (r->history_malformed)
        fprintf(out, "  %-22s %llu malformed of %llu lines\n", "history",
                (unsigned long long)r->history_malformed, (unsigned long long)r->history_lines);
}

static void xml_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
            break;
        }
    }
}

static int write_junit(const char *path, const struct lg_output *o, const int *pass,
                       char (*msgs)[256], double seconds)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        LOG_ERROR("junit_write_failed path=%s error=\"%s\"", path, strerror(errno));
        return -1;
    }
    size_t failures = 0;
    for (size_t i = 0; i < o->nexpects; i++)
        failures += !pass[i];
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    fprintf(f,
            "  <testsuite name=\"loadgen\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
            "time=\"%.3f\">\n",
            o->nexpects, failures, seconds);
    for (size_t i = 0; i < o->nexpects; i++) {
        fputs("    <testcase classname=\"loadgen.expect\" name=\"", f);
        xml_escape(f, o->expects[i].text);
        fputs("\">", f);
        if (!pass[i]) {
            fputs("<failure message=\"", f);
            xml_escape(f, msgs[i]);
            fputs("\"/>", f);
        }
        fputs("</testcase>\n", f);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        LOG_ERROR("junit_write_failed path=%s", path);
    return rc;
}

int lg_report_verdict(const struct lg_result *r, const struct lg_output *o)
{
    int rc = 0;
    json_t *j = lg_report_json(r, o->details);
    if (j == NULL) {
        LOG_ERROR("report_failed reason=\"out of memory\"");
        return 1;
    }
    if (o->facts_path) {
        /* What the lab saw itself (e.g. which MongoDB member led before and after a fault):
         * judged like the history's numbers, under "lab". */
        json_error_t jerr;
        json_t *facts = json_load_file(o->facts_path, 0, &jerr);
        if (!json_is_object(facts)) {
            LOG_ERROR("facts_unreadable path=%s reason=\"%s\"", o->facts_path,
                      facts ? "not a JSON object" : jerr.text);
            json_decref(facts);
            json_decref(j);
            return 1;
        }
        json_object_set_new(j, "lab", facts);
    }
    int *pass = calloc(o->nexpects + 1, sizeof *pass);
    char(*msgs)[256] = calloc(o->nexpects + 1, sizeof *msgs);
    if (pass == NULL || msgs == NULL) {
        rc = 1;
        goto out;
    }
    if (o->table)
        lg_report_table(o->table, r);
    for (size_t i = 0; i < o->nexpects; i++) {
        pass[i] = lg_expect_eval(&o->expects[i], j, msgs[i], sizeof msgs[i]);
        if (!pass[i])
            rc = 1;
        if (o->table)
            fprintf(o->table, "  expect %-30s %s  (%s)\n", o->expects[i].text,
                    pass[i] ? "PASS" : "FAIL", msgs[i]);
    }
    /* The verdict travels with the numbers: chaos/run reports it without judging again. */
    json_t *ex = json_array();
    for (size_t i = 0; ex && i < o->nexpects; i++) {
        double x;
        int has = lg_expect_actual(&o->expects[i], j, &x);
        json_array_append_new(ex, json_pack("{s:s,s:s,s:o,s:b}", "expect", o->expects[i].text,
                                            "name", o->expects[i].path, "actual",
                                            has ? json_real(x) : json_null(), "pass", pass[i]));
    }
    json_object_set_new(j, "expectations", ex ? ex : json_array());
    json_object_set_new(j, "verdict", json_string(rc == 0 ? "pass" : "fail"));
    if (o->json_path &&
        json_dump_file(j, o->json_path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        LOG_ERROR("json_write_failed path=%s", o->json_path);
        rc = 1;
    }
    if (o->junit_path &&
        write_junit(o->junit_path, o, pass, msgs, (double)r->duration_us / 1e6) != 0)
        rc = 1;
out:
    free(pass);
    free(msgs);
    json_decref(j);
    return rc;
}
