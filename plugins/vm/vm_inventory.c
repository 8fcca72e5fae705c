/* vm.inventory: the VMs of a resource group (or the named ones) with their
 * OS and data disks, sizes, encryption (disk encryption sets and Azure
 * Disk Encryption, with the Key Vaults they reference), NICs with their
 * subnet and virtual network, zone and tags. The result is also what
 * vm.record_vm writes into the backup vault as vm.json, so a restore needs
 * nothing from the estate it replaces. */
#include <stdio.h>
#include <string.h>

#include "vm.h"

/* Key Vault references of a disk: ADE settings (secret and key vaults) and
 * a disk encryption set's active key. */
static rb_status disk_encryption(rb_ctx *ctx, const rb_value *disk, const rb_value *vm_os_disk,
                                 rb_value *enc, rb_value *vaults)
{
    const rb_value *props = H->map_get(disk, "properties");
    const char *des = vm_get_str(props, NULL, "encryption", "diskEncryptionSetId", NULL);
    if (!des)
        des = vm_get_str(vm_os_disk, NULL, "managedDisk", "diskEncryptionSet", "id", NULL);
    vm_set_str(enc, "type", vm_get_str(props, "EncryptionAtRestWithPlatformKey", "encryption",
                                       "type", NULL));
    vm_set_str(enc, "disk_encryption_set", des);
    rb_value *keys = H->value_list();
    if (des) {
        rb_value *set = NULL;
        rb_status st = H->arm_call(ctx, "GET", des, VM_DISK_API, NULL, &set, NULL);
        if (st != RB_OK && st != RB_ENOTFOUND) {
            H->value_free(keys);
            return st;
        }
        const char *vault = vm_get_str(set, NULL, "properties", "activeKey", "sourceVault", "id", NULL);
        const char *key = vm_get_str(set, NULL, "properties", "activeKey", "keyUrl", NULL);
        vm_list_add_unique(vaults, vault);
        vm_list_add_unique(keys, key);
        H->value_free(set);
    }
    /* Azure Disk Encryption: on the disk (encryptionSettingsCollection) or,
     * for older VMs, on the VM's osDisk (encryptionSettings). */
    const rb_value *ade = vm_get(props, "encryptionSettingsCollection", "encryptionSettings", NULL);
    const rb_value *vm_ade = vm_get(vm_os_disk, "encryptionSettings", NULL);
    int ade_on = H->map_get_bool(H->map_get(props, "encryptionSettingsCollection"), "enabled", 0) ||
                 H->map_get_bool(vm_ade, "enabled", 0);
    for (size_t i = 0; i <= H->value_len(ade); i++) {
        const rb_value *s = i < H->value_len(ade) ? H->list_get(ade, i) : vm_ade;
        if (!s)
            continue;
        vm_list_add_unique(vaults, vm_get_str(s, NULL, "diskEncryptionKey", "sourceVault", "id", NULL));
        vm_list_add_unique(vaults, vm_get_str(s, NULL, "keyEncryptionKey", "sourceVault", "id", NULL));
        vm_list_add_unique(keys, vm_get_str(s, NULL, "keyEncryptionKey", "keyUrl", NULL));
    }
    H->map_set(enc, "ade", H->value_bool(ade_on));
    /* Recorded as found, so that a restored disk gets the same settings
     * (its BitLocker/dm-crypt key stays wrapped in the same Key Vault). */
    const rb_value *coll = H->map_get(props, "encryptionSettingsCollection");
    if (H->value_type(coll) == RB_VMAP)
        H->map_set(enc, "ade_settings", H->value_copy(coll));
    H->map_set(enc, "keys", keys);
    return RB_OK;
}

/* One disk of a VM: lun ("os" or the number), the disk's own record. */
static rb_status disk_record(rb_ctx *ctx, const rb_value *vm_disk, const char *lun, rb_value *vm_vaults,
                             rb_value **out)
{
    const char *id = vm_get_str(vm_disk, NULL, "managedDisk", "id", NULL);
    if (!id) {
        H->set_error(ctx, "disk %s (lun %s) is not a managed disk; only managed disks are backed up",
                     H->map_get_string(vm_disk, "name", "?"), lun);
        return RB_EUNSUPPORTED;
    }
    rb_value *disk = NULL;
    rb_status st = H->arm_call(ctx, "GET", id, VM_DISK_API, NULL, &disk, NULL);
    if (st != RB_OK)
        return st;
    const rb_value *props = H->map_get(disk, "properties");
    rb_value *r = H->value_map();
    vm_set_str(r, "lun", lun);
    vm_set_str(r, "id", H->map_get_string(disk, "id", id));
    vm_set_str(r, "name", H->map_get_string(disk, "name", vm_id_name(id)));
    int64_t bytes = H->map_get_int(props, "diskSizeBytes", 0);
    if (!bytes)
        bytes = H->map_get_int(props, "diskSizeGB", 0) * 1024 * 1024 * 1024;
    vm_set_int(r, "size_bytes", bytes);
    vm_set_str(r, "sku", vm_get_str(disk, "Standard_LRS", "sku", "name", NULL));
    vm_set_str(r, "os_type", H->map_get_string(props, "osType", NULL));
    vm_set_str(r, "hyper_v_generation", H->map_get_string(props, "hyperVGeneration", NULL));
    vm_set_str(r, "caching", H->map_get_string(vm_disk, "caching", NULL));
    vm_set_str(r, "state", H->map_get_string(props, "diskState", NULL));
    const rb_value *zones = H->map_get(disk, "zones");
    vm_set_str(r, "zone", H->value_as_string(H->list_get(zones, 0)));
    vm_copy_field(r, "tags", disk, "tags");
    rb_value *enc = H->value_map();
    rb_value *vaults = H->value_list();
    st = disk_encryption(ctx, disk, strcmp(lun, "os") == 0 ? vm_disk : NULL, enc, vaults);
    for (size_t i = 0; i < H->value_len(vaults); i++)
        vm_list_add_unique(vm_vaults, H->value_as_string(H->list_get(vaults, i)));
    H->map_set(enc, "key_vaults", vaults);
    H->map_set(r, "encryption", enc);
    H->value_free(disk);
    if (st != RB_OK) {
        H->value_free(r);
        return st;
    }
    *out = r;
    return RB_OK;
}

/* A NIC: its first IP configuration's subnet, and the subnet's vnet. */
static rb_status nic_record(rb_ctx *ctx, const char *nic_id, rb_value *networks, rb_value **out)
{
    rb_value *nic = NULL;
    rb_status st = H->arm_call(ctx, "GET", nic_id, VM_NETWORK_API, NULL, &nic, NULL);
    if (st != RB_OK)
        return st;
    const rb_value *ipc = H->list_get(vm_get(nic, "properties", "ipConfigurations", NULL), 0);
    const char *subnet = vm_get_str(ipc, NULL, "properties", "subnet", "id", NULL);
    rb_value *r = H->value_map();
    vm_set_str(r, "id", H->map_get_string(nic, "id", nic_id));
    vm_set_str(r, "name", vm_id_name(nic_id));
    vm_set_str(r, "subnet_id", subnet);
    vm_set_str(r, "subnet", subnet ? vm_id_name(subnet) : NULL);
    vm_set_str(r, "private_ip", vm_get_str(ipc, NULL, "properties", "privateIPAddress", NULL));
    char *vnet_id = vm_id_parent(subnet, "subnets");
    vm_set_str(r, "vnet_id", vnet_id);
    H->value_free(nic);
    /* The vnet's address space and subnets, once per vnet. */
    int known = 0;
    for (size_t i = 0; vnet_id && i < H->value_len(networks); i++)
        known |= vm_id_eq(H->map_get_string(H->list_get(networks, i), "id", ""), vnet_id);
    if (vnet_id && !known) {
        rb_value *vnet = NULL;
        st = H->arm_call(ctx, "GET", vnet_id, VM_NETWORK_API, NULL, &vnet, NULL);
        if (st == RB_OK) {
            rb_value *n = H->value_map();
            vm_set_str(n, "id", H->map_get_string(vnet, "id", vnet_id));
            vm_set_str(n, "name", vm_id_name(vnet_id));
            vm_set_str(n, "location", H->map_get_string(vnet, "location", NULL));
            const rb_value *prefixes = vm_get(vnet, "properties", "addressSpace", "addressPrefixes", NULL);
            H->map_set(n, "address_space", prefixes ? H->value_copy(prefixes) : H->value_list());
            rb_value *subnets = H->value_list();
            const rb_value *sl = vm_get(vnet, "properties", "subnets", NULL);
            rb_value *children = NULL;
            if (H->value_len(sl) == 0) {
                /* Subnets created as child resources are not always
                 * inlined in the vnet: list them. */
                char *cpath = H->str_format("%s/subnets", vnet_id);
                st = H->arm_list(ctx, cpath, VM_NETWORK_API, 0, &children);
                H->mem_free(cpath);
                if (st == RB_ENOTFOUND)
                    st = RB_OK;
                sl = children;
            }
            for (size_t i = 0; i < H->value_len(sl); i++) {
                const rb_value *s = H->list_get(sl, i);
                rb_value *e = H->value_map();
                vm_set_str(e, "name", H->map_get_string(s, "name", ""));
                vm_set_str(e, "address_prefix", vm_get_str(s, NULL, "properties", "addressPrefix", NULL));
                H->list_append(subnets, e);
            }
            H->value_free(children);
            H->map_set(n, "subnets", subnets);
            H->list_append(networks, n);
        } else if (st == RB_ENOTFOUND) {
            st = RB_OK; /* recorded without its vnet: the drill builds one from the subnet */
        }
        H->value_free(vnet);
    }
    H->mem_free(vnet_id);
    if (st != RB_OK) {
        H->value_free(r);
        return st;
    }
    *out = r;
    return RB_OK;
}

static rb_status vm_record_one(rb_ctx *ctx, const rb_value *vm, rb_value *all_vaults,
                               rb_value *networks, int64_t *n_disks, int64_t *bytes, rb_value **out)
{
    const rb_value *props = H->map_get(vm, "properties");
    const rb_value *sp = H->map_get(props, "storageProfile");
    rb_value *r = H->value_map();
    vm_set_str(r, "name", H->map_get_string(vm, "name", ""));
    vm_set_str(r, "id", H->map_get_string(vm, "id", ""));
    vm_set_str(r, "location", H->map_get_string(vm, "location", ""));
    vm_set_str(r, "size", vm_get_str(props, NULL, "hardwareProfile", "vmSize", NULL));
    vm_set_str(r, "zone", H->value_as_string(H->list_get(H->map_get(vm, "zones"), 0)));
    vm_copy_field(r, "tags", vm, "tags");
    vm_set_str(r, "os_type", vm_get_str(sp, NULL, "osDisk", "osType", NULL));
    vm_set_str(r, "computer_name", vm_get_str(props, NULL, "osProfile", "computerName", NULL));
    H->map_set(r, "encryption_at_host",
               H->value_bool(H->map_get_bool(H->map_get(props, "securityProfile"), "encryptionAtHost", 0)));
    rb_value *vaults = H->value_list();
    rb_value *disk = NULL;
    rb_status st = disk_record(ctx, H->map_get(sp, "osDisk"), "os", vaults, &disk);
    if (st == RB_OK) {
        H->map_set(r, "os_disk", disk);
        *bytes += H->map_get_int(disk, "size_bytes", 0);
        (*n_disks)++;
    }
    rb_value *data = H->value_list();
    const rb_value *dl = H->map_get(sp, "dataDisks");
    for (size_t i = 0; st == RB_OK && i < H->value_len(dl); i++) {
        const rb_value *d = H->list_get(dl, i);
        char lun[24];
        snprintf(lun, sizeof lun, "%lld", (long long)H->map_get_int(d, "lun", (int64_t)i));
        disk = NULL;
        st = disk_record(ctx, d, lun, vaults, &disk);
        if (st == RB_OK) {
            *bytes += H->map_get_int(disk, "size_bytes", 0);
            (*n_disks)++;
            H->list_append(data, disk);
        }
    }
    H->map_set(r, "data_disks", data);
    rb_value *nics = H->value_list();
    const rb_value *nl = vm_get(props, "networkProfile", "networkInterfaces", NULL);
    for (size_t i = 0; st == RB_OK && i < H->value_len(nl); i++) {
        rb_value *nic = NULL;
        st = nic_record(ctx, H->map_get_string(H->list_get(nl, i), "id", ""), networks, &nic);
        if (st == RB_OK)
            H->list_append(nics, nic);
    }
    /* The networks this VM sits in (all known by now), so its vm.json is
     * enough to rebuild them. */
    rb_value *mine = H->value_list();
    for (size_t k = 0; k < H->value_len(networks); k++) {
        const rb_value *net = H->list_get(networks, k);
        int used = 0;
        for (size_t j = 0; j < H->value_len(nics) && !used; j++)
            used = vm_id_eq(H->map_get_string(H->list_get(nics, j), "vnet_id", ""),
                            H->map_get_string(net, "id", ""));
        if (used)
            H->list_append(mine, H->value_copy(net));
    }
    H->map_set(r, "nics", nics);
    H->map_set(r, "networks", mine);
    for (size_t i = 0; i < H->value_len(vaults); i++)
        vm_list_add_unique(all_vaults, H->value_as_string(H->list_get(vaults, i)));
    /* The dependency rule's input: this VM needs these vaults restored first. */
    H->map_set(r, "key_vaults", vaults);
    if (st != RB_OK) {
        H->value_free(r);
        return st;
    }
    *out = r;
    return RB_OK;
}

rb_status vm_inventory(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const rb_value *names = H->map_get(args, "vms");
    char *rg = vm_rg_id(args);
    char *path = H->str_format("%s/providers/Microsoft.Compute/virtualMachines", rg);
    H->mem_free(rg);
    rb_value *list = NULL;
    rb_status st = H->arm_list(ctx, path, VM_COMPUTE_API, 0, &list);
    H->mem_free(path);
    if (st != RB_OK)
        return st;
    rb_value *vms = H->value_list(), *vaults = H->value_list(), *networks = H->value_list();
    rb_value *missing = H->value_list();
    int64_t n_disks = 0, bytes = 0;
    size_t n = H->value_len(list);
    for (size_t i = 0; i < n && st == RB_OK; i++) {
        const rb_value *vm = H->list_get(list, i);
        if (!vm_name_wanted(names, H->map_get_string(vm, "name", "")))
            continue;
        rb_value *r = NULL;
        st = vm_record_one(ctx, vm, vaults, networks, &n_disks, &bytes, &r);
        if (st == RB_OK)
            H->list_append(vms, r);
        if (st == RB_OK && H->progress(ctx, i + 1, n))
            st = RB_ECANCELED;
    }
    /* Named VMs that are not there: a backup must not silently skip them. */
    for (size_t i = 0; i < H->value_len(names); i++) {
        const char *want = H->value_as_string(H->list_get(names, i));
        int found = 0;
        for (size_t k = 0; k < H->value_len(vms) && !found; k++)
            found = vm_id_eq(H->map_get_string(H->list_get(vms, k), "name", ""), want);
        if (!found)
            H->list_append(missing, vm_str(want));
    }
    H->value_free(list);
    if (st != RB_OK) {
        H->value_free(vms);
        H->value_free(vaults);
        H->value_free(networks);
        H->value_free(missing);
        return st;
    }
    rb_value *o = H->value_map();
    rb_value *counts = H->value_map();
    vm_set_int(counts, "vms", (int64_t)H->value_len(vms));
    vm_set_int(counts, "disks", n_disks);
    vm_set_int(counts, "bytes", bytes);
    H->map_set(o, "vms", vms);
    H->map_set(o, "key_vaults", vaults);
    H->map_set(o, "networks", networks);
    H->map_set(o, "missing", missing);
    H->map_set(o, "counts", counts);
    *out = o;
    return RB_OK;
}
