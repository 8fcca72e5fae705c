#!/usr/bin/env bash
# The large-object routines of the host table (ABI 1.3) against azsim: a
# managed disk's read SAS streamed into the signed vault (with a small inline
# object beside it), its digest equal to the manifest's and to azsim's own
# checksum; the object streamed back into a new disk through its upload SAS
# (Put Page) and read back equal; a corrupted vault block refused before it
# reaches the disk; and no SAS signature in any artifact.
. "$(dirname "$0")/lib.sh"

T=11111111-1111-1111-1111-111111111111
S=22222222-2222-2222-2222-222222222222
SECRET='S3cr3t-Stream-Client-Value'
# 5 MiB + 512: more than one vault block, and a short last one.
SIZE=$((5 * 1024 * 1024 + 512))
cat >estate.yaml <<YAML
tenant: $T
identity:
  clients:
    - {client_id: rebound-test, secret: "$SECRET"}
subscriptions:
  - id: $S
    name: Test
    resource_groups:
      - name: rg-disks
        location: westeurope
        resources:
          - type: Microsoft.Compute/disks
            name: data1
            properties: {diskSizeGB: 1, creationData: {createOption: Empty}}
            size_bytes: $SIZE
            content_seed: stream-test
          - type: Microsoft.Storage/storageAccounts
            name: stpractice
            kind: StorageV2
            sku: {name: Standard_LRS}
            containers:
              - name: practice
                immutability: {days: 30}
YAML
azsim_start estate.yaml
azsim_vault_keys
{ azsim_yaml rebound-test REBOUND_TEST_SECRET; azsim_local_vault_yaml "$TMP/backups"; } >rebound.yaml
export REBOUND_TEST_SECRET="$SECRET"

cat >stream.lua <<'LUA'
playbook { name = "host-stream" }
local az = plugin "azprobe"
local RG = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-disks"
local DISK = RG .. "/providers/Microsoft.Compute/disks/data1"
local NEW = RG .. "/providers/Microsoft.Compute/disks/restored1"
local API = "2023-04-02"
local function access(disk, how)
  return az.call { method = "POST", path = disk .. "/beginGetAccess", api_version = API,
                   body = { access = how, durationInSeconds = 600 } }
end
local function revoke(disk)
  return az.call { method = "POST", path = disk .. "/endGetAccess", api_version = API }
end
step "read-sas" { effect = "write", run = function() return access(DISK, "Read") end }
step "backup" { needs = "read-sas", effect = "write", run = function(ctx)
  return az.stream_put { source_id = DISK, kind = "disk", objects = {
    ["disk.vhd"] = { url = ctx.outputs["read-sas"].body.accessSAS },
    ["disk.json"] = '{"name":"data1"}' } }
end }
step "digest" { needs = { "read-sas", "backup" }, run = function(ctx)
  return az.digest { url = ctx.outputs["read-sas"].body.accessSAS }
end }
step "manifest" { needs = "backup", run = function(ctx)
  return az.manifest { set_id = ctx.outputs.backup.set_id }
end }
step "revoke" { needs = { "digest" }, always = true, effect = "write",
  run = function() return revoke(DISK) end }
step "state" { needs = "revoke", run = function()
  return az.get { path = DISK, api_version = API }
end }
step "new-disk" { needs = "manifest", effect = "write", run = function(ctx)
  local size = 0
  for _, o in ipairs(ctx.outputs.manifest.objects) do
    if o.name == "disk.vhd" then size = o.bytes end
  end
  return az.put { path = NEW, api_version = API, body = { location = "westeurope",
    properties = { creationData = { createOption = "Upload", uploadSizeBytes = size } } } }
end }
step "write-sas" { needs = "new-disk", effect = "write", run = function() return access(NEW, "Write") end }
step "upload" { needs = { "write-sas", "backup" }, effect = "write", run = function(ctx)
  return az.to_url { set_id = ctx.outputs.backup.set_id, object = "disk.vhd",
                     url = ctx.outputs["write-sas"].body.accessSAS, target = "page" }
end }
step "seal" { needs = "upload", effect = "write", run = function() return revoke(NEW) end }
step "read-new" { needs = "seal", effect = "write", run = function() return access(NEW, "Read") end }
step "digest-new" { needs = "read-new", run = function(ctx)
  return az.digest { url = ctx.outputs["read-new"].body.accessSAS }
end }
step "revoke-new" { needs = "digest-new", always = true, effect = "write",
  run = function() return revoke(NEW) end }
LUA

PD=(--plugin-dir "$AZPROBE_DIR")
"$REBOUND" run "${PD[@]}" --run-dir r1 --events ev.jsonl --trace-http trace.txt stream.lua >out1.txt 2>&1
rc=$?
check "the stream playbook succeeded (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' out1.txt >&2
out() { jq -r ".steps[] | select(.name==\"$1\") | .outputs$2" r1/report.json; }
want=$(curl -s "$CTL/inventory" | jq -r '.items[] | select(.kind=="disk-content" and (.key | test("disks/data1$"))) | .sha256')
check "azsim knows the disk's checksum" test -n "$want"
check "the set holds the whole disk ($SIZE bytes)" \
  test "$(out manifest '.objects[] | select(.name=="disk.vhd") | .bytes')" = "$SIZE"
check "manifest SHA-256 = azsim's checksum" \
  test "$(out manifest '.objects[] | select(.name=="disk.vhd") | .sha256')" = "$want"
check "backup_put_stream reports the same SHA-256" test "$(out backup '.sha256["disk.vhd"]')" = "$want"
check "url_digest of the SAS = azsim's checksum" test "$(out digest .sha256)" = "$want"
check "url_digest counted every byte" test "$(out digest .bytes)" = "$SIZE"
check "the inline object is in the set" \
  test "$(out manifest '.objects | map(select(.name=="disk.json")) | length')" = 1
check "the restored disk reads back equal" test "$(out digest-new .sha256)" = "$want"
check "backup_to_url wrote every byte" test "$(out upload .bytes)" = "$SIZE"
check "the source disk's access was revoked" test "$(out state .body.properties.diskState)" = Unattached

# A flipped byte in the vault: the upload is refused at that block, before
# any of it is sent.
set_id=$(out backup .set_id)
obj=$(find backups -path "*$set_id*" -name 'disk.vhd*' -type f | head -1)
if [ -n "$obj" ]; then
  chmod u+w "$obj"
  printf 'X' | dd of="$obj" bs=1 seek=4096 conv=notrunc status=none
  cat >again.lua <<LUA
playbook { name = "corrupt" }
local az = plugin "azprobe"
local NEW = "/subscriptions/$S/resourceGroups/rg-disks/providers/Microsoft.Compute/disks/restored2"
step "new-disk" { effect = "write", run = function()
  return az.put { path = NEW, api_version = "2023-04-02", body = { location = "westeurope",
    properties = { creationData = { createOption = "Upload", uploadSizeBytes = $SIZE } } } } end }
step "write-sas" { needs = "new-disk", effect = "write", run = function()
  return az.call { method = "POST", path = NEW .. "/beginGetAccess", api_version = "2023-04-02",
                   body = { access = "Write", durationInSeconds = 600 } } end }
step "upload" { needs = "write-sas", effect = "write", retry = { attempts = 1 }, run = function(ctx)
  return az.to_url { set_id = "$set_id", object = "disk.vhd",
                     url = ctx.outputs["write-sas"].body.accessSAS, target = "page" } end }
LUA
  puts_before=$(curl -s "$CTL/counters?method=PUT&path=*md-*" | jq .count)
  "$REBOUND" run "${PD[@]}" --run-dir r2 again.lua >out2.txt 2>&1
  rc=$?
  puts_after=$(curl -s "$CTL/counters?method=PUT&path=*md-*" | jq .count)
  check "a corrupt vault block fails the upload (exit $rc)" test "$rc" -eq 1
  check "the error names the corrupt block" grep -q "corrupt at block 0" r2/report.json
  check "azsim counted the first upload's Put Pages ($puts_before)" test "${puts_before:-0}" -gt 0 2>/dev/null
  check "nothing was sent to the disk ($puts_before -> $puts_after)" test "$puts_before" = "$puts_after"
else
  fail "no stored object found for set $set_id"
fi

# A size that is not the source's is refused, never a truncated backup.
cat >short.lua <<'LUA'
playbook { name = "short" }
local az = plugin "azprobe"
local DISK = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-disks/providers/Microsoft.Compute/disks/data1"
step "read-sas" { effect = "write", run = function()
  return az.call { method = "POST", path = DISK .. "/beginGetAccess", api_version = "2023-04-02",
                   body = { access = "Read", durationInSeconds = 600 } } end }
step "backup" { needs = "read-sas", effect = "write", retry = { attempts = 1 }, run = function(ctx)
  return az.stream_put { source_id = DISK, kind = "disk",
    objects = { ["disk.vhd"] = { url = ctx.outputs["read-sas"].body.accessSAS, size = 4096 } } }
end }
step "revoke" { needs = "backup", always = true, effect = "write", run = function()
  return az.call { method = "POST", path = DISK .. "/endGetAccess", api_version = "2023-04-02" } end }
LUA
"$REBOUND" run "${PD[@]}" --run-dir r5 short.lua >out6.txt 2>&1
rc=$?
check "a wrong size fails the backup (exit $rc)" test "$rc" -eq 1
check "and says why" grep -q "the source has $SIZE bytes, not the 4096 given" r5/report.json

# The same disk into an Azure Blob vault whose container is not locked,
# allowed for practice with vault.allow_unlocked: the run's report says so.
sed -e '/^vault:/,$d' rebound.yaml >blob.yaml
cat >>blob.yaml <<YAML
vault:
  kind: azure-blob
  account: stpractice
  container: practice
  endpoint: https://127.0.0.1:$PORT/stpractice
  signing_key_file: $TMP/sign.pem
  public_key_file: $TMP/pub.pem
  allow_unlocked: true
  block_size: 1MiB
YAML
cat >blob.lua <<'LUA'
playbook { name = "stream-to-blob" }
local az = plugin "azprobe"
local DISK = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-disks/providers/Microsoft.Compute/disks/data1"
step "read-sas" { effect = "write", run = function()
  return az.call { method = "POST", path = DISK .. "/beginGetAccess", api_version = "2023-04-02",
                   body = { access = "Read", durationInSeconds = 600 } } end }
step "backup" { needs = "read-sas", effect = "write", run = function(ctx)
  return az.stream_put { source_id = DISK, kind = "disk",
                         objects = { ["disk.vhd"] = { url = ctx.outputs["read-sas"].body.accessSAS } } }
end }
step "revoke" { needs = "backup", always = true, effect = "write", run = function()
  return az.call { method = "POST", path = DISK .. "/endGetAccess", api_version = "2023-04-02" } end }
LUA
"$REBOUND" run "${PD[@]}" -c blob.yaml --run-dir r3 blob.lua >out3.txt 2>&1
rc=$?
check "streamed into the Blob vault (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' out3.txt >&2
check "the Blob vault holds the same SHA-256" \
  test "$(jq -r '.steps[] | select(.name=="backup") | .outputs.sha256["disk.vhd"]' r3/report.json)" = "$want"
check "the report records the unlocked vault" \
  jq -e '.notes | map(select(test("backup vault: .*not verified"))) | length == 1' r3/report.json
check "the text summary shows it too" grep -q "backup vault: " r3/summary.txt

# No SAS signature, client secret or token in any artifact.
artifacts=(r1/* r2/* r3/* r5/* ev.jsonl out1.txt out2.txt out3.txt out6.txt trace.txt)
check "no client secret in artifacts" bash -c "! grep -l -- '$SECRET' ${artifacts[*]}"
check "no bearer token in artifacts" bash -c "! grep -lE 'azsim\.[0-9a-f]{16}' ${artifacts[*]}"
check "no SAS signature in artifacts" bash -c "! grep -lE 'sig=[A-Za-z0-9%]{8,}' ${artifacts[*]}"
finish
