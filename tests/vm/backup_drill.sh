#!/usr/bin/env bash
# The VM plugin end to end against azsim, with the backup vault in a WORM
# blob container (locked immutability policy) served by azsim:
# - the daily backup of 3 VMs with 2 disks each: one signed set per disk
#   (its SHA-256 equal to azsim's own checksum of the disk) and per VM,
#   snapshots deleted, no SAS left active, `rebound vault verify` passes;
# - plan mode predicts without writing;
# - an attacker with Owner rights deletes the VMs, disks, snapshots and the
#   resource group; the locked container keeps every set;
# - the drill refuses to recreate VMs while the Key Vault their disks'
#   encryption needs is gone (dependency rule), and tears down anyway;
# - with the vault recovered, the drill restores all 3 VMs into an isolated
#   group, each running, its guest answering, every disk's hash equal to the
#   signed manifest (and to the original disk); RTO/RPO reported; teardown;
# - retention: prune deletes nothing now, everything once the vault's clock
#   and azsim's are past the retention;
# - no SAS signature in any artifact.
. "$(dirname "$0")/lib.sh"
START=$(date +%s)
SECRET='Vm-Test-Client-Secret-Value'
vm_estate estate.yaml "$SECRET" vm1 vm2 vm3
vm_start estate.yaml "$SECRET" blob
RGA=/subscriptions/$S/resourceGroups/rg-app
BK=(-P subscription=$S -P resource_group=rg-app)

# Plan first: reads run, writes are predicted, nothing is created.
"$REBOUND" plan "${PD[@]}" "${BK[@]}" "$PLAYBOOKS/vm-daily-backup.lua" >plan.txt 2>&1
rc=$?
check "plan of the daily backup (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' plan.txt >&2
code=$(arm GET "$RGA/providers/Microsoft.Compute/snapshots?api-version=2023-04-02")
check "plan created no snapshot" test "$(jq '.value | length' arm.json)" -eq 0

# The daily backup.
"$REBOUND" run "${PD[@]}" --confirm --run-dir b1 "${BK[@]}" "$PLAYBOOKS/vm-daily-backup.lua" >b1.txt 2>&1
rc=$?
check "daily backup succeeded (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' b1.txt >&2
check "inventory: 3 VMs, 6 disks" jqe '.steps[] | select(.name=="inventory") | .outputs.counts | .vms == 3 and .disks == 6' b1/report.json
check "inventory: the encrypted disk's Key Vault" \
  jqe '.steps[] | select(.name=="inventory") | .outputs.key_vaults | length == 1 and (.[0] | endswith("/vaults/kvdisk"))' b1/report.json
check "6 incremental snapshots" jqe '.steps[] | select(.name=="snapshot") | .outputs.snapshots | length == 6' b1/report.json
check "6 disk sets exported" jqe '.steps[] | select(.name=="export") | .outputs.disks | length == 6 and all(.set_id | length > 0)' b1/report.json
check "3 VM sets recorded" jqe '.steps[] | select(.name=="record") | .outputs.vms | length == 3' b1/report.json
check "the vault check passed" jqe '.steps[] | select(.name=="verify") | .outputs.ok' b1/report.json
curl -s "$CTL/inventory" >inv.json
n_equal=0
for row in $(jq -r '.steps[] | select(.name=="export") | .outputs.disks[] | "\(.disk_id)=\(.sha256)"' b1/report.json); do
  id=${row%%=*} sha=${row#*=}
  want=$(jq -r --arg k "disk:$(tr 'A-Z' 'a-z' <<<"$id")" '.items[] | select(.key==$k) | .sha256' inv.json)
  [ -n "$want" ] && [ "$want" = "$sha" ] && n_equal=$((n_equal + 1))
done
check "every exported VHD hashes as azsim's disk ($n_equal of 6)" test "$n_equal" -eq 6
jq -r '.steps[] | select(.name=="export") | .outputs.disks[] | "\(.vm) \(.lun) \(.sha256)"' b1/report.json >original.txt
code=$(arm GET "$RGA/providers/Microsoft.Compute/snapshots?api-version=2023-04-02")
check "snapshots cleaned up" test "$(jq '.value | length' arm.json)" -eq 0
check "no SAS left active" test "$(active_sas)" -eq 0
"$REBOUND" vault verify -q -c rebound.yaml >vv1.txt 2>&1
check "the vault verifies (signatures, every block)" test $? -eq 0
"$REBOUND" vault list -c rebound.yaml --output json >sets.json 2>/dev/null
check "9 sets in the vault (6 disks, 3 VMs)" test "$(jq 'if type=="array" then length else (.sets | length) end' sets.json)" -eq 9

# The attacker.
curl -s -X POST "$CTL/attack" -d '{"role":"Owner"}' >attack.json
code=$(arm GET "$RGA/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2023-03-01")
check "the attacker deleted the VMs ($code)" test "$code" = 404
code=$(arm GET "$RGA/providers/Microsoft.Compute/disks/vm1-os?api-version=2023-04-02")
check "and their disks ($code)" test "$code" = 404
"$REBOUND" vault verify -q -c rebound.yaml >vv2.txt 2>&1
check "the locked container kept every set" test $? -eq 0

# The drill, before the Key Vault is back: VMs must not be recreated.
DR=(-P subscription=$S -P resource_group=rg-app)
"$REBOUND" drill "${PD[@]}" --run-dir d0 "${DR[@]}" "$PLAYBOOKS/vm-drill.lua" >d0.txt 2>&1
rc=$?
check "drill without the disks' Key Vault fails (exit $rc)" test "$rc" -eq 1
check "at the key-vaults step" jqe '.steps[] | select(.name=="key-vaults") | .state == "failed"' d0/report.json
check "no VM was recreated before its Key Vault" jqe '.steps[] | select(.name=="restore-vms") | .state != "succeeded"' d0/report.json
check "teardown ran anyway" jqe '.steps[] | select(.name=="teardown") | .state == "succeeded"' d0/report.json

# The Key Vault restore step comes first: recover the soft-deleted vault.
arm PUT "$RGA?api-version=2022-09-01" -d '{"location":"westeurope"}' >/dev/null
code=$(arm PUT "$RGA/providers/Microsoft.KeyVault/vaults/kvdisk?api-version=2023-07-01" \
  -d "{\"location\":\"westeurope\",\"properties\":{\"tenantId\":\"$T\",\"sku\":{\"family\":\"A\",\"name\":\"standard\"},\"createMode\":\"recover\"}}")
check "the disk encryption vault recovered ($code)" bash -c "[ $code = 200 ] || [ $code = 201 ]"

"$REBOUND" drill "${PD[@]}" --run-dir d1 "${DR[@]}" "$PLAYBOOKS/vm-drill.lua" >d1.txt 2>&1
rc=$?
check "the drill restored and verified (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' d1.txt >&2
check "3 VMs restored" jqe '.steps[] | select(.name=="restore-vms") | .outputs.vms | length == 3' d1/report.json
check "6 disks restored from the vault" jqe '.steps[] | select(.name=="restore-disks") | .outputs.disks == 6' d1/report.json
check "every VM running, booted, hashes equal to the manifests" \
  jqe '.steps[] | select(.name=="verify") | .outputs | .ok and (.vms | length == 3) and all(.vms[]; .running and .boot_ok and .hashes_match and (.disks | length == 2))' d1/report.json
jq -r '.steps[] | select(.name=="verify") | .outputs.vms[] | .name as $n | .disks[] | "\($n) \(.lun) \(.actual)"' d1/report.json | sort >restored.txt
sort original.txt >original.sorted
check "the restored disks hold the original bytes" cmp -s original.sorted restored.txt
check "RTO and RPO reported" \
  jqe '.steps[] | select(.name=="drill-report") | .outputs | .rto_seconds >= 0 and .rpo_minutes >= 0 and .within_rpo and .vms == 3' d1/report.json
check "the Key Vault was checked before the VMs" \
  jqe '.steps[] | select(.name=="key-vaults") | .outputs.key_vaults == ["kvdisk"]' d1/report.json
DG=$(jq -r '.steps[] | select(.name=="drill-group") | .outputs.id' d1/report.json)
code=$(arm GET "$DG?api-version=2022-09-01")
check "teardown deleted the drill's group ($code)" test "$code" = 404
check "no SAS left active after the drill" test "$(active_sas)" -eq 0

# Azure Disk Encryption: a restored disk of the encrypted VM carries the
# recorded encryption settings (its key references into kvdisk).
cat >ade.lua <<LUA
playbook { name = "ade-check" }
local vm = plugin "vm"
local S = "$S"
step "catalog" { run = function()
  return vm.recorded { subscription = S, resource_group = "rg-app", vms = { "vm1" } } end }
step "group" { needs = "catalog", effect = "write", run = function(ctx)
  return vm.create_drill_group { subscription = S, name = "rg-adecheck", location = "westeurope",
                                 drill_id = ctx.run_id } end }
step "disk" { needs = { "catalog", "group" }, effect = "write", run = function(ctx)
  local d = ctx.outputs.catalog.vms[1].config.os_disk
  local ok, out = pcall(vm.restore_disk, { subscription = S, resource_group = "rg-adecheck",
    name = "adecheck-os", set_id = d.set_id, lun = d.lun, location = "westeurope",
    drill_id = ctx.run_id })
  vm.end_access { id = "/subscriptions/" .. S .. "/resourceGroups/rg-adecheck/providers/Microsoft.Compute/disks/adecheck-os" }
  if not ok then error(out, 0) end
  return out
end }
LUA
"$REBOUND" run "${PD[@]}" --run-dir ade ade.lua >ade.txt 2>&1
rc=$?
check "a disk of the encrypted VM restored on its own (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' ade.txt >&2
code=$(arm GET "/subscriptions/$S/resourceGroups/rg-adecheck/providers/Microsoft.Compute/disks/adecheck-os?api-version=2023-04-02")
check "the restored disk carries the recorded ADE settings ($code)" \
  jqe '.properties.encryptionSettingsCollection.enabled and
       (.properties.encryptionSettingsCollection.encryptionSettings[0].keyEncryptionKey.keyUrl | test("kvdisk"))' arm.json

# Retention on the virtual clock: nothing expires today; after 31 days
# (the vault's clock and azsim's, which enforces the locked policy) it does.
"$REBOUND" vault prune --apply -c rebound.yaml >p1.txt 2>&1
"$REBOUND" vault list -c rebound.yaml --output json >sets2.json 2>/dev/null
check "prune keeps sets within their retention" test "$(jq 'if type=="array" then length else (.sets | length) end' sets2.json)" -eq 9
curl -s -X POST "$CTL/clock/advance" -d "{\"seconds\": $((31 * 86400))}" >/dev/null
REBOUND_VAULT_NOW=$(($(date +%s) + 31 * 86400)) "$REBOUND" vault prune --apply -c rebound.yaml >p2.txt 2>&1
"$REBOUND" vault list -c rebound.yaml --output json >sets3.json 2>/dev/null
check "prune deletes them once expired" test "$(jq 'if type=="array" then length else (.sets | length) end' sets3.json)" -eq 0
[ "$(jq 'if type=="array" then length else (.sets | length) end' sets3.json)" -eq 0 ] || sed 's/^/  | /' p2.txt >&2

artifacts=(b1 d0 d1 ade ./*.txt)
check "no SAS signature in any artifact" bash -c "! grep -rlE 'sig=[0-9a-f]|/md-[0-9a-f]' ${artifacts[*]}"
check "no client secret in any artifact" bash -c "! grep -rl -- '$SECRET' ${artifacts[*]}"
END=$(date +%s)
echo "  vm_backup_drill took $((END - START)) s"
finish
