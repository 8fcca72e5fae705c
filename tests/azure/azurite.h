/* Starts Azurite's blob service in memory on an ephemeral loopback port for
 * a test, and stops it. */
#ifndef RB_TEST_AZURITE_H
#define RB_TEST_AZURITE_H

#include <sys/types.h>

typedef struct azurite {
    pid_t pid;
    int port;
    int out_fd; /* Azurite's stdout, open until it stops (it logs on close) */
    char endpoint[128]; /* http://127.0.0.1:PORT/devstoreaccount1 */
} azurite;

/* Returns 0 on success, 77 when Azurite is not installed, -1 on failure. */
int azurite_start(azurite *a);
void azurite_stop(azurite *a);

#endif
