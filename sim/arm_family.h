/* Per-provider hooks behind arm_types.c's dispatch; shared type names.
 * Private to sim/. */
#ifndef AZSIM_ARM_FAMILY_H
#define AZSIM_ARM_FAMILY_H

#include "azsim.h"

#define T_VAULT "microsoft.keyvault/vaults"
#define T_ACCOUNT "microsoft.storage/storageaccounts"
#define T_BLOBSVC "microsoft.storage/storageaccounts/blobservices"
#define T_CONTAINER "microsoft.storage/storageaccounts/blobservices/containers"
#define T_POLICY "microsoft.storage/storageaccounts/blobservices/containers/immutabilitypolicies"
#define T_FILESVC "microsoft.storage/storageaccounts/fileservices"
#define T_SHARE "microsoft.storage/storageaccounts/fileservices/shares"
#define T_DISK "microsoft.compute/disks"
#define T_SNAPSHOT "microsoft.compute/snapshots"
#define T_VM "microsoft.compute/virtualmachines"
#define T_SQLDB "microsoft.sql/servers/databases"
#define T_SQLDROPPED "microsoft.sql/servers/restorabledroppeddatabases"

/* arm_storage.c: same contracts as the az_type_* hooks in azsim.h */
int az_storage_put(az_req *r, az_resp *p, const char *id, const char *type, cJSON *res,
                   cJSON *existing);
void az_storage_after_put(const char *id, const char *type, cJSON *entry);
int az_storage_delete(az_req *r, az_resp *p, const char *id, const char *type, cJSON *entry);
void az_storage_finish_delete(cJSON *entry, double now);
bool az_storage_action(az_req *r, az_resp *p, const char *type, const char *action, cJSON *entry);
/* GET on a collection: extra items ($expand=deleted|snapshots on file shares). */
void az_storage_list_extra(az_req *r, const char *ltype, const char *lparent, cJSON *items);
/* POST {id}/{action} on a resource that does not exist (share restore). */
bool az_storage_missing_action(az_req *r, az_resp *p, const char *id, const char *type, const char *action);
void az_storage_tick(double now);

/* arm_compute.c */
int az_compute_put(az_req *r, az_resp *p, const char *type, cJSON *res, cJSON *existing);
void az_compute_after_put(az_req *r, const char *type, cJSON *entry);
int az_compute_delete(az_req *r, az_resp *p, const char *type, cJSON *entry);
void az_compute_finish_delete(cJSON *entry);
/* GET {id}/{sub} on a resource (VM instanceView): true when answered. */
bool az_compute_get(az_req *r, az_resp *p, const char *type, const char *sub, cJSON *entry);
void az_compute_tick(double now);
bool az_compute_action(az_req *r, az_resp *p, const char *id, const char *type, const char *action,
                       cJSON *entry);

#endif
