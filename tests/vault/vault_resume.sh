# An upload of 256 MiB killed with SIGKILL half-way, then run again with the
# same arguments: the set is resumed, every block that reached the vault is
# found (re-read and hash-checked) and not sent again; less than 10% of the
# object is sent twice.
. "$(dirname "$0")/lib.sh"
make_keys
write_config rebound.yaml "$TMP/v" "$TMP/pub.pem" 1MiB
SIZE=$((256 * 1024 * 1024))
BS=$((1024 * 1024))
NB=$((SIZE / BS))
# Generated, not random: fast to make, but every block differs.
openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 0 -nosalt \
  -in <(head -c $SIZE /dev/zero) -out big.img 2>/dev/null
check "generated 256 MiB" test "$(stat -c %s big.img)" = $SIZE

killed=0
for attempt in 1 2 3; do
  rm -rf v
  "$REBOUND" vault put big.img --source-id /subscriptions/s/disk/big --kind disk \
    --parallel 4 --no-progress --output json >first.json 2>first.err &
  pid=$!
  # Wait until about half the blocks are journaled, then kill.
  for _ in $(seq 1 20000); do
    j=$(ls v/.staging/*.journal 2>/dev/null | head -1)
    if [ -n "$j" ] && [ "$(wc -l <"$j")" -gt $((NB / 2)) ]; then
      kill -9 $pid 2>/dev/null && killed=1
      break
    fi
    kill -0 $pid 2>/dev/null || break
    sleep 0.005
  done
  wait $pid 2>/dev/null
  [ $killed = 1 ] && break
done
check "the upload was killed half-way" test $killed = 1
J=$(ls v/.staging/*.journal | head -1)
DONE=$(($(grep -c '^[0-9]' "$J")))
echo "journaled before the kill: $DONE of $NB blocks"
check "no set was catalogued" test -z "$(ls v/catalog 2>/dev/null)"

expect 0 '"resumed":[[:space:]]*true' "$REBOUND" vault put big.img --source-id /subscriptions/s/disk/big \
  --kind disk --no-progress --output json
cp out.txt second.json
SENT=$(jq .bytes_sent second.json)
REUSED=$(jq .bytes_reused second.json)
echo "second run: sent $SENT, reused $REUSED of $SIZE bytes"
check "all bytes accounted" test $((SENT + REUSED)) = $SIZE
check "every journaled block reused" test "$REUSED" -ge $((DONE * BS))
# Bytes sent twice: what the second run sent beyond the blocks the first
# never wrote. The first wrote at least the journaled ones.
AGAIN=$((SENT - (SIZE - DONE * BS)))
[ $AGAIN -lt 0 ] && AGAIN=0
echo "sent again: $AGAIN bytes ($((AGAIN * 100 / SIZE))%)"
check "less than 10% sent again" test $((AGAIN * 10)) -lt $SIZE
check "second run sent less than the remaining half plus 10%" test "$SENT" -lt $((SIZE / 2 + SIZE / 10))
check "staging cleaned up" test -z "$(ls v/.staging)"
expect 0 'OK$' "$REBOUND" vault verify
S=$(jq -r .set_id second.json)
check "object hash equals the source" test \
  "$(sha256sum "v/sets/$S/data/big.img" | cut -d' ' -f1)" = "$(sha256sum big.img | cut -d' ' -f1)"
# A completed put run again starts a new set (the pending record is gone).
expect 0 '"resumed":[[:space:]]*false' "$REBOUND" vault put big.img --source-id /subscriptions/s/disk/big \
  --kind disk --no-progress --output json
finish
