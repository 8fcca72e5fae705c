#!/usr/bin/env bash
# Entra token endpoint (secret, certificate assertion, federated token), OpenID
# discovery, IMDS, App Service identity, bearer checks and token expiry.
. "$(dirname "$0")/lib.sh"
trap finish EXIT

# A client certificate for the assertion test, written into a copy of the estate.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/client.key" -out "$WORK/client.pem" \
  -days 2 -subj /CN=app-cert 2>/dev/null
{
  cat "$AZSIM_ESTATE"
} >"$WORK/estate.yaml"
# insert the cert client under identity.clients (YAML block scalar)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ec.key" \
  -out "$WORK/ec.pem" -days 2 -subj /CN=app-ec 2>/dev/null
python_free_insert() {
  local pem_indented ec_indented
  pem_indented=$(sed 's/^/        /' "$WORK/client.pem")
  ec_indented=$(sed 's/^/        /' "$WORK/ec.pem")
  awk -v pem="$pem_indented" -v ec="$ec_indented" '
    { print }
    /^  clients:$/ {
      print "    - client_id: app-cert"; print "      certificate: |"; print pem
      print "    - client_id: app-ec"; print "      certificate: |"; print ec
    }
  ' "$AZSIM_ESTATE" >"$WORK/estate.yaml"
}
python_free_insert
azsim_start "$WORK/estate.yaml"

_curl "$B/$T/v2.0/.well-known/openid-configuration"
expect 200 "openid-configuration"
check "token_endpoint on the same host:port" eq "$(jbody .token_endpoint)" "$B/$T/oauth2/v2.0/token"
check "issuer on the same host:port" eq "$(jbody .issuer)" "$B/$T/v2.0"
check "authorization_endpoint present" test -n "$(jbody .authorization_endpoint)"
_curl "$B/nope/v2.0/.well-known/openid-configuration"
expect 400 "openid-configuration for an unknown tenant"

form() { _curl -d grant_type=client_credentials --data-urlencode "scope=https://management.azure.com/.default" "$@"; }
form -d client_id=app-secret -d client_secret=s3cret "$B/$T/oauth2/v2.0/token"
expect 200 "client secret grant"
check "token_type Bearer" eq "$(jbody .token_type)" Bearer
check "expires_in is a number" eq "$(jq -r '.expires_in|type' "$WORK/body")" number
ARM=$(jbody .access_token)
form -d client_id=app-secret -d client_secret=wrong "$B/$T/oauth2/v2.0/token"
expect 401 invalid_client "wrong secret"
check "AADSTS7000215 in the description" grep -q AADSTS7000215 "$WORK/body"
form -d client_id=nobody -d client_secret=x "$B/$T/oauth2/v2.0/token"
expect 400 unauthorized_client "unknown client"
form -d client_id=app-secret -d client_secret=s3cret "$B/no-such-tenant/oauth2/v2.0/token"
expect 400 invalid_request "unknown tenant"
_curl -d grant_type=client_credentials -d client_id=app-secret -d client_secret=s3cret "$B/$T/oauth2/v2.0/token"
expect 400 invalid_request "missing scope"
_curl -d grant_type=password -d client_id=app-secret --data-urlencode "scope=https://management.azure.com/.default" "$B/$T/oauth2/v2.0/token"
expect 400 unsupported_grant_type "password grant refused"

# certificate credential: RS256 JWT signed with the client's key
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
mkjwt() { # mkjwt aud iss/sub keyfile
  local h p
  h=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
  p=$(printf '{"aud":"%s","iss":"%s","sub":"%s","exp":%d,"nbf":%d,"jti":"%s"}' "$1" "$2" "$2" $((now + 600)) $((now - 60)) "$RANDOM" | b64url)
  printf '%s.%s.%s' "$h" "$p" "$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$3" | b64url)"
}
JWT=$(mkjwt "$B/$T/oauth2/v2.0/token" app-cert "$WORK/client.key")
A=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
form -d client_id=app-cert -d "client_assertion_type=$A" -d "client_assertion=$JWT" "$B/$T/oauth2/v2.0/token"
expect 200 "certificate client assertion"
# the same with PS256 (RSA-PSS, salt length = digest length)
h=$(printf '{"alg":"PS256","typ":"JWT"}' | b64url)
p=$(printf '{"aud":"%s","iss":"app-cert","sub":"app-cert","exp":%d,"jti":"ps"}' "$B/$T/oauth2/v2.0/token" $((now + 600)) | b64url)
sig=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$WORK/client.key" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest | b64url)
form -d client_id=app-cert -d "client_assertion_type=$A" -d "client_assertion=$h.$p.$sig" "$B/$T/oauth2/v2.0/token"
expect 200 "PS256 client assertion"
form -d client_id=app-cert -d "client_assertion_type=$A" -d "client_assertion=$(printf '{"alg":"RS256"}' | b64url).$p.$sig" "$B/$T/oauth2/v2.0/token"
expect 401 invalid_client "a PSS signature does not pass as RS256"
p=$(printf '{"aud":"%s","iss":"app-cert","sub":"app-cert","exp":%d}' "$B/$T/oauth2/v2.0/token" $((now - 3600)) | b64url)
h=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
sig=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$WORK/client.key" | b64url)
form -d client_id=app-cert -d "client_assertion_type=$A" -d "client_assertion=$h.$p.$sig" "$B/$T/oauth2/v2.0/token"
expect 401 invalid_client "expired assertion"
check "AADSTS700024 for an expired assertion" grep -q AADSTS700024 "$WORK/body"
# ES256: JWS wants r||s (32 bytes each), OpenSSL signs DER; convert with asn1parse
h=$(printf '{"alg":"ES256","typ":"JWT"}' | b64url)
p=$(printf '{"aud":"%s","iss":"app-ec","sub":"app-ec","exp":%d}' "$B/$T/oauth2/v2.0/token" $((now + 600)) | b64url)
printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$WORK/ec.key" >"$WORK/sig.der"
rs=$(openssl asn1parse -inform DER -in "$WORK/sig.der" | awk -F: '/INTEGER/ {v=$NF; while (length(v) < 64) v = "0" v; printf "%s", substr(v, length(v) - 63)}')
sig=$(printf "$(sed 's/../\\x&/g' <<<"$rs")" | b64url) # hex to bytes without xxd
form -d client_id=app-ec -d "client_assertion_type=$A" -d "client_assertion=$h.$p.$sig" "$B/$T/oauth2/v2.0/token"
expect 200 "ES256 client assertion"
form -d client_id=app-ec -d "client_assertion_type=$A" -d "client_assertion=$h.$p.AAAA$sig" "$B/$T/oauth2/v2.0/token"
expect 401 invalid_client "ES256 assertion with a broken signature"
openssl genrsa -out "$WORK/other.key" 2048 2>/dev/null
JWT=$(mkjwt "$B/$T/oauth2/v2.0/token" app-cert "$WORK/other.key")
form -d client_id=app-cert -d "client_assertion_type=$A" -d "client_assertion=$JWT" "$B/$T/oauth2/v2.0/token"
expect 401 invalid_client "assertion signed by another key"
JWT=$(mkjwt "https://elsewhere/token" app-cert "$WORK/client.key")
form -d client_id=app-cert -d "client_assertion_type=$A" -d "client_assertion=$JWT" "$B/$T/oauth2/v2.0/token"
expect 401 invalid_client "assertion for another audience"
form -d client_id=app-cert -d "client_assertion_type=$A" -d "client_assertion=not.a.jwt" "$B/$T/oauth2/v2.0/token"
expect 401 invalid_client "malformed assertion"

# federated token minted by the control API
ctl POST /federated-token '{"subject":"system:serviceaccount:default:rebound"}'
FED=$(jbody .token)
form -d client_id=app-fed -d "client_assertion_type=$A" -d "client_assertion=$FED" "$B/$T/oauth2/v2.0/token"
expect 200 "federated token"
ctl POST /federated-token '{"subject":"system:serviceaccount:default:intruder"}'
form -d client_id=app-fed -d "client_assertion_type=$A" -d "client_assertion=$(jbody .token)" "$B/$T/oauth2/v2.0/token"
expect 401 invalid_client "federated token with another subject"

# IMDS and App Service
_curl "$B/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"
expect 400 invalid_request "IMDS without Metadata header"
_curl -H "Metadata: true" "$B/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"
expect 200 "IMDS token"
check "IMDS expires_in is a string like Azure's" eq "$(jq -r '.expires_in|type' "$WORK/body")" string
IMDS_TOK=$(jbody .access_token)
_curl -H "Metadata: true" "$B/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/&client_id=unknown"
expect 400 invalid_request "IMDS with an unknown client_id"
_curl -H "X-IDENTITY-HEADER: test-identity-header" "$B/msi/token?api-version=2019-08-01&resource=https://vault.azure.net"
expect 200 "App Service identity endpoint"
_curl -H "X-IDENTITY-HEADER: wrong" "$B/msi/token?api-version=2019-08-01&resource=https://vault.azure.net"
expect 401 "App Service identity with a wrong header"

# bearer checks on ARM
_curl "$B/subscriptions?api-version=2022-12-01"
expect 401 AuthenticationFailed "ARM without a token"
check "WWW-Authenticate on 401" test -n "$(header WWW-Authenticate)"
_curl -H "Authorization: Bearer forged" "$B/subscriptions?api-version=2022-12-01"
expect 401 InvalidAuthenticationToken "ARM with a forged token"
KVT=$(token https://vault.azure.net)
_curl -H "Authorization: Bearer $KVT" "$B/subscriptions?api-version=2022-12-01"
expect 401 InvalidAuthenticationTokenAudience "ARM with a Key Vault token"
arm GET "/subscriptions?api-version=2022-12-01"
expect 200 "ARM with a management token"
_curl -H "Authorization: Bearer $IMDS_TOK" "$B/subscriptions?api-version=2022-12-01"
expect 200 "ARM with an IMDS token"

# expiry on the virtual clock
ctl PUT /settings '{"token_lifetime": 60}'
SHORT=$(token https://management.azure.com)
ARM=$SHORT
arm GET "/subscriptions?api-version=2022-12-01"
expect 200 "short-lived token before expiry"
ctl POST /clock/advance '{"seconds": 61}'
arm GET "/subscriptions?api-version=2022-12-01"
expect 401 ExpiredAuthenticationToken "short-lived token after the clock passed its expiry"
ARM=$(token https://management.azure.com)
arm GET "/subscriptions?api-version=2022-12-01"
expect 200 "a refreshed token works"
ctl POST /tokens/expire
arm GET "/subscriptions?api-version=2022-12-01"
expect 401 ExpiredAuthenticationToken "tokens/expire expires every token"
