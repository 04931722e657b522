/* fakeapp_config_parse: defaults, flags, the environment twins others rely on, bad values. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *const env_names[] = {"FAKEAPP_PORT",
                                        "FAKEAPP_WS_PORT",
                                        "FAKEAPP_BIND",
                                        "MONGO_URI",
                                        "FAKEAPP_DB",
                                        "FAKEAPP_WS_MODE",
                                        "RELAY_URL",
                                        "RELAY_TOKEN",
                                        "POD_NAME",
                                        "FAKEAPP_LOG_LEVEL",
                                        "FAKEAPP_WRITE_CONCERN",
                                        NULL};

static void clear_env(void)
{
    for (int i = 0; env_names[i]; i++)
        unsetenv(env_names[i]);
}

static int parse(struct fakeapp_config *c, char *err, int argc, char **argv)
{
    return fakeapp_config_parse(c, argc, argv, err, 256);
}

START_TEST(defaults)
{
    clear_env();
    struct fakeapp_config c;
    char err[256];
    char *argv[] = {"fakeapp", NULL};
    ck_assert_int_eq(parse(&c, err, 1, argv), 0);
    ck_assert_int_eq(c.port, 3000);
    ck_assert_int_eq(c.ws_port, 3001);
    ck_assert_int_eq(c.ws_mode, FAKEAPP_WS_EMBEDDED);
    ck_assert_str_eq(c.db, "relaylab");
    ck_assert_ptr_null(c.pod);
    ck_assert_ptr_null(c.relay_token);
    ck_assert_str_eq(c.relay_url, "http://127.0.0.1:8081/emit");
}
END_TEST

/* majority unless told; a member count (the lab's split-brain w:1 row); nothing else. */
START_TEST(write_concern)
{
    clear_env();
    struct fakeapp_config c;
    char err[256];
    char *none[] = {"fakeapp", NULL};
    ck_assert_int_eq(parse(&c, err, 1, none), 0);
    ck_assert_int_eq(c.write_w, 0);
    char *one[] = {"fakeapp", "--write-concern", "1", NULL};
    ck_assert_int_eq(parse(&c, err, 3, one), 0);
    ck_assert_int_eq(c.write_w, 1);
    char *maj[] = {"fakeapp", "--write-concern", "majority", NULL};
    ck_assert_int_eq(parse(&c, err, 3, maj), 0);
    ck_assert_int_eq(c.write_w, 0);
    setenv("FAKEAPP_WRITE_CONCERN", "2", 1);
    ck_assert_int_eq(parse(&c, err, 1, none), 0);
    ck_assert_int_eq(c.write_w, 2);
    const char *bad[] = {"0", "-1", "51", "1x", "", "Majority"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {"fakeapp", "--write-concern", (char *)bad[i], NULL};
        ck_assert_int_eq(parse(&c, err, 3, argv), -1);
        ck_assert_ptr_nonnull(strstr(err, "--write-concern must be majority or 1-50"));
    }
    clear_env();
}
END_TEST

START_TEST(env_twins)
{
    clear_env();
    setenv("FAKEAPP_PORT", "4000", 1);
    setenv("FAKEAPP_WS_PORT", "4001", 1);
    setenv("FAKEAPP_BIND", "127.0.0.1", 1);
    setenv("MONGO_URI", "mongodb://h:1/?replicaSet=rs0", 1);
    setenv("FAKEAPP_DB", "shop", 1);
    setenv("FAKEAPP_WS_MODE", "relay", 1);
    setenv("RELAY_URL", "http://relay:8081/emit", 1);
    setenv("RELAY_TOKEN", "tok", 1);
    setenv("POD_NAME", "app-7f9c-x2", 1);
    setenv("FAKEAPP_LOG_LEVEL", "warn", 1);
    struct fakeapp_config c;
    char err[256];
    char *argv[] = {"fakeapp", NULL};
    ck_assert_int_eq(parse(&c, err, 1, argv), 0);
    ck_assert_int_eq(c.port, 4000);
    ck_assert_int_eq(c.ws_port, 4001);
    ck_assert_str_eq(c.bind, "127.0.0.1");
    ck_assert_str_eq(c.mongo_uri, "mongodb://h:1/?replicaSet=rs0");
    ck_assert_str_eq(c.db, "shop");
    ck_assert_int_eq(c.ws_mode, FAKEAPP_WS_RELAY);
    ck_assert_str_eq(c.relay_url, "http://relay:8081/emit");
    ck_assert_str_eq(c.relay_token, "tok");
    ck_assert_str_eq(c.pod, "app-7f9c-x2");
    ck_assert_str_eq(c.log_level, "warn");
    clear_env();
}
END_TEST

START_TEST(flags_win_over_env)
{
    clear_env();
    setenv("FAKEAPP_WS_MODE", "relay", 1);
    struct fakeapp_config c;
    char err[256];
    char *argv[] = {"fakeapp",         "--ws-mode", "none", "--port=3100",
                    "--drain-timeout", "250ms",     NULL};
    ck_assert_int_eq(parse(&c, err, 6, argv), 0);
    ck_assert_int_eq(c.ws_mode, FAKEAPP_WS_NONE);
    ck_assert_int_eq(c.port, 3100);
    ck_assert_int_eq(c.drain_ms, 250);
    clear_env();
}
END_TEST

static void expect_error(char **argv, int argc, const char *needle)
{
    clear_env();
    struct fakeapp_config c;
    char err[256] = "";
    ck_assert_int_eq(parse(&c, err, argc, argv), -1);
    ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
}

START_TEST(bad_values)
{
    char *a1[] = {"fakeapp", "--ws-mode", "sticky", NULL};
    expect_error(a1, 3, "--ws-mode must be embedded, relay or none");
    char *a2[] = {"fakeapp", "--port", "70000", NULL};
    expect_error(a2, 3, "port");
    char *a3[] = {"fakeapp", "--port", "3000", "--ws-port", "3000", NULL};
    expect_error(a3, 5, "must differ");
    char *a4[] = {"fakeapp", "--ws-mode", "relay", "--relay-url", "relay:8081", NULL};
    expect_error(a4, 5, "--relay-url must start with http://");
    char *a5[] = {"fakeapp", "--mongo-uri", "127.0.0.1:27017", NULL};
    expect_error(a5, 3, "--mongo-uri must start with mongodb://");
    char *a6[] = {"fakeapp", "--pod", "app 1", NULL};
    expect_error(a6, 3, "--pod must be");
    char *a7[] = {"fakeapp", "--db", "a.b", NULL};
    expect_error(a7, 3, "--db must be");
    char *a8[] = {"fakeapp", "--log-level", "loud", NULL};
    expect_error(a8, 3, "--log-level");
    char *a9[] = {"fakeapp", "--emit-queue", "0", NULL};
    expect_error(a9, 3, "emit-queue");
}
END_TEST

START_TEST(help)
{
    clear_env();
    struct fakeapp_config c;
    char err[256];
    char *argv[] = {"fakeapp", "--help", NULL};
    ck_assert_int_eq(parse(&c, err, 2, argv), 1);
}
END_TEST

/* --help names every route docs/fakeapp.md documents, and how to turn a switch off. */
START_TEST(usage_text)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    fakeapp_config_usage(f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "GET /token"));
    ck_assert_ptr_nonnull(strstr(text, "req_id=X"));
    ck_assert_ptr_nonnull(strstr(text, "--store-channels"));
    ck_assert_ptr_nonnull(strstr(text, "--no-NAME or --NAME=false"));
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fakeapp_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, env_twins);
    tcase_add_test(tc, write_concern);
    tcase_add_test(tc, flags_win_over_env);
    tcase_add_test(tc, bad_values);
    tcase_add_test(tc, help);
    tcase_add_test(tc, usage_text);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
