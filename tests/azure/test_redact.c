/* The redactor: registered secrets and known patterns never survive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "azure/http.h"
#include "azure/redact.h"

static void check(const char *in, const char *must_not, const char *must)
{
    char *r = rb_redact_dup(in, strlen(in));
    assert_non_null(r);
    if (must_not && strstr(r, must_not))
        fail_msg("\"%s\" still in \"%s\"", must_not, r);
    if (must && !strstr(r, must))
        fail_msg("\"%s\" missing from \"%s\"", must, r);
    free(r);
}

static void test_patterns(void **state)
{
    check("GET https://a.blob.core.windows.net/c/b?sv=2021&sig=abc%2Bdef%3D&se=x", "abc%2Bdef",
          "sig=***&se=x");
    check("Authorization: Bearer eyJhbGciOi.xyz.sig\r\nHost: h", "eyJhbGciOi", "Host: h");
    check("authorization: SharedKey acct:QUJDREVGR0g=\n", "QUJDREVGR0g", "authorization: ***");
    check("x-ms-copy-source-authorization: Bearer zzzzzzzzzz\n", "zzzzzzzzzz", NULL);
    check("{\"token_type\":\"Bearer\",\"access_token\":\"eyJ0eXAi.abc.def\",\"expires_in\":3599}",
          "eyJ0eXAi", "\"expires_in\":3599");
    check("grant_type=client_credentials&client_secret=hunter2hunter2&scope=x", "hunter2",
          "&scope=x");
    check("client_assertion=eyJabc.def.ghi&x=1", "eyJabc", "&x=1");
    check("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=S0m3K3y==;EndpointSuffix=x",
          "S0m3K3y", "EndpointSuffix=x");
    check("{\"accessToken\": \"clitoken123456\", \"expiresOn\": \"2026\"}", "clitoken123456",
          "expiresOn");
    /* A Key Vault challenge is not a token and stays readable. */
    check("WWW-Authenticate: Bearer authorization=\"https://login/t\", resource=\"https://vault\"",
          NULL, "authorization=\"https://login/t\"");
    check("Server=x;User Id=u;password=pa55word;", "pa55word", "password=***;");
    check("{\"user\":\"u\",\"password\": \"pa55word\"}", "pa55word", "\"user\":\"u\"");
    /* A JWT under any key is masked. */
    check("{\"token\":\"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl\"}", "eyJzdWIi",
          "{\"token\":\"***\"}");
    /* Words that merely contain a pattern are left alone. */
    check("design=good", NULL, "design=good");
}

static void test_registered(void **state)
{
    rb_redact_register("p@ss w0rd/+=");
    rb_redact_register("abc"); /* ignored: too short */
    check("the secret is p@ss w0rd/+= here", "p@ss w0rd", "is *** here");
    check("url-encoded: p%40ss%20w0rd%2F%2B%3D", "p%40ss", NULL);
    check("abc stays", NULL, "abc stays");
    char buf[16] = "xxp@ss w0rd/+=";
    rb_redact_inplace(buf, sizeof buf);
    assert_string_equal(buf, "xx***");
    rb_redact_reset();
    check("p@ss w0rd/+=", NULL, "p@ss");
}

/* How requests are named in messages: never a query, and only the origin
 * of a SAS URL (whose path may carry the grant). */
static void test_where(void **state)
{
    (void)state;
    char b[256];
    assert_string_equal(rb_http_where("GET", "https://m.example/sub/x?api-version=1", b, sizeof b),
                        "GET https://m.example/sub/x");
    assert_string_equal(rb_http_where("PUT", "https://md-GRANT.blob.example/c/abcd?sv=1&sig=S1G", b,
                                      sizeof b),
                        "PUT https://md-GRANT.blob.example/...");
    assert_string_equal(rb_http_where("GET", "https://h:443/md-GRANT/abcd?sig=S1G&sr=b", b, sizeof b),
                        "GET https://h:443/...");
    assert_null(strstr(rb_http_where("GET", "https://h/md-GRANT/abcd?x=1&sig=S", b, 20), "GRANT"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_where),
        cmocka_unit_test(test_registered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
