/* The backup side: snapshot (one incremental snapshot of one disk), export
 * (a read SAS of the snapshot streamed into the backup vault), end_access
 * (revokes every SAS of a disk or snapshot), record_vm (the VM's recorded
 * configuration as its own set), cleanup_snapshots (deletes only snapshots
 * rebound tagged) and verify_backup (every VM has a recent, complete set). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vm.h"

/* --- snapshot ---------------------------------------------------------------- */

/* The snapshot's name: given, or the disk's name and the call's key, so a
 * resumed call finds the snapshot its interrupted attempt created. */
static char *snapshot_name(rb_ctx *ctx, const rb_value *args)
{
    const char *name = H->map_get_string(args, "name", "");
    if (*name)
        return H->str_dup(name);
    const char *disk = vm_id_name(H->map_get_string(args, "disk_id", ""));
    return H->str_format("%.56s-rb-%.12s", disk, H->idempotency_key(ctx));
}

static rb_value *snapshot_outputs(const rb_value *snap, const char *disk_id)
{
    const rb_value *props = H->map_get(snap, "properties");
    rb_value *o = H->value_map();
    vm_set_str(o, "id", H->map_get_string(snap, "id", ""));
    vm_set_str(o, "name", H->map_get_string(snap, "name", ""));
    vm_set_str(o, "disk_id", disk_id);
    vm_set_str(o, "time_created", H->map_get_string(props, "timeCreated", ""));
    H->map_set(o, "incremental", H->value_bool(H->map_get_bool(props, "incremental", 0)));
    return o;
}

rb_status vm_snapshot(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const char *disk_id = H->map_get_string(args, "disk_id", "");
    char *name = snapshot_name(ctx, args);
    char *id = vm_res_id(H->map_get_string(args, "subscription", ""),
                         H->map_get_string(args, "resource_group", ""),
                         "Microsoft.Compute/snapshots", name);
    H->mem_free(name);
    rb_value *snap = NULL;
    rb_status st = H->arm_call(ctx, "GET", id, VM_DISK_API, NULL, &snap, NULL);
    if (st == RB_OK) {
        /* An earlier attempt's snapshot of the same disk: reuse it (once
         * its creation is over: see below). */
        const char *src = vm_get_str(snap, "", "properties", "creationData", "sourceResourceId", NULL);
        if (!vm_id_eq(src, disk_id)) {
            H->set_error(ctx, "snapshot %s exists and copies %s, not %s", vm_id_name(id), src, disk_id);
            H->value_free(snap);
            H->mem_free(id);
            return RB_ECONFLICT;
        }
        /* Still being created by an interrupted attempt: PUT again, which
         * the host re-attaches to the journaled creation and waits for. */
        if (strcasecmp(vm_get_str(snap, "Succeeded", "properties", "provisioningState", NULL),
                       "Succeeded") != 0) {
            H->value_free(snap);
            snap = NULL;
            st = RB_ENOTFOUND;
        }
    }
    if (st == RB_ENOTFOUND) {
        /* The location of a snapshot is its disk's. */
        rb_value *disk = NULL;
        st = H->arm_call(ctx, "GET", disk_id, VM_DISK_API, NULL, &disk, NULL);
        if (st == RB_OK) {
            rb_value *body = H->value_map();
            vm_set_str(body, "location", H->map_get_string(disk, "location", ""));
            rb_value *tags = H->value_map();
            vm_set_str(tags, VM_TAG_BACKUP, H->map_get_string(args, "tag", ""));
            vm_set_str(tags, VM_TAG_SOURCE, disk_id);
            H->map_set(body, "tags", tags);
            rb_value *props = H->value_map();
            rb_value *cd = H->value_map();
            vm_set_str(cd, "createOption", "Copy");
            vm_set_str(cd, "sourceResourceId", disk_id);
            H->map_set(props, "creationData", cd);
            /* Incremental: only the changed blocks are stored, and it is
             * what Azure recommends for backup copies. */
            H->map_set(props, "incremental", H->value_bool(1));
            H->map_set(body, "properties", props);
            st = H->arm_call(ctx, "PUT", id, VM_DISK_API, body, &snap, NULL);
            H->value_free(body);
        }
        H->value_free(disk);
        if (st == RB_OK && !vm_id_eq(H->map_get_string(snap, "id", id), id)) {
            H->set_error(ctx, "creating snapshot %s answered with another resource (%s)", id,
                         H->map_get_string(snap, "id", ""));
            st = RB_EPROTO;
        }
    }
    if (st == RB_OK && !H->map_get_string(snap, "id", NULL)) {
        /* An LRO without a final body: read the snapshot back. */
        H->value_free(snap);
        snap = NULL;
        st = H->arm_call(ctx, "GET", id, VM_DISK_API, NULL, &snap, NULL);
    }
    H->mem_free(id);
    if (st == RB_OK)
        *out = snapshot_outputs(snap, disk_id);
    H->value_free(snap);
    return st;
}

rb_status vm_snapshot_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    char *name = snapshot_name(ctx, args);
    char *id = vm_res_id(H->map_get_string(args, "subscription", ""),
                         H->map_get_string(args, "resource_group", ""),
                         "Microsoft.Compute/snapshots", name);
    rb_value *o = H->value_map();
    vm_set_str(o, "id", id);
    vm_set_str(o, "name", name);
    vm_set_str(o, "disk_id", H->map_get_string(args, "disk_id", ""));
    vm_set_str(o, "time_created", "(planned)");
    H->map_set(o, "incremental", H->value_bool(1));
    H->mem_free(name);
    H->mem_free(id);
    *out = o;
    return RB_OK;
}

/* --- export ------------------------------------------------------------------ */

rb_status vm_export(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    rb_status st = vm_need_streams(ctx);
    if (st != RB_OK)
        return st;
    const char *snap_id = H->map_get_string(args, "snapshot_id", "");
    const rb_value *disk = H->map_get(args, "disk");
    const char *disk_id = H->map_get_string(disk, "id", "");
    if (!*disk_id) {
        H->set_error(ctx, "disk must be a disk record of vm.inventory (with its id)");
        return RB_EINVAL;
    }
    /* disk.json: the recorded disk and the snapshot it was read from. It is
     * the same on every attempt, so a resumed set finds it unchanged. */
    rb_value *record = H->value_copy(disk);
    vm_set_str(record, "snapshot_id", snap_id);
    char *json = vm_to_json(record);
    H->value_free(record);
    if (!json) {
        H->set_error(ctx, "the disk record cannot be written as JSON");
        return RB_EINVAL;
    }
    rb_value *body = H->value_map();
    vm_set_str(body, "access", "Read");
    vm_set_int(body, "durationInSeconds", H->map_get_int(args, "sas_seconds", 3600));
    char *action = H->str_format("%s/beginGetAccess", snap_id);
    rb_value *grant = NULL;
    /* The one long-running operation of this call: on resume the host
     * re-attaches to it and hands back the same SAS. */
    st = H->arm_call(ctx, "POST", action, VM_DISK_API, body, &grant, NULL);
    H->mem_free(action);
    H->value_free(body);
    const char *url = st == RB_OK ? vm_access_sas(grant) : NULL;
    if (st == RB_OK && !url) {
        H->set_error(ctx, "beginGetAccess on %s answered without an accessSAS", vm_id_name(snap_id));
        st = RB_EPROTO;
    }
    rb_value *set = NULL;
    if (st == RB_OK) {
        rb_value *objects = H->value_map();
        rb_value *vhd = H->value_map();
        /* No size: the host asks the SAS itself. Azure serves a fixed VHD,
         * the disk's bytes plus a 512-byte footer, which restore uploads
         * as it is (uploadSizeBytes = that size). */
        vm_set_str(vhd, "url", url);
        H->map_set(objects, "disk.vhd", vhd);
        vm_set_str(objects, "disk.json", json);
        st = H->backup_put_stream(ctx, disk_id, VM_KIND_DISK, objects, &set);
        H->value_free(objects);
        if (st != RB_OK)
            vm_sas_error(ctx, st, "exporting", snap_id, NULL);
    }
    /* The SAS lives only in `grant`: gone with it, never in outputs. */
    H->value_free(grant);
    H->mem_free(json);
    if (st != RB_OK) {
        H->value_free(set);
        return st;
    }
    rb_value *o = H->value_map();
    vm_copy_field(o, "set_id", set, "set_id");
    vm_set_str(o, "disk_id", disk_id);
    vm_set_str(o, "lun", H->map_get_string(disk, "lun", ""));
    vm_set_str(o, "snapshot_id", snap_id);
    vm_copy_field(o, "bytes", set, "bytes");
    vm_copy_field(o, "bytes_sent", set, "bytes_sent");
    H->map_set(o, "resumed", H->value_bool(H->map_get_bool(set, "resumed", 0)));
    vm_set_str(o, "sha256", vm_get_str(set, "", "sha256", "disk.vhd", NULL));
    H->value_free(set);
    *out = o;
    return RB_OK;
}

rb_status vm_export_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    const rb_value *disk = H->map_get(args, "disk");
    rb_value *o = H->value_map();
    vm_set_str(o, "set_id", "(the new backup set)");
    vm_set_str(o, "disk_id", H->map_get_string(disk, "id", ""));
    vm_set_str(o, "lun", H->map_get_string(disk, "lun", ""));
    vm_set_str(o, "snapshot_id", H->map_get_string(args, "snapshot_id", ""));
    vm_set_int(o, "bytes", H->map_get_int(disk, "size_bytes", 0));
    vm_set_int(o, "bytes_sent", H->map_get_int(disk, "size_bytes", 0));
    H->map_set(o, "resumed", H->value_bool(0));
    vm_set_str(o, "sha256", "(planned)");
    *out = o;
    return RB_OK;
}

/* --- end_access ---------------------------------------------------------------- */

rb_status vm_end_access(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const char *id = H->map_get_string(args, "id", "");
    char *action = H->str_format("%s/endGetAccess", id);
    rb_status st = H->arm_call(ctx, "POST", action, VM_DISK_API, NULL, NULL, NULL);
    H->mem_free(action);
    int gone = 0;
    if (st == RB_ENOTFOUND) {
        /* Deleted (an attacker, or the cleanup): no SAS outlives its disk. */
        gone = 1;
        st = RB_OK;
    }
    if (st != RB_OK)
        return st;
    rb_value *o = H->value_map();
    vm_set_str(o, "id", id);
    H->map_set(o, "revoked", H->value_bool(1));
    H->map_set(o, "gone", H->value_bool(gone));
    *out = o;
    return RB_OK;
}

rb_status vm_end_access_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    rb_value *o = H->value_map();
    vm_set_str(o, "id", H->map_get_string(args, "id", ""));
    H->map_set(o, "revoked", H->value_bool(1));
    H->map_set(o, "gone", H->value_bool(0));
    *out = o;
    return RB_OK;
}

/* --- record_vm --------------------------------------------------------------- */

/* vm.json: the VM record with each disk's set id. */
static rb_status vm_json(rb_ctx *ctx, const rb_value *vm, const rb_value *sets, rb_value **rec)
{
    *rec = H->value_copy(vm);
    rb_value *os = H->value_copy(H->map_get(vm, "os_disk"));
    const char *os_id = H->map_get_string(os, "id", "");
    const char *os_set = H->map_get_string(sets, os_id, NULL);
    for (size_t i = 0; !os_set && i < H->value_len(sets); i++)
        if (vm_id_eq(H->map_key_at(sets, i), os_id))
            os_set = H->value_as_string(H->map_value_at(sets, i));
    if (!os_set) {
        H->set_error(ctx, "no backup set for the OS disk %s of %s", vm_id_name(os_id),
                     H->map_get_string(vm, "name", "?"));
        H->value_free(os);
        return RB_EINVAL;
    }
    vm_set_str(os, "set_id", os_set);
    H->map_set(*rec, "os_disk", os);
    rb_value *data = H->value_list();
    const rb_value *dl = H->map_get(vm, "data_disks");
    rb_status st = RB_OK;
    for (size_t i = 0; i < H->value_len(dl); i++) {
        rb_value *d = H->value_copy(H->list_get(dl, i));
        const char *id = H->map_get_string(d, "id", "");
        const char *set = NULL;
        for (size_t k = 0; !set && k < H->value_len(sets); k++)
            if (vm_id_eq(H->map_key_at(sets, k), id))
                set = H->value_as_string(H->map_value_at(sets, k));
        if (!set) {
            H->set_error(ctx, "no backup set for data disk %s (lun %s) of %s", vm_id_name(id),
                         H->map_get_string(d, "lun", "?"), H->map_get_string(vm, "name", "?"));
            st = RB_EINVAL;
        }
        vm_set_str(d, "set_id", set);
        H->list_append(data, d);
    }
    H->map_set(*rec, "data_disks", data);
    return st;
}

rb_status vm_record(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const rb_value *vm = H->map_get(args, "vm");
    const char *vm_id = H->map_get_string(vm, "id", "");
    if (!*vm_id) {
        H->set_error(ctx, "vm must be a VM record of vm.inventory (with its id)");
        return RB_EINVAL;
    }
    rb_value *rec = NULL;
    rb_status st = vm_json(ctx, vm, H->map_get(args, "disk_sets"), &rec);
    char *json = st == RB_OK ? vm_to_json(rec) : NULL;
    H->value_free(rec);
    if (st != RB_OK)
        return st;
    if (!json) {
        H->set_error(ctx, "the VM record cannot be written as JSON");
        return RB_EINVAL;
    }
    rb_value *objects = H->value_map();
    vm_set_str(objects, "vm.json", json);
    H->mem_free(json);
    rb_value *set = NULL;
    st = H->backup_put(ctx, vm_id, VM_KIND_VM, objects, &set);
    H->value_free(objects);
    if (st != RB_OK)
        return st;
    rb_value *o = H->value_map();
    vm_copy_field(o, "set_id", set, "set_id");
    vm_set_str(o, "vm", H->map_get_string(vm, "name", ""));
    vm_set_str(o, "vm_id", vm_id);
    vm_set_int(o, "disks", 1 + (int64_t)H->value_len(H->map_get(vm, "data_disks")));
    H->value_free(set);
    *out = o;
    return RB_OK;
}

rb_status vm_record_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    const rb_value *vm = H->map_get(args, "vm");
    rb_value *o = H->value_map();
    vm_set_str(o, "set_id", "(the new backup set)");
    vm_set_str(o, "vm", H->map_get_string(vm, "name", ""));
    vm_set_str(o, "vm_id", H->map_get_string(vm, "id", ""));
    vm_set_int(o, "disks", 1 + (int64_t)H->value_len(H->map_get(vm, "data_disks")));
    *out = o;
    return RB_OK;
}

/* --- cleanup_snapshots ------------------------------------------------------ */

static int listed(const rb_value *list, const char *id)
{
    for (size_t i = 0; i < H->value_len(list); i++)
        if (vm_id_eq(H->value_as_string(H->list_get(list, i)), id))
            return 1;
    return 0;
}

/* "2026-12-03T11:45:17.1234567+00:00" -> Unix seconds (0 if unparsable). */
static int64_t iso_seconds(const char *s)
{
    int y, mo, d, h, mi, sec;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
        return 0;
    /* days from civil (Howard Hinnant's algorithm) */
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + h * 3600 + mi * 60 + sec;
}

/* Which snapshots go: those named in `snapshots`, those tagged with `tag`,
 * and rebound's older than max_age_hours. Never one rebound did not tag. */
static int doomed(const rb_value *snap, const rb_value *args)
{
    const rb_value *tags = H->map_get(snap, "tags");
    const char *mine = H->map_get_string(tags, VM_TAG_BACKUP, NULL);
    if (!mine)
        return 0;
    if (listed(H->map_get(args, "snapshots"), H->map_get_string(snap, "id", "")))
        return 1;
    const char *tag = H->map_get_string(args, "tag", "");
    if (*tag && strcmp(mine, tag) == 0)
        return 1;
    int64_t max_age = H->map_get_int(args, "max_age_hours", 0);
    int64_t now = H->map_get_int(args, "now", 0);
    int64_t created = iso_seconds(vm_get_str(snap, NULL, "properties", "timeCreated", NULL));
    return max_age > 0 && now > 0 && created > 0 && now - created > max_age * 3600;
}

rb_status vm_cleanup_snapshots(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    char *rg = vm_rg_id(args);
    char *path = H->str_format("%s/providers/Microsoft.Compute/snapshots", rg);
    H->mem_free(rg);
    rb_value *snaps = NULL;
    rb_status st = H->arm_list(ctx, path, VM_DISK_API, 0, &snaps);
    if (st != RB_OK) {
        H->mem_free(path);
        return st;
    }
    rb_value *deleted = H->value_list();
    int64_t kept = 0;
    /* Named snapshots that are already gone count as cleaned up: a resumed
     * call, or an attacker who got there first. */
    size_t n = H->value_len(snaps);
    for (size_t i = 0; i < n && st == RB_OK; i++) {
        const rb_value *s = H->list_get(snaps, i);
        if (!doomed(s, args)) {
            kept++;
            continue;
        }
        const char *id = H->map_get_string(s, "id", "");
        st = H->arm_call(ctx, "DELETE", id, VM_DISK_API, NULL, NULL, NULL);
        if (st == RB_ENOTFOUND)
            st = RB_OK;
        if (st == RB_OK)
            H->list_append(deleted, H->value_string(id));
        if (st == RB_OK && H->progress(ctx, i + 1, n))
            st = RB_ECANCELED;
    }
    H->value_free(snaps);
    /* Check rather than trust: list again, nothing chosen may remain. */
    rb_value *after = NULL;
    if (st == RB_OK)
        st = H->arm_list(ctx, path, VM_DISK_API, 0, &after);
    H->mem_free(path);
    for (size_t i = 0; st == RB_OK && i < H->value_len(after); i++) {
        const rb_value *s = H->list_get(after, i);
        if (listed(deleted, H->map_get_string(s, "id", "")) &&
            strcmp(vm_get_str(s, "", "properties", "provisioningState", NULL), "Deleting") != 0) {
            H->set_error(ctx, "snapshot %s is still there after its delete",
                         H->map_get_string(s, "name", "?"));
            st = RB_ECONFLICT;
        }
    }
    H->value_free(after);
    if (st != RB_OK) {
        H->value_free(deleted);
        return st;
    }
    rb_value *o = H->value_map();
    vm_set_int(o, "count", (int64_t)H->value_len(deleted));
    H->map_set(o, "deleted", deleted);
    vm_set_int(o, "kept", kept);
    *out = o;
    return RB_OK;
}

rb_status vm_cleanup_snapshots_plan(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    (void)ctx;
    rb_value *o = H->value_map();
    const rb_value *named = H->map_get(args, "snapshots");
    vm_set_int(o, "count", (int64_t)H->value_len(named));
    H->map_set(o, "deleted", named ? H->value_copy(named) : H->value_list());
    vm_set_int(o, "kept", 0);
    *out = o;
    return RB_OK;
}

/* --- verify_backup ----------------------------------------------------------- */

/* One VM: its newest vm set, and every disk set that set names, present
 * with a disk.vhd of the recorded size. */
static rb_value *verify_one(rb_ctx *ctx, const char *vm_id, int64_t now, int64_t rpo, rb_status *st)
{
    rb_value *r = H->value_map();
    vm_set_str(r, "vm", vm_id_name(vm_id));
    rb_value *problems = H->value_list();
    rb_value *set = NULL;
    *st = vm_newest_set(ctx, vm_id, VM_KIND_VM, &set);
    if (*st == RB_ENOTFOUND) {
        *st = RB_OK;
        H->list_append(problems, H->value_string("no backup"));
        H->map_set(r, "set_id", H->value_null());
        H->map_set(r, "age_minutes", H->value_null());
    } else if (*st == RB_OK) {
        int64_t created = H->map_get_int(set, "created_s", 0);
        int64_t age = now > created ? (now - created) / 60 : 0;
        vm_copy_field(r, "set_id", set, "set_id");
        vm_set_int(r, "age_minutes", age);
        if (age > rpo)
            H->list_append(problems, H->value_string("older than the RPO"));
        rb_value *rec = NULL;
        *st = vm_read_json(ctx, H->map_get_string(set, "set_id", ""), "vm.json", &rec);
        rb_value *disks = H->value_list();
        if (*st == RB_OK) {
            H->list_append(disks, H->value_copy(H->map_get(rec, "os_disk")));
            const rb_value *dl = H->map_get(rec, "data_disks");
            for (size_t i = 0; i < H->value_len(dl); i++)
                H->list_append(disks, H->value_copy(H->list_get(dl, i)));
        }
        int64_t bytes = 0;
        for (size_t i = 0; *st == RB_OK && i < H->value_len(disks); i++) {
            const rb_value *d = H->list_get(disks, i);
            char sha[65] = "";
            int64_t n = 0;
            *st = vm_manifest_object(ctx, H->map_get_string(d, "set_id", ""), "disk.vhd", sha, &n);
            if (*st == RB_ENOTFOUND || *st == RB_ECORRUPT) {
                char *p = H->str_format("disk %s: set %s missing or corrupt",
                                        H->map_get_string(d, "name", "?"),
                                        H->map_get_string(d, "set_id", "?"));
                H->list_append(problems, H->value_string(p));
                H->mem_free(p);
                *st = RB_OK;
            } else if (*st == RB_OK) {
                bytes += n;
                int64_t want = H->map_get_int(d, "size_bytes", 0);
                if (want > 0 && n != want) {
                    char *p = H->str_format("disk %s: %lld bytes in the vault, %lld recorded",
                                            H->map_get_string(d, "name", "?"), (long long)n,
                                            (long long)want);
                    H->list_append(problems, H->value_string(p));
                    H->mem_free(p);
                }
            }
        }
        vm_set_int(r, "disks", (int64_t)H->value_len(disks));
        vm_set_int(r, "bytes", bytes);
        H->value_free(disks);
        H->value_free(rec);
    }
    H->value_free(set);
    H->map_set(r, "ok", H->value_bool(H->value_len(problems) == 0));
    H->map_set(r, "problems", problems);
    return r;
}

rb_status vm_verify_backup(rb_ctx *ctx, const rb_value *args, rb_value **out)
{
    const rb_value *names = H->map_get(args, "vms");
    int64_t now = H->map_get_int(args, "now", 0);
    int64_t rpo = H->map_get_int(args, "rpo_minutes", 1440);
    rb_value *vms = H->value_list();
    int all_ok = H->value_len(names) > 0;
    rb_status st = RB_OK;
    for (size_t i = 0; st == RB_OK && i < H->value_len(names); i++) {
        const char *name = H->value_as_string(H->list_get(names, i));
        char *id = vm_res_id(H->map_get_string(args, "subscription", ""),
                             H->map_get_string(args, "resource_group", ""),
                             "Microsoft.Compute/virtualMachines", name ? name : "");
        rb_value *r = verify_one(ctx, id, now, rpo, &st);
        H->mem_free(id);
        all_ok = all_ok && H->map_get_bool(r, "ok", 0);
        H->list_append(vms, r);
    }
    if (st != RB_OK) {
        H->value_free(vms);
        return st;
    }
    rb_value *o = H->value_map();
    H->map_set(o, "vms", vms);
    vm_set_int(o, "rpo_minutes", rpo);
    H->map_set(o, "ok", H->value_bool(all_ok));
    *out = o;
    return RB_OK;
}
