#!/usr/bin/env bash
# `rebound vault put --from-url-env` and `restore --to-url-env` against
# Azurite: an object read from a SAS URL into the local vault (ranged GETs)
# and equal to its source; streamed back into a page blob in place and into
# a new block blob; an existing block blob refused; an unset variable and a
# corrupt block refused clearly; no SAS signature in any output or in the
# vault.
. "$(dirname "$0")/lib.sh"
: "${AZURITE:?}"
[ -x "$AZURITE" ] || { echo "SKIP: Azurite is not installed (run scripts/test.sh)"; exit 77; }
AZ_PID=
trap '[ -n "$AZ_PID" ] && kill "$AZ_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
"$AZURITE" --inMemoryPersistence --blobHost 127.0.0.1 --blobPort 0 --disableTelemetry \
  --skipApiVersionCheck --silent >azurite.log 2>&1 &
AZ_PID=$!
PORT=
for _ in $(seq 300); do
  PORT=$(sed -n 's/.*listens on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' azurite.log | head -1)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { cat azurite.log >&2; echo "FAIL: Azurite did not start"; exit 1; }
KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
EP="http://127.0.0.1:$PORT/devstoreaccount1"
# An account SAS (blob service, all permissions), signed with openssl.
EXP=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
STS=$(printf 'devstoreaccount1\nracwdl\nb\nsco\n\n%s\n\nhttps,http\n2019-12-12\n' "$EXP")
SIG=$(printf '%s\n' "$STS" | openssl dgst -sha256 -mac HMAC \
  -macopt "hexkey:$(printf '%s' "$KEY" | base64 -d | od -An -tx1 -v | tr -d ' \n')" -binary |
  base64 -w0 | jq -sRr @uri)
SAS="sv=2019-12-12&ss=b&srt=sco&sp=racwdl&se=$(printf '%s' "$EXP" | jq -sRr @uri)&spr=https,http&sig=$SIG"
H=(-H 'x-ms-version: 2019-12-12')
curl -sf -X PUT "$EP/disks?restype=container&$SAS" "${H[@]}" >/dev/null || { echo "FAIL: container"; exit 1; }
SIZE=$((3 * 1024 * 1024 + 1536)) # three 1 MiB vault blocks and a short last one
head -c $SIZE /dev/urandom >disk.vhd
curl -sf -T disk.vhd -H 'x-ms-blob-type: BlockBlob' "${H[@]}" "$EP/disks/src.vhd?$SAS" >/dev/null
make_keys
write_config rebound.yaml "$TMP/vault" "$TMP/pub.pem"
V() { "$REBOUND" vault -c rebound.yaml --no-progress "$@"; }

export SRC_URL="$EP/disks/src.vhd?$SAS"
expect 0 'set .*1 object' V put --from-url-env SRC_URL --name disk.vhd --source-id /sub/disk1 --kind disk
SET=$(V list --output json | jq -r '.[0].set_id')
expect 0 'OK$' V verify
expect 0 'hashes match' V restore "$SET" disk.vhd --to back.vhd
check "the set holds the source byte for byte" cmp -s disk.vhd back.vhd

# Back into a page blob in place (as into a managed disk's upload SAS).
curl -sf -X PUT -H 'x-ms-blob-type: PageBlob' -H "x-ms-blob-content-length: $SIZE" "${H[@]}" \
  -H 'Content-Length: 0' "$EP/disks/restored.vhd?$SAS" >/dev/null
export DST_URL="$EP/disks/restored.vhd?$SAS"
expect 0 'restored .* to DST_URL.*hashes match' V restore "$SET" disk.vhd --to-url-env DST_URL
curl -sf "${H[@]}" "$EP/disks/restored.vhd?$SAS" -o paged.vhd
check "the page blob equals the source" cmp -s disk.vhd paged.vhd
# Into a new block blob; an existing one is refused, not overwritten.
export NEW_URL="$EP/disks/copy.vhd?$SAS"
expect 0 'hashes match' V restore "$SET" disk.vhd --to-url-env NEW_URL --block
curl -sf "${H[@]}" "$EP/disks/copy.vhd?$SAS" -o copy.vhd
check "the block blob equals the source" cmp -s disk.vhd copy.vhd
expect 2 'already exists; the vault never overwrites' V restore "$SET" disk.vhd --to-url-env NEW_URL --block

# Bad input: clear errors.
expect 2 'NOPE_URL is not set' V restore "$SET" disk.vhd --to-url-env NOPE_URL
expect 2 'one of --to FILE or --to-url-env' V restore "$SET" disk.vhd --to x --to-url-env DST_URL
expect 2 'needs --name' V put --from-url-env SRC_URL --source-id s --kind disk
export GONE_URL="$EP/disks/missing.vhd?$SAS"
expect 2 'cannot read the source' V put --from-url-env GONE_URL --name d --source-id s2 --kind disk
# A flipped byte in the vault: refused at that block, the target untouched.
obj=$(find vault -path "*$SET*" -name 'disk.vhd*' -type f | head -1)
flip_byte "$obj" 1500000
curl -sf -X PUT -H 'x-ms-blob-type: PageBlob' -H "x-ms-blob-content-length: $SIZE" "${H[@]}" \
  -H 'Content-Length: 0' "$EP/disks/second.vhd?$SAS" >/dev/null
export SECOND_URL="$EP/disks/second.vhd?$SAS"
expect 1 'corrupt at block 1' V restore "$SET" disk.vhd --to-url-env SECOND_URL

# Server-side copy into an Azure Blob vault: Azurite copies the source
# itself (Put Block From URL); rebound sends none of its bytes, reads the
# stored object back to hash it, and the set verifies and restores equal.
curl -sf -X PUT "$EP/vault?restype=container&$SAS" "${H[@]}" >/dev/null
echo not-a-real-token >token
cat >blob.yaml <<YAML
cloud:
  arm_endpoint: https://127.0.0.1:1
auth:
  method: token_file
  token_file: $TMP/token
vault:
  kind: azure-blob
  account: devstoreaccount1
  container: vault
  endpoint: $EP
  account_key_env: AZURITE_KEY
  allow_unlocked: true
  signing_key_file: $TMP/sign.pem
  public_key_file: $TMP/pub.pem
  block_size: 1MiB
YAML
export AZURITE_KEY="$KEY"
B() { "$REBOUND" vault -c blob.yaml --no-progress "$@"; }
expect 2 'server-copy copies from --from-url-env' B put disk.vhd --server-copy --source-id s --kind disk
expect 0 '"ok":[[:space:]]*true' B put --from-url-env SRC_URL --server-copy --name disk.vhd \
  --source-id /sub/disk1 --kind disk --output json
check "server copy: rebound sent none of the bytes" test "$(jq .bytes_sent out.txt)" = 0
check "server copy: the set has every byte" test "$(jq .bytes out.txt)" = "$SIZE"
CSET=$(jq -r .set_id out.txt)
expect 0 'OK$' B verify
expect 0 'hashes match' B restore "$CSET" disk.vhd --to copied.vhd
check "the server-side copy equals the source" cmp -s disk.vhd copied.vhd

# The SAS signature is nowhere: not in outputs, not in the vault.
check "no SAS signature in outputs" bash -c "! grep -qF -- '$SIG' out.txt err.txt"
check "no SAS signature in the vault" bash -c "! grep -rqF -- '$SIG' vault"
finish
