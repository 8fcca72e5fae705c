#!/usr/bin/env bash
# keyvault.properties and keyvault.inventory against azsim: protection
# settings read through ARM; 30 secrets (more than one data-plane page),
# versions, keys, certificates and a soft-deleted secret listed through the
# data plane; no secret value in any artifact.
: "${SHIPPED:?}"
. "$(dirname "$0")/lib.sh"
SECRET='Kv-Test-Client-Secret-Value'
{
  echo "tenant: $T"
  echo "identity: {clients: [{client_id: rebound-test, secret: \"$SECRET\"}]}"
  echo "subscriptions:"
  echo "  - id: $S"
  echo "    name: Test"
  echo "    resource_groups:"
  echo "      - name: rg-kv"
  echo "        location: westeurope"
  echo "        resources:"
  echo "          - type: Microsoft.KeyVault/vaults"
  echo "            name: kvinv"
  echo "            properties: {enableSoftDelete: true, softDeleteRetentionInDays: 7, enablePurgeProtection: true}"
  echo "            secrets:"
  for i in $(seq 1 30); do echo "              - {name: s$i, value: \"Value-Of-Secret-Number-$i\"}"; done
  echo "              - {name: rotated, versions: [Rotated-Value-One, Rotated-Value-Two, Rotated-Value-Three]}"
  echo "              - {name: old, value: Old-Secret-Value-To-Delete}"
  echo "            keys: [{name: wrap, kty: EC}, {name: sign, kty: RSA}]"
  echo "            certificates: [{name: tls}]"
  echo "          - type: Microsoft.KeyVault/vaults"
  echo "            name: kvweak"
  echo "            properties: {enableSoftDelete: true, enablePurgeProtection: false}"
} >estate.yaml

kv_start estate.yaml "$SECRET"

# Soft-delete one secret, as an operator would, before the inventory.
TOKEN=$(kv_token https://vault.azure.net)
curl -s --cacert "$CA" -X DELETE -H "Authorization: Bearer $TOKEN" \
  "https://kvinv.vault.localhost:$PORT/secrets/old?api-version=7.5" >/dev/null

cat >kv.lua <<'LUA'
playbook { name = "kv-inventory", params = { vault = "string" } }
local kv = plugin "keyvault"
local where = function(ctx)
  return { subscription = "22222222-2222-2222-2222-222222222222", resource_group = "rg-kv",
           name = ctx.params.vault }
end
step "protection" {
  run = function(ctx) return kv.properties(where(ctx)) end,
  verify = function(out)
    expect(out.soft_delete, "soft delete is off")
    expect(out.purge_protection, "purge protection is off")
  end,
}
step "inventory" { needs = "protection", run = function(ctx) return kv.inventory(where(ctx)) end }
LUA
cat >recover.lua <<'LUA'
playbook { name = "kv-recover" }
local kv = plugin "keyvault"
local w = { subscription = "22222222-2222-2222-2222-222222222222", resource_group = "rg-kv", name = "kvinv" }
step "recover" { effect = "write", run = function()
  return kv.recover_deleted { subscription = w.subscription, resource_group = w.resource_group,
                              name = w.name, kind = "secrets", item = "old" } end }
step "after" { needs = "recover", run = function() return kv.inventory(w) end }
LUA

PD=(--plugin-dir "$PLUGIN_DIR")
"$REBOUND" run "${PD[@]}" --run-dir r1 --events ev.jsonl --trace-http trace.txt -P vault=kvinv kv.lua >out1.txt 2>&1
rc=$?
check "inventory run succeeded (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' out1.txt >&2
inv='.steps[] | select(.name=="inventory") | .outputs'
check "protection read through ARM" \
  jq -e '.steps[] | select(.name=="protection") | .outputs | .purge_protection and .soft_delete and .retention_days == 7' r1/report.json
check "32 live secrets across pages (30 + rotated; old is deleted)" jq -e "$inv | .counts.secrets == 31" r1/report.json
check "versions counted (30 + 3)" jq -e "$inv | .counts.secrets_versions == 33" r1/report.json
check "rotated has 3 versions" jq -e "$inv | .secrets[] | select(.name==\"rotated\") | (.versions | length) == 3" r1/report.json
check "2 keys, 1 certificate" jq -e "$inv | .counts.keys == 2 and .counts.certificates == 1" r1/report.json
check "the soft-deleted secret is listed" jq -e "$inv | .deleted.secrets | map(.name) | index(\"old\") != null" r1/report.json
check "data-plane pages were followed" test "$(grep -c 'skiptoken' trace.txt)" -ge 1

# A vault without purge protection fails the protection check (exit 1).
"$REBOUND" run "${PD[@]}" --run-dir r2 -P vault=kvweak kv.lua >out2.txt 2>&1
rc=$?
check "weak vault fails verification (exit $rc)" test "$rc" -eq 1
check "the failure says why" grep -q "purge protection is off" r2/report.json

# Recover the soft-deleted secret; a second recovery (as on resume) is a no-op.
"$REBOUND" run "${PD[@]}" --run-dir r3 recover.lua >out3.txt 2>&1
rc=$?
check "recover_deleted succeeded (exit $rc)" test "$rc" -eq 0
check "old is live again and no longer deleted" jq -e '.steps[] | select(.name=="after") | .outputs |
  (.secrets | map(.name) | index("old") != null) and (.deleted.secrets | map(.name) | index("old") == null)' r3/report.json
"$REBOUND" run "${PD[@]}" --run-dir r4 recover.lua >out4.txt 2>&1
check "recovering a live item again succeeds as already live" \
  jq -e '.steps[] | select(.name=="recover") | .outputs.already_live == true' r4/report.json
# Plan mode predicts instead of recovering.
"$REBOUND" plan "${PD[@]}" --output json recover.lua >plan.json 2>/dev/null
check "plan predicts the recovery" jq -e '.steps[] | select(.name=="recover") | .outputs.recovered == true' plan.json

# A drill's scratch vault: created with the drill's tag, purged only with it.
cat >drillvault.lua <<'LUA'
playbook { name = "kv-drill-vault", params = { purge_as = "string?" } }
local kv = plugin "keyvault"
local function args(ctx, id)
  return { subscription = "22222222-2222-2222-2222-222222222222", resource_group = "rg-kv",
           name = "kvscratch", location = "westeurope", drill_id = id,
           tenant = "11111111-1111-1111-1111-111111111111" }
end
step "create" { effect = "write", run = function(ctx) return kv.create_drill_vault(args(ctx, ctx.run_id)) end }
step "teardown" { needs = "create", effect = "destructive", always = true,
  run = function(ctx) return kv.purge_drill_vault(args(ctx, ctx.params.purge_as or ctx.run_id)) end }
LUA
"$REBOUND" drill "${PD[@]}" --run-dir r5 drillvault.lua >out5.txt 2>&1
rc=$?
check "drill created and purged its scratch vault (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' out5.txt >&2
check "purge reported" jq -e '.steps[] | select(.name=="teardown") | .outputs.purged == true' r5/report.json
"$REBOUND" drill "${PD[@]}" --run-dir r6 -P purge_as=someone-else drillvault.lua >out6.txt 2>&1
rc=$?
check "a vault this drill did not create is not deleted (exit $rc)" test "$rc" -eq 1
check "the refusal says why" grep -q "not tagged rebound-drill=someone-else" r6/report.json
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $(curl -s --cacert "$CA" \
  "https://127.0.0.1:$PORT/$T/oauth2/v2.0/token" -d grant_type=client_credentials -d client_id=rebound-test \
  --data-urlencode "client_secret=$SECRET" -d scope=https://management.azure.com/.default | jq -r .access_token)" \
  "https://127.0.0.1:$PORT/subscriptions/$S/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/kvscratch?api-version=2023-07-01")
check "the refused vault still exists ($code)" test "$code" = 200

# Backup into the signed vault, restore into another vault of the subscription.
cat >backup.lua <<'LUA'
playbook { name = "kv-backup-restore", params = { into = "string" } }
local kv = plugin "keyvault"
local function at(name)
  return { subscription = "22222222-2222-2222-2222-222222222222", resource_group = "rg-kv", name = name }
end
step "backup" { effect = "write", run = function() return kv.backup(at("kvinv")) end }
step "restore" { needs = "backup", effect = "write", run = function(ctx)
  local a = at(ctx.params.into); a.set_id = ctx.outputs.backup.set_id
  return kv.restore(a) end }
step "check" { needs = "restore", run = function(ctx) return kv.inventory(at(ctx.params.into)) end }
LUA
"$REBOUND" run "${PD[@]}" --run-dir r7 -P into=kvweak backup.lua >out7.txt 2>&1
rc=$?
check "backup and restore succeeded (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' out7.txt >&2
# 32 secrets: the 31 live ones plus "old", recovered above.
check "every item backed up (32 secrets, 2 keys, 1 certificate)" \
  jq -e '.steps[] | select(.name=="backup") | .outputs | .counts.secrets == 32 and .counts.keys == 2 and .counts.certificates == 1 and .items == 35' r7/report.json
check "every item restored into the other vault" \
  jq -e '.steps[] | select(.name=="restore") | .outputs | .restored == 35 and (.conflicts | length) == 0' r7/report.json
check "the restored vault holds them" \
  jq -e '.steps[] | select(.name=="check") | .outputs.counts | .secrets == 32 and .keys == 2 and .certificates == 1' r7/report.json
check "the backup vault verifies (signature, hashes)" "$REBOUND" vault verify -q -c rebound.yaml
"$REBOUND" run "${PD[@]}" --run-dir r8 -P into=kvweak backup.lua >out8.txt 2>&1
check "restoring over live items reports conflicts, overwrites nothing" \
  jq -e '.steps[] | select(.name=="restore") | .outputs | .restored == 0 and (.conflicts | length) == 35' r8/report.json
check "no secret value in the backup vault" bash -c "! grep -rlE 'Value-Of-Secret|Rotated-Value' $TMP/backups"

# Purge protection holds even for a vault carrying this drill's tag: the
# delete goes through, the purge is refused with Azure's error, the step fails.
ARM=$(curl -s --cacert "$CA" "https://127.0.0.1:$PORT/$T/oauth2/v2.0/token" -d grant_type=client_credentials \
  -d client_id=rebound-test --data-urlencode "client_secret=$SECRET" -d scope=https://management.azure.com/.default | jq -r .access_token)
curl -s --cacert "$CA" -X PUT -H "Authorization: Bearer $ARM" -H 'Content-Type: application/json' \
  -d '{"location":"westeurope","tags":{"rebound-drill":"drill-pp"},"properties":{"tenantId":"'$T'","sku":{"family":"A","name":"standard"},"enablePurgeProtection":true}}' \
  "https://127.0.0.1:$PORT/subscriptions/$S/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/kvprotected?api-version=2023-07-01" >/dev/null
cat >purge.lua <<'LUA'
playbook { name = "kv-purge-protected" }
local kv = plugin "keyvault"
step "teardown" { effect = "destructive", run = function()
  return kv.purge_drill_vault { subscription = "22222222-2222-2222-2222-222222222222", resource_group = "rg-kv",
    name = "kvprotected", location = "westeurope", drill_id = "drill-pp" } end }
LUA
"$REBOUND" drill "${PD[@]}" --run-dir rpp purge.lua >outpp.txt 2>&1
rc=$?
check "purge under purge protection is refused (exit $rc)" test "$rc" -eq 1
check "with Azure's error" grep -qi "not allowed" rpp/report.json

# The shipped playbook: backup with the RPO check, then a drill.
cat >>rebound.yaml <<YAML
targets:
  drill: {resource_group: rg-kv, location: westeurope}
YAML
KVP=(-P subscription=$S -P resource_group=rg-kv -P vault=kvinv)
"$REBOUND" run "${PD[@]}" --run-dir r9 "${KVP[@]}" "$SHIPPED" >out9.txt 2>&1
rc=$?
check "shipped playbook: backup + RPO check (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' out9.txt >&2
check "the newest backup covers every item" \
  jq -e '.steps[] | select(.name=="verify-backup") | .outputs | .ok and (.missing | length) == 0' r9/report.json
"$REBOUND" drill "${PD[@]}" --run-dir r10 "${KVP[@]}" "$SHIPPED" >out10.txt 2>&1
rc=$?
check "shipped playbook: drill restores, compares, tears down (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' out10.txt >&2
check "drill: every item came back" \
  jq -e '.steps[] | select(.name=="drill-compare") | .outputs | .equal and .expected == 35' r10/report.json
check "drill: versions, attributes and tags compared, all alike" \
  jq -e '.steps[] | select(.name=="drill-compare") | .outputs | .attributes_checked and (.differences | length) == 0' r10/report.json
check "drill: the content of all 35 items compared with the source, all alike" \
  jq -e '.steps[] | select(.name=="drill-compare") | .outputs | .values_checked == 35 and (.values_differ | length) == 0' r10/report.json
check "drill: RPO reported" \
  jq -e '.steps[] | select(.name=="drill-rpo") | .outputs | .rpo_minutes >= 0 and .within_target' r10/report.json
check "drill: scratch vault purged" \
  jq -e '.steps[] | select(.name=="drill-teardown") | .outputs.purged' r10/report.json
"$REBOUND" plan "${PD[@]}" "${KVP[@]}" "$SHIPPED" >plan9.txt 2>&1
check "plan of the shipped playbook runs only reads" grep -q "Critical path" plan9.txt

artifacts=(r1/* r2/* r3/* r4/* r5/* r6/* r7/* r8/* r9/* r10/* ev.jsonl out1.txt out2.txt out3.txt out4.txt out5.txt out6.txt out7.txt out8.txt out9.txt out10.txt)
check "no secret value in any artifact" bash -c "! grep -lE 'Value-Of-Secret|Rotated-Value|Old-Secret-Value' ${artifacts[*]}"
check "no client secret in any artifact or the trace" bash -c "! grep -l -- '$SECRET' ${artifacts[*]} trace.txt"
check "inventory never fetched a secret value (trace)" bash -c "! grep -lE 'Value-Of-Secret|Rotated-Value' trace.txt"
finish
