/* rb_url_origin (url_origin.c): "scheme://host:port" of a URL as libcurl
 * parses it, remembered per "scheme://authority" as written. Each answer,
 * cached or not, must be what a fresh libcurl parse gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/internal.h"

/* The origin, asked twice: the second answer may come from the cache. */
static void origin_is(const char *url, const char *want)
{
    const char *shown = url ? url : "(null)";
    for (int i = 0; i < 2; i++) {
        char *o = rb_url_origin(url);
        if (!want) {
            if (o)
                fail_msg("%s: got %s, want NULL (call %d)", shown, o, i + 1);
            continue;
        }
        if (!o)
            fail_msg("%s: got NULL, want %s (call %d)", shown, want, i + 1);
        if (strcmp(o, want) != 0)
            fail_msg("%s: got %s, want %s (call %d)", shown, o, want, i + 1);
        free(o);
    }
}

/* Whether libcurl itself accepts url as an absolute URL with a host. */
static int curl_accepts(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL;
    int ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK;
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static void test_ports_and_case(void **state)
{
    origin_is("https://acct.blob.example:8443/c/b?x=1", "https://acct.blob.example:8443");
    origin_is("https://management.example/subscriptions", "https://management.example:443");
    origin_is("http://127.0.0.1/x", "http://127.0.0.1:80");
    origin_is("https://host.example?q", "https://host.example:443");
    origin_is("https://host.example#f", "https://host.example:443");
    origin_is("https://UPPER.Example.COM:9/x", "https://upper.example.com:9");
    origin_is("HTTPS://Mixed.Example/x", "https://mixed.example:443");
    origin_is("https://[::1]:8443/x", "https://[::1]:8443");
    origin_is("https://[::1]/x", "https://[::1]:443");
}

/* One cached authority must not answer for another that starts like it,
 * has the other scheme, or differs only in case or port. */
static void test_cache_keys(void **state)
{
    origin_is("https://a.example/x", "https://a.example:443");
    origin_is("https://a.example.evil/x", "https://a.example.evil:443");
    origin_is("https://a.example:8443/x", "https://a.example:8443");
    origin_is("http://a.example/x", "http://a.example:80");
    origin_is("https://A.example/x", "https://a.example:443");
    origin_is("https://a.exampl/x", "https://a.exampl:443");
    origin_is("https://a.example/x", "https://a.example:443");
}

/* User info: the host is what follows the '@' (what libcurl connects to),
 * also when the authority before it was cached on its own. */
static void test_user_info(void **state)
{
    origin_is("https://b.example/", "https://b.example:443");
    origin_is("https://a@b.example/", "https://b.example:443");
    origin_is("https://127.0.0.1:1/", "https://127.0.0.1:1");
    origin_is("https://127.0.0.1:1@evil.example/", "https://evil.example:443");
    origin_is("http://127.0.0.1:1@evil.example/", "http://evil.example:80");
    origin_is("http://localhost@evil.example:8080/", "http://evil.example:8080");
}

/* A cached authority does not make libcurl accept the rest of the URL:
 * spaces and control characters get libcurl's answer, every time. */
static void test_odd_rest(void **state)
{
    origin_is("https://sp.example/ok", "https://sp.example:443");
    const char *odd[] = {"https://sp.example/a b", "https://sp.example/a\tb",
                         "https://sp.example/?q=a b", "https://sp.example/a\x7f", NULL};
    for (int i = 0; odd[i]; i++)
        origin_is(odd[i], curl_accepts(odd[i]) ? "https://sp.example:443" : NULL);
    /* libcurl 7.88 refuses a space; the answer is still there afterwards. */
    origin_is("https://sp.example/a b", NULL);
    origin_is("https://sp.example/ok", "https://sp.example:443");
    /* Bytes above 0x7f are no reason to refuse. */
    origin_is("https://sp.example/caf\xc3\xa9", "https://sp.example:443");
    /* Longer than libcurl takes (8,000,000 bytes): refused even though the
     * origin is remembered. */
    size_t n = 8000100;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    memcpy(big, "https://sp.example/", 19);
    big[n] = '\0';
    assert_false(curl_accepts(big));
    origin_is(big, NULL);
    free(big);
}

static void test_not_absolute(void **state)
{
    origin_is(NULL, NULL);
    origin_is("", NULL);
    origin_is("/just/a/path", NULL);
    origin_is("example.com/x", NULL);
    origin_is("https://", NULL);
    /* libcurl skips the extra slash: "path" is the host. */
    origin_is("https:///path", curl_accepts("https:///path") ? "https://path:443" : NULL);
    origin_is("https://host.example:99999/", NULL);
    origin_is("https://host.example:-1/", NULL);
    /* Not http(s): not cached, still libcurl's origin. */
    origin_is("ftp://Files.Example/x", "ftp://files.example:21");
}

#define MANY 40

static void many_url(int i, char *url, size_t n, char *want, size_t wn)
{
    snprintf(url, n, "https://h%d.Example:%d/p%d", i, 1000 + i, i);
    snprintf(want, wn, "https://h%d.example:%d", i, 1000 + i);
}

/* More origins than the cache has slots: each still answers right, in
 * order, in reverse and interleaved (evicted ones are parsed again). */
static void test_more_than_slots(void **state)
{
    char url[128], want[128];
    for (int i = 0; i < MANY; i++) {
        many_url(i, url, sizeof url, want, sizeof want);
        origin_is(url, want);
    }
    for (int i = MANY - 1; i >= 0; i--) {
        many_url(i, url, sizeof url, want, sizeof want);
        origin_is(url, want);
    }
    for (int i = 0; i < 3 * MANY; i++) {
        int k = (i * 7) % MANY;
        many_url(k, url, sizeof url, want, sizeof want);
        origin_is(url, want);
        origin_is(i % 2 ? "https://a.example/" : "http://a.example/",
                  i % 2 ? "https://a.example:443" : "http://a.example:80");
    }
}

static void *hammer(void *arg)
{
    int seed = (int)(intptr_t)arg;
    char url[128], want[128];
    for (int i = 0; i < 2000; i++) {
        int k = (seed * 13 + i * 5) % MANY;
        many_url(k, url, sizeof url, want, sizeof want);
        char *o = rb_url_origin(url);
        int bad = !o || strcmp(o, want) != 0;
        free(o);
        if (bad)
            return (void *)1;
    }
    return NULL;
}

/* Threads filling and evicting slots at once all get right answers. */
static void test_threads(void **state)
{
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)(intptr_t)i), 0);
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        bad += r != NULL;
    }
    assert_int_equal(bad, 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ports_and_case),   cmocka_unit_test(test_cache_keys),
        cmocka_unit_test(test_user_info),        cmocka_unit_test(test_odd_rest),
        cmocka_unit_test(test_not_absolute),     cmocka_unit_test(test_more_than_slots),
        cmocka_unit_test(test_threads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
