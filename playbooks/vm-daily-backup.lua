-- VMs: the daily backup. Meant for cron or a CI schedule (docs/plugins/vm.md):
--
--   rebound run playbooks/vm-daily-backup.lua --confirm \
--       -P subscription=S -P resource_group=RG [-P vms=web1,web2] \
--     && rebound vault prune --apply
--
-- For every disk of the VMs: an incremental snapshot, a read SAS of the
-- snapshot streamed into the backup vault (one signed set per disk: disk.vhd
-- and disk.json), the SAS revoked (always: also when the export fails, and
-- again by resume after a crash), then one set per VM with its recorded
-- configuration (vm.json: size, zone, tags, NICs and their network, the
-- Key Vaults its disk encryption needs, the set of every disk). The
-- snapshots are deleted afterwards (only those rebound tagged; with
-- snapshot_max_age_hours also what an earlier failed run left), and the
-- vault is checked: every VM has a complete set within the RPO.
--
-- Retention: the vault keeps each set for its signed retention
-- (vault.min_retention_days) and `rebound vault prune --apply` deletes what
-- has expired. Plugins cannot delete backups, by design: an attacker's
-- playbook could not either. `--confirm` approves the one destructive step,
-- the deletion of this run's own snapshots.
playbook {
  name = "vm-daily-backup",
  description = "Snapshot, export to the immutable vault, revoke, clean up, verify",
  params = {
    subscription = "string", resource_group = "string", vms = "string?",
    snapshot_group = "string?", rpo_minutes = "int?", snapshot_max_age_hours = "int?",
    now = "int?", -- Unix seconds for age checks (default: os.time()); practice on a virtual clock
  },
}

local vm = plugin "vm"
local lib = require "vm-lib"

local function at(ctx, extra)
  local a = { subscription = ctx.params.subscription, resource_group = ctx.params.resource_group }
  for k, v in pairs(extra or {}) do a[k] = v end
  return a
end
local function snap_group(ctx) return ctx.params.snapshot_group or ctx.params.resource_group end
local function now(ctx) return ctx.params.now or os.time() end

step "inventory" {
  description = "The VMs, their disks, encryption and network",
  run = function(ctx) return vm.inventory(at(ctx, { vms = lib.names(ctx.params.vms) })) end,
  verify = function(out)
    expect(#out.missing == 0, "VMs not found: " .. table.concat(out.missing, ", "))
    expect(#out.vms > 0, "no VMs to back up")
  end,
}

step "snapshot" {
  needs = "inventory", effect = "write", retry = { attempts = 3, backoff = 2 },
  description = "An incremental snapshot of every disk",
  run = function(ctx)
    local snaps = {}
    for _, v in ipairs(ctx.outputs.inventory.vms) do
      for _, d in ipairs(lib.disks(v)) do
        local s = vm.snapshot { subscription = ctx.params.subscription, resource_group = snap_group(ctx),
                                disk_id = d.id, tag = ctx.run_id }
        snaps[#snaps + 1] = { vm = v.name, disk = d, snapshot_id = s.id, time_created = s.time_created }
      end
    end
    return { snapshots = snaps }
  end,
}

step "export" {
  needs = "snapshot", effect = "write", retry = { attempts = 3, backoff = 2 },
  description = "Each snapshot's read SAS streamed into the vault, then revoked",
  run = function(ctx)
    local disks, bytes, sent = {}, 0, 0
    for _, s in ipairs(ctx.outputs.snapshot.snapshots) do
      local out = lib.with_access(vm, s.snapshot_id, vm.export,
                                  { snapshot_id = s.snapshot_id, disk = s.disk })
      disks[#disks + 1] = { vm = s.vm, disk_id = out.disk_id, lun = out.lun, set_id = out.set_id,
                            sha256 = out.sha256, bytes = out.bytes, resumed = out.resumed }
      bytes, sent = bytes + out.bytes, sent + out.bytes_sent
    end
    return { disks = disks, bytes = bytes, bytes_sent = sent }
  end,
}

-- Belt and braces: whatever happened to export (failed, cancelled, killed
-- and resumed), no read SAS of a snapshot stays valid.
step "revoke" {
  needs = { "snapshot", "export" }, effect = "write", always = true, retry = { attempts = 3, backoff = 2 },
  run = function(ctx)
    local revoked = {}
    for _, s in ipairs((ctx.outputs.snapshot or {}).snapshots or {}) do
      revoked[#revoked + 1] = vm.end_access { id = s.snapshot_id }.id
    end
    return { revoked = revoked }
  end,
}

step "record" {
  needs = { "inventory", "export" }, effect = "write", retry = { attempts = 3, backoff = 2 },
  description = "Each VM's configuration, with its disks' sets, as a set of its own",
  run = function(ctx)
    local sets = {}
    for _, d in ipairs(ctx.outputs.export.disks) do sets[d.disk_id] = d.set_id end
    local vms = {}
    for _, v in ipairs(ctx.outputs.inventory.vms) do
      local out = vm.record_vm { vm = v, disk_sets = sets }
      vms[#vms + 1] = { vm = v.name, set_id = out.set_id, disks = out.disks }
    end
    return { vms = vms }
  end,
}

step "cleanup" {
  needs = { "snapshot", "revoke", "record" }, effect = "destructive", retry = { attempts = 3, backoff = 2 },
  description = "Delete this run's snapshots (and stale ones rebound left)",
  run = function(ctx)
    -- One call for all of them: a resumed call re-attaches each snapshot's
    -- delete to its own journaled operation, and one already gone is done.
    local ids = {}
    for _, s in ipairs(ctx.outputs.snapshot.snapshots) do ids[#ids + 1] = s.snapshot_id end
    local deleted = {}
    if #ids > 0 then
      deleted = vm.cleanup_snapshots { subscription = ctx.params.subscription,
                                       resource_group = snap_group(ctx), snapshots = ids }.deleted
    end
    local stale = 0
    if (ctx.params.snapshot_max_age_hours or 0) > 0 then
      stale = vm.cleanup_snapshots { subscription = ctx.params.subscription, resource_group = snap_group(ctx),
                                     max_age_hours = ctx.params.snapshot_max_age_hours, now = now(ctx) }.count
    end
    return { deleted = deleted, stale_deleted = stale }
  end,
}

step "verify" {
  needs = { "inventory", "record" },
  description = "Every VM has a complete set in the vault within the RPO",
  -- In plan mode the new sets are only predicted: nothing to check yet.
  when = function(ctx) return ctx.mode ~= "plan" end,
  run = function(ctx)
    local names = {}
    for _, v in ipairs(ctx.outputs.inventory.vms) do names[#names + 1] = v.name end
    return vm.verify_backup(at(ctx, { vms = names, now = now(ctx),
                                      rpo_minutes = ctx.params.rpo_minutes or 1440 }))
  end,
  verify = function(out)
    local bad = {}
    for _, v in ipairs(out.vms) do
      if not v.ok then bad[#bad + 1] = v.vm .. " (" .. table.concat(v.problems, "; ") .. ")" end
    end
    expect(out.ok, "VMs without a complete backup within the RPO: " .. table.concat(bad, ", "))
  end,
}
