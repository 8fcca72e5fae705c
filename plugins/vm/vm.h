/* The VM plugin: shared declarations. Actions live one per concern
 * (inventory, backup, restore, verify); they reach Azure and the backup
 * vault only through the host table.
 *
 * Resume: the host journals each long-running ARM operation of a call and,
 * when the call is resumed, re-attaches the write with the same method and
 * path to it. A write action may hold several operations (restore_disk:
 * create, grant, close, tag; cleanup_snapshots: one delete per snapshot),
 * but it decides each step from what Azure shows, so that repeating the
 * call from the top is always safe. Export still leaves its revocation to
 * end_access: the playbooks pair them and an `always` step revokes every
 * snapshot again (see docs/plugins/vm.md). */
#ifndef REBOUND_PLUGIN_VM_H
#define REBOUND_PLUGIN_VM_H

#include <rebound/rebound.h>

/* api-versions: DiskRP and ComputeRP, Network, Resources. */
#define VM_DISK_API "2023-04-02"
#define VM_COMPUTE_API "2023-03-01"
#define VM_NETWORK_API "2023-05-01"
#define VM_RG_API "2022-09-01"

/* Tags rebound writes (and checks before it deletes anything). */
#define VM_TAG_BACKUP "rebound-backup"   /* snapshots: the backup run that made them */
#define VM_TAG_SOURCE "rebound-source"   /* snapshots: the disk they copy */
#define VM_TAG_DRILL "rebound-drill"     /* drill resources: the drill's run id */
#define VM_TAG_RESTORED "rebound-restored-from" /* restored disks: the vault set */
#define VM_TAG_UPLOADED "rebound-uploaded"      /* restored disks: SHA-256 of a finished upload */

/* Vault set kinds. */
#define VM_KIND_DISK "vm-disk"
#define VM_KIND_VM "vm"

extern const rb_host_api *vm_host;
#define H vm_host

/* "/subscriptions/S/resourceGroups/RG" (+ suffix), with the host's
 * allocator (free with H->mem_free). */
char *vm_rg_id(const rb_value *args);
/* A resource id: /subscriptions/S/resourceGroups/RG/providers/<type>/<name>. */
char *vm_res_id(const char *sub, const char *rg, const char *type, const char *name);
/* The last segment of an id (borrowed pointer into id). */
const char *vm_id_name(const char *id);
/* Case-insensitive id equality (ARM ids are case-insensitive). */
int vm_id_eq(const char *a, const char *b);
/* A new string: id up to (not including) the "/<segment>/" that follows;
 * e.g. the vnet id of a subnet id with segment "subnets". NULL if absent. */
char *vm_id_parent(const char *id, const char *segment);

/* JSON text of a value (sorted as given), and a value from JSON text:
 * both new (free with H->mem_free / H->value_free). NULL on failure. */
char *vm_to_json(const rb_value *v);
rb_value *vm_from_json(const char *text, size_t len);

/* Shorthands. */
rb_value *vm_str(const char *s); /* value_string, null for NULL */
void vm_set_str(rb_value *m, const char *k, const char *s);
void vm_set_int(rb_value *m, const char *k, int64_t i);
void vm_copy_field(rb_value *dst, const char *dk, const rb_value *src, const char *sk);
/* map_get along a path of keys ending in NULL. */
const rb_value *vm_get(const rb_value *v, ...);
const char *vm_get_str(const rb_value *v, const char *dflt, ...);
/* 1 when names (a list of VM names) is empty or holds name (case-insensitive). */
int vm_name_wanted(const rb_value *names, const char *name);
/* Appends s to the list unless an equal string (case-insensitive) is there. */
void vm_list_add_unique(rb_value *list, const char *s);

/* The "accessSAS" of a beginGetAccess answer, or NULL (borrowed). */
const char *vm_access_sas(const rb_value *resp);

/* Replaces the step error after a failed transfer through a disk's or
 * snapshot's SAS with one that names the resource and not the URL. */
void vm_sas_error(rb_ctx *ctx, rb_status st, const char *what, const char *id, const char *set_id);

/* Fails the call unless the host has the ABI 1.3 routines. */
rb_status vm_need_streams(rb_ctx *ctx);

/* The newest set of a kind for a source id (case-insensitive), as a new
 * map from backup_list, or NULL with RB_ENOTFOUND. */
rb_status vm_newest_set(rb_ctx *ctx, const char *source_id, const char *kind, rb_value **set);
/* The parsed JSON object `object` of a set (vm.json, disk.json). */
rb_status vm_read_json(rb_ctx *ctx, const char *set_id, const char *object, rb_value **out);
/* The sha256 and bytes of an object in a set's signed manifest. */
rb_status vm_manifest_object(rb_ctx *ctx, const char *set_id, const char *object,
                             char sha[65], int64_t *bytes);

rb_status vm_inventory(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_snapshot(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_snapshot_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_export(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_export_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_end_access(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_end_access_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_record(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_record_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_cleanup_snapshots(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_cleanup_snapshots_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_verify_backup(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_recorded(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_create_drill_group(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_create_drill_group_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_delete_drill_group(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_delete_drill_group_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_restore_network(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_restore_network_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_restore_disk(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_restore_disk_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_restore_disks(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_restore_disks_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_restore_vm(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_restore_vm_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_verify_vm(rb_ctx *ctx, const rb_value *args, rb_value **out);
rb_status vm_verify_vm_plan(rb_ctx *ctx, const rb_value *args, rb_value **out);

#endif
