/* Identity: Entra token endpoint (v2.0, client_credentials with a secret, a
 * certificate-signed client assertion, or a federated token), OpenID
 * discovery, IMDS and the App Service identity endpoint, and bearer checks.
 *
 * Follows the Microsoft identity platform docs ("client credentials flow",
 * "certificate credentials", "workload identity federation") and the IMDS
 * managed-identity docs (api-version 2018-02-01) and App Service
 * (api-version 2019-08-01). Tokens are opaque random strings remembered in
 * az_g.tokens with their audience and expiry on the virtual clock.
 */
#include "azsim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

int az_auth_init(char *err, size_t errlen) {
  EVP_PKEY *k = EVP_RSA_gen(2048);
  if (!k) {
    snprintf(err, errlen, "cannot generate the federation signing key");
    return -1;
  }
  az_g.signing_key = k;
  snprintf(az_g.issuer, sizeof az_g.issuer, "https://azsim.federation.localhost");
  return 0;
}

static cJSON *identity(void) { return az_obj(az_g.st, "identity"); }

static bool tenant_known(const char *t) {
  cJSON *ts = cJSON_GetObjectItem(identity(), "tenants");
  cJSON *it;
  cJSON_ArrayForEach(it, ts) {
    if (cJSON_IsString(it) && strcasecmp(it->valuestring, t) == 0) return true;
  }
  return strcmp(t, "common") == 0 || strcmp(t, "organizations") == 0;
}

static const char *default_tenant(void) {
  cJSON *ts = cJSON_GetObjectItem(identity(), "tenants");
  cJSON *t = cJSON_GetArrayItem(ts, 0);
  return cJSON_IsString(t) ? t->valuestring : "00000000-0000-0000-0000-000000000000";
}

/* "https://management.azure.com/.default" -> class "arm". */
static const char *aud_class(const char *aud) {
  if (!aud) return NULL;
  if (strstr(aud, "management.azure.com") || strstr(aud, "management.core.windows.net"))
    return "arm";
  if (strstr(aud, "vault.azure.net") || strstr(aud, az_g.kv_suffix)) return "vault";
  if (strstr(aud, "storage.azure.com") || strstr(aud, ".blob.")) return "storage";
  /* Azure DevOps' resource id (app id of "Azure DevOps") */
  if (strstr(aud, "499b84ac-1321-427f-aa17-267ca6975798")) return "devops";
  return "other";
}

static cJSON *issue_token(const char *scope_or_resource, const char *sub) {
  char tok[80];
  az_rand_token(tok, 32);
  char full[96];
  snprintf(full, sizeof full, "azsim.%s", tok);
  cJSON *t = cJSON_CreateObject();
  char *aud = strdup(scope_or_resource);
  size_t n = strlen(aud);
  if (n > 9 && strcmp(aud + n - 9, "/.default") == 0) aud[n - 9] = 0;
  cJSON_AddStringToObject(t, "aud", aud);
  cJSON_AddStringToObject(t, "class", aud_class(aud));
  cJSON_AddStringToObject(t, "sub", sub);
  double now = az_now();
  cJSON_AddNumberToObject(t, "exp", now + az_g.token_lifetime);
  free(aud);
  cJSON_AddItemToObject(az_g.tokens, full, t);
  cJSON *resp = cJSON_CreateObject();
  cJSON_AddStringToObject(resp, "access_token", full);
  cJSON_AddStringToObject(resp, "token_type", "Bearer");
  return resp;
}

static void entra_error(az_resp *p, int status, const char *err, int code, const char *fmt,
                        ...) __attribute__((format(printf, 5, 6)));
static void entra_error(az_resp *p, int status, const char *err, int code, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  char desc[700], trace[37], ts[64];
  snprintf(desc, sizeof desc, "AADSTS%d: %s", code, msg);
  az_uuid(trace);
  az_iso8601(az_realtime(), ts, sizeof ts);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "error", err);
  cJSON_AddStringToObject(o, "error_description", desc);
  cJSON *codes = cJSON_AddArrayToObject(o, "error_codes");
  cJSON_AddItemToArray(codes, cJSON_CreateNumber(code));
  cJSON_AddStringToObject(o, "timestamp", ts);
  cJSON_AddStringToObject(o, "trace_id", trace);
  cJSON_AddStringToObject(o, "correlation_id", trace);
  az_resp_json(p, status, o);
}

/* ---- form bodies through libmicrohttpd's own urlencoded parser ---- */
static enum MHD_Result form_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size) {
  cJSON *form = cls;
  cJSON *old = cJSON_GetObjectItemCaseSensitive(form, key);
  if (old && cJSON_IsString(old) && off > 0) {
    char *s = az_strdupf("%s%.*s", old->valuestring, (int)size, data);
    if (s) az_set_str(form, key, s);
    free(s);
  } else {
    char *s = az_strdupf("%.*s", (int)size, data ? data : "");
    if (s) az_set_str(form, key, s);
    free(s);
  }
  return MHD_YES;
}

static cJSON *parse_form(az_req *r) {
  cJSON *form = cJSON_CreateObject();
  struct MHD_PostProcessor *pp = MHD_create_post_processor(r->conn, 4096, form_iter, form);
  if (!pp) {
    cJSON_Delete(form);
    return NULL;
  }
  if (r->body_len) MHD_post_process(pp, r->body, r->body_len);
  MHD_destroy_post_processor(pp);
  return form;
}

/* ---- JWT (RS256/PS256/ES256) verification with OpenSSL ---- */
static EVP_PKEY *key_from_pem(const char *pem) {
  if (!pem) return NULL;
  BIO *b = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *k = NULL;
  X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
  if (x) {
    k = X509_get_pubkey(x);
    X509_free(x);
  } else {
    BIO_free(b);
    b = BIO_new_mem_buf(pem, -1);
    k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
  }
  BIO_free(b);
  return k;
}

static cJSON *b64url_json(const char *s, size_t n) {
  char *part = strndup(s, n);
  size_t len = 0;
  unsigned char *raw = part ? az_b64url_decode(part, &len) : NULL;
  free(part);
  cJSON *j = raw ? cJSON_ParseWithLength((const char *)raw, len) : NULL;
  free(raw);
  return j;
}

/* Splits and decodes; does not verify. Returns 0 and fills header/claims. */
static int jwt_parse(const char *jwt, cJSON **header, cJSON **claims) {
  const char *d1 = strchr(jwt, '.');
  const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
  if (!d1 || !d2 || strchr(d2 + 1, '.')) return -1;
  *header = b64url_json(jwt, (size_t)(d1 - jwt));
  *claims = b64url_json(d1 + 1, (size_t)(d2 - d1 - 1));
  if (!cJSON_IsObject(*header) || !cJSON_IsObject(*claims)) {
    cJSON_Delete(*header);
    cJSON_Delete(*claims);
    return -1;
  }
  return 0;
}

static bool jwt_verify_sig(const char *jwt, const char *alg, EVP_PKEY *key) {
  const char *d2 = strrchr(jwt, '.');
  size_t siglen = 0;
  unsigned char *sig = az_b64url_decode(d2 + 1, &siglen);
  if (!sig) return false;
  bool ok = false;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  unsigned char *der = NULL;
  if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, key) == 1) {
    if (strcmp(alg, "PS256") == 0) {
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    const unsigned char *s = sig;
    size_t slen = siglen;
    if (strcmp(alg, "ES256") == 0) {
      /* JWS carries r||s; OpenSSL wants a DER ECDSA-Sig-Value. */
      if (siglen != 64) goto out;
      ECDSA_SIG *es = ECDSA_SIG_new();
      ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
      int dl = i2d_ECDSA_SIG(es, &der);
      ECDSA_SIG_free(es);
      if (dl <= 0) goto out;
      s = der;
      slen = (size_t)dl;
    }
    ok = EVP_DigestVerify(md, s, slen, (const unsigned char *)jwt, (size_t)(d2 - jwt)) == 1;
  }
out:
  OPENSSL_free(der);
  EVP_MD_CTX_free(md);
  free(sig);
  return ok;
}

static bool aud_matches(const cJSON *aud, const char *want_suffix, bool suffix) {
  const cJSON *it;
  if (cJSON_IsString(aud)) {
    size_t a = strlen(aud->valuestring), w = strlen(want_suffix);
    return suffix ? (a >= w && strcasecmp(aud->valuestring + a - w, want_suffix) == 0)
                  : strcmp(aud->valuestring, want_suffix) == 0;
  }
  cJSON_ArrayForEach(it, aud) {
    if (aud_matches(it, want_suffix, suffix)) return true;
  }
  return false;
}

/* Returns NULL when the assertion authenticates client; else an error text
 * and *aadsts. */
static const char *check_assertion(const char *tenant, const char *client_id, cJSON *client,
                                   const char *jwt, int *aadsts) {
  cJSON *h = NULL, *c = NULL;
  *aadsts = 50027;
  if (jwt_parse(jwt, &h, &c) != 0) return "JWT token is invalid or malformed.";
  const char *alg = az_str(h, "alg");
  const char *iss = az_str(c, "iss"), *sub = az_str(c, "sub");
  const char *err = NULL;
  EVP_PKEY *key = NULL;
  bool own_key = false;
  if (!alg || (strcmp(alg, "RS256") && strcmp(alg, "PS256") && strcmp(alg, "ES256"))) {
    err = "JWT token uses an unsupported algorithm.";
    goto done;
  }
  if (!iss || !sub) {
    err = "JWT token is missing iss or sub.";
    goto done;
  }
  double exp = az_num(c, "exp", 0);
  if (exp < az_realtime() - 300) {
    *aadsts = 700024;
    err = "Client assertion is not within its valid time range.";
    goto done;
  }
  char want[300];
  snprintf(want, sizeof want, "/%s/oauth2/v2.0/token", tenant);
  if (strcmp(iss, client_id) == 0 && strcmp(sub, client_id) == 0) {
    /* certificate credential: aud is the token endpoint */
    if (!aud_matches(cJSON_GetObjectItem(c, "aud"), want, true)) {
      *aadsts = 700212;
      err = "The audience of the client assertion is not the token endpoint.";
      goto done;
    }
    key = key_from_pem(az_str(client, "certificate"));
    own_key = true;
    if (!key) {
      *aadsts = 700027;
      err = "The client has no certificate registered.";
      goto done;
    }
  } else {
    cJSON *fc, *match = NULL;
    cJSON_ArrayForEach(fc, cJSON_GetObjectItem(client, "federated")) {
      if (az_str(fc, "issuer") && az_str(fc, "subject") && strcmp(az_str(fc, "issuer"), iss) == 0 &&
          strcmp(az_str(fc, "subject"), sub) == 0)
        match = fc;
    }
    if (!match) {
      *aadsts = 700213;
      err = "No matching federated identity record found for presented assertion subject.";
      goto done;
    }
    const char *aud = az_str(match, "audience");
    if (!aud_matches(cJSON_GetObjectItem(c, "aud"), aud ? aud : "api://AzureADTokenExchange",
                     false)) {
      *aadsts = 700212;
      err = "No matching federated identity record found for presented assertion audience.";
      goto done;
    }
    if (az_str(match, "certificate")) {
      key = key_from_pem(az_str(match, "certificate"));
      own_key = true;
    } else if (strcmp(iss, az_g.issuer) == 0) {
      key = az_g.signing_key;
    }
    if (!key) {
      *aadsts = 700211;
      err = "No key is known for the assertion issuer.";
      goto done;
    }
  }
  if (!jwt_verify_sig(jwt, alg, key)) {
    *aadsts = 700027;
    err = "Client assertion failed signature validation.";
  }
done:
  if (own_key) EVP_PKEY_free(key);
  cJSON_Delete(h);
  cJSON_Delete(c);
  return err;
}

static void token_endpoint(az_req *r, az_resp *p, const char *tenant) {
  if (strcmp(r->method, "POST") != 0) {
    entra_error(p, 405, "invalid_request", 900561,
                "The endpoint only accepts POST requests. Received a %s request.", r->method);
    return;
  }
  if (!tenant_known(tenant)) {
    entra_error(p, 400, "invalid_request", 90002, "Tenant '%s' not found.", tenant);
    return;
  }
  cJSON *form = parse_form(r);
  if (!form) {
    entra_error(p, 400, "invalid_request", 900144,
                "The request body must contain the following parameter: 'grant_type'.");
    return;
  }
  const char *grant = az_str(form, "grant_type");
  const char *client_id = az_str(form, "client_id");
  const char *scope = az_str(form, "scope");
  const char *secret = az_str(form, "client_secret");
  const char *assertion = az_str(form, "client_assertion");
  const char *atype = az_str(form, "client_assertion_type");
  cJSON *client = client_id ? cJSON_GetObjectItem(az_obj(identity(), "clients"), client_id) : NULL;
  int code = 0;
  const char *why;
  bool ok = false;
  if (!grant) {
    entra_error(p, 400, "invalid_request", 900144,
                "The request body must contain the following parameter: 'grant_type'.");
  } else if (strcmp(grant, "client_credentials") != 0) {
    entra_error(p, 400, "unsupported_grant_type", 70003,
                "The app requested an unsupported grant type '%s'.", grant);
  } else if (!client_id) {
    entra_error(p, 400, "invalid_request", 900144,
                "The request body must contain the following parameter: 'client_id'.");
  } else if (!scope) {
    entra_error(p, 400, "invalid_request", 900144,
                "The request body must contain the following parameter: 'scope'.");
  } else if (!strstr(scope, "/.default") || strchr(scope, ' ')) {
    entra_error(p, 400, "invalid_scope", 1002012,
                "The provided value for scope %s is not valid. Client credential flows must "
                "have a scope value with /.default suffixed to the resource identifier.",
                scope);
  } else if (!client) {
    entra_error(p, 400, "unauthorized_client", 700016,
                "Application with identifier '%s' was not found in the directory '%s'.",
                client_id, tenant);
  } else if (secret) {
    const char *want = az_str(client, "secret");
    if (!want || strcmp(want, secret) != 0)
      entra_error(p, 401, "invalid_client", 7000215,
                  "Invalid client secret provided. Ensure the secret being sent in the request "
                  "is the client secret value, not the client secret ID, for a secret added to "
                  "app '%s'.",
                  client_id);
    else
      ok = true;
  } else if (assertion) {
    if (!atype || strcmp(atype, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") != 0)
      entra_error(p, 400, "invalid_request", 700025,
                  "client_assertion_type must be "
                  "urn:ietf:params:oauth:client-assertion-type:jwt-bearer.");
    else if ((why = check_assertion(tenant, client_id, client, assertion, &code)) != NULL)
      entra_error(p, 401, "invalid_client", code, "%s", why);
    else
      ok = true;
  } else {
    entra_error(p, 401, "invalid_client", 7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.");
  }
  if (ok) {
    cJSON *t = issue_token(scope, client_id);
    cJSON_AddNumberToObject(t, "expires_in", az_g.token_lifetime);
    cJSON_AddNumberToObject(t, "ext_expires_in", az_g.token_lifetime);
    az_resp_json(p, 200, t);
  }
  cJSON_Delete(form);
}

static void openid_config(az_req *r, az_resp *p, const char *tenant) {
  if (!tenant_known(tenant)) {
    entra_error(p, 400, "invalid_tenant", 90002, "Tenant '%s' not found.", tenant);
    return;
  }
  cJSON *o = cJSON_CreateObject();
  char *s;
  s = az_strdupf("%s/%s/oauth2/v2.0/token", r->base, tenant);
  cJSON_AddStringToObject(o, "token_endpoint", s);
  free(s);
  cJSON *m = cJSON_AddArrayToObject(o, "token_endpoint_auth_methods_supported");
  cJSON_AddItemToArray(m, cJSON_CreateString("client_secret_post"));
  cJSON_AddItemToArray(m, cJSON_CreateString("private_key_jwt"));
  s = az_strdupf("%s/%s/discovery/v2.0/keys", r->base, tenant);
  cJSON_AddStringToObject(o, "jwks_uri", s);
  free(s);
  cJSON *rm = cJSON_AddArrayToObject(o, "response_modes_supported");
  cJSON_AddItemToArray(rm, cJSON_CreateString("query"));
  cJSON_AddItemToArray(rm, cJSON_CreateString("fragment"));
  cJSON_AddItemToArray(rm, cJSON_CreateString("form_post"));
  cJSON *st = cJSON_AddArrayToObject(o, "subject_types_supported");
  cJSON_AddItemToArray(st, cJSON_CreateString("pairwise"));
  cJSON *alg = cJSON_AddArrayToObject(o, "id_token_signing_alg_values_supported");
  cJSON_AddItemToArray(alg, cJSON_CreateString("RS256"));
  cJSON *rt = cJSON_AddArrayToObject(o, "response_types_supported");
  cJSON_AddItemToArray(rt, cJSON_CreateString("code"));
  cJSON_AddItemToArray(rt, cJSON_CreateString("id_token"));
  cJSON *sc = cJSON_AddArrayToObject(o, "scopes_supported");
  cJSON_AddItemToArray(sc, cJSON_CreateString("openid"));
  s = az_strdupf("%s/%s/v2.0", r->base, tenant);
  cJSON_AddStringToObject(o, "issuer", s);
  free(s);
  s = az_strdupf("%s/%s/oauth2/v2.0/authorize", r->base, tenant);
  cJSON_AddStringToObject(o, "authorization_endpoint", s);
  free(s);
  s = az_strdupf("%s/%s/oauth2/v2.0/devicecode", r->base, tenant);
  cJSON_AddStringToObject(o, "device_authorization_endpoint", s);
  free(s);
  s = az_strdupf("%s/%s/oauth2/v2.0/logout", r->base, tenant);
  cJSON_AddStringToObject(o, "end_session_endpoint", s);
  free(s);
  cJSON_AddBoolToObject(o, "http_logout_supported", true);
  cJSON_AddBoolToObject(o, "frontchannel_logout_supported", true);
  cJSON_AddStringToObject(o, "tenant_region_scope", "EU");
  cJSON_AddStringToObject(o, "cloud_instance_name", "azsim.localhost");
  az_resp_json(p, 200, o);
}

static char *bn_b64url(EVP_PKEY *k, const char *name) {
  BIGNUM *bn = NULL;
  if (!EVP_PKEY_get_bn_param(k, name, &bn)) return NULL;
  int n = BN_num_bytes(bn);
  unsigned char *buf = malloc((size_t)n + 1);
  BN_bn2bin(bn, buf);
  char *s = az_b64url_encode(buf, (size_t)n);
  free(buf);
  BN_free(bn);
  return s;
}

static void jwks(az_resp *p) {
  cJSON *o = cJSON_CreateObject();
  cJSON *keys = cJSON_AddArrayToObject(o, "keys");
  cJSON *k = cJSON_CreateObject();
  cJSON_AddStringToObject(k, "kty", "RSA");
  cJSON_AddStringToObject(k, "use", "sig");
  cJSON_AddStringToObject(k, "kid", "azsim-federation");
  char *n = bn_b64url(az_g.signing_key, OSSL_PKEY_PARAM_RSA_N);
  char *e = bn_b64url(az_g.signing_key, OSSL_PKEY_PARAM_RSA_E);
  cJSON_AddStringToObject(k, "n", n ? n : "");
  cJSON_AddStringToObject(k, "e", e ? e : "");
  free(n);
  free(e);
  cJSON_AddItemToArray(keys, k);
  az_resp_json(p, 200, o);
}

static bool mi_known(az_req *r) {
  cJSON *mis = cJSON_GetObjectItem(identity(), "managed_identities");
  const char *want = az_query(r, "client_id");
  const char *oid = az_query(r, "object_id");
  const char *res = az_query(r, "msi_res_id");
  if (!res) res = az_query(r, "mi_res_id");
  if (!want && !oid && !res) return cJSON_GetArraySize(mis) > 0;
  cJSON *mi;
  cJSON_ArrayForEach(mi, mis) {
    if (want && az_ieq(az_str(mi, "client_id"), want)) return true;
    if (oid && az_ieq(az_str(mi, "object_id"), oid)) return true;
    if (res && az_ieq(az_str(mi, "resource_id"), res)) return true;
  }
  return false;
}

static void mi_token(az_req *r, az_resp *p, bool app_service) {
  const char *resource = az_query(r, "resource");
  if (!resource || !*resource) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", "invalid_request");
    cJSON_AddStringToObject(o, "error_description", "Required query variable 'resource' is missing");
    az_resp_json(p, 400, o);
    return;
  }
  if (!mi_known(r)) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", "invalid_request");
    cJSON_AddStringToObject(o, "error_description", "Identity not found");
    az_resp_json(p, 400, o);
    return;
  }
  cJSON *t = issue_token(resource, "managed-identity");
  char buf[32];
  double now = az_now();
  snprintf(buf, sizeof buf, "%d", az_g.token_lifetime);
  if (!app_service) {
    /* IMDS sends its numbers as strings. */
    cJSON_AddStringToObject(t, "expires_in", buf);
    cJSON_AddStringToObject(t, "ext_expires_in", buf);
  }
  snprintf(buf, sizeof buf, "%.0f", now + az_g.token_lifetime);
  cJSON_AddStringToObject(t, "expires_on", buf);
  snprintf(buf, sizeof buf, "%.0f", now);
  cJSON_AddStringToObject(t, "not_before", buf);
  cJSON_AddStringToObject(t, "resource", resource);
  cJSON *mi = cJSON_GetArrayItem(cJSON_GetObjectItem(identity(), "managed_identities"), 0);
  if (az_str(mi, "client_id")) cJSON_AddStringToObject(t, "client_id", az_str(mi, "client_id"));
  az_resp_json(p, 200, t);
}

bool az_auth_route(az_req *r, az_resp *p) {
  if (r->nseg == 4 && strcmp(r->seg[0], "metadata") == 0 && strcmp(r->seg[1], "identity") == 0 &&
      strcmp(r->seg[2], "oauth2") == 0 && strcmp(r->seg[3], "token") == 0) {
    const char *md = az_header(r, "Metadata");
    if (!md || strcasecmp(md, "true") != 0) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "error", "invalid_request");
      cJSON_AddStringToObject(o, "error_description", "Required metadata header not specified");
      az_resp_json(p, 400, o);
    } else if (!az_query(r, "api-version")) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "error", "invalid_request");
      cJSON_AddStringToObject(o, "error_description", "Required query variable 'api-version' is missing");
      az_resp_json(p, 400, o);
    } else {
      mi_token(r, p, false);
    }
    return true;
  }
  if (r->nseg == 2 && strcmp(r->seg[0], "msi") == 0 && strcmp(r->seg[1], "token") == 0) {
    const char *h = az_header(r, "X-IDENTITY-HEADER");
    const char *want = az_str(identity(), "identity_header");
    if (!h || !want || strcmp(h, want) != 0) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "statusCode", 401);
      cJSON_AddStringToObject(o, "message", "Unauthorized: X-IDENTITY-HEADER is missing or wrong.");
      az_resp_json(p, 401, o);
    } else {
      mi_token(r, p, true);
    }
    return true;
  }
  if (r->nseg == 4 && strcmp(r->seg[1], "oauth2") == 0 && strcmp(r->seg[2], "v2.0") == 0 &&
      strcmp(r->seg[3], "token") == 0) {
    token_endpoint(r, p, r->seg[0]);
    return true;
  }
  if (r->nseg == 4 && strcmp(r->seg[1], "v2.0") == 0 && strcmp(r->seg[2], ".well-known") == 0 &&
      strcmp(r->seg[3], "openid-configuration") == 0) {
    openid_config(r, p, r->seg[0]);
    return true;
  }
  if (r->nseg == 4 && strcmp(r->seg[1], "discovery") == 0 && strcmp(r->seg[3], "keys") == 0) {
    jwks(p);
    return true;
  }
  if (r->nseg == 3 && strcmp(r->seg[1], "discovery") == 0 && strcmp(r->seg[2], "instance") == 0) {
    cJSON *o = cJSON_CreateObject();
    char *s = az_strdupf("%s/%s/v2.0/.well-known/openid-configuration", r->base, default_tenant());
    cJSON_AddStringToObject(o, "tenant_discovery_endpoint", s);
    free(s);
    cJSON_AddStringToObject(o, "api-version", "1.1");
    cJSON *md = cJSON_AddArrayToObject(o, "metadata");
    cJSON *e = cJSON_CreateObject();
    const char *h = r->host;
    cJSON_AddStringToObject(e, "preferred_network", h);
    cJSON_AddStringToObject(e, "preferred_cache", h);
    cJSON *al = cJSON_AddArrayToObject(e, "aliases");
    cJSON_AddItemToArray(al, cJSON_CreateString(h));
    cJSON_AddItemToArray(md, e);
    az_resp_json(p, 200, o);
    return true;
  }
  return false;
}

bool az_auth_check(az_req *r, az_resp *p, const char *want) {
  if (r->internal) return true;
  const char *h = az_header(r, "Authorization");
  const char *tok = NULL;
  if (h && strncasecmp(h, "Bearer ", 7) == 0) tok = h + 7;
  bool vault = strcmp(want, "vault") == 0;
  bool storage = strcmp(want, "storage") == 0;
  cJSON *t = tok ? cJSON_GetObjectItemCaseSensitive(az_g.tokens, tok) : NULL;
  const char *code = NULL;
  char msg[300];
  if (!tok) {
    code = storage ? "NoAuthenticationInformation" : vault ? "Unauthorized" : "AuthenticationFailed";
    snprintf(msg, sizeof msg, "%s",
             vault ? "AKV10000: Request is missing a Bearer or PoP token."
                   : storage ? "Server failed to authenticate the request. Please refer to the "
                               "information in the www-authenticate header."
                             : "Authentication failed. The 'Authorization' header is missing.");
  } else if (!t) {
    code = storage ? "InvalidAuthenticationInfo" : vault ? "Unauthorized" : "InvalidAuthenticationToken";
    snprintf(msg, sizeof msg, "%s", vault ? "AKV10020: Invalid token." : "The access token is invalid.");
  } else if (az_num(t, "exp", 0) <= r->now) {
    code = storage ? "InvalidAuthenticationInfo" : vault ? "Unauthorized" : "ExpiredAuthenticationToken";
    snprintf(msg, sizeof msg, "%s",
             vault ? "AKV10032: Token expired." : "The access token has expired.");
  } else if (strcmp(az_str(t, "class"), want) != 0) {
    code = storage ? "InvalidAuthenticationInfo" : vault ? "Unauthorized" : "InvalidAuthenticationTokenAudience";
    snprintf(msg, sizeof msg, "The access token has been obtained for wrong audience or resource '%s'.",
             az_str(t, "aud"));
  }
  if (!code) return true;
  if (vault) {
    const char *tenant = default_tenant();
    az_resp_header(p, "WWW-Authenticate",
                   "Bearer authorization=\"%s://127.0.0.1:%d/%s\", resource=\"https://vault.azure.net\"",
                   az_g.tls ? "https" : "http", az_g.port, tenant);
    az_resp_error(p, 401, code, "%s", msg);
  } else if (storage) {
    az_resp_header(p, "WWW-Authenticate",
                   "Bearer authorization_uri=%s://127.0.0.1:%d/%s/oauth2/authorize "
                   "resource_id=https://storage.azure.com",
                   az_g.tls ? "https" : "http", az_g.port, default_tenant());
    az_resp_error(p, 401, code, "%s", msg);
    p->status = 401;
  } else {
    az_resp_header(p, "WWW-Authenticate",
                   "Bearer authorization_uri=\"%s://127.0.0.1:%d/%s\", error=\"invalid_token\", "
                   "error_description=\"%s\"",
                   az_g.tls ? "https" : "http", az_g.port, default_tenant(), code);
    az_resp_error(p, 401, code, "%s", msg);
  }
  return false;
}

char *az_mint_federated(const char *issuer, const char *subject, const char *audience,
                        int lifetime) {
  cJSON *h = cJSON_CreateObject();
  cJSON_AddStringToObject(h, "alg", "RS256");
  cJSON_AddStringToObject(h, "typ", "JWT");
  cJSON_AddStringToObject(h, "kid", "azsim-federation");
  cJSON *c = cJSON_CreateObject();
  double now = az_realtime();
  cJSON_AddStringToObject(c, "iss", issuer ? issuer : az_g.issuer);
  cJSON_AddStringToObject(c, "sub", subject);
  cJSON_AddStringToObject(c, "aud", audience ? audience : "api://AzureADTokenExchange");
  cJSON_AddNumberToObject(c, "iat", (double)(long)now);
  cJSON_AddNumberToObject(c, "nbf", (double)(long)now - 60);
  cJSON_AddNumberToObject(c, "exp", (double)(long)now + (lifetime > 0 ? lifetime : 3600));
  char jti[37];
  az_uuid(jti);
  cJSON_AddStringToObject(c, "jti", jti);
  char *hs = cJSON_PrintUnformatted(h), *cs = cJSON_PrintUnformatted(c);
  cJSON_Delete(h);
  cJSON_Delete(c);
  char *h64 = az_b64url_encode((unsigned char *)hs, strlen(hs));
  char *c64 = az_b64url_encode((unsigned char *)cs, strlen(cs));
  free(hs);
  free(cs);
  char *input = az_strdupf("%s.%s", h64, c64);
  free(h64);
  free(c64);
  unsigned char sig[512];
  size_t siglen = sizeof sig;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  char *out = NULL;
  if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, az_g.signing_key) == 1 &&
      EVP_DigestSign(md, sig, &siglen, (unsigned char *)input, strlen(input)) == 1) {
    char *s64 = az_b64url_encode(sig, siglen);
    out = az_strdupf("%s.%s", input, s64);
    free(s64);
  }
  EVP_MD_CTX_free(md);
  free(input);
  return out;
}
