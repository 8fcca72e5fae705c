/* The test CA: azsim makes (or reuses) a CA in --tls-dir and issues a fresh
 * server certificate for localhost, 127.0.0.1, ::1 and *.<kv suffix> on each
 * start. Clients trust <tls-dir>/ca.pem. */
#include "azsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static EVP_PKEY *new_key(void) { return EVP_EC_gen("P-256"); }

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
  X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (!ex) return -1;
  X509_add_ext(cert, ex, -1);
  X509_EXTENSION_free(ex);
  return 0;
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       bool ca, const char *san, long days) {
  X509 *c = X509_new();
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c));
  BN_free(bn);
  X509_set_version(c, 2);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), days * 86400L);
  X509_set_pubkey(c, key);
  X509_NAME *name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"azsim", -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
  X509 *iss = issuer ? issuer : c;
  int bad = 0;
  if (ca) {
    bad |= add_ext(c, iss, NID_basic_constraints, "critical,CA:TRUE");
    bad |= add_ext(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    bad |= add_ext(c, iss, NID_subject_key_identifier, "hash");
  } else {
    bad |= add_ext(c, iss, NID_basic_constraints, "critical,CA:FALSE");
    bad |= add_ext(c, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    bad |= add_ext(c, iss, NID_ext_key_usage, "serverAuth");
    bad |= add_ext(c, iss, NID_subject_key_identifier, "hash");
    bad |= add_ext(c, iss, NID_authority_key_identifier, "keyid");
    bad |= add_ext(c, iss, NID_subject_alt_name, san);
  }
  if (bad || !X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256())) {
    X509_free(c);
    return NULL;
  }
  return c;
}

static char *bio_string(BIO *b) {
  char *data;
  long n = BIO_get_mem_data(b, &data);
  char *s = malloc((size_t)n + 1);
  if (s) {
    memcpy(s, data, (size_t)n);
    s[n] = 0;
  }
  return s;
}

static char *cert_pem(X509 *c) {
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, c);
  char *s = bio_string(b);
  BIO_free(b);
  return s;
}

static char *key_pem(EVP_PKEY *k) {
  BIO *b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
  char *s = bio_string(b);
  BIO_free(b);
  return s;
}

static int write_file(const char *dir, const char *name, const char *data, mode_t mode) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t n = strlen(data);
  int rc = fwrite(data, 1, n, f) == n ? 0 : -1;
  if (fclose(f) != 0) rc = -1;
  chmod(path, mode);
  return rc;
}

int az_tls_setup(const char *dir, char **cert_out, char **key_out, char *err, size_t errlen) {
  mkdir(dir, 0700);
  char path[1024];
  X509 *ca = NULL;
  EVP_PKEY *ca_key = NULL;
  snprintf(path, sizeof path, "%s/ca.pem", dir);
  FILE *f = fopen(path, "rb");
  if (f) {
    ca = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/ca-key.pem", dir);
    f = fopen(path, "rb");
    if (f) {
      ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
      fclose(f);
    }
    if (!ca || !ca_key || X509_check_private_key(ca, ca_key) != 1) {
      X509_free(ca);
      EVP_PKEY_free(ca_key);
      ca = NULL;
      ca_key = NULL;
    }
  }
  if (!ca) {
    ca_key = new_key();
    ca = ca_key ? make_cert(ca_key, "azsim test CA", NULL, NULL, true, NULL, 3650) : NULL;
    if (!ca) {
      snprintf(err, errlen, "cannot create the test CA");
      EVP_PKEY_free(ca_key);
      return -1;
    }
    char *cp = cert_pem(ca), *kp = key_pem(ca_key);
    int rc = write_file(dir, "ca.pem", cp, 0644) | write_file(dir, "ca-key.pem", kp, 0600);
    free(cp);
    free(kp);
    if (rc) {
      snprintf(err, errlen, "cannot write the CA into %s", dir);
      X509_free(ca);
      EVP_PKEY_free(ca_key);
      return -1;
    }
  }
  char san[512];
  snprintf(san, sizeof san,
           "DNS:localhost,IP:127.0.0.1,IP:::1,DNS:*.%s,DNS:*.blob.localhost,DNS:*.localhost",
           az_g.kv_suffix);
  EVP_PKEY *key = new_key();
  X509 *cert = key ? make_cert(key, "localhost", ca, ca_key, false, san, 30) : NULL;
  X509_free(ca);
  EVP_PKEY_free(ca_key);
  if (!cert) {
    snprintf(err, errlen, "cannot issue the server certificate");
    EVP_PKEY_free(key);
    return -1;
  }
  *cert_out = cert_pem(cert);
  *key_out = key_pem(key);
  X509_free(cert);
  EVP_PKEY_free(key);
  if (write_file(dir, "server.pem", *cert_out, 0644) ||
      write_file(dir, "server-key.pem", *key_out, 0600)) {
    snprintf(err, errlen, "cannot write the server certificate into %s", dir);
    return -1;
  }
  return 0;
}

int az_cert_selfsigned(const char *cn, char **cer_b64, char **x5t_b64url) {
  EVP_PKEY *key = new_key();
  X509 *c = key ? make_cert(key, cn, NULL, NULL, false, "DNS:localhost", 365) : NULL;
  EVP_PKEY_free(key);
  if (!c) return -1;
  unsigned char *der = NULL;
  int n = i2d_X509(c, &der);
  unsigned char md[20];
  unsigned int mdlen = 0;
  X509_digest(c, EVP_sha1(), md, &mdlen);
  X509_free(c);
  if (n <= 0) return -1;
  *cer_b64 = az_b64_encode(der, (size_t)n);
  *x5t_b64url = az_b64url_encode(md, mdlen);
  OPENSSL_free(der);
  return 0;
}
