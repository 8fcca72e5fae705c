#!/usr/bin/env bash
# Azure Files: ARM file shares (create, get, list, delete, snapshots via
# $expand=snapshots and x-ms-snapshot), the data plane (create share, share
# snapshots, directories, create file + put range, ranged reads, listing,
# reads from a snapshot, delete with and without snapshots), locks, inventory
# and the attacker.
. "$(dirname "$0")/lib.sh"
trap finish EXIT

cat >"$WORK/estate.yaml" <<'YAML'
tenant: 11111111-1111-1111-1111-111111111111
identity:
  clients:
    - {client_id: app-secret, secret: s3cret}
subscriptions:
  - id: 22222222-2222-2222-2222-222222222222
    resource_groups:
      - name: rg-files
        resources:
          - type: Microsoft.Storage/storageAccounts
            name: stfiles
            kind: StorageV2
            shares:
              - name: data
                files: [{name: hello.txt, content: "hello files"}, {name: docs/a.txt, content: "AAAA"}]
                snapshots: 1
          - type: Microsoft.Storage/storageAccounts
            name: stlocked
            shares: [{name: keep, files: [{name: k.txt, content: "keep"}]}]
            locks: [{name: nodelete, level: CanNotDelete}]
YAML
azsim_start "$WORK/estate.yaml"
tokens
FA=/subscriptions/$S/resourceGroups/rg-files/providers/Microsoft.Storage/storageAccounts/stfiles
API=api-version=2023-05-01
fs() { # fs METHOD PATH [curl args...]: data plane with the backup intent
  local m=$1 u=$2
  shift 2
  if [ "$m" = HEAD ]; then set -- -I "$@"; else set -- -X "$m" "$@"; fi
  _curl -H "Authorization: Bearer $STT" -H 'x-ms-version: 2021-12-02' -H 'x-ms-file-request-intent: backup' "$B$u" "$@"
}

# ---- ARM ----
arm GET "$FA?$API"
check "primaryEndpoints.file" eq "$(jbody .properties.primaryEndpoints.file)" "$B/stfiles/"
arm GET "$FA/fileServices/default?$API"
expect 200 "fileServices/default exists"
check "share soft delete off by default" eq "$(jbody .properties.shareDeleteRetentionPolicy.enabled)" false
arm GET "$FA/fileServices/default/shares?$API"
expect 200 "list shares"
check "one share" eq "$(jbody '.value|length')" 1
arm PUT "$FA/fileServices/default/shares/logs?$API" -d '{"properties":{"shareQuota":100}}'
expect 201 "create a share"
check "quota" eq "$(jbody .properties.shareQuota)" 100
check "type" eq "$(jbody .type)" Microsoft.Storage/storageAccounts/fileServices/shares
arm PUT "$FA/fileServices/default/shares/Bad_Name?$API" -d '{}'
expect 400 InvalidResourceName "invalid share name"
arm GET "$FA/fileServices/default/shares/logs?$API"
expect 200 "get a share"
arm PUT "$FA/fileServices/default/shares/logs?$API&\$expand=snapshots" -d '{}'
expect 201 "ARM share snapshot (\$expand=snapshots)"
SNAP_ARM=$(jbody .properties.snapshotTime)
check "snapshotTime" test -n "$SNAP_ARM"
arm PUT "$FA/fileServices/default/shares/nosuch?$API&\$expand=snapshots" -d '{}'
expect 404 "snapshot of a missing share"
arm DELETE "$FA/fileServices/default/shares/logs?$API&\$include=none"
expect 409 ShareHasSnapshots "\$include=none refuses a share with snapshots"
arm DELETE "$FA/fileServices/default/shares/logs?$API" -H "x-ms-snapshot: $SNAP_ARM"
expect 200 "delete one snapshot (x-ms-snapshot)"
arm DELETE "$FA/fileServices/default/shares/logs?$API" -H "x-ms-snapshot: $SNAP_ARM"
expect 404 ShareSnapshotNotFound "the snapshot is gone"
arm DELETE "$FA/fileServices/default/shares/logs?$API&\$include=none"
expect 200 "delete a share without snapshots"
arm GET "$FA/fileServices/default/shares/logs?$API"
expect 404 ResourceNotFound "the share is gone"

# ---- data plane ----
_curl -H 'x-ms-file-request-intent: backup' "$B/stfiles/data/hello.txt"
expect 401 NoAuthenticationInformation "no token"
_curl -H "Authorization: Bearer $STT" "$B/stfiles/data/hello.txt"
expect 400 MissingRequiredHeader "OAuth without x-ms-file-request-intent"
fs GET "/stfiles/data/hello.txt"
expect 200 "get a seeded file"
check "content" eq "$(body)" "hello files"
check "x-ms-type" eq "$(header x-ms-type)" File
fs GET "/stfiles/data/hello.txt" -H 'x-ms-range: bytes=6-10'
expect 206 "ranged read"
check "range bytes" eq "$(body)" files
check "Content-Range" eq "$(header Content-Range)" "bytes 6-10/11"
fs GET "/stfiles/data/hello.txt" -H 'x-ms-range: bytes=50-60'
expect 416 InvalidRange "range past the end"
fs GET "/stfiles/data/missing.txt"
expect 404 ResourceNotFound "missing file"
fs GET "/stfiles/data?restype=directory&comp=list"
expect 200 "list the root directory"
check "root lists docs/ and hello.txt" eq "$(grep -o '<Name>[^<]*</Name>' "$WORK/body" | tr '\n' ' ')" "<Name>docs</Name> <Name>hello.txt</Name> "
check "file size in listing" grep -q '<Content-Length>11</Content-Length>' "$WORK/body"
fs GET "/stfiles/data/docs?restype=directory&comp=list"
expect 200 "list a directory"
check "docs lists a.txt" eq "$(grep -o '<Name>[^<]*</Name>' "$WORK/body")" "<Name>a.txt</Name>"

fs PUT "/stfiles/newshare?restype=share"
expect 201 "create a share (data plane)"
arm GET "$FA/fileServices/default/shares/newshare?$API"
expect 200 "data-plane share visible in ARM"
fs PUT "/stfiles/newshare?restype=share"
expect 409 ShareAlreadyExists "create it twice"
fs PUT "/stfiles/newshare/dir/x.bin" -H 'x-ms-type: file' -H 'x-ms-content-length: 10'
expect 404 ParentNotFound "file under a missing directory"
fs PUT "/stfiles/newshare/dir?restype=directory"
expect 201 "create a directory"
fs PUT "/stfiles/newshare/dir?restype=directory"
expect 409 ResourceAlreadyExists "create it twice"
fs PUT "/stfiles/newshare/dir/x.bin" -H 'x-ms-content-length: 10'
expect 400 MissingRequiredHeader "create file without x-ms-type"
head -c 300000 /dev/urandom >"$WORK/big.bin"
fs PUT "/stfiles/newshare/dir/x.bin" -H 'x-ms-type: file' -H 'x-ms-content-length: 300000'
expect 201 "create a 300 KB file"
fs PUT "/stfiles/newshare/dir/x.bin?comp=range" -H 'x-ms-range: bytes=0-199999' -H 'x-ms-write: update' \
  --data-binary @<(head -c 200000 "$WORK/big.bin")
expect 201 "put range 1"
fs PUT "/stfiles/newshare/dir/x.bin?comp=range" -H 'x-ms-range: bytes=200000-299999' -H 'x-ms-write: update' \
  --data-binary @<(tail -c 100000 "$WORK/big.bin")
expect 201 "put range 2"
fs PUT "/stfiles/newshare/dir/x.bin?comp=range" -H 'x-ms-range: bytes=299999-300000' -H 'x-ms-write: update' --data-binary 'ab'
expect 416 InvalidRange "put range past the end"
fs PUT "/stfiles/newshare/dir/x.bin?comp=range" -H 'x-ms-range: bytes=0-9' -H 'x-ms-write: update' --data-binary 'short'
expect 400 InvalidHeaderValue "body shorter than the range"
fs GET "/stfiles/newshare/dir/x.bin"
check "round trip is byte-exact" cmp -s "$WORK/body" "$WORK/big.bin"
fs HEAD "/stfiles/newshare/dir/x.bin"
check "HEAD x-ms-content-length" eq "$(header x-ms-content-length)" 300000

# share snapshots (data plane)
fs PUT "/stfiles/newshare?restype=share&comp=snapshot"
expect 201 "create a share snapshot"
SNAP=$(header x-ms-snapshot)
check "x-ms-snapshot" test -n "$SNAP"
fs PUT "/stfiles/newshare/dir/x.bin?comp=range" -H 'x-ms-range: bytes=0-3' -H 'x-ms-write: clear'
expect 201 "clear a range"
fs GET "/stfiles/newshare/dir/x.bin" -H 'Range: bytes=0-3'
check "cleared bytes are zero" eq "$(od -An -tx1 "$WORK/body" | tr -d ' \n')" 00000000
fs GET "/stfiles/newshare/dir/x.bin?sharesnapshot=$SNAP"
expect 200 "read from the snapshot"
check "snapshot keeps the old bytes" cmp -s "$WORK/body" "$WORK/big.bin"
fs GET "/stfiles/newshare/dir?restype=directory&comp=list&sharesnapshot=$SNAP"
expect 200 "list a snapshot directory"
fs PUT "/stfiles/newshare/dir/x.bin?comp=range&sharesnapshot=$SNAP" -H 'x-ms-range: bytes=0-3' -H 'x-ms-write: clear'
expect 400 "snapshots are read-only"
fs GET "/stfiles/newshare/dir/x.bin?sharesnapshot=2001-01-01T00:00:00.0000000Z"
expect 404 ShareSnapshotNotFound "unknown snapshot"
fs DELETE "/stfiles/newshare/dir?restype=directory"
expect 409 DirectoryNotEmpty "delete a non-empty directory"
fs DELETE "/stfiles/newshare?restype=share"
expect 409 ShareHasSnapshots "delete a share with snapshots"

ctl GET /inventory
INV0=$(jbody .sha256)
check "inventory has files" test "$(jbody '[.items[]|select(.kind=="file")]|length')" -ge 3
check "inventory has snapshot files" test "$(jbody '[.items[]|select(.kind=="share-snapshot-file")]|length')" -ge 3
check "file checksum is SHA-256 of its bytes" eq "$(jbody '.items[]|select(.key=="file:stfiles/data/hello.txt")|.sha256')" \
  "$(printf 'hello files' | sha256sum | cut -d' ' -f1)"
fs DELETE "/stfiles/newshare/dir/x.bin"
expect 202 "delete a file"
ctl GET /inventory
check "inventory changes after a delete" test "$(jbody .sha256)" != "$INV0"
fs DELETE "/stfiles/newshare?restype=share&sharesnapshot=$SNAP"
expect 202 "delete a share snapshot"
fs PUT "/stfiles/newshare?restype=share&comp=snapshot"
fs DELETE "/stfiles/newshare?restype=share" -H 'x-ms-delete-snapshots: include'
expect 202 "delete a share with its snapshots"
arm GET "$FA/fileServices/default/shares/newshare?$API"
expect 404 "the ARM share is gone too"

# list with $expand=snapshots: the seeded share has one snapshot
arm GET "$FA/fileServices/default/shares?$API&\$expand=snapshots"
expect 200 "list shares with snapshots"
check "a share and its snapshot" eq "$(jbody '[.value[]|select(.name=="data")]|length')" 2
check "snapshot item has snapshotTime" test -n "$(jbody '.value[]|select(.properties.snapshotTime)|.properties.snapshotTime')"

# share soft delete
arm PUT "$FA/fileServices/default?$API" -d '{"properties":{"shareDeleteRetentionPolicy":{"enabled":true,"days":7}}}'
expect 200 "enable share soft delete"
fs PUT "/stfiles/soft?restype=share"
fs PUT "/stfiles/soft/s.txt" -H 'x-ms-type: file' -H 'x-ms-content-length: 4'
fs PUT "/stfiles/soft/s.txt?comp=range" -H 'x-ms-range: bytes=0-3' -H 'x-ms-write: update' --data-binary 'soft'
expect 201 "write a file to restore later"
arm DELETE "$FA/fileServices/default/shares/soft?$API"
expect 200 "delete the share"
fs GET "/stfiles/soft/s.txt"
expect 404 "its files are gone"
ctl GET /inventory
check "soft-deleted share files in the inventory" eq "$(jbody '.items[]|select(.key=="file:stfiles/soft/s.txt")|.state')" soft-deleted
arm GET "$FA/fileServices/default/shares?$API&\$expand=deleted"
expect 200 "list deleted shares"
VER=$(jbody '.value[]|select(.name=="soft" and .properties.deleted)|.properties.version')
check "deleted share has a version" test -n "$VER"
check "remainingRetentionDays" eq "$(jbody '.value[]|select(.name=="soft")|.properties.remainingRetentionDays')" 7
arm POST "$FA/fileServices/default/shares/soft/restore?$API" -d '{"deletedShareName":"soft","deletedShareVersion":"nope"}'
expect 404 ShareNotFound "restore an unknown version"
arm POST "$FA/fileServices/default/shares/soft/restore?$API" -d "{\"deletedShareName\":\"soft\",\"deletedShareVersion\":\"$VER\"}"
expect 200 "restore the share"
fs GET "/stfiles/soft/s.txt"
check "restored content" eq "$(body)" soft
arm DELETE "$FA/fileServices/default/shares/soft?$API"
ctl POST /clock/advance '{"seconds": 604801}'
tokens
arm GET "$FA/fileServices/default/shares?$API&\$expand=deleted"
check "purged after the retention" eq "$(jbody '[.value[]|select(.name=="soft")]|length')" 0

# locks guard the control plane
LA=/subscriptions/$S/resourceGroups/rg-files/providers/Microsoft.Storage/storageAccounts/stlocked
arm DELETE "$LA/fileServices/default/shares/keep?$API"
expect 409 ScopeLocked "a CanNotDelete lock stops an ARM share delete"

# the attacker overwrites files and deletes shares with their snapshots
ctl POST /attack '{"role": "Owner"}'
expect 200 "attack"
check "seeded file lost" test "$(jbody '[.lost[]|select(.=="file:stfiles/data/hello.txt")]|length')" -eq 1
check "files were encrypted" test "$(jbody '[.actions[]|select(.action=="encrypt-file" and .allowed)]|length')" -ge 3
