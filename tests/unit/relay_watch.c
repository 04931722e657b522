/* --watch DB.COLL=EVENT@CHANNEL: the channel an inserted document is announced on. */
#include <check.h>
#include <string.h>

#include "config.h"
#include "mstore_impl.h"

/* The first watch of spec, parsed as the relay parses --watch. */
static struct relay_watch watch_of(const char *spec)
{
    static struct relay_config c;
    char err[256];
    memset(&c, 0, sizeof c);
    ck_assert_msg(relay_watch_parse(&c, spec, err, sizeof err) == 0, "%s: %s", spec, err);
    ck_assert_int_eq(c.nwatch, 1);
    return c.watch[0];
}

/* mwatch_doc_channel of a document holding store = the len bytes of v (NULL: no field). */
static int channel_of_utf8(const struct relay_watch *w, const char *v, int len, char *out)
{
    bson_t *d = bson_new();
    BSON_APPEND_UTF8(d, "name", "p");
    if (v)
        bson_append_utf8(d, "store", -1, v, len);
    int rc = mwatch_doc_channel(w, d, out, 65);
    bson_destroy(d);
    return rc;
}

START_TEST(fixed_and_absent)
{
    char out[65] = "";
    struct relay_watch w = watch_of("relaylab.products=new_product");
    ck_assert_int_eq(channel_of_utf8(&w, "7", 1, out), 0); /* no @CHANNEL: broadcast */
    w = watch_of("relaylab.products=new_product@all-stores");
    ck_assert_int_eq(channel_of_utf8(&w, NULL, 0, out), 1);
    ck_assert_str_eq(out, "all-stores");
}
END_TEST

START_TEST(field_values)
{
    char out[65] = "";
    struct relay_watch w = watch_of("relaylab.products=new_product@store-{store}");
    ck_assert_int_eq(channel_of_utf8(&w, "7", 1, out), 1);
    ck_assert_str_eq(out, "store-7");
    ck_assert_int_eq(channel_of_utf8(&w, NULL, 0, out), 0); /* no field: broadcast */

    bson_t *d = BCON_NEW("store", BCON_INT64(42));
    ck_assert_int_eq(mwatch_doc_channel(&w, d, out, sizeof out), 1);
    ck_assert_str_eq(out, "store-42");
    bson_destroy(d);
    d = BCON_NEW("store", BCON_NULL);
    ck_assert_int_eq(mwatch_doc_channel(&w, d, out, sizeof out), 0);
    bson_destroy(d);
}
END_TEST

/* What no channel name can be made of is skipped, never announced under a nearby name. */
START_TEST(field_values_refused)
{
    char out[65] = "";
    struct relay_watch w = watch_of("relaylab.products=new_product@store-{store}");
    ck_assert_int_eq(channel_of_utf8(&w, "7\0x", 3, out), -1);   /* not "store-7" */
    ck_assert_int_eq(channel_of_utf8(&w, "\0", 1, out), -1);     /* not "store-" */
    ck_assert_int_eq(channel_of_utf8(&w, "", 0, out), -1);       /* empty */
    ck_assert_int_eq(channel_of_utf8(&w, "a b", 3, out), -1);    /* charset */
    ck_assert_int_eq(channel_of_utf8(&w, "7/../8", 6, out), -1); /* charset */
    char big[70];
    memset(big, 'a', sizeof big);
    ck_assert_int_eq(channel_of_utf8(&w, big, 59, out), -1); /* "store-" + 59 > 64 */
    ck_assert_int_eq(channel_of_utf8(&w, big, 58, out), 1);  /* exactly 64 */
    ck_assert_uint_eq(strlen(out), 64);

    bson_t *d = BCON_NEW("store", BCON_DOUBLE(7.5));
    ck_assert_int_eq(mwatch_doc_channel(&w, d, out, sizeof out), -1);
    bson_destroy(d);
    d = BCON_NEW("store", BCON_BOOL(1));
    ck_assert_int_eq(mwatch_doc_channel(&w, d, out, sizeof out), -1);
    bson_destroy(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("relay_watch");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, fixed_and_absent);
    tcase_add_test(tc, field_values);
    tcase_add_test(tc, field_values_refused);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
