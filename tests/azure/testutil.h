/* Helpers shared by the Azure access layer tests. */
#ifndef RB_AZURE_TESTUTIL_H
#define RB_AZURE_TESTUTIL_H

#include <stddef.h>

#include "azure/az_error.h"

/* Well-known test secrets; the redaction check greps every artifact for them. */
#define TU_CLIENT_SECRET "Cl1ent-S3cret-do-not-leak-4242"
#define TU_TOKEN_PREFIX "TESTTOKEN"
#define TU_IDENTITY_HEADER "IdentityHeader-do-not-leak-77"
#define TU_FEDERATED "FEDERATED-ASSERTION-do-not-leak-99"
#define TU_CLI_TOKEN "CLITOKEN-do-not-leak-55"
#define TU_FILE_TOKEN "FILETOKEN-do-not-leak-33"
#define TU_AZURITE_KEY \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

/* Directory for traces and logs (RB_AZURE_ARTIFACTS, default "."). */
const char *tu_artifacts(void);
/* Opens the HTTP trace <artifacts>/<name>.trace. */
void tu_trace(const char *name);
/* Appends an error message to <artifacts>/<name>.log (what a runner would
 * log or journal). */
void tu_log(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tu_log_err(const char *name, const char *what, const rb_az_err *e);

#endif
