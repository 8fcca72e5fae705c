#!/usr/bin/env bash
# Virtual clock, inventory checksums, state snapshot/restore (named and whole
# JSON), settings validation, and the control API's error handling.
. "$(dirname "$0")/lib.sh"
trap finish EXIT

# command line and estate errors
printf 'subscriptions:\n  - id: s1\n    resource_groups:\n      - name: rg\n        resources:\n          - type: Microsoft.KeyVault/vaults\n            name: kv\n            properties: {softDeleteRetentionInDays: 3}\n' >"$WORK/bad.yaml"
set +e
"$AZSIM" serve --estate "$WORK/bad.yaml" --tls-dir "$WORK/tls" --ready-file "$WORK/never.json" >/dev/null 2>"$WORK/err"
rc=$?
set -e
check "an invalid estate stops azsim (exit 1)" eq "$rc" 1
check "the error names the failing request and Azure's message" grep -q 'softDeleteRetentionInDays' "$WORK/err"
check "no ready file for an invalid estate" test ! -e "$WORK/never.json"
printf 'a: [' >"$WORK/bad2.yaml"
set +e
"$AZSIM" serve --estate "$WORK/bad2.yaml" --tls-dir "$WORK/tls" 2>"$WORK/err"
rc=$?
"$AZSIM" serve --port 70000 --estate "$AZSIM_ESTATE" 2>/dev/null
rc2=$?
"$AZSIM" --help >"$WORK/help"
rc3=$?
set -e
check "a YAML syntax error stops azsim" eq "$rc" 1
check "YAML error has a line number" grep -q 'line' "$WORK/err"
check "a bad port is a usage error (2)" eq "$rc2" 2
check "--help exits 0 and documents --ready-file" test "$rc3" = 0 -a -n "$(grep -- --ready-file "$WORK/help")"

azsim_start
tokens

ctl GET /health
expect 200 "health"
ctl GET /clock
NOW0=$(jbody .now)
check "offset starts at 0" eq "$(jbody .offset)" 0
ctl POST /clock/advance '{"seconds": 86400}'
expect 200 "advance one day"
check "clock moved by a day" test "$(jq -n "$(jbody .now) - $NOW0 >= 86400")" = true
ctl POST /clock/advance '{"seconds": -5}'
expect 400 InvalidClock "the clock never goes back"
ctl POST /clock/advance '{}'
expect 400 InvalidClock "seconds required"
ctl PUT /settings '{"page_size": 0}'
expect 400 InvalidSetting "page_size 0 refused"
tokens

ctl GET /inventory
expect 200 "inventory"
INV0=$(jbody .sha256)
check "inventory has blobs" test "$(jbody '[.items[]|select(.kind=="blob")]|length')" -ge 5
check "inventory has Key Vault items" test "$(jbody '[.items[]|select(.kind=="kv")]|length')" -ge 5
check "inventory has disk and snapshot contents" eq "$(jbody '[.items[]|select(.kind=="disk-content")]|length')" 2
check "snapshot content equals its disk's" eq "$(jbody '[.items[]|select(.kind=="disk-content")|.sha256]|unique|length')" 1
SUM=$(jbody '.items[]|select(.key=="blob:stbackup/worm/backup-001.bin")|.sha256')
check "blob checksum is SHA-256 of its bytes" eq "$SUM" "$(printf 'backup one' | sha256sum | cut -d' ' -f1)"
ctl GET /inventory
check "inventory checksum is stable" eq "$(jbody .sha256)" "$INV0"

ctl POST /snapshots/before
expect 201 "named snapshot"
ctl GET /state
cp "$WORK/body" "$WORK/state0.json"
check "state is JSON with resources" test "$(jq '.resources|length' "$WORK/state0.json")" -gt 10

blob PUT "/stbackup/plain/p.bin" -H 'x-ms-blob-type: BlockBlob' --data-binary 'changed'
kv kvprod PUT "/secrets/db-password?api-version=7.5" -d '{"value":"rotated"}'
arm DELETE "$RGA/providers/Microsoft.Sql/servers/sqlprod?api-version=2023-05-01-preview"
ctl GET /inventory
INV1=$(jbody .sha256)
check "inventory checksum changes with the data" test "$INV1" != "$INV0"
check "changed blob shows a new checksum" test "$(jbody '.items[]|select(.key=="blob:stbackup/plain/p.bin")|.sha256')" != \
  "$(printf plain | sha256sum | cut -d' ' -f1)"

ctl POST /snapshots/before/restore
expect 204 "restore the named snapshot"
ctl GET /inventory
check "inventory back to the snapshot's checksum" eq "$(jbody .sha256)" "$INV0"
blob GET "/stbackup/plain/p.bin"
check "blob content restored" eq "$(body)" plain
kv kvprod GET "/secrets/db-password?api-version=7.5"
check "secret restored" eq "$(jbody .value)" hunter2
arm GET "$RGA/providers/Microsoft.Sql/servers/sqlprod?api-version=2023-05-01-preview"
expect 200 "deleted server back"
ctl POST /snapshots/nope/restore
expect 404 NotFound "unknown snapshot"

# whole-state JSON round trip, also into a fresh azsim
blob DELETE "/stbackup/plain/p.bin"
STATUS=$(curl -sS -o "$WORK/body" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  --data-binary "@$WORK/state0.json" "$CT/state")
expect 204 "PUT /state"
ctl GET /inventory
check "inventory equal after PUT /state" eq "$(jbody .sha256)" "$INV0"
ctl PUT /state '[1,2]'
expect 400 InvalidState "state must be an object"
ctl PUT /state '{bad'
expect 400 InvalidJson "state must be JSON"

# backups made before a snapshot restore still restore (the seal key is state)
kv kvprod POST "/secrets/db-password/backup?api-version=7.5"
BK=$(jbody .value)
ctl POST /snapshots/s2
kv kvprod DELETE "/secrets/db-password?api-version=7.5"
kv kvprod DELETE "/deletedsecrets/db-password?api-version=7.5"
expect 403 Forbidden "purge protection"
ctl POST /snapshots/s2/restore
kv kvprod POST "/secrets/restore?api-version=7.5" -d "{\"value\":\"$BK\"}"
expect 409 Conflict "restored state has the secret again"

# retention expiry on the clock: a soft-deleted secret is purged after 7 days
kv kvprod DELETE "/secrets/api-key?api-version=7.5"
ctl POST /clock/advance '{"seconds": 604000}'
tokens
kv kvprod GET "/deletedsecrets/api-key?api-version=7.5"
expect 200 "still recoverable before its purge date"
ctl POST /clock/advance '{"seconds": 1000}'
tokens
kv kvprod GET "/deletedsecrets/api-key?api-version=7.5"
expect 404 SecretNotFound "purged automatically at its scheduled date"
ctl GET /inventory
check "purged secret gone from the inventory" eq "$(jbody '[.items[]|select(.key=="kv:kvprod/secrets/api-key")]|length')" 0

ctl POST /shutdown
expect 204 "shutdown"
for _ in $(seq 100); do kill -0 "$AZSIM_PID" 2>/dev/null || break; sleep 0.05; done
check "azsim exits after /shutdown" test ! -e "/proc/$AZSIM_PID"
