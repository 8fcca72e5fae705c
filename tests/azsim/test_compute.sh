#!/usr/bin/env bash
# Compute for VM backup/restore: VMs seeded from the estate (64 MiB disks,
# network, disk encryption settings), power actions and instanceView,
# runCommand's guest check, read SAS in 4 MiB ranges, direct upload (Put Page
# through a Write SAS), attach/detach rules and their 409s, snapshot/restore of
# the control state, the attacker.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
START=$(date +%s)

RGV=/subscriptions/$S/resourceGroups/rg-vm
C=$RGV/providers/Microsoft.Compute
API=api-version=2024-03-01
DAPI=api-version=2023-04-02
MIB=1048576

cat >"$WORK/estate.yaml" <<EOF
tenant: $T
settings: {lro_retry_after: 0}
identity:
  clients: [{client_id: app-secret, secret: s3cret}]
subscriptions:
  - id: $S
    resource_groups:
      - name: rg-vm
        location: westeurope
        resources:
          - type: Microsoft.KeyVault/vaults
            name: kvdisk
            properties: {enablePurgeProtection: true}
            keys: [{name: kek, kty: RSA}]
          - type: Microsoft.Compute/virtualMachines
            name: vm1
            os_disk: {name: vm1-os, size_bytes: $((64 * MIB)), content_seed: vm1-os-seed}
            data_disks:
              - {name: vm1-data0, lun: 0, size_bytes: $((64 * MIB))}
              - {name: vm1-data1, lun: 1, size_bytes: $((8 * MIB)), content_seed: small}
            network: {vnet: vnet1, subnet: app, nic: vm1-nic}
            encryption: {key_vault: kvdisk, key: kek}
          - type: Microsoft.Compute/virtualMachines
            name: vm-big
            power: deallocated
            os_disk: {size_bytes: $((64 * MIB))}
            data_disks: [{size_bytes: $((64 * MIB))}, {size_bytes: $((64 * MIB))}, {size_bytes: $((64 * MIB))}]
EOF
azsim_start "$WORK/estate.yaml"
tokens

lro() { # follow the Location header of the last response to its result
  local loc
  loc=$(header Location)
  _curl -H "Authorization: Bearer $ARM" "$loc"
}
guest() { # runCommand on VM $1; sets OUT to the message
  arm POST "$C/virtualMachines/$1/runCommand?$API" -d '{"commandId":"RunShellScript","script":["rebound-guest-check"]}'
  [ "$STATUS" = 202 ] && lro
  OUT=$(jbody '.value[0].message')
}
sas() { # sas RESOURCE-ID ACCESS: beginGetAccess, sets SAS
  arm POST "$1/beginGetAccess?$DAPI" -d "{\"access\":\"$2\",\"durationInSeconds\":3600}"
  SAS=
  if [ "$STATUS" = 202 ]; then lro; SAS=$(jbody .accessSAS); fi
}
read_ranges() { # read_ranges SAS SIZE STEP OUTFILE: ranged GETs, all 206
  local off=0 n=0 bad=0
  : >"$4"
  while [ "$off" -lt "$2" ]; do
    curl -sS --max-time 30 --cacert "$CA" -H "x-ms-range: bytes=$off-$((off + $3 - 1))" -o "$WORK/part" \
      -w '%{http_code}' "$1" >"$WORK/code" || true
    [ "$(cat "$WORK/code")" = 206 ] || bad=$((bad + 1))
    cat "$WORK/part" >>"$4"
    off=$((off + $3))
    n=$((n + 1))
  done
  [ "$bad" -eq 0 ]
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---- the seeded VM ----
arm GET "$C/virtualMachines/vm1?$API"
expect 200 "seeded VM"
check "VM provisioned" eq "$(jbody .properties.provisioningState)" Succeeded
check "VM has a vmId" test -n "$(jbody .properties.vmId)"
check "OS disk reference" eq "$(jbody .properties.storageProfile.osDisk.managedDisk.id)" "$C/disks/vm1-os"
check "two data disks" eq "$(jbody '.properties.storageProfile.dataDisks|length')" 2
check "NIC reference" eq "$(jbody '.properties.networkProfile.networkInterfaces[0].id')" \
  "$RGV/providers/Microsoft.Network/networkInterfaces/vm1-nic"
arm GET "$RGV/providers/Microsoft.Network/networkInterfaces/vm1-nic?api-version=2023-09-01"
expect 200 "seeded NIC"
check "NIC in the seeded subnet" eq "$(jbody '.properties.ipConfigurations[0].properties.subnet.id')" \
  "$RGV/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/app"
arm GET "$RGV/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/app?api-version=2023-09-01"
expect 200 "seeded subnet"
arm GET "$C/disks/vm1-os?$DAPI"
expect 200 "seeded OS disk"
check "OS disk attached" eq "$(jbody .properties.diskState)" Attached
check "OS disk managedBy the VM" eq "$(jbody .managedBy)" "$C/virtualMachines/vm1"
check "OS disk size" eq "$(jbody .properties.diskSizeBytes)" $((64 * MIB))
check "disk encryption KEK vault" eq "$(jbody '.properties.encryptionSettingsCollection.encryptionSettings[0].keyEncryptionKey.sourceVault.id')" \
  "$RGV/providers/Microsoft.KeyVault/vaults/kvdisk"
check "disk encryption KEK url" bash -c "jq -r '.properties.encryptionSettingsCollection.encryptionSettings[0].keyEncryptionKey.keyUrl' '$WORK/body' | grep -q 'kvdisk.vault.localhost:$P/keys/kek/'"

# ---- power and instanceView ----
arm GET "$C/virtualMachines/vm1/instanceView?$API"
expect 200 "instanceView"
check "provisioning status" eq "$(jbody '.statuses[0].code')" ProvisioningState/succeeded
check "running" eq "$(jbody '.statuses[1].code')" PowerState/running
arm GET "$C/virtualMachines/vm-big/instanceView?$API"
check "estate power: deallocated" eq "$(jbody '.statuses[1].code')" PowerState/deallocated

# ---- guest check ----
guest vm1
check "runCommand result" eq "$(jbody '.value[0].code')" ProvisioningState/succeeded
check "guest booted" grep -q "boot ok vm=vm1" <<<"$OUT"
OSSUM=$(sed -n 's/^disk lun=os sha256=//p' <<<"$OUT")
D0SUM=$(sed -n 's/^disk lun=0 sha256=//p' <<<"$OUT")
D1SUM=$(sed -n 's/^disk lun=1 sha256=//p' <<<"$OUT")
check "guest lists the OS disk and the data disks in lun order" \
  eq "$(grep -o '^disk lun=[^ ]*' <<<"$OUT" | tr '\n' ' ')" "disk lun=os disk lun=0 disk lun=1 "
check "Azure's message shape" grep -q '^Enable succeeded: $' <<<"$OUT"
arm POST "$C/virtualMachines/vm1/runCommand?$API" -d '{"commandId":"RunShellScript","script":["uptime"]}'
lro
check "another script: empty stdout" eq "$(jbody '.value[0].message')" "$(printf 'Enable succeeded: \n[stdout]\n\n[stderr]\n')"

# ---- read SAS: refused while running, 4 MiB ranges once deallocated ----
sas "$C/disks/vm1-os" Read
expect 409 Conflict "no read SAS for a disk of a running VM"
arm POST "$C/virtualMachines/vm1/powerOff?$API"
expect 202 "powerOff"
arm GET "$C/virtualMachines/vm1/instanceView?$API"
check "stopped" eq "$(jbody '.statuses[1].code')" PowerState/stopped
arm POST "$C/virtualMachines/vm1/runCommand?$API" -d '{"commandId":"RunShellScript","script":["rebound-guest-check"]}'
expect 409 OperationNotAllowed "runCommand on a stopped VM"
arm POST "$C/virtualMachines/vm1/deallocate?$API"
expect 202 "deallocate"
lro
arm GET "$C/virtualMachines/vm1/instanceView?$API"
check "deallocated" eq "$(jbody '.statuses[1].code')" PowerState/deallocated
sas "$C/disks/vm1-os" Read
check "read SAS for a deallocated VM's disk" test -n "$SAS"
_curl -I "$SAS"
check "HEAD gives the size" eq "$(header Content-Length)" $((64 * MIB))
T0=$(date +%s%N)
check "64 MiB OS disk read in 16 ranges of 4 MiB" read_ranges "$SAS" $((64 * MIB)) $((4 * MIB)) "$WORK/os.bin"
T1=$(date +%s%N)
echo "  64 MiB in 4 MiB ranges: $(((T1 - T0) / 1000000)) ms"
check "read bytes hash as the guest said" eq "$(sha "$WORK/os.bin")" "$OSSUM"
check "64 MiB read in under 10 s" test $(((T1 - T0) / 1000000)) -lt 10000
sas "$C/disks/vm1-data0" Read
check "data disk read in 8 MiB ranges" read_ranges "$SAS" $((64 * MIB)) $((8 * MIB)) "$WORK/d0.bin"
check "data disk lun 0 hash" eq "$(sha "$WORK/d0.bin")" "$D0SUM"
_curl -H "x-ms-range: bytes=1000003-1070001" "$SAS"
expect 206 "unaligned range"
check "unaligned range equals the same bytes of the whole read" cmp -s "$WORK/body" <(tail -c +1000004 "$WORK/d0.bin" | head -c 69999)
_curl -H "Range: bytes=$((64 * MIB))-" "$SAS"
expect 416 InvalidRange "range past the end"
ctl GET /inventory
check "inventory checksum of the OS disk" eq "$(jbody ".items[]|select(.key==\"disk:$(tr A-Z a-z <<<"$C/disks/vm1-os")\")|.sha256")" "$OSSUM"
arm POST "$C/disks/vm1-os/endGetAccess?$DAPI"
expect 202 "endGetAccess"
arm POST "$C/disks/vm1-data0/endGetAccess?$DAPI"
arm GET "$C/disks/vm1-os?$DAPI"
check "disk back to Attached" eq "$(jbody .properties.diskState)" Attached
arm POST "$C/virtualMachines/vm1/start?$API"
expect 202 "start"
arm GET "$C/virtualMachines/vm1/instanceView?$API"
check "running again" eq "$(jbody '.statuses[1].code')" PowerState/running

# ---- direct upload ----
arm PUT "$C/disks/up-bad?$DAPI" -d '{"location":"westeurope","properties":{"creationData":{"createOption":"Upload","uploadSizeBytes":1000}}}'
expect 400 InvalidParameter "uploadSizeBytes not a multiple of 512"
arm PUT "$C/disks/up1?$DAPI" -d '{"location":"westeurope","properties":{"creationData":{"createOption":"Upload","uploadSizeBytes":'$((8 * MIB))'}}}'
expect 201 "create an Upload disk"
check "ReadyToUpload" eq "$(jbody .properties.diskState)" ReadyToUpload
sas "$C/disks/up1" Read
expect 409 OperationNotAllowed "no read SAS while ReadyToUpload"
sas "$C/disks/vm1-data1" Write
expect 409 OperationNotAllowed "no write SAS on a normal disk"
sas "$C/disks/up1" Write
WSAS=$SAS
check "write SAS has the read SAS's shape" grep -Eq '^https://127\.0\.0\.1:[0-9]+/md-[0-9a-f]+/abcd\?sv=.*&sr=b&si=.*&sig=' <<<"$WSAS"
arm GET "$C/disks/up1?$DAPI"
check "ActiveUpload" eq "$(jbody .properties.diskState)" ActiveUpload
head -c $((4 * MIB)) /dev/urandom >"$WORK/p1"
head -c $((4 * MIB)) /dev/urandom >"$WORK/p2"
_curl -X PUT -H 'x-ms-page-write: update' -H "x-ms-range: bytes=0-$((4 * MIB - 1))" --data-binary @"$WORK/p1" "$WSAS&comp=page"
expect 201 "Put Page 1 (x-ms-range)"
check "ETag" test -n "$(header ETag)"
check "x-ms-request-id" test -n "$(header x-ms-request-id)"
_curl -X PUT -H 'x-ms-page-write: update' -H "Range: bytes=$((4 * MIB))-$((8 * MIB - 1))" --data-binary @"$WORK/p2" "$WSAS&comp=page"
expect 201 "Put Page 2 (Range)"
head -c 512 /dev/zero >"$WORK/z512"
_curl -X PUT -H 'x-ms-page-write: update' -H "x-ms-range: bytes=1-512" --data-binary @"$WORK/z512" "$WSAS&comp=page"
expect 416 InvalidPageRange "misaligned page range"
_curl -X PUT -H 'x-ms-page-write: update' -H "x-ms-range: bytes=$((8 * MIB))-$((8 * MIB + 511))" --data-binary @"$WORK/z512" "$WSAS&comp=page"
expect 416 InvalidPageRange "page range past the end"
_curl -X PUT -H 'x-ms-page-write: update' -H "x-ms-range: bytes=0-1023" --data-binary @"$WORK/z512" "$WSAS&comp=page"
expect 400 InvalidHeaderValue "body shorter than the range"
head -c $((4 * MIB + 512)) /dev/zero >"$WORK/big"
_curl -X PUT -H 'x-ms-page-write: update' -H "x-ms-range: bytes=0-$((4 * MIB + 511))" --data-binary @"$WORK/big" "$WSAS&comp=page"
expect 413 RequestBodyTooLarge "more than 4 MiB in one Put Page"
_curl -X PUT -H "x-ms-range: bytes=0-511" --data-binary @"$WORK/z512" "$WSAS&comp=page"
expect 400 MissingRequiredHeader "no x-ms-page-write"
cat "$WORK/p1" "$WORK/p2" >"$WORK/up.bin"
_curl "$WSAS"
expect 200 "Get Blob through the write SAS"
check "what was written" eq "$(sha "$WORK/body")" "$(sha "$WORK/up.bin")"
arm POST "$C/disks/up1/endGetAccess?$DAPI"
expect 202 "endGetAccess ends the upload"
arm GET "$C/disks/up1?$DAPI"
check "Unattached after the upload" eq "$(jbody .properties.diskState)" Unattached
_curl -X PUT -H 'x-ms-page-write: update' -H "x-ms-range: bytes=0-511" --data-binary @"$WORK/z512" "$WSAS&comp=page"
expect 403 AuthenticationFailed "write SAS revoked"
sas "$C/disks/up1" Write
expect 409 OperationNotAllowed "no second upload"
sas "$C/disks/up1" Read
RSAS=$SAS
_curl -X PUT -H 'x-ms-page-write: update' -H "x-ms-range: bytes=0-511" --data-binary @"$WORK/z512" "$RSAS&comp=page"
expect 403 AuthorizationPermissionMismatch "Put Page through a read SAS"
check "uploaded disk read back in 4 MiB ranges" read_ranges "$RSAS" $((8 * MIB)) $((4 * MIB)) "$WORK/back.bin"
check "uploaded bytes intact" eq "$(sha "$WORK/back.bin")" "$(sha "$WORK/up.bin")"
_curl -H "x-ms-range: bytes=$((4 * MIB))-$((4 * MIB + 99))" "$RSAS"
check "ranged read inside page 2" cmp -s "$WORK/body" <(head -c 100 "$WORK/p2")
arm POST "$C/disks/up1/endGetAccess?$DAPI"

# ---- VMs: references, attach, detach, delete ----
arm PUT "$C/virtualMachines/vm-x?$API" -d '{"location":"westeurope","properties":{"storageProfile":{"osDisk":{"createOption":"Attach","managedDisk":{"id":"'$C'/disks/nope"}}}}}'
expect 404 NotFound "VM with a missing disk"
arm PUT "$C/virtualMachines/vm-x?$API" -d '{"location":"westeurope","properties":{"storageProfile":{"osDisk":{"createOption":"Attach","managedDisk":{"id":"'$C'/disks/up1"}}},"networkProfile":{"networkInterfaces":[{"id":"'$RGV'/providers/Microsoft.Network/networkInterfaces/nope"}]}}}'
expect 400 InvalidResourceReference "VM with a missing NIC"
arm PUT "$C/virtualMachines/vm-x?$API" -d '{"location":"westeurope","properties":{"storageProfile":{"osDisk":{"createOption":"Attach","managedDisk":{"id":"'$C'/disks/vm1-os"}}}}}'
expect 409 OperationNotAllowed "a disk attached to another VM"
arm PUT "$C/disks/os2?$DAPI" -d '{"location":"westeurope","properties":{"creationData":{"createOption":"Empty"},"diskSizeGB":1}}'
expect 201 "an empty disk"
arm PUT "$RGV/providers/Microsoft.Network/networkInterfaces/nic2?api-version=2023-09-01" -d '{"location":"westeurope","properties":{"ipConfigurations":[]}}'
expect 201 "a NIC is a generic resource"
arm PUT "$C/virtualMachines/vm2?$API" -d '{"location":"westeurope","properties":{"hardwareProfile":{"vmSize":"Standard_B2s"},"storageProfile":{"osDisk":{"createOption":"Attach","managedDisk":{"id":"'$C'/disks/os2"}},"dataDisks":[{"lun":0,"createOption":"Attach","deleteOption":"Delete","managedDisk":{"id":"'$C'/disks/up1"}}]},"networkProfile":{"networkInterfaces":[{"id":"'$RGV'/providers/Microsoft.Network/networkInterfaces/nic2"}]}}}'
expect 201 "VM from a restored (uploaded) disk"
check "new VM has a vmId" test -n "$(jbody .properties.vmId)"
arm GET "$C/disks/up1?$DAPI"
check "uploaded disk attached" eq "$(jbody .properties.diskState)" Attached
check "managedBy vm2" eq "$(jbody .managedBy)" "$C/virtualMachines/vm2"
guest vm2
check "guest sees the uploaded bytes" grep -q "^disk lun=0 sha256=$(sha "$WORK/up.bin")$" <<<"$OUT"
arm DELETE "$C/disks/up1?$DAPI"
expect 409 OperationNotAllowed "deleting an attached disk"
check "Azure's message" grep -q "is attached to VM" <<<"$(jbody .error.message)"
arm PUT "$C/snapshots/up1-snap?$DAPI" -d '{"location":"westeurope","properties":{"incremental":true,"creationData":{"createOption":"Copy","sourceResourceId":"'$C'/disks/up1"}}}'
expect 201 "incremental snapshot of an attached disk"
arm DELETE "$C/virtualMachines/vm2?$API"
expect 202 "delete the VM"
lro
arm GET "$C/disks/os2?$DAPI"
check "OS disk released" eq "$(jbody .properties.diskState)" Unattached
check "no managedBy" eq "$(jbody '.managedBy // "none"')" none
arm GET "$C/disks/up1?$DAPI"
expect 404 ResourceNotFound "deleteOption Delete took the data disk along"
sas "$C/snapshots/up1-snap" Read
_curl "$SAS"
check "the snapshot keeps the uploaded bytes" eq "$(sha "$WORK/body")" "$(sha "$WORK/up.bin")"
arm DELETE "$C/disks/os2?$DAPI"
expect 202 "a released disk can be deleted"

# ---- control state snapshot/restore keeps contents ----
ctl POST /snapshots/before
expect 201 "state snapshot"
ctl POST /encrypt
check "ransomware rewrote the disks" test "$(jbody .disks)" -ge 6
guest vm1
check "the guest sees other bytes" test "$(sed -n 's/^disk lun=os sha256=//p' <<<"$OUT")" != "$OSSUM"
ctl POST /snapshots/before/restore
expect 204 "restore the state"
guest vm1
check "OS disk content back" eq "$(sed -n 's/^disk lun=os sha256=//p' <<<"$OUT")" "$OSSUM"
check "data disk content back" eq "$(sed -n 's/^disk lun=1 sha256=//p' <<<"$OUT")" "$D1SUM"
sas "$C/snapshots/up1-snap" Read
_curl "$SAS"
check "uploaded snapshot content survives the restore" eq "$(sha "$WORK/body")" "$(sha "$WORK/up.bin")"

# ---- the attacker ----
ctl POST /attack '{"role":"Owner"}'
expect 200 "attack"
cp "$WORK/body" "$WORK/report.json"
check "VMs deleted" test "$(jq '[.resources_deleted[]|select(test("virtualMachines/[^/]*$"))]|length' "$WORK/report.json")" -eq 2
check "disks deleted after their VMs (no 409 on disks)" \
  eq "$(jq '[.actions[]|select(.action=="delete" and (.target|test("/disks/")) and .allowed==false)]|length' "$WORK/report.json")" 0
check "disk contents lost" test "$(jq '[.lost[]|select(startswith("disk:"))]|length' "$WORK/report.json")" -ge 8

END=$(date +%s)
echo "  test_compute took $((END - START)) s"
check "whole test under 60 s (about 20 s alone)" test $((END - START)) -lt 60
