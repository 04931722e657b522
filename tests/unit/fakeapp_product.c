/* product_parse and friends: what POST /products accepts and the exact message for what not. */
#include <check.h>
#include <string.h>

#include "product.h"

static int parse(const char *body, struct product_input *in, char *err)
{
    return product_parse(body, strlen(body), in, err, 256);
}

START_TEST(valid_product)
{
    struct product_input in;
    char err[256];
    ck_assert_int_eq(
        parse("{\"name\":\"Caf\\u00e9 \xc3\xa9\",\"price\":19.5,\"req_id\":\"r-1.a:B_2\"}", &in,
              err),
        0);
    ck_assert_str_eq(in.name, "Caf\xc3\xa9 \xc3\xa9");
    ck_assert(in.price == 19.5);
    ck_assert_str_eq(in.req_id, "r-1.a:B_2");
    ck_assert_int_eq(parse("{\"req_id\":\"x\",\"price\":0,\"name\":\"n\"}", &in, err), 0);
    ck_assert(in.price == 0);
    ck_assert_str_eq(in.store, "");
    ck_assert_int_eq(
        parse("{\"req_id\":\"x\",\"price\":0,\"name\":\"n\",\"store\":\"st-7_a\"}", &in, err), 0);
    ck_assert_str_eq(in.store, "st-7_a");
}
END_TEST

START_TEST(name_limits_count_characters)
{
    struct product_input in;
    char err[256], body[2048];
    char name[1024] = "";
    for (int i = 0; i < 200; i++)
        strcat(name, "\xc3\xa9"); /* 200 characters, 400 bytes */
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"price\":1,\"req_id\":\"a\"}", name);
    ck_assert_int_eq(parse(body, &in, err), 0);
    strcat(name, "x");
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"price\":1,\"req_id\":\"a\"}", name);
    ck_assert_int_eq(parse(body, &in, err), -1);
    ck_assert_str_eq(err, "'name' must be at most 200 characters, got 201");
}
END_TEST

struct bad_case {
    const char *body;
    const char *msg;
};

static const struct bad_case bad[] = {
    {"", "empty body"},
    {"[]", "body must be a JSON object, got array"},
    {"\"x\"", "body must be a JSON object, got string"},
    {"{\"price\":1,\"req_id\":\"a\"}", "missing field 'name'"},
    {"{\"name\":\"a\",\"req_id\":\"a\"}", "missing field 'price'"},
    {"{\"name\":\"a\",\"price\":1}", "missing field 'req_id'"},
    {"{\"name\":\"a\",\"price\":1,\"req_id\":\"a\",\"x\":1}",
     "unknown field 'x' (allowed: name, price, req_id, store)"},
    {"{\"name\":[],\"price\":1,\"req_id\":\"a\"}", "'name' must be a string, got array"},
    {"{\"name\":\"\",\"price\":1,\"req_id\":\"a\"}", "'name' must not be empty"},
    {"{\"name\":\"a\\nb\",\"price\":1,\"req_id\":\"a\"}",
     "'name' must not contain control characters"},
    {"{\"name\":\"a\",\"price\":null,\"req_id\":\"a\"}", "'price' must be a number, got null"},
    {"{\"name\":\"a\",\"price\":-1,\"req_id\":\"a\"}", "'price' must be between 0 and 1000000000"},
    {"{\"name\":\"a\",\"price\":1000000000.5,\"req_id\":\"a\"}",
     "'price' must be between 0 and 1000000000"},
    {"{\"name\":\"a\",\"price\":1,\"req_id\":{}}", "'req_id' must be a string, got object"},
    {"{\"name\":\"a\",\"price\":1,\"req_id\":\"a/b\"}",
     "'req_id' must be 1-64 characters of [A-Za-z0-9_.:-]"},
    {"{\"name\":\"a\",\"price\":1,\"req_id\":\"\xc3\xa9\"}",
     "'req_id' must be 1-64 characters of [A-Za-z0-9_.:-]"},
    {"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":1}}}}}}}}}",
     "JSON nested deeper than 8 levels"},
    {"{\"name\":\"a\",\"price\":1,\"req_id\":\"a\",\"store\":7}",
     "'store' must be a string, got integer"},
    {"{\"name\":\"a\",\"price\":1,\"req_id\":\"a\",\"store\":\"\"}",
     "'store' must be 1-32 characters of [A-Za-z0-9_-]"},
    {"{\"name\":\"a\",\"price\":1,\"req_id\":\"a\",\"store\":\"s.7\"}",
     "'store' must be 1-32 characters of [A-Za-z0-9_-]"},
};

START_TEST(bad_input_messages)
{
    struct product_input in;
    char err[256];
    ck_assert_int_eq(parse(bad[_i].body, &in, err), -1);
    ck_assert_str_eq(err, bad[_i].msg);
}
END_TEST

START_TEST(nul_and_utf8)
{
    struct product_input in;
    char err[256];
    static const char nul[] = "{\"name\":\"a\0\",\"price\":1,\"req_id\":\"a\"}";
    ck_assert_int_eq(product_parse(nul, sizeof nul - 1, &in, err, sizeof err), -1);
    ck_assert_str_eq(err, "body contains a NUL byte at position 10");
    ck_assert_int_eq(parse("{\"name\":\"\xc3\x28\",\"price\":1,\"req_id\":\"a\"}", &in, err), -1);
    ck_assert_msg(strstr(err, "invalid JSON") != NULL, "%s", err);
}
END_TEST

START_TEST(limit_and_id)
{
    long v;
    char err[256];
    ck_assert_int_eq(product_parse_limit(NULL, &v, err, sizeof err), 0);
    ck_assert_int_eq(v, PRODUCT_LIST_DEFAULT);
    ck_assert_int_eq(product_parse_limit("1000", &v, err, sizeof err), 0);
    ck_assert_int_eq(v, 1000);
    const char *badl[] = {"0", "1001", "-1", "", "1x", " 5", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof badl / sizeof badl[0]; i++) {
        ck_assert_msg(product_parse_limit(badl[i], &v, err, sizeof err) == -1, "%s", badl[i]);
        ck_assert_str_eq(err, "'limit' must be an integer from 1 to 1000");
    }
    ck_assert(product_id_valid("0123456789abcdefABCDEF01"));
    ck_assert(!product_id_valid("0123456789abcdef0123456"));
    ck_assert(!product_id_valid("0123456789abcdef012345678"));
    ck_assert(!product_id_valid("0123456789abcdef0123456g"));
    ck_assert(!product_id_valid(""));
    ck_assert(product_req_id_valid("a", 1));
    ck_assert(!product_req_id_valid("", 0));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fakeapp_product");
    TCase *tc = tcase_create("product");
    tcase_add_test(tc, valid_product);
    tcase_add_test(tc, name_limits_count_characters);
    tcase_add_loop_test(tc, bad_input_messages, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, nul_and_utf8);
    tcase_add_test(tc, limit_and_id);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
