#!/usr/bin/env bash
# Plugins reach Azure only through the host table (ABI 1.1). Against azsim:
# client-secret auth from the config, paging across 3 pages, an error body
# surfaced verbatim, Key Vault challenge auth, a long-running PUT killed
# mid-wait and re-attached on resume (sent once), and no secret or token in
# any artifact (run dir, events, HTTP trace, output).
. "$(dirname "$0")/lib.sh"

T=11111111-1111-1111-1111-111111111111
S=22222222-2222-2222-2222-222222222222
SECRET='S3cr3t-Cl1ent-Value-For-Tests'
VALUE='Hunter2-Vault-Secret-Value'
cat >estate.yaml <<YAML
tenant: $T
settings: {page_size: 2}
identity:
  clients:
    - {client_id: rebound-test, secret: "$SECRET"}
subscriptions:
  - id: $S
    name: Test
    resource_groups:
      - {name: rg-a, location: westeurope}
      - {name: rg-b, location: westeurope}
      - {name: rg-c, location: westeurope}
      - {name: rg-d, location: westeurope}
      - name: rg-e
        location: westeurope
        resources:
          - type: Microsoft.KeyVault/vaults
            name: kvtest
            properties: {enableSoftDelete: true, enablePurgeProtection: true}
            secrets: [{name: db-password, value: "$VALUE"}]
YAML

azsim_start estate.yaml

azsim_yaml rebound-test REBOUND_TEST_SECRET >rebound.yaml
export REBOUND_TEST_SECRET="$SECRET"

cat >azure.lua <<'LUA'
playbook { name = "host-azure" }
local az = plugin "azprobe"
local S = "/subscriptions/22222222-2222-2222-2222-222222222222"
step "groups" {
  run = function() return az.list { path = S .. "/resourcegroups", api_version = "2021-04-01" } end,
  verify = function(out) expect(out.count == 5, "expected 5 groups, got " .. out.count) end,
}
step "group" {
  run = function() return az.get { path = S .. "/resourceGroups/rg-a", api_version = "2021-04-01" } end,
}
step "create" { needs = { "group" }, effect = "write",
  run = function()
    return az.put { path = S .. "/resourceGroups/rg-a/providers/Microsoft.Sql/servers/sqlnew",
                    api_version = "2021-11-01",
                    body = { location = "westeurope", properties = { administratorLogin = "dba" } } }
  end,
}
step "secret" {
  run = function() return az.vault_get { vault = "kvtest", path = "/secrets/db-password" } end,
  verify = function(out) expect(out.status == 200, "vault GET failed") end,
}
LUA
cat >missing.lua <<'LUA'
playbook { name = "missing" }
local az = plugin "azprobe"
step "nope" { run = function()
  return az.get { path = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/nope",
                  api_version = "2021-04-01" } end }
LUA

PD=(--plugin-dir "$AZPROBE_DIR")
# The PUT takes 4 s on azsim's clock: kill the run while it waits.
curl -s -X POST "$CTL/lro" -d '{"method":"PUT","path":"*/servers/sqlnew","seconds":4}' >/dev/null
"$REBOUND" run "${PD[@]}" --run-dir r1 --events ev.jsonl --trace-http trace.txt azure.lua >out1.txt 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '"t":"op"' r1/journal.jsonl 2>/dev/null && break; sleep 0.05; done
check "the operation was journaled before waiting" grep -q '"t":"op"' r1/journal.jsonl
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
"$REBOUND" resume --trace-http trace2.txt --events ev.jsonl r1 >out2.txt 2>&1
rc=$?
check "resume succeeded (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' out1.txt out2.txt >&2
check "3 pages walked: 5 groups" jq -e '.steps[] | select(.name=="groups") | .outputs.count == 5' r1/report.json
check "GET returned the group" jq -e '.steps[] | select(.name=="group") | .outputs.body.name == "rg-a"' r1/report.json
check "resume re-attached to the stored operation" \
  jq -e '.steps[] | select(.name=="create") | .outputs.body.rebound_reattached == true' r1/report.json
puts=$(curl -s "$CTL/counters?method=PUT&path=*/servers/sqlnew" | jq .count)
check "the PUT was sent once ($puts)" test "$puts" = 1
check "Key Vault challenge auth worked" jq -e '.steps[] | select(.name=="secret") | .outputs.status == 200' r1/report.json
check "trace recorded requests" grep -q "resourcegroups" trace.txt

"$REBOUND" run "${PD[@]}" --run-dir r2 missing.lua >out3.txt 2>&1
rc=$?
check "a missing group fails the step (exit $rc)" test "$rc" -eq 1
check "Azure's error code is surfaced" grep -q "ResourceGroupNotFound" r2/report.json

# A resumed call re-attaches once: the interrupted attempt's operation
# fails, and the retry sends the request afresh instead of re-attaching to
# the same failed operation again.
cat >retry.lua <<'LUA'
playbook { name = "reattach-once" }
local az = plugin "azprobe"
step "flaky" { effect = "write", retry = { attempts = 2, backoff = 0.1 }, run = function()
  return az.put { path = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-b/providers/Microsoft.Sql/servers/sqlfail",
                  api_version = "2021-11-01",
                  body = { location = "westeurope", properties = { administratorLogin = "dba" } } } end }
LUA
curl -s -X POST "$CTL/lro" -d '{"method":"PUT","path":"*/servers/sqlfail","seconds":3,"status":"Failed"}' >/dev/null
"$REBOUND" run "${PD[@]}" --run-dir r4 retry.lua >out4.txt 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '"t":"op"' r4/journal.jsonl 2>/dev/null && break; sleep 0.05; done
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
curl -s -X DELETE "$CTL/lro" >/dev/null
curl -s -X POST "$CTL/lro" -d '{"method":"PUT","path":"*/servers/sqlfail","seconds":1}' >/dev/null
"$REBOUND" resume r4 >out5.txt 2>&1
rc=$?
check "the retry after a failed re-attached operation succeeded (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' out4.txt out5.txt >&2
puts=$(curl -s "$CTL/counters?method=PUT&path=*/servers/sqlfail" | jq .count)
check "the PUT was sent again only by the retry ($puts in all)" test "$puts" = 2
check "the first attempt re-attached" grep -q '"reattach"' r4/journal.jsonl

# No client secret and no token in any artifact.
artifacts=(r1/* r2/* r4/* ev.jsonl trace.txt trace2.txt out1.txt out2.txt out3.txt out4.txt out5.txt)
check "no client secret in artifacts" bash -c "! grep -l -- '$SECRET' ${artifacts[*]}"
check "no bearer token in artifacts" bash -c "! grep -lE 'azsim\.[0-9a-f]{16}' ${artifacts[*]}"
check "no vault secret value in artifacts outside the trace" \
  bash -c "! grep -l -- '$VALUE' r1/* r2/* ev.jsonl out1.txt out2.txt out3.txt"
finish
