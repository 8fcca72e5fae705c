#!/usr/bin/env bash
# Fault injection per route: 429 + Retry-After, 500/503, connection reset,
# latency, every-Nth, count limits; request counters.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
azsim_start
tokens
RGS="/subscriptions/$S/resourcegroups?api-version=2021-04-01"

ctl POST /faults '{"method":"GET","path":"/subscriptions/*/resourcegroups","status":429,"retry_after":7,"count":2}'
expect 201 "add a 429 rule"
RID=$(jbody .id)
arm GET "$RGS"
expect 429 TooManyRequests "first call throttled"
check "Retry-After: 7" eq "$(header Retry-After)" 7
arm GET "$RGS"
expect 429 TooManyRequests "second call throttled"
arm GET "$RGS"
expect 200 "third call passes (count 2)"
arm GET "/subscriptions?api-version=2022-12-01"
expect 200 "other routes unaffected"
ctl GET "/faults/$RID"
check "rule fired twice" eq "$(jbody .fired)" 2
check "rule saw three matching requests" eq "$(jbody .seen)" 3
ctl DELETE /faults
expect 204 "clear faults"

ctl POST /faults '{"method":"PUT","path":"*/resourceGroups/*","status":503,"code":"ServerBusy","retry_after":1}'
arm PUT "/subscriptions/$S/resourceGroups/rg-x?api-version=2021-04-01" -d '{"location":"westeurope"}'
expect 503 ServerBusy "503 with a custom code on PUT"
arm GET "$RGA?api-version=2021-04-01"
expect 200 "GET on the same path is not faulted (method filter)"
ctl DELETE /faults

ctl POST /faults '{"method":"*","path":"/subscriptions","status":500}'
arm GET "/subscriptions?api-version=2022-12-01"
expect 500 InternalServerError "500 with the default code"
ctl DELETE /faults

# every 3rd request
ctl POST /faults '{"path":"/subscriptions/'$S'","status":503,"every":3}'
codes=
for _ in 1 2 3 4 5 6; do
  arm GET "/subscriptions/$S?api-version=2022-12-01"
  codes="$codes$STATUS "
done
check "every 3rd request fails" eq "$codes" "200 200 503 200 200 503 "
ctl DELETE /faults

# connection reset: no HTTP response at all
ctl POST /faults '{"path":"/subscriptions","reset":true,"count":1}'
set +e
curl -sS --max-time 10 --cacert "$CA" -H "Authorization: Bearer $ARM" "$B/subscriptions?api-version=2022-12-01" -o /dev/null 2>"$WORK/err"
rc=$?
set -e
check "reset closes the connection (curl exit 52/56/35)" test "$rc" = 52 -o "$rc" = 56 -o "$rc" = 35
arm GET "/subscriptions?api-version=2022-12-01"
expect 200 "next request served"
ctl DELETE /faults

# latency
ctl POST /faults '{"path":"/subscriptions","latency_ms":700}'
t0=$(date +%s%N)
arm GET "/subscriptions?api-version=2022-12-01"
t1=$(date +%s%N)
expect 200 "latency rule still serves"
check "latency of at least 700 ms" test $(((t1 - t0) / 1000000)) -ge 700
ctl DELETE /faults
t0=$(date +%s%N)
arm GET "/subscriptions?api-version=2022-12-01"
t1=$(date +%s%N)
check "no latency once cleared" test $(((t1 - t0) / 1000000)) -lt 700

# faults apply to token endpoints too
ctl POST /faults '{"method":"POST","path":"/*/oauth2/v2.0/token","status":503,"count":1,"retry_after":0}'
_curl -d grant_type=client_credentials -d client_id=app-secret -d client_secret=s3cret \
  --data-urlencode scope=https://management.azure.com/.default "$B/$T/oauth2/v2.0/token"
expect 503 "token endpoint 503"
check "Retry-After: 0" eq "$(header Retry-After)" 0
ctl DELETE /faults

# counters
ctl DELETE /counters
for _ in 1 2 3; do arm GET "$RGA/resources?api-version=2021-04-01"; done
arm GET "/subscriptions?api-version=2022-12-01"
ctl GET "/counters?method=GET&path=*/resources"
check "counter: 3 GETs on */resources" eq "$(jbody .count)" 3
ctl GET "/counters?method=PUT&path=*"
check "counter: no PUTs" eq "$(jbody .count)" 0
ctl GET "/counters"
check "counter: 4 requests in all" eq "$(jbody .count)" 4

ctl POST /faults '{not json'
expect 400 InvalidJson "control API rejects malformed JSON"
ctl GET /nope
expect 404 NotFound "unknown control route"
