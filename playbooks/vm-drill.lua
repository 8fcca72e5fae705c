-- VMs: the recovery drill (and, with `rebound run`, the restore).
--
--   rebound drill playbooks/vm-drill.lua -P subscription=S -P resource_group=RG [-P vms=web1,web2]
--
-- Reads only the backup vault (the VMs, their disks and snapshots may be
-- gone: that is the point), then rebuilds in an isolated resource group of
-- its own (tagged with the drill's id; targets.drill's resource_group, or
-- rbd-<run>): the recorded networks first (new vnets, no peering), the Key
-- Vaults the disks' encryption references are checked next, every disk is
-- restored from its VHD in the vault (direct upload; the write SAS always
-- revoked), then the VMs are recreated from their recorded configuration.
-- Each VM must be running, its guest must answer, and every disk's SHA-256
-- seen by the guest must equal the signed manifest's. The report gives the
-- measured RTO (first read of the vault to the last verified VM) and the RPO
-- (age of the oldest set restored). Teardown deletes the drill's group
-- whatever happened, and only a group carrying this drill's tag.
--
-- Dependency rules (playbooks cannot yet take rules from plugins, so they
-- are spelled out here): restore-vms needs network (VMs depend on their
-- network) and key-vaults (a VM whose disks are encrypted with a Key Vault
-- key depends on that vault: restore it first with playbooks/keyvault.lua,
-- this step checks it is there and protected).
playbook {
  name = "vm-drill",
  description = "Restore VMs from the vault into an isolated group, verify, measure, tear down",
  params = {
    subscription = "string", resource_group = "string", vms = "string?",
    location = "string?", drill_group = "string?", rpo_minutes = "int?",
    parallel_disks = "int?", -- disks restored at once (default 4)
  },
}

local vm = plugin "vm"
local kv = plugin "keyvault"
local lib = require "vm-lib"

local function group(ctx)
  return ctx.params.drill_group or (ctx.target and ctx.target.resource_group) or
         ("rbd-" .. string.lower(ctx.run_id))
end
local function location(ctx, catalog)
  local first = catalog and catalog.vms[1]
  return ctx.params.location or (ctx.target and (ctx.target.location or ctx.target.region)) or
         (first and first.config.location) or "westeurope"
end
local function drill(ctx, extra)
  local a = { subscription = ctx.params.subscription, resource_group = group(ctx), drill_id = ctx.run_id }
  for k, v in pairs(extra or {}) do a[k] = v end
  return a
end

step "catalog" {
  description = "The newest recorded configuration of each VM, from the vault only",
  run = function(ctx)
    local out = vm.recorded { subscription = ctx.params.subscription, resource_group = ctx.params.resource_group,
                              vms = lib.names(ctx.params.vms) }
    out.started_at = os.time()
    return out
  end,
  verify = function(out)
    expect(#out.missing == 0, "no backup of: " .. table.concat(out.missing, ", "))
    expect(#out.vms > 0, "no VM backups in the vault for this resource group")
  end,
}

step "drill-group" {
  needs = "catalog", effect = "write",
  run = function(ctx)
    return vm.create_drill_group { subscription = ctx.params.subscription, name = group(ctx),
                                   location = location(ctx, ctx.outputs.catalog), drill_id = ctx.run_id }
  end,
}

step "network" {
  needs = { "catalog", "drill-group" }, effect = "write", retry = { attempts = 3, backoff = 2 },
  description = "The recorded vnets and subnets, isolated (no peering) in the drill's group",
  run = function(ctx)
    local nets = {}
    for _, n in ipairs(ctx.outputs.catalog.networks) do
      local out = vm.restore_network(drill(ctx, { network = n, location = location(ctx, ctx.outputs.catalog) }))
      nets[lib.lower(n.id)] = out
    end
    return { networks = nets }
  end,
}

step "key-vaults" {
  needs = "catalog",
  description = "The Key Vaults the disks' encryption needs are there and protected",
  run = function(ctx)
    local checked = {}
    for _, id in ipairs(ctx.outputs.catalog.key_vaults) do
      local sub = id:match("^/subscriptions/([^/]+)/")
      local p = kv.properties { subscription = sub, resource_group = lib.group_of(id), name = lib.name_of(id) }
      expect(p.soft_delete and p.purge_protection,
             "Key Vault " .. lib.name_of(id) .. " lacks soft delete or purge protection")
      checked[#checked + 1] = lib.name_of(id)
    end
    return { key_vaults = checked }
  end,
}

step "restore-disks" {
  needs = { "catalog", "drill-group" }, effect = "write", retry = { attempts = 3, backoff = 2 },
  description = "Every disk from its VHD in the vault (direct upload, write SAS revoked), several at once",
  run = function(ctx)
    local list, owner = {}, {}
    for _, v in ipairs(ctx.outputs.catalog.vms) do
      for _, d in ipairs(lib.disks(v.config)) do
        list[#list + 1] = { name = v.name .. (d.lun == "os" and "-osdisk" or ("-data" .. d.lun)),
                            set_id = d.set_id, lun = d.lun, zone = v.config.zone or "" }
        owner[#list] = v.name
      end
    end
    local out = vm.restore_disks(drill(ctx, { disks = list, location = location(ctx, ctx.outputs.catalog),
                                              parallel = ctx.params.parallel_disks or 4 }))
    local by_vm = {}
    for i, d in ipairs(out.disks) do
      by_vm[owner[i]] = by_vm[owner[i]] or {}
      by_vm[owner[i]][d.lun] = { id = d.id, set_id = d.set_id }
    end
    return { vms = by_vm, disks = out.count, bytes = out.bytes }
  end,
}

step "restore-vms" {
  needs = { "catalog", "network", "key-vaults", "restore-disks" }, effect = "write",
  retry = { attempts = 3, backoff = 2 },
  description = "The VMs from their recorded configuration, with the restored disks",
  run = function(ctx)
    local restored = {}
    for _, v in ipairs(ctx.outputs.catalog.vms) do
      local nic = (v.config.nics or {})[1] or {}
      local net = ctx.outputs.network.networks[lib.lower(nic.vnet_id or "")]
      local subnet = net and net.subnets[nic.subnet or ""]
      if not subnet then fail("no restored subnet for " .. v.name .. " (" .. tostring(nic.subnet_id) .. ")") end
      local disks = {}
      for lun, d in pairs(ctx.outputs["restore-disks"].vms[v.name]) do disks[lun] = d.id end
      local out = vm.restore_vm(drill(ctx, { name = v.name, config = v.config, disks = disks, subnet_id = subnet,
                                             zone = v.config.zone or "", location = location(ctx, ctx.outputs.catalog) }))
      restored[#restored + 1] = out.id
    end
    return { vms = restored }
  end,
}

step "verify" {
  needs = { "catalog", "restore-vms", "restore-disks" }, effect = "write", retry = { attempts = 3, backoff = 2 },
  description = "Running, the guest answers, every disk's hash equals its signed manifest",
  run = function(ctx)
    local results, ok = {}, true
    for _, v in ipairs(ctx.outputs.catalog.vms) do
      local sets = {}
      for lun, d in pairs(ctx.outputs["restore-disks"].vms[v.name]) do sets[lun] = d.set_id end
      local out = vm.verify_vm { subscription = ctx.params.subscription, resource_group = group(ctx),
                                 name = v.name, disks = sets }
      results[#results + 1] = out
      ok = ok and out.ok
    end
    return { vms = results, ok = ok, verified_at = os.time() }
  end,
  verify = function(out)
    local bad = {}
    for _, v in ipairs(out.vms) do
      if not v.ok then
        bad[#bad + 1] = v.name .. " (" .. v.power_state .. (v.boot_ok and "" or ", no guest answer") ..
                        (v.hashes_match and "" or ", disk hashes differ") .. ")"
      end
    end
    expect(out.ok, "VMs that did not come back intact: " .. table.concat(bad, ", "))
  end,
}

-- RTO: measured from the first read of the vault to the last verified VM
-- (the drill's whole wall time is in its report too). RPO: the age of the
-- oldest backup set restored.
step "drill-report" {
  needs = { "catalog", "verify" },
  run = function(ctx)
    local c, now = ctx.outputs.catalog, os.time()
    local rpo = c.oldest_created_s and math.max(0, (now - c.oldest_created_s) // 60) or nil
    local limit = ctx.params.rpo_minutes or 1440
    return { rto_seconds = (ctx.outputs.verify.verified_at or now) - c.started_at,
             rpo_minutes = rpo, rpo_target_minutes = limit, within_rpo = rpo ~= nil and rpo <= limit,
             vms = #c.vms }
  end,
}

step "teardown" {
  needs = { "drill-group", "verify", "drill-report" }, effect = "destructive", always = true,
  retry = { attempts = 3, backoff = 2 },
  run = function(ctx)
    return vm.delete_drill_group { subscription = ctx.params.subscription, name = group(ctx),
                                   location = location(ctx, nil), drill_id = ctx.run_id }
  end,
}
