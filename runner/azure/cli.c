/* The Azure CLI credential: `az account get-access-token`, run directly
 * (posix_spawnp, no shell) with a time limit. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cred_internal.h"
#include "internal.h"
#include "redact.h"

extern char **environ;

#define CLI_TIMEOUT_MS 30000
#define CLI_MAX_OUTPUT (256u * 1024u)

/* "2026-11-25 12:34:56.000000" in local time (older az versions). */
static int64_t parse_local_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    return t == (time_t)-1 ? -1 : (int64_t)t;
}

static int pipe_cloexec(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

rb_status rb_cli_get_token(const char *az, const char *resource, const char *tenant, char **tok,
                           int64_t *exp, rb_az_err *err)
{
    *tok = NULL;
    int out[2], errp[2];
    if (pipe_cloexec(out) != 0)
        return rb_az_fail(err, RB_EIO, "azure cli: pipe: %s", strerror(errno));
    if (pipe_cloexec(errp) != 0) {
        close(out[0]);
        close(out[1]);
        return rb_az_fail(err, RB_EIO, "azure cli: pipe: %s", strerror(errno));
    }
    const char *argv[12];
    int n = 0;
    argv[n++] = az;
    argv[n++] = "account";
    argv[n++] = "get-access-token";
    argv[n++] = "--resource";
    argv[n++] = resource;
    if (tenant) {
        argv[n++] = "--tenant";
        argv[n++] = tenant;
    }
    argv[n++] = "-o";
    argv[n++] = "json";
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, az, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(errp[1]);
    if (rc != 0) {
        close(out[0]);
        close(errp[0]);
        return rb_az_fail(err, RB_EAUTH, "azure cli: cannot run %s: %s", az, strerror(rc));
    }
    rb_azbuf so = {0}, se = {0};
    int64_t end = rb_now_ms() + CLI_TIMEOUT_MS;
    struct pollfd pf[2] = {{.fd = out[0], .events = POLLIN}, {.fd = errp[0], .events = POLLIN}};
    int open_fds = 2, timed_out = 0;
    while (open_fds > 0) {
        int64_t left = end - rb_now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int r = poll(pf, 2, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            timed_out = r == 0;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t got = read(pf[i].fd, buf, sizeof buf);
            if (got <= 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open_fds--;
                continue;
            }
            rb_azbuf *b = i == 0 ? &so : &se;
            if (b->len < CLI_MAX_OUTPUT)
                rb_azbuf_append(b, buf, (size_t)got);
        }
    }
    for (int i = 0; i < 2; i++)
        if (pf[i].fd >= 0)
            close(pf[i].fd);
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    rb_status st;
    if (timed_out) {
        st = rb_az_fail(err, RB_ETIMEDOUT, "azure cli: no answer within %d s", CLI_TIMEOUT_MS / 1000);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        /* az prints its reason on stderr ("Please run 'az login'"). */
        char *msg = rb_redact_dup(se.data ? se.data : "", se.len);
        if (msg) {
            size_t l = strlen(msg);
            while (l && (msg[l - 1] == '\n' || msg[l - 1] == '\r'))
                msg[--l] = '\0';
        }
        st = rb_az_fail(err, RB_EAUTH, "azure cli failed (exit %d): %s",
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1, msg ? msg : "");
        free(msg);
    } else {
        cJSON *j = cJSON_ParseWithLength(so.data ? so.data : "", so.len);
        const cJSON *at = j ? cJSON_GetObjectItemCaseSensitive(j, "accessToken") : NULL;
        const cJSON *eo = j ? cJSON_GetObjectItemCaseSensitive(j, "expires_on") : NULL;
        const cJSON *es = j ? cJSON_GetObjectItemCaseSensitive(j, "expiresOn") : NULL;
        int64_t e = -1;
        if (cJSON_IsNumber(eo))
            e = (int64_t)eo->valuedouble;
        else if (cJSON_IsString(eo))
            e = strtoll(eo->valuestring, NULL, 10);
        else if (cJSON_IsString(es))
            e = parse_local_time(es->valuestring);
        if (!j) {
            st = rb_az_fail(err, RB_EPROTO, "azure cli: output is not JSON");
        } else if (!cJSON_IsString(at) || !at->valuestring[0] || e <= 0) {
            st = rb_az_fail(err, RB_EPROTO, "azure cli: output lacks accessToken or expiry");
        } else {
            rb_redact_register(at->valuestring);
            *tok = strdup(at->valuestring);
            *exp = e;
            st = *tok ? RB_OK : rb_az_fail(err, RB_ENOMEM, "out of memory");
        }
        cJSON_Delete(j);
    }
    if (so.data)
        memset(so.data, 0, so.len);
    rb_azbuf_free(&so);
    rb_azbuf_free(&se);
    return st;
}
