/* A scripted stand-in for the Azure endpoints the access layer talks to
 * (Entra token endpoint, IMDS, App Service identity, ARM routes, a Key
 * Vault challenge), on tsrv. Used where a test must control every byte
 * or every fault; azsim covers the same ground as a real product. */
#ifndef FAKEAZ_H
#define FAKEAZ_H

#include <stddef.h>

typedef struct fakeaz_step {
    int status;            /* 0 = reset the connection; -1 = raw bytes in body; -2 = hang 2 s */
    const char *headers;   /* "Name: value\r\n" lines; "%BASE%" becomes the server URL */
    const char *ctype;
    const char *body;      /* "%BASE%" replaced too */
} fakeaz_step;

/* Starts the server. cert_path: PEM whose certificate verifies client
 * assertions (NULL: no certificate credential). */
int fakeaz_start(const char *cert_path);
void fakeaz_stop(void);
const char *fakeaz_base(void);   /* "http://127.0.0.1:PORT" */

/* Token lifetime in seconds for the next tokens (default 3600). */
void fakeaz_token_lifetime(int seconds);
/* Tokens issued so far. */
int fakeaz_tokens_issued(void);
/* Tenant and scope/resource of the last token request. */
const char *fakeaz_last_tenant(void);
const char *fakeaz_last_scope(void);

/* Scripts the responses to "METHOD /path" (query ignored): each request
 * takes the next step, the last one repeats. Requests must carry a bearer
 * token issued by this server, else 401. */
void fakeaz_script(const char *method, const char *path, const fakeaz_step *steps, int n);
/* Requests seen for "METHOD /path". */
int fakeaz_count(const char *method, const char *path);
/* Milliseconds (monotonic) of the last request to "METHOD /path". */
long long fakeaz_last_ms(const char *method, const char *path);
/* Milliseconds (monotonic) of the first request to "METHOD /path". */
long long fakeaz_first_ms(const char *method, const char *path);

#endif
