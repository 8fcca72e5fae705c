/* vm: Azure VMs and managed disks. Inventory; incremental snapshots
 * exported through a read SAS into the signed backup vault (one set per
 * disk, one per VM with its recorded configuration); restore of disks by
 * direct upload and of VMs from their recorded configuration into a drill
 * target; verification in the guest against the signed manifests. */
#include "vm.h"

const rb_host_api *vm_host;

#define P_SUB {.name = "subscription", .type = RB_TSTRING, .required = 1, .help = "subscription id"}
#define P_RG(h) {.name = "resource_group", .type = RB_TSTRING, .required = 1, .help = h}
#define P_DRILL {.name = "drill_id", .type = RB_TSTRING, .required = 1, \
                 .help = "the drill's run id, written to / checked against the rebound-drill tag"}

static const rb_field inventory_params[] = {
    P_SUB, P_RG("resource group of the VMs"),
    {.name = "vms", .type = RB_TLIST, .default_json = "[]", .help = "VM names (empty: every VM)"},
    {0}};
static const rb_field inventory_out[] = {
    {.name = "vms", .type = RB_TLIST,
     .help = "name, id, location, size, zone, tags, os_type, os_disk, data_disks (lun, id, name, "
             "size_bytes, sku, encryption), nics (subnet, vnet), networks, key_vaults"},
    {.name = "key_vaults", .type = RB_TLIST, .help = "Key Vault ids the disks' encryption references"},
    {.name = "networks", .type = RB_TLIST, .help = "vnets: id, name, address_space, subnets"},
    {.name = "missing", .type = RB_TLIST, .help = "named VMs that do not exist"},
    {.name = "counts", .type = RB_TMAP, .help = "vms, disks, bytes"},
    {0}};
static const rb_field snapshot_params[] = {
    P_SUB, P_RG("resource group for the snapshot"),
    {.name = "disk_id", .type = RB_TSTRING, .required = 1, .help = "the managed disk"},
    {.name = "tag", .type = RB_TSTRING, .required = 1,
     .help = "value of the rebound-backup tag (the backup run's id); cleanup_snapshots matches it"},
    {.name = "name", .type = RB_TSTRING, .default_json = "\"\"",
     .help = "snapshot name (default: <disk>-rb-<call key>)"},
    {0}};
static const rb_field snapshot_out[] = {
    {.name = "id", .type = RB_TSTRING, .help = "snapshot id"},
    {.name = "name", .type = RB_TSTRING, .help = "snapshot name"},
    {.name = "disk_id", .type = RB_TSTRING, .help = "the disk it copies"},
    {.name = "time_created", .type = RB_TSTRING, .help = "its point in time"},
    {.name = "incremental", .type = RB_TBOOL, .help = "an incremental snapshot"},
    {0}};
static const rb_field export_params[] = {
    {.name = "snapshot_id", .type = RB_TSTRING, .required = 1, .help = "the snapshot to read"},
    {.name = "disk", .type = RB_TMAP, .required = 1,
     .help = "the disk's record from vm.inventory (stored as disk.json)"},
    {.name = "sas_seconds", .type = RB_TINT, .default_json = "3600",
     .help = "lifetime of the read SAS (end_access revokes it earlier)"},
    {0}};
static const rb_field export_out[] = {
    {.name = "set_id", .type = RB_TSTRING, .help = "the disk's backup set"},
    {.name = "disk_id", .type = RB_TSTRING, .help = "the disk"},
    {.name = "lun", .type = RB_TSTRING, .help = "os, or the data disk's lun"},
    {.name = "snapshot_id", .type = RB_TSTRING, .help = "the snapshot read"},
    {.name = "bytes", .type = RB_TINT, .help = "bytes in the set"},
    {.name = "bytes_sent", .type = RB_TINT, .help = "bytes sent by this call (less on resume)"},
    {.name = "resumed", .type = RB_TBOOL, .help = "an interrupted attempt's set was continued"},
    {.name = "sha256", .type = RB_TSTRING, .help = "SHA-256 of disk.vhd"},
    {0}};
static const rb_field end_access_params[] = {
    {.name = "id", .type = RB_TSTRING, .required = 1, .help = "disk or snapshot id"},
    {0}};
static const rb_field end_access_out[] = {
    {.name = "id", .type = RB_TSTRING, .help = "the disk or snapshot"},
    {.name = "revoked", .type = RB_TBOOL, .help = "no SAS of it is valid any more"},
    {.name = "gone", .type = RB_TBOOL, .help = "it no longer exists (so neither do its SAS)"},
    {0}};
static const rb_field record_params[] = {
    {.name = "vm", .type = RB_TMAP, .required = 1, .help = "the VM's record from vm.inventory"},
    {.name = "disk_sets", .type = RB_TMAP, .required = 1,
     .help = "disk id -> the set_id vm.export wrote for it"},
    {0}};
static const rb_field record_out[] = {
    {.name = "set_id", .type = RB_TSTRING, .help = "the VM's backup set (vm.json)"},
    {.name = "vm", .type = RB_TSTRING, .help = "VM name"},
    {.name = "vm_id", .type = RB_TSTRING, .help = "VM id"},
    {.name = "disks", .type = RB_TINT, .help = "disks recorded"},
    {0}};
static const rb_field cleanup_params[] = {
    P_SUB, P_RG("resource group of the snapshots"),
    {.name = "snapshots", .type = RB_TLIST, .default_json = "[]",
     .help = "snapshot ids to delete (only if rebound tagged them)"},
    {.name = "tag", .type = RB_TSTRING, .default_json = "\"\"",
     .help = "also every snapshot whose rebound-backup tag is this"},
    {.name = "max_age_hours", .type = RB_TINT, .default_json = "0",
     .help = "also rebound's snapshots older than this (0: off), e.g. left by a failed run"},
    {.name = "now", .type = RB_TINT, .default_json = "0", .help = "current time, Unix seconds"},
    {0}};
static const rb_field cleanup_out[] = {
    {.name = "count", .type = RB_TINT, .help = "snapshots deleted"},
    {.name = "deleted", .type = RB_TLIST, .help = "their ids"},
    {.name = "kept", .type = RB_TINT, .help = "snapshots left alone"},
    {0}};
static const rb_field verify_backup_params[] = {
    P_SUB, P_RG("resource group of the VMs"),
    {.name = "vms", .type = RB_TLIST, .required = 1, .help = "VM names"},
    {.name = "rpo_minutes", .type = RB_TINT, .default_json = "1440",
     .help = "the newest backup may be at most this old"},
    {.name = "now", .type = RB_TINT, .required = 1, .help = "current time, Unix seconds"},
    {0}};
static const rb_field verify_backup_out[] = {
    {.name = "vms", .type = RB_TLIST, .help = "per VM: set_id, age_minutes, disks, bytes, ok, problems"},
    {.name = "rpo_minutes", .type = RB_TINT, .help = "the RPO checked"},
    {.name = "ok", .type = RB_TBOOL, .help = "every VM has a complete set within the RPO"},
    {0}};
static const rb_field recorded_params[] = {
    P_SUB, P_RG("resource group the VMs were backed up from"),
    {.name = "vms", .type = RB_TLIST, .default_json = "[]",
     .help = "VM names (empty: every VM of the group with a backup)"},
    {0}};
static const rb_field recorded_out[] = {
    {.name = "vms", .type = RB_TLIST, .help = "name, set_id, created, created_s, config (vm.json)"},
    {.name = "key_vaults", .type = RB_TLIST, .help = "Key Vaults their encryption needs first"},
    {.name = "networks", .type = RB_TLIST, .help = "the recorded vnets they need first"},
    {.name = "missing", .type = RB_TLIST, .help = "named VMs without a backup"},
    {.name = "oldest_created_s", .type = RB_TANY, .help = "creation of the oldest set (RPO)"},
    {0}};
static const rb_field group_params[] = {
    P_SUB,
    {.name = "name", .type = RB_TSTRING, .required = 1, .help = "the drill's resource group"},
    {.name = "location", .type = RB_TSTRING, .required = 1, .help = "region"},
    P_DRILL,
    {0}};
static const rb_field group_out[] = {
    {.name = "id", .type = RB_TSTRING, .help = "resource group id"},
    {.name = "name", .type = RB_TSTRING, .help = "its name"},
    {0}};
static const rb_field delete_group_out[] = {
    {.name = "deleted", .type = RB_TBOOL, .help = "the group is gone"},
    {.name = "note", .type = RB_TSTRING, .help = "what happened"},
    {0}};
static const rb_field network_params[] = {
    P_SUB, P_RG("the drill's resource group"),
    {.name = "network", .type = RB_TMAP, .required = 1,
     .help = "a recorded vnet (vm.recorded networks): name, address_space, subnets"},
    {.name = "location", .type = RB_TSTRING, .required = 1, .help = "region"},
    P_DRILL,
    {0}};
static const rb_field network_out[] = {
    {.name = "id", .type = RB_TSTRING, .help = "the new vnet"},
    {.name = "name", .type = RB_TSTRING, .help = "its name"},
    {.name = "source_id", .type = RB_TSTRING, .help = "the recorded vnet it copies"},
    {.name = "subnets", .type = RB_TMAP, .help = "subnet name -> id"},
    {0}};
static const rb_field restore_disk_params[] = {
    P_SUB, P_RG("resource group for the disk"),
    {.name = "name", .type = RB_TSTRING, .required = 1, .help = "the new disk's name"},
    {.name = "set_id", .type = RB_TSTRING, .required = 1, .help = "the disk's backup set"},
    {.name = "location", .type = RB_TSTRING, .required = 1, .help = "region"},
    {.name = "zone", .type = RB_TSTRING, .default_json = "\"\"", .help = "availability zone"},
    {.name = "drill_id", .type = RB_TSTRING, .default_json = "\"\"", .help = "tag the disk for this drill"},
    {.name = "lun", .type = RB_TSTRING, .default_json = "\"\"", .help = "for plan's prediction only"},
    {.name = "keep_encryption", .type = RB_TBOOL, .default_json = "true",
     .help = "keep the recorded encryption (disk encryption set, ADE settings)"},
    {.name = "sas_seconds", .type = RB_TINT, .default_json = "3600", .help = "write SAS lifetime"},
    {0}};
static const rb_field restore_disks_params[] = {
    P_SUB, P_RG("resource group for the disks"),
    {.name = "disks", .type = RB_TLIST, .required = 1,
     .help = "[{name, set_id, lun, zone}]: the disks to restore"},
    {.name = "location", .type = RB_TSTRING, .required = 1, .help = "region"},
    {.name = "drill_id", .type = RB_TSTRING, .default_json = "\"\"", .help = "tag the disks for this drill"},
    {.name = "keep_encryption", .type = RB_TBOOL, .default_json = "true",
     .help = "keep the recorded encryption (disk encryption set, ADE settings)"},
    {.name = "sas_seconds", .type = RB_TINT, .default_json = "3600", .help = "write SAS lifetime"},
    {.name = "parallel", .type = RB_TINT, .default_json = "4", .help = "disks restored at once"},
    {0}};
static const rb_field restore_disks_out[] = {
    {.name = "disks", .type = RB_TLIST, .help = "restore_disk's outputs, one per disk, in order"},
    {.name = "count", .type = RB_TINT, .help = "disks restored"},
    {.name = "bytes", .type = RB_TINT, .help = "bytes uploaded this time"},
    {0}};
static const rb_field restore_disk_out[] = {
    {.name = "id", .type = RB_TSTRING, .help = "the restored disk"},
    {.name = "name", .type = RB_TSTRING, .help = "its name"},
    {.name = "set_id", .type = RB_TSTRING, .help = "the set restored"},
    {.name = "lun", .type = RB_TSTRING, .help = "os, or the data disk's lun"},
    {.name = "bytes", .type = RB_TINT, .help = "bytes uploaded"},
    {.name = "sha256", .type = RB_TSTRING, .help = "the signed SHA-256 of the VHD"},
    {.name = "already_restored", .type = RB_TBOOL,
     .help = "an earlier attempt finished it (closed, tagged rebound-uploaded=<sha256>)"},
    {0}};
static const rb_field restore_vm_params[] = {
    P_SUB, P_RG("the drill's resource group"),
    {.name = "name", .type = RB_TSTRING, .required = 1, .help = "the new VM's name"},
    {.name = "config", .type = RB_TMAP, .required = 1, .help = "the recorded VM (vm.recorded config)"},
    {.name = "disks", .type = RB_TMAP, .required = 1,
     .help = "lun -> restored disk id (\"os\" for the OS disk)"},
    {.name = "subnet_id", .type = RB_TSTRING, .required = 1, .help = "subnet for its NIC"},
    {.name = "location", .type = RB_TSTRING, .required = 1, .help = "region"},
    {.name = "zone", .type = RB_TSTRING, .default_json = "\"\"", .help = "availability zone"},
    P_DRILL,
    {0}};
static const rb_field restore_vm_out[] = {
    {.name = "id", .type = RB_TSTRING, .help = "the restored VM"},
    {.name = "name", .type = RB_TSTRING, .help = "its name"},
    {.name = "nic_id", .type = RB_TSTRING, .help = "its NIC"},
    {.name = "already_restored", .type = RB_TBOOL, .help = "an earlier attempt created it"},
    {0}};
static const rb_field verify_vm_params[] = {
    P_SUB, P_RG("resource group of the VM"),
    {.name = "name", .type = RB_TSTRING, .required = 1, .help = "VM name"},
    {.name = "disks", .type = RB_TMAP, .default_json = "{}",
     .help = "lun -> the set_id its disk was restored from (\"os\" for the OS disk)"},
    {.name = "guest_check", .type = RB_TBOOL, .default_json = "true",
     .help = "run the guest check (Run Command)"},
    {.name = "script", .type = RB_TSTRING, .default_json = "\"rebound-guest-check\"",
     .help = "the guest check's command"},
    {0}};
static const rb_field verify_vm_out[] = {
    {.name = "name", .type = RB_TSTRING, .help = "VM name"},
    {.name = "power_state", .type = RB_TSTRING, .help = "from the instance view"},
    {.name = "running", .type = RB_TBOOL, .help = "PowerState/running"},
    {.name = "boot_ok", .type = RB_TBOOL, .help = "the guest answered"},
    {.name = "disks", .type = RB_TLIST, .help = "lun, set_id, expected, actual, match"},
    {.name = "hashes_match", .type = RB_TBOOL, .help = "every disk matches its manifest"},
    {.name = "ok", .type = RB_TBOOL, .help = "running, booted and every hash matches"},
    {0}};

static const rb_action actions[] = {
    {.name = "inventory", .summary = "VMs with disks, sizes, encryption and its Key Vaults, NICs, zone, tags",
     .effect = RB_EFFECT_READ, .params = inventory_params, .outputs = inventory_out,
     .run = vm_inventory},
    {.name = "snapshot", .summary = "An incremental snapshot of one managed disk, tagged for cleanup",
     .effect = RB_EFFECT_WRITE, .params = snapshot_params, .outputs = snapshot_out,
     .run = vm_snapshot, .plan = vm_snapshot_plan},
    {.name = "export",
     .summary = "A read SAS of a snapshot streamed into the vault (disk.vhd + disk.json); pair with end_access",
     .effect = RB_EFFECT_WRITE, .params = export_params, .outputs = export_out, .run = vm_export,
     .plan = vm_export_plan},
    {.name = "end_access", .summary = "Revoke every SAS of a disk or snapshot (endGetAccess)",
     .effect = RB_EFFECT_WRITE, .params = end_access_params, .outputs = end_access_out,
     .run = vm_end_access, .plan = vm_end_access_plan},
    {.name = "record_vm", .summary = "The VM's recorded configuration (vm.json) as a set of its own",
     .effect = RB_EFFECT_WRITE, .params = record_params, .outputs = record_out, .run = vm_record,
     .plan = vm_record_plan},
    {.name = "cleanup_snapshots", .summary = "Delete snapshots rebound tagged (never another one)",
     .effect = RB_EFFECT_DESTRUCTIVE, .params = cleanup_params, .outputs = cleanup_out,
     .run = vm_cleanup_snapshots, .plan = vm_cleanup_snapshots_plan},
    {.name = "verify_backup", .summary = "Every VM has a complete set in the vault within the RPO",
     .effect = RB_EFFECT_READ, .params = verify_backup_params, .outputs = verify_backup_out,
     .run = vm_verify_backup},
    {.name = "recorded", .summary = "The newest recorded configuration of a group's VMs (from the vault only)",
     .effect = RB_EFFECT_READ, .params = recorded_params, .outputs = recorded_out,
     .run = vm_recorded},
    {.name = "create_drill_group", .summary = "The drill's resource group, tagged with its id",
     .effect = RB_EFFECT_WRITE, .params = group_params, .outputs = group_out,
     .run = vm_create_drill_group, .plan = vm_create_drill_group_plan},
    {.name = "delete_drill_group",
     .summary = "Delete the drill's resource group, only if this drill's tag is on it",
     .effect = RB_EFFECT_DESTRUCTIVE, .params = group_params, .outputs = delete_group_out,
     .run = vm_delete_drill_group, .plan = vm_delete_drill_group_plan},
    {.name = "restore_network", .summary = "A recorded vnet and its subnets, isolated in the drill's group",
     .effect = RB_EFFECT_WRITE, .params = network_params, .outputs = network_out,
     .run = vm_restore_network, .plan = vm_restore_network_plan},
    {.name = "restore_disk",
     .summary = "A managed disk from the vault's VHD by direct upload, closed and tagged when complete",
     .effect = RB_EFFECT_WRITE, .params = restore_disk_params, .outputs = restore_disk_out,
     .run = vm_restore_disk, .plan = vm_restore_disk_plan},
    {.name = "restore_disks",
     .summary = "Several disks restored at once (restore_disk on up to `parallel` threads)",
     .effect = RB_EFFECT_WRITE, .params = restore_disks_params, .outputs = restore_disks_out,
     .run = vm_restore_disks, .plan = vm_restore_disks_plan},
    {.name = "restore_vm", .summary = "The VM recreated from its recorded configuration with restored disks",
     .effect = RB_EFFECT_WRITE, .params = restore_vm_params, .outputs = restore_vm_out,
     .run = vm_restore_vm, .plan = vm_restore_vm_plan},
    {.name = "verify_vm",
     .summary = "Power state, the guest check, and disk hashes against the signed manifests",
     .effect = RB_EFFECT_WRITE, .params = verify_vm_params, .outputs = verify_vm_out,
     .run = vm_verify_vm, .plan = vm_verify_vm_plan},
};

static const rb_plugin plugin = {
    RB_PLUGIN_HEADER,
    .name = "vm",
    .version = "0.1.0",
    .description = "Azure VMs and managed disks: snapshot, export to the vault, restore, drill",
    RB_PLUGIN_ACTIONS(actions),
};

RB_PLUGIN_EXPORT int rb_plugin_init(const rb_host_api *h, const rb_plugin **out, char **errmsg)
{
    if (h->abi_major != RB_ABI_MAJOR || !RB_HOST_HAS(h, json_decode)) {
        *errmsg = h->str_dup("vm needs a host with plugin ABI 1.3 or later (disk streaming, "
                             "JSON for the recorded configurations)");
        return RB_EABI;
    }
    vm_host = h;
    *out = &plugin;
    return RB_OK;
}
