/* See tsrv.h. */
#include "tsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONN 512

struct conn {
    tsrv *s;
    int fd;
    pthread_t th;
    int used;
};

struct tsrv {
    int lfd;
    int port;
    tsrv_handler h;
    void *user;
    atomic_int stop;
    int accepted;
    pthread_t accept_th;
    pthread_mutex_t lock;
    struct conn conns[MAX_CONN];
};

const char *tsrv_header(const tsrv_req *r, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < r->nheaders; i++)
        if (strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':') {
            const char *v = r->headers[i] + n + 1;
            while (*v == ' ')
                v++;
            return v;
        }
    return NULL;
}

void tsrv_write(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t w = send(fd, data, len, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return;
        }
        data += w;
        len -= (size_t)w;
    }
}

void tsrv_reply(int fd, int status, const char *extra, const char *ctype, const char *body)
{
    size_t blen = body ? strlen(body) : 0;
    size_t cap = 1024 + (extra ? strlen(extra) : 0) + (ctype ? strlen(ctype) : 0);
    char *head = malloc(cap);
    int n = snprintf(head, cap, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s%s%s%s\r\n",
                     status, blen, ctype ? "Content-Type: " : "", ctype ? ctype : "",
                     ctype ? "\r\n" : "", extra ? extra : "");
    tsrv_write(fd, head, (size_t)n);
    free(head);
    if (blen)
        tsrv_write(fd, body, blen);
}

/* Reads one request; returns 0 on success, -1 on EOF/error. */
static int read_request(int fd, tsrv_req *r, char *buf, size_t cap, size_t *have)
{
    memset(r, 0, sizeof *r);
    char *end = NULL;
    for (;;) {
        buf[*have] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end)
            break;
        if (*have + 1 >= cap)
            return -1;
        ssize_t got = recv(fd, buf + *have, cap - 1 - *have, 0);
        if (got <= 0)
            return -1;
        *have += (size_t)got;
    }
    size_t head_len = (size_t)(end - buf) + 4;
    *end = '\0';
    char *save = NULL;
    char *line = strtok_r(buf, "\r\n", &save);
    if (!line || sscanf(line, "%15s %8191s", r->method, r->target) != 2)
        return -1;
    size_t clen = 0;
    while ((line = strtok_r(NULL, "\r\n", &save)) && r->nheaders < 64) {
        r->headers[r->nheaders++] = strdup(line);
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            clen = strtoul(line + 15, NULL, 10);
    }
    r->body = malloc(clen + 1);
    size_t in_buf = *have - head_len;
    size_t take = in_buf < clen ? in_buf : clen;
    memcpy(r->body, buf + head_len, take);
    size_t got_body = take;
    while (got_body < clen) {
        ssize_t g = recv(fd, r->body + got_body, clen - got_body, 0);
        if (g <= 0)
            return -1;
        got_body += (size_t)g;
    }
    r->body[clen] = '\0';
    r->body_len = clen;
    /* keep pipelined leftovers */
    size_t rest = in_buf - take;
    memmove(buf, buf + head_len + take, rest);
    *have = rest;
    return 0;
}

static void free_req(tsrv_req *r)
{
    for (int i = 0; i < r->nheaders; i++)
        free(r->headers[i]);
    free(r->body);
    r->nheaders = 0;
    r->body = NULL;
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    size_t cap = 64 * 1024;
    char *buf = malloc(cap);
    size_t have = 0;
    for (;;) {
        tsrv_req r;
        if (read_request(c->fd, &r, buf, cap, &have) != 0) {
            free_req(&r);
            break;
        }
        int what = c->s->h(c->s->user, &r, c->fd);
        free_req(&r);
        if (what == TSRV_RESET) {
            struct linger l = {.l_onoff = 1, .l_linger = 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            break;
        }
        if (what == TSRV_CLOSE)
            break;
    }
    free(buf);
    shutdown(c->fd, SHUT_RDWR);
    return NULL;
}

static void *accept_main(void *arg)
{
    tsrv *s = arg;
    while (!s->stop) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&s->lock);
        struct conn *slot = NULL;
        for (int i = 0; i < MAX_CONN; i++)
            if (!s->conns[i].used) {
                slot = &s->conns[i];
                break;
            }
        if (slot) {
            s->accepted++;
            slot->used = 1;
            slot->fd = fd;
            slot->s = s;
            pthread_create(&slot->th, NULL, conn_main, slot);
        } else {
            close(fd);
        }
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

tsrv *tsrv_start(tsrv_handler h, void *user)
{
    tsrv *s = calloc(1, sizeof *s);
    s->h = h;
    s->user = user;
    pthread_mutex_init(&s->lock, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->lfd, 128) != 0) {
        close(s->lfd);
        free(s);
        return NULL;
    }
    socklen_t len = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->accept_th, NULL, accept_main, s);
    return s;
}

int tsrv_port(const tsrv *s)
{
    return s->port;
}

void tsrv_stop(tsrv *s)
{
    if (!s)
        return;
    s->stop = 1;
    pthread_join(s->accept_th, NULL);
    close(s->lfd);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < MAX_CONN; i++)
        if (s->conns[i].used)
            shutdown(s->conns[i].fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < MAX_CONN; i++)
        if (s->conns[i].used) {
            pthread_join(s->conns[i].th, NULL);
            close(s->conns[i].fd);
        }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int tsrv_accepted(tsrv *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->accepted;
    pthread_mutex_unlock(&s->lock);
    return n;
}
