/* azsim as a child process of a C test: see azsim_proc.h. */
#include "azsim_proc.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

char *tu_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? calloc(1, (size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

/* Reads the ready file once azsim wrote it: 1 when read, 0 not yet. */
static int read_ready(azsim_proc *p, const char *ready)
{
    char *txt = tu_slurp(ready);
    cJSON *j = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    if (!j)
        return 0;
    const cJSON *base = cJSON_GetObjectItem(j, "base_url");
    const cJSON *ctl = cJSON_GetObjectItem(j, "control_url");
    const cJSON *ca = cJSON_GetObjectItem(j, "ca");
    const cJSON *port = cJSON_GetObjectItem(j, "port");
    int ok = cJSON_IsString(base) && cJSON_IsString(ctl) && cJSON_IsString(ca) &&
             cJSON_IsNumber(port);
    if (ok) {
        snprintf(p->base, sizeof p->base, "%s", base->valuestring);
        snprintf(p->control, sizeof p->control, "%s", ctl->valuestring);
        snprintf(p->ca, sizeof p->ca, "%s", ca->valuestring);
        p->port = port->valueint;
    }
    cJSON_Delete(j);
    return ok;
}

int azsim_proc_start(azsim_proc *p, const char *bin, const char *dir, const char *estate)
{
    memset(p, 0, sizeof *p);
    char ready[1300], tls[1300], logp[1300];
    snprintf(ready, sizeof ready, "%s/ready.json", dir);
    snprintf(tls, sizeof tls, "%s/tls", dir);
    snprintf(logp, sizeof logp, "%s/azsim.out", dir);
    unlink(ready);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const char *argv[] = {bin, "serve", "--estate", estate, "--ready-file", ready,
                          "--tls-dir", tls, NULL};
    int rc = posix_spawn(&p->pid, bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "cannot start %s: %s\n", bin, strerror(rc));
        p->pid = 0;
        return -1;
    }
    for (int i = 0; i < 200; i++) {
        if (read_ready(p, ready))
            return 0;
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) { /* it exited: no use waiting */
            p->pid = 0;
            break;
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "azsim did not become ready (see %s)\n", logp);
    azsim_proc_stop(p);
    return -1;
}

void azsim_proc_stop(azsim_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        int st;
        waitpid(p->pid, &st, 0);
    }
    p->pid = 0;
}
