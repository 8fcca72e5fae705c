#include "azurite.h"

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

extern char **environ;

static const char *find_azurite(void)
{
    static char path[1024];
    const char *env = getenv("RB_AZURITE");
    if (env && access(env, X_OK) == 0)
        return env;
    snprintf(path, sizeof path, "%s/.tools/npm/node_modules/.bin/azurite-blob", REBOUND_SOURCE_DIR);
    if (access(path, X_OK) == 0)
        return path;
    return NULL;
}

int azurite_start(azurite *a)
{
    memset(a, 0, sizeof *a);
    a->out_fd = -1;
    const char *bin = find_azurite();
    if (!bin) {
        fprintf(stderr, "SKIP: Azurite is not installed (run scripts/test.sh, or set RB_AZURITE)\n");
        return 77;
    }
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    const char *argv[] = {bin, "--inMemoryPersistence", "--extentMemoryLimit", "256",
                          "--blobHost", "127.0.0.1", "--blobPort", "0", "--disableTelemetry",
                          "--skipApiVersionCheck", "--silent", NULL};
    int rc = posix_spawn(&a->pid, bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -1;
    }
    char buf[4096];
    size_t have = 0;
    time_t end = time(NULL) + 30;
    while (time(NULL) < end && have < sizeof buf - 1) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        if (poll(&p, 1, 500) <= 0)
            continue;
        ssize_t got = read(fds[0], buf + have, sizeof buf - 1 - have);
        if (got <= 0)
            break;
        have += (size_t)got;
        buf[have] = '\0';
        const char *m = strstr(buf, "listens on http://127.0.0.1:");
        if (m && strchr(m, '\n')) {
            a->port = atoi(m + strlen("listens on http://127.0.0.1:"));
            break;
        }
    }
    a->out_fd = fds[0];
    if (!a->port) {
        fprintf(stderr, "Azurite did not start: %s\n", buf);
        azurite_stop(a);
        return -1;
    }
    snprintf(a->endpoint, sizeof a->endpoint, "http://127.0.0.1:%d/devstoreaccount1", a->port);
    return 0;
}

static void drain(int fd)
{
    char buf[1024];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (fd >= 0 && poll(&p, 1, 0) > 0 && read(fd, buf, sizeof buf) > 0) {
    }
}

void azurite_stop(azurite *a)
{
    if (a->pid > 0) {
        kill(a->pid, SIGTERM);
        int st;
        for (int i = 0; i < 50; i++) {
            drain(a->out_fd);
            if (waitpid(a->pid, &st, WNOHANG) == a->pid) {
                a->pid = 0;
                break;
            }
            usleep(100 * 1000);
        }
        if (a->pid > 0) {
            kill(a->pid, SIGKILL);
            waitpid(a->pid, &st, 0);
            a->pid = 0;
        }
    }
    if (a->out_fd > 0)
        close(a->out_fd);
    a->out_fd = -1;
}
