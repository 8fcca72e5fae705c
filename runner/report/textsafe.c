/* See textsafe.h. */
#include "report/textsafe.h"

#include <stdlib.h>
#include <string.h>

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

size_t rb_utf8_seq_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;          /* overlong */
        else if (c == 0xED)
            hi = 0x9F;          /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;          /* overlong */
        else if (c == 0xF4)
            hi = 0x8F;          /* above U+10FFFF */
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;           /* also stops at the terminating NUL */
    return n;
}

/* The code point of a valid sequence of length n at s. */
static unsigned long decode(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0];
    unsigned long cp = s[0] & (0xFFu >> (n + 1));
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (s[i] & 0x3Fu);
    return cp;
}

char *rb_utf8_clean(const char *s)
{
    rb_buf b = {0};
    rb_buf_add(&b, "", 0);
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        size_t n = rb_utf8_seq_len(p);
        if (n == 0) {
            rb_buf_add(&b, REPLACEMENT, 3);
            p++;
        } else {
            rb_buf_add(&b, (const char *)p, n);
            p += n;
        }
    }
    return b.p;
}

char *rb_term_clean(const char *s)
{
    rb_buf b = {0};
    rb_buf_add(&b, "", 0);
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        size_t n = rb_utf8_seq_len(p);
        if (n == 0) {
            rb_buf_add(&b, REPLACEMENT, 3);
            p++;
            continue;
        }
        unsigned long cp = decode(p, n);
        if (cp == '\t' || cp == '\n' || cp == '\r')
            rb_buf_add(&b, " ", 1);
        else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F))
            rb_buf_add(&b, "?", 1);
        else
            rb_buf_add(&b, (const char *)p, n);
        p += n;
    }
    return b.p;
}

size_t rb_term_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        size_t n = rb_utf8_seq_len(p);
        p += n ? n : 1;
        w++;
    }
    return w;
}

void rb_term_add_cut(rb_buf *b, const char *s, size_t max_cols)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t cols = 0;
    while (*p && cols < max_cols) {
        size_t n = rb_utf8_seq_len(p);
        if (n == 0)
            n = 1;
        rb_buf_add(b, (const char *)p, n);
        p += n;
        cols++;
    }
}

void rb_xml_escape(rb_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    rb_buf_add(b, "", 0);
    while (*p) {
        size_t n = rb_utf8_seq_len(p);
        if (n == 0) {
            rb_buf_add(b, REPLACEMENT, 3);
            p++;
            continue;
        }
        unsigned long cp = decode(p, n);
        switch (cp) {
        case '&': rb_buf_puts(b, "&amp;"); break;
        case '<': rb_buf_puts(b, "&lt;"); break;
        case '>': rb_buf_puts(b, "&gt;"); break;
        case '"': rb_buf_puts(b, "&quot;"); break;
        case '\'': rb_buf_puts(b, "&apos;"); break;
        case '\t': rb_buf_puts(b, "&#9;"); break;
        case '\n': rb_buf_puts(b, "&#10;"); break;
        case '\r': rb_buf_puts(b, "&#13;"); break;
        default:
            if (cp < 0x20 || cp == 0xFFFE || cp == 0xFFFF)
                rb_buf_add(b, REPLACEMENT, 3);
            else
                rb_buf_add(b, (const char *)p, n);
        }
        p += n;
    }
}
