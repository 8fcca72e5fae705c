# Retention: prune deletes only sets past retention, never under legal
# hold, shows what it would do unless --apply. The clock is
# REBOUND_VAULT_NOW.
. "$(dirname "$0")/lib.sh"
make_keys
write_config rebound.yaml "$TMP/v" "$TMP/pub.pem"
T0=1780000000
DAY=86400
V() { "$REBOUND" vault "$@"; }
at() { local t=$1; shift; env REBOUND_VAULT_NOW="$t" "$REBOUND" vault "$@"; }
echo a >a.txt

expect 0 set at $T0 put a.txt --source-id held --kind disk
expect 0 set at $T0 put a.txt --source-id month --kind disk
expect 0 set at $T0 put a.txt --source-id day --kind disk --retention-days 1
V list --output json >l.json
H=$(jq -r '.[] | select(.source_id=="held") | .set_id' l.json)
M=$(jq -r '.[] | select(.source_id=="month") | .set_id' l.json)
D=$(jq -r '.[] | select(.source_id=="day") | .set_id' l.json)
expect 0 'legal hold set' V hold "$H"
expect 0 '\[legal hold\]' V list
expect 2 'no set nope' V hold nope

# nothing is due at T0 + 12 h
expect 0 'dry run' at $((T0 + DAY / 2)) prune
check "nothing due yet" test "$(grep -c 'would delete' out.txt)" = 0
# after a day: the one-day set is due; dry run deletes nothing
expect 0 "$D  would delete" at $((T0 + 2 * DAY)) prune
check "dry run deleted nothing" test "$(V list --output json | jq length)" = 3
expect 0 "$D  deleted" at $((T0 + 2 * DAY)) prune --apply
check "retention kept the month set" grep -q "$M  kept (retention)" out.txt
check "one set gone" test "$(V list --output json | jq length)" = 2
check "its objects are gone" test ! -e "v/sets/$D"
# after a month: the month set goes, the held one stays
expect 0 "$M  deleted" at $((T0 + 31 * DAY)) prune --apply --output text
check "held set kept" grep -q "$H  kept (legal hold)" out.txt
expect 0 '"legal_hold":[[:space:]]*true' at $((T0 + 31 * DAY)) prune --output json
expect 0 'OK$' V verify "$H"
# released: it goes
expect 0 'released' V hold "$H" --release
expect 0 "$H  deleted" at $((T0 + 31 * DAY)) prune --apply
check "vault empty" test "$(V list --output json | jq length)" = 0
expect 0 'no sets' V list
finish
