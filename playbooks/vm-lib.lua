-- Shared by vm-daily-backup.lua and vm-drill.lua (require "vm-lib").
local M = {}

-- "a, b,c" -> { "a", "b", "c" }; nil or "" -> nil (every VM: an empty Lua
-- table would cross as a map, not a list).
function M.names(s)
  local t = {}
  for n in string.gmatch(s or "", "[^,%s]+") do t[#t + 1] = n end
  if #t == 0 then return nil end
  return t
end

-- The disks of a recorded VM, OS disk first.
function M.disks(v)
  local t = { v.os_disk }
  for _, d in ipairs(v.data_disks or {}) do t[#t + 1] = d end
  return t
end

-- Calls fn(args); whatever happened, then revokes every SAS of `id`
-- (vm.end_access), and only then re-raises a failure. This pairing is what
-- keeps a SAS from outliving its use, also when the action fails or the run
-- is killed: resume runs the step again, which ends with end_access again.
function M.with_access(vm, id, fn, args)
  local ok, out = pcall(fn, args)
  vm.end_access { id = id }
  if not ok then error(out, 0) end
  return out
end

function M.lower(s) return s and string.lower(s) or s end

-- The name segment of an ARM id, and the resource group it sits in.
function M.name_of(id) return id and id:match("([^/]+)$") end
function M.group_of(id) return id and id:match("/[Rr]esource[Gg]roups/([^/]+)/") end

return M
