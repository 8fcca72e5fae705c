-- Key Vault: back up, prove the backup, drill the restore, restore.
--
--   rebound run   playbooks/keyvault.lua -P subscription=S -P resource_group=RG -P vault=NAME
--       checks the vault's protection, backs up every item into the backup
--       vault and checks that the newest backup covers everything within
--       the RPO (-P rpo_minutes=N, default 1440).
--   rebound drill playbooks/keyvault.lua -P ... [-P location=westeurope]
--       restores the newest backup into a scratch vault in the drill
--       target's resource group (targets.drill in rebound.yaml), checks
--       that every item came back, reports the RPO (age of the restored
--       backup; the RTO is the drill's measured wall time in its report),
--       and purges the scratch vault whatever happened (it purges only a
--       vault tagged with this drill's id).
--   rebound run   playbooks/keyvault.lua -P ... -P restore_into=OTHER
--       restores the newest backup into vault OTHER (same subscription and
--       geography): soft-deleted items are recovered, live ones reported as
--       conflicts and never overwritten.
playbook {
  name = "keyvault",
  description = "Key Vault backup, verification, restore drill and restore",
  params = {
    subscription = "string", resource_group = "string", vault = "string",
    rpo_minutes = "int?", location = "string?", restore_into = "string?",
  },
}

local kv = plugin "keyvault"

local function at(ctx, name, rg)
  return { subscription = ctx.params.subscription, resource_group = rg or ctx.params.resource_group,
           name = name or ctx.params.vault }
end
local function vault_id(ctx)
  return "/subscriptions/" .. ctx.params.subscription .. "/resourceGroups/" ..
         ctx.params.resource_group .. "/providers/Microsoft.KeyVault/vaults/" .. ctx.params.vault
end
local function backing_up(ctx) return ctx.mode ~= "drill" and ctx.params.restore_into == nil end
local function drilling(ctx) return ctx.mode == "drill" end
local function restoring(ctx) return ctx.mode ~= "drill" and ctx.params.restore_into ~= nil end
-- The drill's scratch vault: Key Vault names are 3-24 letters, digits, hyphens.
local function scratch(ctx) return "rbd-" .. ctx.run_id:sub(-6) .. ctx.run_id:sub(10, 15) end
local function drill_rg(ctx) return (ctx.target and ctx.target.resource_group) or ctx.params.resource_group end

step "protection" {
  description = "Soft delete and purge protection keep an attacker from destroying the vault",
  run = function(ctx) return kv.properties(at(ctx)) end,
  verify = function(out)
    expect(out.soft_delete, "soft delete is off")
    expect(out.purge_protection, "purge protection is off: an Owner could purge every item")
  end,
}

step "backup" {
  needs = "protection", effect = "write", retry = { attempts = 5, backoff = 2 },
  when = backing_up,
  run = function(ctx) return kv.backup(at(ctx)) end,
}

step "verify-backup" {
  needs = "backup", when = backing_up,
  run = function(ctx)
    local a = at(ctx)
    a.rpo_minutes = ctx.params.rpo_minutes or 1440
    a.now = os.time()
    return kv.verify_backup(a)
  end,
  verify = function(out)
    expect(out.within_rpo, "the newest backup is older than the RPO")
    expect(#out.missing == 0, "items without a backup: " .. table.concat(out.missing, ", "))
  end,
}

step "scratch-vault" {
  needs = "protection", effect = "write", when = drilling,
  run = function(ctx)
    local a = at(ctx, scratch(ctx), drill_rg(ctx))
    a.location = ctx.params.location or (ctx.target and ctx.target.location) or "westeurope"
    a.drill_id = ctx.run_id
    return kv.create_drill_vault(a)
  end,
}

step "drill-restore" {
  needs = "scratch-vault", effect = "write", when = drilling, retry = { attempts = 3, backoff = 2 },
  run = function(ctx)
    local a = at(ctx, scratch(ctx), drill_rg(ctx))
    a.source = vault_id(ctx)
    return kv.restore(a)
  end,
}

step "drill-compare" {
  needs = "drill-restore", when = drilling,
  run = function(ctx)
    local a = at(ctx, scratch(ctx), drill_rg(ctx))
    a.set_id = ctx.outputs["drill-restore"].set_id
    -- The source still exists in a drill: compare contents too (secret
    -- values in memory only, never written anywhere).
    a.values_from = ctx.params.vault
    return kv.compare(a)
  end,
  verify = function(out)
    expect(#out.missing == 0, "not every item came back: " .. table.concat(out.missing, ", "))
    expect(#out.differences == 0, "restored items differ: " .. table.concat(out.differences, ", "))
    expect(#out.values_differ == 0, "contents differ: " .. table.concat(out.values_differ, ", "))
  end,
}

-- RPO of the drill: how old the restored backup was, and what it lacked.
-- (RTO is the drill's own measured wall time and critical path in its report.)
step "drill-rpo" {
  needs = "drill-restore", when = drilling,
  run = function(ctx)
    local a = at(ctx)
    a.rpo_minutes = ctx.params.rpo_minutes or 1440
    a.now = os.time()
    local out = kv.verify_backup(a)
    return { rpo_minutes = out.age_minutes, within_target = out.within_rpo,
             items_without_backup = out.missing, set_id = out.set_id }
  end,
}

step "drill-teardown" {
  needs = { "drill-compare", "drill-rpo" }, effect = "destructive", always = true, when = drilling,
  run = function(ctx)
    local a = at(ctx, scratch(ctx), drill_rg(ctx))
    a.location = ctx.params.location or (ctx.target and ctx.target.location) or "westeurope"
    a.drill_id = ctx.run_id
    return kv.purge_drill_vault(a)
  end,
}

step "restore" {
  needs = "protection", effect = "write", when = restoring, retry = { attempts = 3, backoff = 2 },
  run = function(ctx)
    local a = at(ctx, ctx.params.restore_into)
    a.source = vault_id(ctx)
    return kv.restore(a)
  end,
}
