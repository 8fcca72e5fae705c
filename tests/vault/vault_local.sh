# The local vault end to end: put, list, show, verify (full and sampled),
# restore, never-overwrite, tampering found and named, bad input refused
# with a clear message and the vault left consistent.
. "$(dirname "$0")/lib.sh"
make_keys
write_config rebound.yaml "$TMP/v" "$TMP/pub.pem"
V() { "$REBOUND" vault "$@"; }

head -c 5000000 /dev/urandom >disk.img
echo "key material" >kv.json

# help and usage
expect 0 'rebound vault put FILE' V --help
expect 0 'source-id' V put --help
expect 0 'vault     the backup vault' "$REBOUND" --help
expect 2 'unknown subcommand' V frobnicate
expect 2 'put needs --source-id' V put disk.img
expect 2 'sample needs a percentage' V verify --sample 0%

# put, list, show, verify, restore
expect 0 'set .*2 object\(s\)' V put disk.img kv.json --source-id /subscriptions/s/rg/disk1 --kind disk
expect 0 '"set_id"' V list --output json
S1=$(jq -r '.[0].set_id' out.txt)
check "one set listed" test "$(jq length out.txt)" = 1
expect 0 'signed by: .*\(valid\)' V show "$S1"
expect 0 'OK$' V verify
expect 0 'OK$' V verify --whole-hash
expect 0 '"ok":[[:space:]]*true' V verify "$S1" --sample 5% --seed 7 --output json
check "sample reads fewer blocks" test "$(jq .blocks_checked out.txt)" -lt "$(jq .blocks_total out.txt)"
V verify --sample 5% --seed 7 --output json >s1.json
V verify --sample 5% --seed 7 --output json >s2.json
check "same seed, same sample" test "$(jq .blocks_checked s1.json)" = "$(jq .blocks_checked s2.json)"
expect 0 'hashes match' V restore "$S1" disk.img --to back.img
check "restored bytes equal" cmp -s disk.img back.img
expect 2 'File exists' V restore "$S1" disk.img --to back.img
expect 2 'no object' V restore "$S1" nope --to x.img

# never overwrite: the same set again is refused, the object is untouched
SHA=$(sha256sum "v/sets/$S1/data/disk.img" | cut -d' ' -f1)
head -c 5000000 /dev/urandom >other.img
expect 1 'already complete' V put other.img --name disk.img --set "$S1" --source-id x --kind disk
check "stored object unchanged" test "$(sha256sum "v/sets/$S1/data/disk.img" | cut -d' ' -f1)" = "$SHA"
check "object mode 0444" test "$(stat -c %a "v/sets/$S1/data/disk.img")" = 444
# A data object already there under a set id being written: refused, not replaced.
mkdir -p "v/sets/manual-1/data" && cp other.img v/sets/manual-1/data/disk.img && chmod 444 v/sets/manual-1/data/disk.img
expect 1 'already exists with other content.*never overwrites' V put disk.img --set manual-1 --source-id x --kind disk --no-resume
check "pre-existing object unchanged" cmp -s other.img v/sets/manual-1/data/disk.img
rm -rf v/sets/manual-1

# a second set, used below to show that damage to one set leaves others fine
expect 0 'set ' V put kv.json --source-id /subscriptions/s/rg/kv1 --kind keyvault
V list --output json >list.json
S2=$(jq -r '.[] | select(.kind=="keyvault") | .set_id' list.json)

# one flipped byte is found and named (object and block)
flip_byte "v/sets/$S1/data/disk.img" 3145730
expect 1 "$S1  disk.img  corrupt: 1 block\(s\).*first block 3" V verify
expect 1 "$S1  disk.img  corrupt: 1 block\(s\).*first block 3" V verify --whole-hash
expect 0 'OK$' V verify "$S2"
expect 1 'corrupt at block 3' V restore "$S1" disk.img --to bad.img
check "no partial restore left" test ! -e bad.img
flip_byte "v/sets/$S1/data/disk.img" 3145730
expect 0 'OK$' V verify "$S1"

# a missing object is found and named
chmod u+w "v/sets/$S1/data/kv.json"; mv "v/sets/$S1/data/kv.json" kv.saved
expect 1 "$S1  kv.json  missing" V verify --output text
expect 1 '"object":[[:space:]]*"kv.json"' V verify --output json
mv kv.saved "v/sets/$S1/data/kv.json"
expect 0 'OK$' V verify

# a bad signature is found: signature bytes changed, or the payload changed
CAT="v/catalog/$S1.json"
cp "$CAT" cat.saved
chmod u+w "$CAT"
jq '.signature |= (if startswith("A") then "B" + .[1:] else "A" + .[1:] end)' cat.saved >"$CAT"
expect 1 "$S1  -  bad signature: the signature does not verify" V verify
jq '.payload |= sub("\"retention_days\":30"; "\"retention_days\":1")' cat.saved >"$CAT"
expect 1 'bad signature' V verify "$S1"
expect 0 'kept: .*does not verify' env REBOUND_VAULT_NOW=$(( $(date +%s) + 5 * 86400 )) "$REBOUND" vault prune --apply
check "a set with a bad signature is not pruned" test -e "v/sets/$S1/data/disk.img"
cp cat.saved "$CAT"
expect 0 'OK$' V verify

# the wrong public key: another Ed25519 key fails every set; a non-Ed25519 key is refused
write_config other.yaml "$TMP/v" "$TMP/other_pub.pem"
expect 1 'bad signature: the signature does not verify with the public key' V -c other.yaml verify
write_config rsa.yaml "$TMP/v" "$TMP/rsa_pub.pem"
expect 2 'not an Ed25519 key' V -c rsa.yaml verify
write_config nokey.yaml "$TMP/v" "$TMP/missing.pem"
expect 2 'cannot read the public key' V -c nokey.yaml verify

# a truncated manifest: a clear error, the rest of the vault stays usable
M="v/sets/$S2/manifest.json"
cp "$M" manifest.saved
chmod u+w "$M"
head -c 100 manifest.saved >"$M"
expect 1 'manifest .* does not match its signed hash: the manifest is truncated or not valid JSON' V show "$S2"
expect 1 "$S2  manifest.json  .*truncated" V verify
expect 0 'OK$' V verify "$S1"
expect 0 "$S1" V list
expect 0 'set ' V put kv.json --source-id /subscriptions/s/rg/kv2 --kind keyvault
cp manifest.saved "$M"
expect 0 'OK$' V verify
# a truncated catalog entry is named too
C2="v/catalog/$S2.json"; cp "$C2" c2.saved; chmod u+w "$C2"; head -c 40 c2.saved >"$C2"
expect 1 "$S2  -  catalog entry: .* truncated or not valid JSON" V verify
expect 1 "$S2  ERROR" V list
cp c2.saved "$C2"

# unreadable sources: a clear error, nothing written
N=$(V list --output json | jq length)
expect 2 'cannot read the source ./nope.img: No such file' V put ./nope.img --source-id x --kind disk
mkdir adir
expect 2 'cannot read the source adir: it is a directory' V put adir --source-id x --kind disk
check "no set added" test "$(V list --output json | jq length)" = "$N"
check "nothing left in staging" test -z "$(ls v/.staging)"

# no signing key: writing is refused, reading still works
cat >ro.yaml <<EOT
vault:
  path: $TMP/v
  public_key_file: $TMP/pub.pem
EOT
expect 2 'needs a signing key' V -c ro.yaml put kv.json --source-id x --kind k
expect 0 'OK$' V -c ro.yaml verify

finish
