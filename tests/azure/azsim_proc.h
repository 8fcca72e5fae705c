/* azsim as a child process of a C test: started on loopback with ephemeral
 * ports and its own test CA (under a directory of the test's artifacts),
 * stopped with SIGTERM. */
#ifndef RB_AZURE_AZSIM_PROC_H
#define RB_AZURE_AZSIM_PROC_H

#include <sys/types.h>

typedef struct azsim_proc {
    pid_t pid;
    int port;
    char base[128];    /* https://127.0.0.1:PORT */
    char control[128]; /* the control API, plain http */
    char ca[1200];     /* the test CA to trust */
} azsim_proc;

/* Starts bin serving the estate file in dir (ready file, TLS directory and
 * output go there too) and waits up to 20 s for it to listen. 0, or -1 with
 * the reason on stderr. */
int azsim_proc_start(azsim_proc *p, const char *bin, const char *dir, const char *estate);
void azsim_proc_stop(azsim_proc *p);

/* A whole file as a string (caller frees), or NULL. */
char *tu_slurp(const char *path);

#endif
