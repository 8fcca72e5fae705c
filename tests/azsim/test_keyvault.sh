#!/usr/bin/env bash
# Key Vault data plane: challenge 401, versions, paging, backup/restore across
# vaults, keys and certificates, error codes, shapes against spec fixtures.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
FIX=$(dirname "$0")/../../sim/fixtures
azsim_start
tokens
A=api-version=7.5

_curl --resolve "kvprod.vault.localhost:$P:127.0.0.1" "https://kvprod.vault.localhost:$P/secrets?$A"
expect 401 Unauthorized "no token: challenge"
WA=$(header WWW-Authenticate)
check "challenge names the tenant" grep -q "authorization=\"https://127.0.0.1:$P/$T\"" <<<"$WA"
check "challenge names the resource" grep -q 'resource="https://vault.azure.net"' <<<"$WA"
ARMT=$(token https://management.azure.com)
_curl --resolve "kvprod.vault.localhost:$P:127.0.0.1" -H "Authorization: Bearer $ARMT" "https://kvprod.vault.localhost:$P/secrets?$A"
expect 401 Unauthorized "a management token is refused by the vault"
kv kvprod GET "/secrets"
expect 400 BadParameter "api-version required"
kv kvprod GET "/secrets?api-version=1.0"
expect 400 BadParameter "unknown api-version"
kv nosuchvault GET "/secrets?$A"
expect 404 VaultNotFound "unknown vault host"

kv kvprod GET "/secrets/api-key?$A"
expect 200 "get latest version"
check "latest version value" eq "$(jbody .value)" v2
check "id is vault/secrets/name/version" grep -qE "^https://kvprod.vault.localhost:$P/secrets/api-key/[0-9a-f]{32}$" <<<"$(jbody .id)"
kv kvprod GET "/secrets/api-key/versions?$A"
check "two versions" eq "$(jbody '.value|length')" 2
V1=$(jbody '.value[0].id' | sed 's#.*/##')
kv kvprod GET "/secrets/api-key/$V1?$A"
check "older version readable" eq "$(jbody .value)" v1
kv kvprod GET "/secrets/api-key/00000000000000000000000000000000?$A"
expect 404 SecretNotFound "unknown version"
kv kvprod GET "/secrets/nope?$A"
expect 404 SecretNotFound "unknown secret"
kv kvprod PUT "/secrets/new?$A" -d '{"nope":1}'
expect 400 BadParameter "set without value"
kv kvprod PUT "/secrets/new?$A" -d 'not json'
expect 400 BadParameter "set with malformed JSON"

# paging: 6 secrets, maxresults 2 -> 3 pages
for i in 1 2 3 4; do kv kvprod PUT "/secrets/page-$i?$A" -d '{"value":"p'$i'","contentType":"text/plain"}'; done
expect 200 "set secrets"
url="/secrets?$A&maxresults=2" pages=0 n=0
while [ -n "$url" ] && [ $pages -lt 10 ]; do
  kv kvprod GET "$url"
  [ "$STATUS" = 200 ] || break
  pages=$((pages + 1))
  n=$((n + $(jbody '.value|length')))
  next=$(jbody '.nextLink // empty')
  url=${next#"https://kvprod.vault.localhost:$P"}
done
check "3 pages of secrets" eq "$pages" 3
check "6 secrets listed" eq "$n" 6
kv kvprod GET "/secrets?$A&maxresults=26"
expect 400 BadParameter "maxresults above 25"
kv kvprod GET "/secrets?$A"
check "list items carry no value" eq "$(jbody '[.value[]|has("value")]|any')" false

# backup / restore
kv kvprod POST "/secrets/api-key/backup?$A"
expect 200 "backup a secret"
BK=$(jbody .value)
check "backup value is base64url" grep -qE '^[A-Za-z0-9_-]+$' <<<"$BK"
kv kvprod POST "/secrets/restore?$A" -d "{\"value\":\"$BK\"}"
expect 409 Conflict "restore over an existing secret"
kv kvprod POST "/secrets/restore?$A" -d '{"value":"AAAA"}'
expect 400 BadParameter "restore a corrupt blob"
kv kvprod POST "/keys/restore?$A" -d "{\"value\":\"$BK\"}"
expect 400 BadParameter "a secret backup does not restore as a key"
ARM=$ARMT
arm PUT "$RGA/providers/Microsoft.KeyVault/vaults/kvrestore?api-version=2023-07-01" -d '{"location":"westeurope","properties":{"enablePurgeProtection":true}}'
expect 201 "create a second vault"
check "vaultUri uses the host scheme" eq "$(jbody .properties.vaultUri)" "https://kvrestore.vault.localhost:$P/"
kv kvrestore POST "/secrets/restore?$A" -d "{\"value\":\"$BK\"}"
expect 200 "restore into another vault of the same subscription"
kv kvrestore GET "/secrets/api-key/versions?$A"
check "restore keeps both versions" eq "$(jbody '.value|length')" 2
kv kvrestore GET "/secrets/api-key?$A"
check "restored value" eq "$(jbody .value)" v2

# keys and certificates
kv kvprod POST "/keys/k-rsa/create?$A" -d '{"kty":"RSA","key_size":2048}'
expect 200 "create an RSA key"
check "RSA modulus present" test "$(jbody '.key.n|length')" -gt 300
check "no private part" eq "$(jbody '.key|has("d")')" false
kv kvprod POST "/keys/k-ec/create?$A" -d '{"kty":"EC","crv":"P-256"}'
check "EC key has x and y" test -n "$(jbody .key.x)" -a -n "$(jbody .key.y)"
kv kvprod POST "/keys/k-rsa/backup?$A"
KB=$(jbody .value)
kv kvprod DELETE "/keys/k-rsa?$A"
expect 200 "delete a key"
kv kvprod POST "/keys/restore?$A" -d "{\"value\":\"$KB\"}"
expect 409 Conflict "restore over a soft-deleted key"
kv kvrestore POST "/keys/restore?$A" -d "{\"value\":\"$KB\"}"
expect 200 "restore the key elsewhere"
kv kvprod POST "/certificates/c1/create?$A" -d '{"policy":{"x509_props":{"subject":"CN=c1"}}}'
expect 202 "create a certificate"
check "operation completed" eq "$(jbody .status)" completed
kv kvprod GET "/certificates/c1?$A"
expect 200 "get a certificate"
CER=$(jbody .cer)
check "cer is a DER certificate" sh -c "echo '$CER' | openssl base64 -d -A | openssl x509 -inform DER -noout"
kv kvprod POST "/certificates/c1/backup?$A"
CB=$(jbody .value)
kv kvrestore POST "/certificates/restore?$A" -d "{\"value\":\"$CB\"}"
expect 200 "restore a certificate"
check "same certificate after restore" eq "$(jbody .cer)" "$CER"
kv kvprod GET "/certificates?$A"
check "certificates listed with x5t" test -n "$(jbody '.value[0].x5t')"

# shapes against the spec examples
kv kvprod DELETE "/secrets/page-1?$A"
expect 200 "delete a secret"
want=$(jq -c '.responses["200"].body|keys' "$FIX/keyvault-data/DeleteSecret-example.json")
missing=$(jq -c --argjson want "$want" '$want - keys' "$WORK/body")
check "DeleteSecret answer has every key of the spec's example" eq "$missing" "[]"
check "DeleteSecret attributes have the spec's keys" eq \
  "$(jq -c '.attributes|keys - ["recoverableDays"]' "$WORK/body")" \
  "$(jq -c '.responses["200"].body.attributes|keys' "$FIX/keyvault-data/DeleteSecret-example.json")"
check "deletedDate is a Unix time" eq "$(jbody '.deletedDate|type')" number
kv kvprod GET "/deletedsecrets/page-1?$A"
expect 200 "get a deleted secret"
check "deleted secret shows no value" eq "$(jbody 'has("value")')" false
kv kvprod GET "/deletedsecrets?$A"
check "deletedsecrets list" eq "$(jbody '.value|length')" 1
kv kvprod POST "/deletedsecrets/page-2/recover?$A"
expect 404 SecretNotFound "recover a secret that is not deleted"
kv kvprod DELETE "/secrets/page-1?$A"
expect 404 SecretNotFound "delete twice"
