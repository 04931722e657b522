/* relay_config_parse: defaults, flags, env twins, bad values; flags helpers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flags.h"

static int parse(struct relay_config *c, char *err, int argc, char **argv)
{
    return relay_config_parse(c, argc, argv, err, 256);
}

START_TEST(defaults_match_docs)
{
    struct relay_config c;
    char err[256];
    char *argv[] = {"relay", NULL};
    ck_assert_int_eq(parse(&c, err, 1, argv), 0);
    ck_assert_int_eq(c.ws_port, 8080);
    ck_assert_int_eq(c.http_port, 8081);
    ck_assert_int_eq(c.history, 10000);
    ck_assert_int_eq(c.queue_limit, 1000);
    ck_assert_uint_eq(c.max_body, 64 * 1024);
    ck_assert_int_eq(c.ping_interval_ms, 25000);
    ck_assert_ptr_null(c.token);
}
END_TEST

START_TEST(flags_both_forms)
{
    struct relay_config c;
    char err[256];
    char *argv[] = {"relay",           "--ws-port", "9000",        "--http-port=9001",
                    "--token",         "t0k",       "--max-body",  "1m",
                    "--ping-interval", "500ms",     "--history=5", NULL};
    ck_assert_int_eq(parse(&c, err, 11, argv), 0);
    ck_assert_int_eq(c.ws_port, 9000);
    ck_assert_int_eq(c.http_port, 9001);
    ck_assert_str_eq(c.token, "t0k");
    ck_assert_uint_eq(c.max_body, 1024 * 1024);
    ck_assert_int_eq(c.ping_interval_ms, 500);
    ck_assert_int_eq(c.history, 5);
}
END_TEST

START_TEST(env_twins_and_flag_wins)
{
    struct relay_config c;
    char err[256];
    setenv("RELAY_WS_PORT", "7000", 1);
    setenv("RELAY_QUEUE_LIMIT", "33", 1);
    setenv("RELAY_TOKEN", "from-env", 1);
    char *argv[] = {"relay", "--ws-port", "7100", NULL};
    ck_assert_int_eq(parse(&c, err, 3, argv), 0);
    ck_assert_int_eq(c.ws_port, 7100); /* the flag beats the environment */
    ck_assert_int_eq(c.queue_limit, 33);
    ck_assert_str_eq(c.token, "from-env");
    setenv("RELAY_HISTORY", "lots", 1);
    char *argv2[] = {"relay", NULL};
    ck_assert_int_eq(parse(&c, err, 1, argv2), -1);
    ck_assert_ptr_nonnull(strstr(err, "RELAY_HISTORY"));
    unsetenv("RELAY_WS_PORT");
    unsetenv("RELAY_QUEUE_LIMIT");
    unsetenv("RELAY_TOKEN");
    unsetenv("RELAY_HISTORY");
}
END_TEST

START_TEST(bad_flags_named)
{
    struct relay_config c;
    char err[256];
    struct {
        char *a, *b;
        const char *want;
    } cases[] = {
        {"--ws-port", "70000", "between"},
        {"--ws-port", "abc", "integer"},
        {"--nope", "1", "unknown flag --nope"},
        {"--max-body", "12q", "size"},
        {"--ping-interval", "5 parsecs", "duration"},
        {"--log-level", "loud", "log-level"},
        {"--epoch", "has space", "epoch"},
        {"--history", "0", "between"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {"relay", cases[i].a, cases[i].b, NULL};
        ck_assert_int_eq(parse(&c, err, 3, argv), -1);
        ck_assert_msg(strstr(err, cases[i].want) != NULL, "%s %s: '%s' lacks '%s'", cases[i].a,
                      cases[i].b, err, cases[i].want);
    }
    char *missing[] = {"relay", "--token", NULL};
    ck_assert_int_eq(parse(&c, err, 2, missing), -1);
    ck_assert_ptr_nonnull(strstr(err, "needs a value"));
    char *same[] = {"relay", "--ws-port", "9000", "--http-port", "9000", NULL};
    ck_assert_int_eq(parse(&c, err, 5, same), -1);
    char *help[] = {"relay", "--help", NULL};
    ck_assert_int_eq(parse(&c, err, 2, help), 1);
    char *extra[] = {"relay", "stray", NULL};
    ck_assert_int_eq(parse(&c, err, 2, extra), -1);
}
END_TEST

START_TEST(mongo_and_watch)
{
    struct relay_config c;
    char err[256];
    char *argv[] = {"relay",
                    "--mongo-uri",
                    "mongodb://m1:27017,m2:27017/?replicaSet=rs0",
                    "--watch",
                    "relaylab.products=new_product",
                    "--watch",
                    "shop.orders=order_placed,shop.users=user_joined",
                    NULL};
    ck_assert_int_eq(parse(&c, err, 7, argv), 0);
    ck_assert_str_eq(c.mongo_db, "relay");
    ck_assert_int_eq(c.nwatch, 3);
    ck_assert_str_eq(c.watch[0].db, "relaylab");
    ck_assert_str_eq(c.watch[0].coll, "products");
    ck_assert_str_eq(c.watch[0].event, "new_product");
    ck_assert_str_eq(c.watch[2].coll, "users");
    ck_assert_int_eq(c.emit_timeout_ms, 5000);
    ck_assert_int_eq(c.replay_wait_ms, 15000);
    ck_assert_int_eq(c.retention_events, 1000000);

    /* The env twin is one more item; flags replace it. */
    setenv("RELAY_MONGO_URI", "mongodb://h/?replicaSet=rs0", 1);
    setenv("RELAY_WATCH", "a.b=c_created,d.e.f=g", 1);
    char *none[] = {"relay", NULL};
    ck_assert_int_eq(parse(&c, err, 1, none), 0);
    ck_assert_int_eq(c.nwatch, 2);
    ck_assert_str_eq(c.watch[1].db, "d");
    ck_assert_str_eq(c.watch[1].coll, "e.f");
    char *one[] = {"relay", "--watch", "x.y=z", NULL};
    ck_assert_int_eq(parse(&c, err, 3, one), 0);
    ck_assert_int_eq(c.nwatch, 1);
    unsetenv("RELAY_WATCH");
    unsetenv("RELAY_MONGO_URI");

    struct {
        char *flag, *value;
        const char *want;
    } bad[] = {
        {"--watch", "products=new_product", "not DB.COLLECTION=EVENT"},
        {"--watch", "db.products", "not DB.COLLECTION=EVENT"},
        {"--watch", "db.products=1bad", "not DB.COLLECTION=EVENT"},
        {"--watch", "d b.products=ev", "not DB.COLLECTION=EVENT"},
        {"--mongo-uri", "http://x", "must start with mongodb://"},
        {"--mongo-db", "a.b", "--mongo-db must be"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *args[] = {"relay", "--mongo-uri", "mongodb://h/", bad[i].flag, bad[i].value, NULL};
        ck_assert_int_eq(parse(&c, err, 5, args), -1);
        ck_assert_msg(strstr(err, bad[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                      bad[i].want);
    }
    char *nouri[] = {"relay", "--watch", "a.b=c", NULL};
    ck_assert_int_eq(parse(&c, err, 3, nouri), -1);
    ck_assert_msg(strstr(err, "needs --mongo-uri") != NULL, "%s", err);
    char *peers[] = {"relay", "--peers", "a:1:2", NULL};
    ck_assert_int_eq(parse(&c, err, 3, peers), -1); /* the home-made cluster is gone */
}
END_TEST

START_TEST(value_parsers)
{
    size_t sz;
    long ms;
    ck_assert_int_eq(flags_parse_size("64k", &sz), 0);
    ck_assert_uint_eq(sz, 65536);
    ck_assert_int_eq(flags_parse_size("2MiB", &sz), 0);
    ck_assert_uint_eq(sz, 2 * 1024 * 1024);
    ck_assert_int_eq(flags_parse_size("-1", &sz), -1);
    ck_assert_int_eq(flags_parse_duration_ms("30s", &ms), 0);
    ck_assert_int_eq(ms, 30000);
    ck_assert_int_eq(flags_parse_duration_ms("1.5", &ms), 0);
    ck_assert_int_eq(ms, 1500);
    ck_assert_int_eq(flags_parse_duration_ms("2m", &ms), 0);
    ck_assert_int_eq(ms, 120000);
    ck_assert_int_eq(flags_parse_duration_ms("soon", &ms), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("relay_config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, defaults_match_docs);
    tcase_add_test(tc, flags_both_forms);
    tcase_add_test(tc, env_twins_and_flag_wins);
    tcase_add_test(tc, bad_flags_named);
    tcase_add_test(tc, mongo_and_watch);
    tcase_add_test(tc, value_parsers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
