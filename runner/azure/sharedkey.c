/* Storage Shared Key: the canonicalized string-to-sign of the Storage REST
 * documentation ("Authorize with Shared Key", version 2009-09-19 and later)
 * and its HMAC-SHA256 through OpenSSL. */
#include <curl/curl.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"
#include "redact.h"

void rb_http_date(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static const char *find_header(const char *const *headers, const char *name)
{
    for (const char *const *p = headers; p && *p; p++) {
        const char *v = rb_header_value(*p, name);
        if (v)
            return v;
    }
    return "";
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lower-cases the name, trims the value and folds inner whitespace runs. */
static char *canon_ms_header(const char *line)
{
    const char *colon = strchr(line, ':');
    rb_azbuf b = {0};
    for (const char *p = line; p < colon; p++) {
        char c = (char)tolower((unsigned char)*p);
        rb_azbuf_append(&b, &c, 1);
    }
    rb_azbuf_puts(&b, ":");
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    int space = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
            space = 1;
            continue;
        }
        if (space)
            rb_azbuf_puts(&b, " ");
        space = 0;
        rb_azbuf_append(&b, v, 1);
    }
    return rb_azbuf_take(&b);
}

rb_status rb_sharedkey_string_to_sign(const char *account, const char *method, const char *url,
                                      const char *const *headers, size_t body_len, char **out,
                                      rb_az_err *err)
{
    *out = NULL;
    rb_azbuf s = {0};
    char clen[32] = "";
    if (body_len)
        snprintf(clen, sizeof clen, "%zu", body_len);
    /* With x-ms-date present the Date line stays empty. */
    rb_azbuf_printf(&s, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n", method,
                  find_header(headers, "Content-Encoding"), find_header(headers, "Content-Language"),
                  clen, find_header(headers, "Content-MD5"), find_header(headers, "Content-Type"),
                  "", find_header(headers, "If-Modified-Since"), find_header(headers, "If-Match"),
                  find_header(headers, "If-None-Match"), find_header(headers, "If-Unmodified-Since"),
                  find_header(headers, "Range"));

    /* Canonicalized headers: x-ms-*, lower-cased, sorted. */
    rb_strv ms = {0};
    for (const char *const *p = headers; p && *p; p++)
        if (strncasecmp(*p, "x-ms-", 5) == 0 && strchr(*p, ':')) {
            char *c = canon_ms_header(*p);
            if (c)
                rb_strv_add(&ms, c);
            free(c);
        }
    if (ms.n)
        qsort(ms.v, ms.n, sizeof *ms.v, cmp_str);
    for (size_t i = 0; i < ms.n; i++)
        rb_azbuf_printf(&s, "%s\n", ms.v[i]);
    rb_strv_free(&ms);

    /* Canonicalized resource: /account/path, then sorted query parameters
     * with lower-cased names and decoded values. */
    CURLU *u = curl_url();
    char *path = NULL, *query = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        rb_azbuf_free(&s);
        return rb_az_fail(err, RB_EINVAL, "cannot parse URL for signing");
    }
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    rb_azbuf_printf(&s, "/%s%s", account, path);
    rb_strv params = {0};
    if (query) {
        char *q = strdup(query);
        char *save = NULL;
        for (char *tok = q ? strtok_r(q, "&", &save) : NULL; tok; tok = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(tok, '=');
            if (eq)
                *eq = '\0';
            char *name = rb_url_unescape(tok);
            char *val = rb_url_unescape(eq ? eq + 1 : "");
            if (name && val) {
                for (char *c = name; *c; c++)
                    *c = (char)tolower((unsigned char)*c);
                rb_strv_addf(&params, "%s:%s", name, val);
            }
            free(name);
            free(val);
        }
        free(q);
    }
    if (params.n)
        qsort(params.v, params.n, sizeof *params.v, cmp_str);
    /* Repeated names are joined with commas. */
    for (size_t i = 0; i < params.n; i++) {
        char *colon = strchr(params.v[i], ':');
        size_t nlen = (size_t)(colon - params.v[i]);
        if (i > 0 && strncmp(params.v[i - 1], params.v[i], nlen) == 0 &&
            params.v[i - 1][nlen] == ':')
            rb_azbuf_printf(&s, ",%s", colon + 1);
        else
            rb_azbuf_printf(&s, "\n%s", params.v[i]);
    }
    rb_strv_free(&params);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    if (!s.data)
        return rb_az_fail(err, RB_ENOMEM, "out of memory");
    *out = rb_azbuf_take(&s);
    return RB_OK;
}

rb_status rb_hmac_sha256_b64(const char *key_b64, const char *msg, char **out, rb_az_err *err)
{
    unsigned char *key = NULL;
    size_t klen = 0;
    if (rb_b64_decode(key_b64, &key, &klen) != RB_OK)
        return rb_az_fail(err, RB_EINVAL, "the storage account key is not base64");
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    unsigned char *r = HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg),
                            mac, &mlen);
    OPENSSL_cleanse(key, klen);
    free(key);
    if (!r)
        return rb_az_fail(err, RB_ERROR, "HMAC-SHA256 failed");
    *out = rb_b64_encode(mac, mlen);
    return *out ? RB_OK : rb_az_fail(err, RB_ENOMEM, "out of memory");
}
