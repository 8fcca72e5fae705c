/* Making untrusted text safe for the places reports and progress put it.
 * Step errors come from remote services and step names from playbooks, so
 * they may hold invalid UTF-8 or control characters: those would make a
 * JSON or XML file unreadable, or drive the terminal. These helpers return
 * new strings (caller frees with free()); they never return NULL. */
#ifndef REBOUND_RUNNER_TEXTSAFE_H
#define REBOUND_RUNNER_TEXTSAFE_H

#include <stddef.h>

#include "core/util.h"

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if the bytes at s
 * do not start one (overlong forms, surrogates and code points above
 * U+10FFFF are invalid). s must be NUL-terminated. */
size_t rb_utf8_seq_len(const unsigned char *s);

/* Copy of s with every invalid UTF-8 byte replaced by U+FFFD. NULL -> "". */
char *rb_utf8_clean(const char *s);

/* Copy of s for one terminal line: invalid UTF-8 -> U+FFFD; tab, CR and
 * LF -> one space; other C0 controls, DEL and C1 controls -> '?'. */
char *rb_term_clean(const char *s);

/* Terminal columns of s, counting each code point as one column (close
 * enough for names and messages; wide CJK characters count as one). */
size_t rb_term_width(const char *s);

/* Appends s to b, cut to at most max_cols columns (whole code points). */
void rb_term_add_cut(rb_buf *b, const char *s, size_t max_cols);

/* Appends s to b escaped for XML 1.0 character data or attribute values:
 * & < > " ' as entities; tab, LF and CR as character references (so they
 * survive attribute normalisation); other characters XML 1.0 forbids
 * (C0 controls, U+FFFE, U+FFFF) and invalid UTF-8 as U+FFFD. */
void rb_xml_escape(rb_buf *b, const char *s);

#endif
