/* The restore side: recorded (what the vault holds for a resource group's
 * VMs), the drill's own resource group, the network, disks from the
 * vault's VHDs (direct upload: a disk created for upload, a write SAS,
 * Put Page from the vault, then end_access) and the VMs recreated from
 * their recorded configuration. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vm.h"

/* --- recorded ----------------------------------------------------------------- */

rb_status vm_recorded(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const rb_value *names = H->map_get(args, "vms");
    char *prefix = H->str_format("/subscriptions/%s/resourceGroups/%s/providers/"
                                 "Microsoft.Compute/virtualMachines/",
                                 H->map_get_string(args, "subscription", ""),
                                 H->map_get_string(args, "resource_group", ""));
    size_t plen = strlen(prefix);
    rb_value *sets = NULL;
    rb_status st = H->backup_list(ctx, NULL, VM_KIND_VM, &sets);
    rb_value *vms = H->value_list(), *seen = H->value_list(), *vaults = H->value_list();
    rb_value *networks = H->value_list(), *missing = H->value_list();
    int64_t oldest = 0;
    /* Newest first: the first set of each VM is its newest. */
    for (size_t i = 0; st == RB_OK && i < H->value_len(sets); i++) {
        const rb_value *s = H->list_get(sets, i);
        const char *src = H->map_get_string(s, "source_id", "");
        if (strncasecmp(src, prefix, plen) != 0 || strchr(src + plen, '/'))
            continue;
        const char *name = src + plen;
        if (!vm_name_wanted(names, name))
            continue;
        int dup = 0;
        for (size_t k = 0; k < H->value_len(seen) && !dup; k++)
            dup = vm_id_eq(H->value_as_string(H->list_get(seen, k)), name);
        if (dup)
            continue;
        H->list_append(seen, H->value_string(name));
        rb_value *rec = NULL;
        st = vm_read_json(ctx, H->map_get_string(s, "set_id", ""), "vm.json", &rec);
        if (st != RB_OK)
            break;
        int64_t created = H->map_get_int(s, "created_s", 0);
        if (!oldest || created < oldest)
            oldest = created;
        const rb_value *kv = H->map_get(rec, "key_vaults");
        for (size_t k = 0; k < H->value_len(kv); k++)
            vm_list_add_unique(vaults, H->value_as_string(H->list_get(kv, k)));
        const rb_value *nets = H->map_get(rec, "networks");
        for (size_t k = 0; k < H->value_len(nets); k++) {
            const rb_value *n = H->list_get(nets, k);
            int known = 0;
            for (size_t j = 0; j < H->value_len(networks) && !known; j++)
                known = vm_id_eq(H->map_get_string(H->list_get(networks, j), "id", ""),
                                 H->map_get_string(n, "id", ""));
            if (!known)
                H->list_append(networks, H->value_copy(n));
        }
        rb_value *e = H->value_map();
        vm_set_str(e, "name", vm_id_name(src));
        vm_copy_field(e, "set_id", s, "set_id");
        vm_copy_field(e, "created", s, "created");
        vm_set_int(e, "created_s", created);
        H->map_set(e, "config", rec);
        H->list_append(vms, e);
    }
    for (size_t i = 0; st == RB_OK && i < H->value_len(names); i++) {
        const char *want = H->value_as_string(H->list_get(names, i));
        int found = 0;
        for (size_t k = 0; k < H->value_len(seen) && !found; k++)
            found = vm_id_eq(H->value_as_string(H->list_get(seen, k)), want);
        if (!found)
            H->list_append(missing, vm_str(want));
    }
    H->value_free(sets);
    H->value_free(seen);
    H->mem_free(prefix);
    if (st != RB_OK) {
        H->value_free(vms);
        H->value_free(vaults);
        H->value_free(networks);
        H->value_free(missing);
        return st;
    }
    rb_value *o = H->value_map();
    H->map_set(o, "vms", vms);
    H->map_set(o, "key_vaults", vaults);
    H->map_set(o, "networks", networks);
    H->map_set(o, "missing", missing);
    H->map_set(o, "oldest_created_s", oldest ? H->value_int(oldest) : H->value_null());
    *out = o;
    return RB_OK;
}

/* --- the drill's resource group ---------------------------------------------- */

static char *group_id(const rb_value *args)
{
    return H->str_format("/subscriptions/%s/resourceGroups/%s",
                         H->map_get_string(args, "subscription", ""),
                         H->map_get_string(args, "name", ""));
}

static rb_status check_drill_tag(rb_ctx *ctx, const rb_value *res, const char *what,
                                 const char *drill)
{
    const char *tag = H->map_get_string(H->map_get(res, "tags"), VM_TAG_DRILL, NULL);
    if (tag && *drill && strcmp(tag, drill) == 0)
        return RB_OK;
    H->set_error(ctx, "refusing to touch %s %s: it is not tagged %s=%s, so this drill did not "
                      "create it",
                 what, H->map_get_string(res, "name", "?"), VM_TAG_DRILL, drill);
    return RB_EDENIED;
}

rb_status vm_create_drill_group(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const char *drill = H->map_get_string(args, "drill_id", "");
    char *id = group_id(args);
    rb_value *rg = NULL;
    rb_status st = H->arm_call(ctx, "GET", id, VM_RG_API, NULL, &rg, NULL);
    if (st == RB_OK) {
        /* Only a group this drill made: teardown deletes it whole. */
        st = check_drill_tag(ctx, rg, "resource group", drill);
    } else if (st == RB_ENOTFOUND) {
        rb_value *body = H->value_map();
        vm_set_str(body, "location", H->map_get_string(args, "location", ""));
        rb_value *tags = H->value_map();
        vm_set_str(tags, VM_TAG_DRILL, drill);
        H->map_set(body, "tags", tags);
        st = H->arm_call(ctx, "PUT", id, VM_RG_API, body, &rg, NULL);
        H->value_free(body);
    }
    H->value_free(rg);
    if (st == RB_OK) {
        rb_value *o = H->value_map();
        vm_set_str(o, "id", id);
        vm_set_str(o, "name", H->map_get_string(args, "name", ""));
        *out = o;
    }
    H->mem_free(id);
    return st;
}

rb_status vm_create_drill_group_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    char *id = group_id(args);
    rb_value *o = H->value_map();
    vm_set_str(o, "id", id);
    vm_set_str(o, "name", H->map_get_string(args, "name", ""));
    H->mem_free(id);
    *out = o;
    return RB_OK;
}

rb_status vm_delete_drill_group(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    char *id = group_id(args);
    rb_value *rg = NULL;
    const char *note = "deleted";
    rb_status st = H->arm_call(ctx, "GET", id, VM_RG_API, NULL, &rg, NULL);
    if (st == RB_OK)
        st = check_drill_tag(ctx, rg, "resource group", H->map_get_string(args, "drill_id", ""));
    H->value_free(rg);
    if (st == RB_OK) {
        st = H->arm_call(ctx, "DELETE", id, VM_RG_API, NULL, NULL, NULL);
        if (st == RB_ENOTFOUND)
            st = RB_OK;
    } else if (st == RB_ENOTFOUND) {
        st = RB_OK;
        note = "already gone";
    }
    H->mem_free(id);
    if (st != RB_OK)
        return st;
    rb_value *o = H->value_map();
    H->map_set(o, "deleted", H->value_bool(1));
    vm_set_str(o, "note", note);
    *out = o;
    return RB_OK;
}

rb_status vm_delete_drill_group_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    (void)args;
    rb_value *o = H->value_map();
    H->map_set(o, "deleted", H->value_bool(1));
    vm_set_str(o, "note", "would delete the drill's resource group and everything in it");
    *out = o;
    return RB_OK;
}

/* --- network ------------------------------------------------------------------ */

static char *vnet_id(const rb_value *args)
{
    return vm_res_id(H->map_get_string(args, "subscription", ""),
                     H->map_get_string(args, "resource_group", ""),
                     "Microsoft.Network/virtualNetworks",
                     H->map_get_string(H->map_get(args, "network"), "name", ""));
}

static rb_value *network_outputs(const char *id, const rb_value *net)
{
    rb_value *o = H->value_map();
    vm_set_str(o, "id", id);
    vm_set_str(o, "name", vm_id_name(id));
    vm_set_str(o, "source_id", H->map_get_string(net, "id", ""));
    rb_value *subnets = H->value_map();
    const rb_value *sl = H->map_get(net, "subnets");
    for (size_t i = 0; i < H->value_len(sl); i++) {
        const char *name = H->map_get_string(H->list_get(sl, i), "name", "");
        char *sid = H->str_format("%s/subnets/%s", id, name);
        vm_set_str(subnets, name, sid);
        H->mem_free(sid);
    }
    H->map_set(o, "subnets", subnets);
    return o;
}

rb_status vm_restore_network(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const rb_value *net = H->map_get(args, "network");
    char *id = vnet_id(args);
    rb_value *body = H->value_map();
    vm_set_str(body, "location", H->map_get_string(args, "location", ""));
    rb_value *tags = H->value_map();
    vm_set_str(tags, VM_TAG_DRILL, H->map_get_string(args, "drill_id", ""));
    vm_set_str(tags, VM_TAG_RESTORED, H->map_get_string(net, "id", ""));
    H->map_set(body, "tags", tags);
    rb_value *props = H->value_map();
    rb_value *space = H->value_map();
    const rb_value *prefixes = H->map_get(net, "address_space");
    H->map_set(space, "addressPrefixes", H->value_len(prefixes) ? H->value_copy(prefixes) : H->value_list());
    H->map_set(props, "addressSpace", space);
    rb_value *subnets = H->value_list();
    const rb_value *sl = H->map_get(net, "subnets");
    for (size_t i = 0; i < H->value_len(sl); i++) {
        const rb_value *s = H->list_get(sl, i);
        rb_value *e = H->value_map();
        vm_set_str(e, "name", H->map_get_string(s, "name", ""));
        rb_value *sp = H->value_map();
        vm_set_str(sp, "addressPrefix", H->map_get_string(s, "address_prefix", ""));
        H->map_set(e, "properties", sp);
        H->list_append(subnets, e);
    }
    H->map_set(props, "subnets", subnets);
    H->map_set(body, "properties", props);
    /* A new vnet in the drill's group with no peering: isolated by
     * construction. PUT is idempotent: a resumed call sends the same body. */
    rb_status st = H->arm_call(ctx, "PUT", id, VM_NETWORK_API, body, NULL, NULL);
    H->value_free(body);
    if (st == RB_OK)
        *out = network_outputs(id, net);
    H->mem_free(id);
    return st;
}

rb_status vm_restore_network_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    char *id = vnet_id(args);
    *out = network_outputs(id, H->map_get(args, "network"));
    H->mem_free(id);
    return RB_OK;
}

/* --- restore_disk ------------------------------------------------------------- */

static char *disk_id(const rb_value *args)
{
    return vm_res_id(H->map_get_string(args, "subscription", ""),
                     H->map_get_string(args, "resource_group", ""), "Microsoft.Compute/disks",
                     H->map_get_string(args, "name", ""));
}

static rb_value *disk_outputs(const char *id, const char *set_id, int64_t bytes, const char *sha,
                              const char *lun, int already)
{
    rb_value *o = H->value_map();
    vm_set_str(o, "id", id);
    vm_set_str(o, "name", vm_id_name(id));
    vm_set_str(o, "set_id", set_id);
    vm_set_str(o, "lun", lun);
    vm_set_int(o, "bytes", bytes);
    vm_set_str(o, "sha256", sha);
    H->map_set(o, "already_restored", H->value_bool(already));
    return o;
}

/* PUT of an empty disk ready for upload, sized and typed as recorded. */
static rb_status create_upload_disk(rb_ctx *ctx, const rb_value *args, const char *id,
                                    const rb_value *rec, int64_t bytes)
{
    rb_value *body = H->value_map();
    vm_set_str(body, "location", H->map_get_string(args, "location", ""));
    const char *zone = H->map_get_string(args, "zone", "");
    if (*zone) {
        rb_value *zones = H->value_list();
        H->list_append(zones, H->value_string(zone));
        H->map_set(body, "zones", zones);
    }
    rb_value *sku = H->value_map();
    vm_set_str(sku, "name", H->map_get_string(rec, "sku", "Standard_LRS"));
    H->map_set(body, "sku", sku);
    rb_value *tags = H->value_map();
    vm_set_str(tags, VM_TAG_RESTORED, H->map_get_string(args, "set_id", ""));
    const char *drill = H->map_get_string(args, "drill_id", "");
    if (*drill)
        vm_set_str(tags, VM_TAG_DRILL, drill);
    H->map_set(body, "tags", tags);
    rb_value *props = H->value_map();
    const char *os = H->map_get_string(rec, "os_type", NULL);
    if (os)
        vm_set_str(props, "osType", os);
    const char *gen = H->map_get_string(rec, "hyper_v_generation", NULL);
    if (gen)
        vm_set_str(props, "hyperVGeneration", gen);
    rb_value *cd = H->value_map();
    vm_set_str(cd, "createOption", "Upload");
    vm_set_int(cd, "uploadSizeBytes", bytes);
    H->map_set(props, "creationData", cd);
    /* A disk encryption set survives its VM: keep the customer key. */
    const char *des = vm_get_str(rec, NULL, "encryption", "disk_encryption_set", NULL);
    if (des && H->map_get_bool(args, "keep_encryption", 1)) {
        rb_value *enc = H->value_map();
        vm_set_str(enc, "type", vm_get_str(rec, "EncryptionAtRestWithCustomerKey", "encryption", "type", NULL));
        vm_set_str(enc, "diskEncryptionSetId", des);
        H->map_set(props, "encryption", enc);
    }
    /* Azure Disk Encryption: the same settings (key references into the
     * vaults the drill checked or restored first), so the VM can unlock it. */
    const rb_value *ade = vm_get(rec, "encryption", "ade_settings", NULL);
    if (H->value_type(ade) == RB_VMAP && H->map_get_bool(args, "keep_encryption", 1))
        H->map_set(props, "encryptionSettingsCollection", H->value_copy(ade));
    H->map_set(body, "properties", props);
    rb_status st = H->arm_call(ctx, "PUT", id, VM_DISK_API, body, NULL, NULL);
    H->value_free(body);
    return st;
}

static int upload_open(const char *state)
{
    return strcasecmp(state, "ReadyToUpload") == 0 || strcasecmp(state, "ActiveUpload") == 0;
}

/* Deletes a disk this call created whose upload was closed before it was
 * known complete (a failed attempt, then end_access), so it can be made
 * again: only one restored from this set, for this drill, not attached. */
static rb_status delete_unfinished(rb_ctx *ctx, const rb_value *args, const char *id,
                                   const rb_value *disk)
{
    const char *drill = H->map_get_string(args, "drill_id", "");
    const char *tag = H->map_get_string(H->map_get(disk, "tags"), VM_TAG_DRILL, "");
    if (strcmp(tag, drill) != 0 || H->map_get_string(disk, "managedBy", NULL)) {
        H->set_error(ctx, "disk %s holds an unfinished upload of set %s but is attached or "
                          "belongs to another drill: not deleted",
                     vm_id_name(id), H->map_get_string(args, "set_id", ""));
        return RB_ECONFLICT;
    }
    H->log(ctx, RB_LOG_INFO, "disk %s: its upload was closed unfinished; deleting it to upload again",
           vm_id_name(id));
    rb_status st = H->arm_call(ctx, "DELETE", id, VM_DISK_API, NULL, NULL, NULL);
    return st == RB_ENOTFOUND ? RB_OK : st;
}

/* Closes the upload (endGetAccess: the bytes become final and the write
 * SAS is revoked), then tags the disk with the SHA-256 it now holds: the
 * tag is what tells a later attempt that the disk is complete, since a
 * closed disk looks the same whether its upload finished or not. */
static rb_status close_upload(rb_ctx *ctx, const char *id, const char *sha)
{
    char *action = H->str_format("%s/endGetAccess", id);
    rb_status st = H->arm_call(ctx, "POST", action, VM_DISK_API, NULL, NULL, NULL);
    H->mem_free(action);
    rb_value *disk = NULL;
    if (st == RB_OK)
        st = H->arm_call(ctx, "GET", id, VM_DISK_API, NULL, &disk, NULL);
    if (st != RB_OK) {
        H->value_free(disk);
        return st;
    }
    if (upload_open(vm_get_str(disk, "", "properties", "diskState", NULL))) {
        /* Still open (a resumed call re-attached to an earlier close): the
         * bytes are all there; end_access closes it, and without the tag a
         * later attempt uploads again rather than trust it. */
        H->log(ctx, RB_LOG_WARN, "disk %s: upload complete but still open; end_access closes it",
               vm_id_name(id));
        H->value_free(disk);
        return RB_OK;
    }
    rb_value *body = H->value_map();
    rb_value *tags = H->value_copy(H->map_get(disk, "tags"));
    if (H->value_type(tags) != RB_VMAP) {
        H->value_free(tags);
        tags = H->value_map();
    }
    vm_set_str(tags, VM_TAG_UPLOADED, sha);
    H->map_set(body, "tags", tags);
    st = H->arm_call(ctx, "PATCH", id, VM_DISK_API, body, NULL, NULL);
    H->value_free(body);
    H->value_free(disk);
    return st;
}

/* Direct upload, resumable at any point: every step is chosen from the
 * disk's state (absent; created and open for upload; closed with the
 * uploaded-hash tag = done; closed without it = an unfinished upload, made
 * again), and each ARM write of a resumed call re-attaches only to its own
 * journaled operation (same method and path). */
rb_status vm_restore_disk(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_status st = vm_need_streams(ctx);
    if (st != RB_OK)
        return st;
    const char *set_id = H->map_get_string(args, "set_id", "");
    char sha[65] = "";
    int64_t bytes = 0;
    st = vm_manifest_object(ctx, set_id, "disk.vhd", sha, &bytes);
    if (st != RB_OK)
        return st;
    if (bytes <= 0 || bytes % 512 != 0) {
        H->set_error(ctx, "set %s: disk.vhd is %lld bytes, not a positive multiple of 512", set_id,
                     (long long)bytes);
        return RB_ECORRUPT;
    }
    rb_value *rec = NULL;
    st = vm_read_json(ctx, set_id, "disk.json", &rec);
    if (st != RB_OK)
        return st;
    char lun[32];
    snprintf(lun, sizeof lun, "%s", H->map_get_string(rec, "lun", ""));
    char *id = disk_id(args);
    rb_value *disk = NULL;
    st = H->arm_call(ctx, "GET", id, VM_DISK_API, NULL, &disk, NULL);
    int create = st == RB_ENOTFOUND;
    if (st == RB_OK) {
        const rb_value *tags = H->map_get(disk, "tags");
        const char *state = vm_get_str(disk, "", "properties", "diskState", NULL);
        const char *prov = vm_get_str(disk, "Succeeded", "properties", "provisioningState", NULL);
        if (strcmp(H->map_get_string(tags, VM_TAG_RESTORED, ""), set_id) != 0) {
            H->set_error(ctx, "disk %s exists and was not restored from set %s: not overwritten",
                         vm_id_name(id), set_id);
            st = RB_ECONFLICT;
        } else if (upload_open(state)) {
            /* Created by an interrupted attempt: when its creation was still
             * running, PUT again (the host re-attaches to it); then upload. */
            create = strcasecmp(prov, "Succeeded") != 0;
        } else if (strcasecmp(H->map_get_string(tags, VM_TAG_UPLOADED, ""), sha) == 0) {
            *out = disk_outputs(id, set_id, bytes, sha, lun, 1);
            H->value_free(disk);
            H->value_free(rec);
            H->mem_free(id);
            return RB_OK;
        } else {
            st = delete_unfinished(ctx, args, id, disk);
            create = st == RB_OK;
        }
    }
    H->value_free(disk);
    if (create)
        st = create_upload_disk(ctx, args, id, rec, bytes);
    H->value_free(rec);
    rb_value *grant = NULL;
    if (st == RB_OK) {
        rb_value *body = H->value_map();
        vm_set_str(body, "access", "Write");
        vm_set_int(body, "durationInSeconds", H->map_get_int(args, "sas_seconds", 3600));
        char *action = H->str_format("%s/beginGetAccess", id);
        st = H->arm_call(ctx, "POST", action, VM_DISK_API, body, &grant, NULL);
        H->mem_free(action);
        H->value_free(body);
    }
    const char *url = st == RB_OK ? vm_access_sas(grant) : NULL;
    if (st == RB_OK && !url) {
        H->set_error(ctx, "beginGetAccess (Write) on %s answered without an accessSAS", vm_id_name(id));
        st = RB_EPROTO;
    }
    uint64_t sent = 0;
    if (st == RB_OK) {
        st = H->backup_to_url(ctx, set_id, "disk.vhd", url, "page", &sent);
        if (st != RB_OK)
            vm_sas_error(ctx, st, "uploading", id, set_id);
    }
    H->value_free(grant); /* the write SAS: never kept, never in outputs */
    if (st == RB_OK)
        st = close_upload(ctx, id, sha);
    if (st == RB_OK)
        *out = disk_outputs(id, set_id, (int64_t)sent, sha, lun, 0);
    H->mem_free(id);
    return st;
}

rb_status vm_restore_disk_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    char *id = disk_id(args);
    *out = disk_outputs(id, H->map_get_string(args, "set_id", ""), 0, "(planned)",
                        H->map_get_string(args, "lun", ""), 0);
    H->mem_free(id);
    return RB_OK;
}

/* --- restore_vm -------------------------------------------------------------- */

static rb_status put_nic(rb_ctx *ctx, const rb_value *args, const char *nic_id)
{
    rb_value *body = H->value_map();
    vm_set_str(body, "location", H->map_get_string(args, "location", ""));
    rb_value *tags = H->value_map();
    vm_set_str(tags, VM_TAG_DRILL, H->map_get_string(args, "drill_id", ""));
    H->map_set(body, "tags", tags);
    rb_value *ipc = H->value_map();
    vm_set_str(ipc, "name", "ipconfig1");
    rb_value *ipp = H->value_map();
    rb_value *subnet = H->value_map();
    vm_set_str(subnet, "id", H->map_get_string(args, "subnet_id", ""));
    H->map_set(ipp, "subnet", subnet);
    /* Dynamic, and no public IP: a drill VM is reachable only inside its
     * isolated vnet. */
    vm_set_str(ipp, "privateIPAllocationMethod", "Dynamic");
    H->map_set(ipc, "properties", ipp);
    rb_value *ipcs = H->value_list();
    H->list_append(ipcs, ipc);
    rb_value *props = H->value_map();
    H->map_set(props, "ipConfigurations", ipcs);
    H->map_set(body, "properties", props);
    rb_status st = H->arm_call(ctx, "PUT", nic_id, VM_NETWORK_API, body, NULL, NULL);
    H->value_free(body);
    return st;
}

static rb_value *managed_disk(const char *id, const char *lun, const char *os_type)
{
    rb_value *d = H->value_map();
    if (strcmp(lun, "os") != 0) {
        long long n = 0;
        sscanf(lun, "%lld", &n);
        vm_set_int(d, "lun", n);
    } else if (os_type) {
        vm_set_str(d, "osType", os_type);
    }
    vm_set_str(d, "name", vm_id_name(id));
    vm_set_str(d, "createOption", "Attach");
    rb_value *md = H->value_map();
    vm_set_str(md, "id", id);
    H->map_set(d, "managedDisk", md);
    return d;
}

/* The restored disk id for a lun: disks is {lun = id} ("os" for the OS). */
static const char *disk_for(const rb_value *disks, const char *lun)
{
    return H->map_get_string(disks, lun, NULL);
}

static char *vm_id_of(const rb_value *args)
{
    return vm_res_id(H->map_get_string(args, "subscription", ""),
                     H->map_get_string(args, "resource_group", ""),
                     "Microsoft.Compute/virtualMachines", H->map_get_string(args, "name", ""));
}

static rb_value *vm_outputs(const char *id, const char *nic_id, int already)
{
    rb_value *o = H->value_map();
    vm_set_str(o, "id", id);
    vm_set_str(o, "name", vm_id_name(id));
    vm_set_str(o, "nic_id", nic_id);
    H->map_set(o, "already_restored", H->value_bool(already));
    return o;
}

rb_status vm_restore_vm(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const rb_value *cfg = H->map_get(args, "config");
    const rb_value *disks = H->map_get(args, "disks");
    const char *name = H->map_get_string(args, "name", "");
    char *id = vm_id_of(args);
    char *nic_name = H->str_format("%s-nic", name);
    char *nic_id = vm_res_id(H->map_get_string(args, "subscription", ""),
                             H->map_get_string(args, "resource_group", ""),
                             "Microsoft.Network/networkInterfaces", nic_name);
    H->mem_free(nic_name);
    rb_value *existing = NULL;
    rb_status st = H->arm_call(ctx, "GET", id, VM_COMPUTE_API, NULL, &existing, NULL);
    /* A VM an interrupted attempt was still creating is created again: the
     * same PUT, which the host re-attaches to the journaled operation. */
    int creating = st == RB_OK && strcasecmp(vm_get_str(existing, "Succeeded", "properties",
                                                        "provisioningState", NULL),
                                             "Succeeded") != 0;
    if (st == RB_OK) {
        st = check_drill_tag(ctx, existing, "VM", H->map_get_string(args, "drill_id", ""));
        H->value_free(existing);
        if (st == RB_OK && creating)
            st = RB_ENOTFOUND;
        else {
            if (st == RB_OK)
                *out = vm_outputs(id, nic_id, 1);
            H->mem_free(id);
            H->mem_free(nic_id);
            return st;
        }
    }
    if (st != RB_ENOTFOUND) {
        H->mem_free(id);
        H->mem_free(nic_id);
        return st;
    }
    /* Every recorded disk must have its restored copy. */
    const rb_value *os = H->map_get(cfg, "os_disk");
    const rb_value *dl = H->map_get(cfg, "data_disks");
    const char *os_id = disk_for(disks, "os");
    st = os_id ? RB_OK : RB_EINVAL;
    if (!os_id)
        H->set_error(ctx, "no restored OS disk for %s (disks needs an \"os\" entry)", name);
    for (size_t i = 0; st == RB_OK && i < H->value_len(dl); i++) {
        const char *lun = H->map_get_string(H->list_get(dl, i), "lun", "");
        if (!disk_for(disks, lun)) {
            H->set_error(ctx, "no restored disk for lun %s of %s", lun, name);
            st = RB_EINVAL;
        }
    }
    if (st == RB_OK)
        st = put_nic(ctx, args, nic_id);
    if (st == RB_OK) {
        rb_value *body = H->value_map();
        vm_set_str(body, "location", H->map_get_string(args, "location", ""));
        const char *zone = H->map_get_string(args, "zone", "");
        if (*zone) {
            rb_value *zones = H->value_list();
            H->list_append(zones, H->value_string(zone));
            H->map_set(body, "zones", zones);
        }
        rb_value *tags = H->value_map();
        const rb_value *old = H->map_get(cfg, "tags");
        for (size_t i = 0; i < H->value_len(old); i++)
            H->map_set(tags, H->map_key_at(old, i), H->value_copy(H->map_value_at(old, i)));
        vm_set_str(tags, VM_TAG_DRILL, H->map_get_string(args, "drill_id", ""));
        vm_set_str(tags, VM_TAG_RESTORED, H->map_get_string(cfg, "id", ""));
        H->map_set(body, "tags", tags);
        rb_value *props = H->value_map();
        rb_value *hw = H->value_map();
        vm_set_str(hw, "vmSize", H->map_get_string(cfg, "size", "Standard_B2s"));
        H->map_set(props, "hardwareProfile", hw);
        rb_value *sp = H->value_map();
        H->map_set(sp, "osDisk", managed_disk(os_id, "os", H->map_get_string(os, "os_type",
                                                       H->map_get_string(cfg, "os_type", NULL))));
        rb_value *data = H->value_list();
        for (size_t i = 0; i < H->value_len(dl); i++) {
            const char *lun = H->map_get_string(H->list_get(dl, i), "lun", "");
            H->list_append(data, managed_disk(disk_for(disks, lun), lun, NULL));
        }
        H->map_set(sp, "dataDisks", data);
        H->map_set(props, "storageProfile", sp);
        rb_value *np = H->value_map();
        rb_value *nics = H->value_list();
        rb_value *nic = H->value_map();
        vm_set_str(nic, "id", nic_id);
        rb_value *nicp = H->value_map();
        H->map_set(nicp, "primary", H->value_bool(1));
        H->map_set(nic, "properties", nicp);
        H->list_append(nics, nic);
        H->map_set(np, "networkInterfaces", nics);
        H->map_set(props, "networkProfile", np);
        if (H->map_get_bool(cfg, "encryption_at_host", 0)) {
            rb_value *sec = H->value_map();
            H->map_set(sec, "encryptionAtHost", H->value_bool(1));
            H->map_set(props, "securityProfile", sec);
        }
        H->map_set(body, "properties", props);
        rb_value *vm = NULL;
        st = H->arm_call(ctx, "PUT", id, VM_COMPUTE_API, body, &vm, NULL);
        H->value_free(body);
        if (st == RB_OK && vm && !vm_id_eq(H->map_get_string(vm, "id", id), id)) {
            H->set_error(ctx, "creating VM %s answered with another resource (%s)", name,
                         H->map_get_string(vm, "id", ""));
            st = RB_EPROTO;
        }
        H->value_free(vm);
    }
    if (st == RB_OK)
        *out = vm_outputs(id, nic_id, 0);
    H->mem_free(id);
    H->mem_free(nic_id);
    return st;
}

rb_status vm_restore_vm_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    char *id = vm_id_of(args);
    char *nic_name = H->str_format("%s-nic", H->map_get_string(args, "name", ""));
    char *nic = vm_res_id(H->map_get_string(args, "subscription", ""),
                          H->map_get_string(args, "resource_group", ""),
                          "Microsoft.Network/networkInterfaces", nic_name);
    H->mem_free(nic_name);
    *out = vm_outputs(id, nic, 0);
    H->mem_free(id);
    H->mem_free(nic);
    return RB_OK;
}
