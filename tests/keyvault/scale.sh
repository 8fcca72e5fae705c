#!/usr/bin/env bash
# Key Vault at the issue's scale against azsim: 100 secrets (several with
# versions), 20 keys and 10 certificates backed up through a 429 storm
# (every third backup call throttled) with nothing missing; restored into
# another vault with the restore killed (SIGKILL) midway and resumed: no
# duplicates, nothing missing; a secret added after the backup is reported
# as outside the RPO; a restore across subscriptions is refused, in plan
# mode too; no secret value in any artifact.
. "$(dirname "$0")/lib.sh"
SECRET='Kv-Scale-Client-Secret-Value'
S2=33333333-3333-3333-3333-333333333333
{
  echo "tenant: $T"
  echo "identity: {clients: [{client_id: rebound-test, secret: \"$SECRET\"}]}"
  echo "subscriptions:"
  echo "  - id: $S"
  echo "    name: Prod"
  echo "    resource_groups:"
  echo "      - name: rg"
  echo "        location: westeurope"
  echo "        resources:"
  echo "          - type: Microsoft.KeyVault/vaults"
  echo "            name: kvbig"
  echo "            properties: {enableSoftDelete: true, enablePurgeProtection: true}"
  echo "            secrets:"
  for i in $(seq 1 100); do
    if [ $((i % 10)) -eq 0 ]; then
      echo "              - {name: s$i, versions: [Scale-Value-$i-a, Scale-Value-$i-b, Scale-Value-$i-c]}"
    else
      echo "              - {name: s$i, value: Scale-Value-$i}"
    fi
  done
  echo "            keys:"
  for i in $(seq 1 20); do echo "              - {name: k$i, kty: EC}"; done
  echo "            certificates:"
  for i in $(seq 1 10); do echo "              - {name: c$i}"; done
  echo "          - type: Microsoft.KeyVault/vaults"
  echo "            name: kvdst"
  echo "            properties: {enableSoftDelete: true, enablePurgeProtection: true}"
  echo "      - name: rg-us"
  echo "        location: eastus"
  echo "        resources:"
  echo "          - type: Microsoft.KeyVault/vaults"
  echo "            name: kvus"
  echo "            properties: {enableSoftDelete: true, enablePurgeProtection: true}"
  echo "  - id: $S2"
  echo "    name: Elsewhere"
  echo "    resource_groups:"
  echo "      - name: rg2"
  echo "        location: westeurope"
} >estate.yaml
kv_start estate.yaml "$SECRET"
PD=(--plugin-dir "$PLUGIN_DIR")

cat >backup.lua <<'LUA'
playbook { name = "kv-scale-backup" }
local kv = plugin "keyvault"
local w = { subscription = "22222222-2222-2222-2222-222222222222", resource_group = "rg", name = "kvbig" }
step "backup" { effect = "write", run = function() return kv.backup(w) end }
step "verify" { needs = "backup", run = function()
  return kv.verify_backup { subscription = w.subscription, resource_group = w.resource_group,
                            name = w.name, now = os.time(), rpo_minutes = 60 } end,
  verify = function(out) expect(out.ok, "backup incomplete") end }
LUA
# The 429 storm: every third backup call is throttled.
curl -s -X POST "$CTL/faults" -d '{"method":"POST","path":"/*/*/backup","status":429,"retry_after":0,"every":3}' >/dev/null
curl -s -X DELETE "$CTL/counters" >/dev/null
"$REBOUND" run "${PD[@]}" --run-dir b1 backup.lua >b1.txt 2>&1
rc=$?
check "backup through a 429 storm succeeded (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' b1.txt >&2
calls=$(curl -s "$CTL/counters?method=POST&path=*/backup" | jq .count)
check "the storm really throttled calls ($calls backup requests for 130 items)" test "${calls:-0}" -ge 160
check "130 items backed up" jq -e '.steps[] | select(.name=="backup") | .outputs | .items == 130 and .counts.secrets == 100 and .counts.keys == 20 and .counts.certificates == 10' b1/report.json
check "nothing missing from the backup" jq -e '.steps[] | select(.name=="verify") | .outputs | .ok and (.missing | length) == 0' b1/report.json
curl -s -X DELETE "$CTL/faults" >/dev/null

# Restore into kvdst, killed midway, then resumed.
cat >restore.lua <<'LUA'
playbook { name = "kv-scale-restore" }
local kv = plugin "keyvault"
local S = "22222222-2222-2222-2222-222222222222"
step "restore" { effect = "write", run = function()
  return kv.restore { subscription = S, resource_group = "rg", name = "kvdst",
    source = "/subscriptions/" .. S .. "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kvbig" } end }
step "compare" { needs = "restore", run = function()
  return kv.compare { subscription = S, resource_group = "rg", name = "kvdst",
                      set_id = ctx_set or "" } end }
LUA
# compare needs the set id: take it from the backup report.
SET=$(jq -r '.steps[] | select(.name=="backup") | .outputs.set_id' b1/report.json)
sed -i "s/set_id = ctx_set or \"\"/set_id = \"$SET\"/" restore.lua
curl -s -X POST "$CTL/faults" -d '{"method":"POST","path":"/*/restore","latency_ms":30}' >/dev/null
"$REBOUND" run "${PD[@]}" --run-dir rr restore.lua >rr1.txt 2>&1 &
pid=$!
sleep 1.5
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
curl -s -X DELETE "$CTL/faults" >/dev/null
restores=$(curl -s "$CTL/counters?method=POST&path=*/restore" | jq .count)
check "the kill landed midway ($restores of 130 restores sent)" \
  bash -c "test ${restores:-0} -gt 0 && test ${restores:-0} -lt 130 && test ! -e rr/report.json"
"$REBOUND" resume rr >rr2.txt 2>&1
rc=$?
check "resume finished the restore (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' rr2.txt >&2
check "nothing missing after resume" jq -e '.steps[] | select(.name=="compare") | .outputs | .equal and .expected == 130 and .present == 130' rr/report.json
cat >count.lua <<'LUA'
playbook { name = "kv-count" }
local kv = plugin "keyvault"
step "inv" { run = function() return kv.inventory { subscription = "22222222-2222-2222-2222-222222222222",
  resource_group = "rg", name = "kvdst" } end }
LUA
"$REBOUND" run "${PD[@]}" --run-dir cnt count.lua >cnt.txt 2>&1
check "no duplicates: exactly 100/20/10 items, 120 secret versions" \
  jq -e '.steps[0].outputs.counts | .secrets == 100 and .keys == 20 and .certificates == 10 and .secrets_versions == 120' cnt/report.json

# A restored vault that differs from the set is told apart: a new version
# of one secret (another value, one version more) is found by compare, by
# its version count and, against the source, by its content.
curl -s --cacert "$CA" -X PUT -H "Authorization: Bearer $(kv_token https://vault.azure.net)" \
  -H 'Content-Type: application/json' -d '{"value":"Tampered-Value"}' \
  "https://kvdst.vault.localhost:$PORT/secrets/s2?api-version=7.5" >/dev/null
cat >cmp.lua <<LUA
playbook { name = "kv-compare" }
local kv = plugin "keyvault"
step "compare" { run = function()
  return kv.compare { subscription = "$S", resource_group = "rg", name = "kvdst", set_id = "$SET",
                      values_from = "kvbig" } end }
LUA
"$REBOUND" run "${PD[@]}" --run-dir cmp cmp.lua >cmp.txt 2>&1
check "compare finds the tampered secret" jq -e '.steps[0].outputs | (.equal | not)
  and .differences == ["secrets/s2: versions"] and .values_differ == ["secrets/s2"]
  and .values_checked == 130 and (.missing | length) == 0' cmp/report.json
check "the tampered value is in no artifact" bash -c "! grep -rq Tampered-Value cmp cmp.txt"

# A secret added after the backup is outside the RPO.
curl -s --cacert "$CA" -X PUT -H "Authorization: Bearer $(kv_token https://vault.azure.net)" \
  -H 'Content-Type: application/json' -d '{"value":"Scale-Value-late"}' \
  "https://kvbig.vault.localhost:$PORT/secrets/late?api-version=7.5" >/dev/null
cat >rpo.lua <<'LUA'
playbook { name = "kv-rpo" }
local kv = plugin "keyvault"
step "verify" { run = function()
  return kv.verify_backup { subscription = "22222222-2222-2222-2222-222222222222", resource_group = "rg",
                            name = "kvbig", now = os.time(), rpo_minutes = 60 } end,
  verify = function(out) expect(out.ok, "items without a backup: " .. table.concat(out.missing, ", ")) end }
LUA
"$REBOUND" run "${PD[@]}" --run-dir rpo rpo.lua >rpo.txt 2>&1
rc=$?
check "a missing backup fails verification (exit $rc)" test "$rc" -eq 1
check "the missing item is named" grep -q "secrets/late" rpo/report.json

# refused_restore NAME SUBSCRIPTION GROUP VAULT REASON: a restore of kvbig's
# newest set into VAULT is refused with REASON in plan mode and in run mode
# (files NAME.lua, NAME-plan.txt, NAME.txt, run dir NAME).
refused_restore() {
  local name=$1 sub=$2 rg=$3 vault=$4 reason=$5 rc
  cat >"$name.lua" <<LUA
playbook { name = "kv-$name" }
local kv = plugin "keyvault"
step "restore" { effect = "write", run = function()
  return kv.restore { subscription = "$sub", resource_group = "$rg", name = "$vault",
    source = "/subscriptions/$S/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kvbig" } end }
LUA
  "$REBOUND" plan "${PD[@]}" "$name.lua" >"$name-plan.txt" 2>&1
  rc=$?
  check "$name: plan flags the restore (exit $rc)" test "$rc" -eq 1
  check "$name: plan says why" grep -q "$reason" "$name-plan.txt"
  "$REBOUND" run "${PD[@]}" --run-dir "$name" "$name.lua" >"$name.txt" 2>&1
  rc=$?
  check "$name: run refuses it too (exit $rc)" test "$rc" -eq 1
  check "$name: and says why" grep -q "$reason" "$name/report.json"
}

# Across subscriptions: refused in plan mode and in run mode.
refused_restore cross "$S2" rg2 kvx "restores only into the subscription it came from"

# Across geographies (same subscription): West Europe's backup is refused in
# East US, in plan mode and in run mode, and nothing is sent to that vault.
refused_restore geo "$S" rg-us kvus "eastus (United States) is not in Europe"
check "and sends nothing to the vault" \
  test "$(curl -s "$CTL/counters?method=POST&path=*kvus*restore*" | jq .count)" = 0
"$REBOUND" vault restore -c rebound.yaml "$SET" vault.json --to vault.json >/dev/null 2>&1
check "the set records where the vault was" jq -e '.location == "westeurope" and (.id | test("kvbig$"))' vault.json

artifacts=(b1/* rr/* cnt/* rpo/* cross/* geo/* b1.txt rr1.txt rr2.txt cnt.txt rpo.txt cross.txt cross-plan.txt geo.txt geo-plan.txt)
check "no secret value in any artifact or the backup vault" \
  bash -c "! grep -rlE 'Scale-Value' ${artifacts[*]} backups"
check "no client secret in any artifact" bash -c "! grep -l -- '$SECRET' ${artifacts[*]}"
finish
