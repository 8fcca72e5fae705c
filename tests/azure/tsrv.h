/* A tiny raw HTTP/1.1 server for the Azure access layer tests: it gives the
 * test full control over the bytes on the wire (malformed JSON, truncated
 * bodies, huge headers, connection resets), which a real HTTP library
 * would not let it produce. Loopback only, ephemeral port. */
#ifndef TSRV_H
#define TSRV_H

#include <stddef.h>

typedef struct tsrv tsrv;

typedef struct tsrv_req {
    char method[16];
    char target[8192];   /* path and query as sent */
    char *headers[64];   /* "Name: value" */
    int nheaders;
    char *body;
    size_t body_len;
} tsrv_req;

enum { TSRV_KEEP = 0, TSRV_CLOSE = 1, TSRV_RESET = 2 };

/* Writes the response to fd (or nothing) and returns what to do with the
 * connection. Called on a connection thread; must be thread-safe. */
typedef int (*tsrv_handler)(void *user, const tsrv_req *req, int fd);

tsrv *tsrv_start(tsrv_handler h, void *user);
int tsrv_port(const tsrv *s);
void tsrv_stop(tsrv *s);
/* Connections accepted so far. */
int tsrv_accepted(tsrv *s);

const char *tsrv_header(const tsrv_req *r, const char *name);
/* A complete response with Content-Length. extra: "\r\n"-terminated lines
 * or NULL. */
void tsrv_reply(int fd, int status, const char *extra, const char *ctype, const char *body);
void tsrv_write(int fd, const char *data, size_t len);

#endif
