-- A sample playbook that needs no cloud: it exercises ordering, parallel
-- steps, a verified read, a write with predicted outputs in plan mode, and
-- a teardown step that always runs. `./scripts/demo.sh` runs it.
playbook {
  name = "sample",
  description = "Ordering, parallelism, verification and teardown with the noop plugin",
  params = { label = "string?", delay_ms = "int?" },
}

local noop = plugin "noop"

step "inventory" {
  description = "Read what exists",
  run = function(ctx)
    return noop.ping { message = "inventory of " .. (ctx.params.label or "the estate") }
  end,
  verify = function(out) expect(out.message ~= nil, "inventory returned nothing") end,
}

-- Three independent backups run side by side.
for _, name in ipairs { "keys", "disks", "databases" } do
  step ("backup-" .. name) {
    needs = { "inventory" },
    effect = "write",
    retry = { attempts = 3, backoff = 0.2 },
    run = function(ctx)
      noop.sleep { ms = ctx.params.delay_ms or 200 }
      return noop.touch { id = "backup-" .. name }
    end,
  }
end

step "verify-backups" {
  needs = { "backup-keys", "backup-disks", "backup-databases" },
  run = function(ctx)
    local ids = {}
    for step, out in pairs(ctx.outputs) do ids[#ids + 1] = out.id end
    table.sort(ids)
    return { verified = #ids, ids = ids }
  end,
  verify = function(out) expect(out.verified == 3, "not every backup reported back") end,
}

step "report" {
  needs = { "verify-backups" },
  always = true,
  run = function(ctx)
    return noop.ping { message = "drill target: " .. ((ctx.target or {}).resource_group or "none") }
  end,
}
