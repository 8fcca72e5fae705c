/* A bounded fuzz client for azsim: N random and malformed HTTPS requests
 * (libcurl, so they are well-framed HTTP with hostile contents) plus raw
 * garbage over TLS and plain TCP (OpenSSL/sockets, badly framed HTTP).
 *
 * usage: azsim_fuzz PORT CA_FILE TOKEN_ARM TOKEN_KV TOKEN_ST N SECONDS SEED
 *
 * Checks, per response: no 500 (azsim never fails internally), every JSON
 * error body parses and carries "error", every 4xx XML body carries <Code>.
 * Exits non-zero on a violation. Whether the server survived (and ASan stayed
 * quiet) is checked by the calling script.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

static unsigned long long rng_state;
static unsigned rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (unsigned)(rng_state >> 11);
}
static const char *pick(const char *const *a, size_t n) { return a[rnd() % n]; }
#define PICK(a) pick(a, sizeof a / sizeof *a)

typedef struct buf {
  char *p;
  size_t n;
} buf;

static size_t sink(char *ptr, size_t size, size_t nmemb, void *ud) {
  buf *b = ud;
  size_t add = size * nmemb;
  if (b->n + add > (1u << 22)) return add; /* keep at most 4 MiB */
  char *np = realloc(b->p, b->n + add + 1);
  if (!np) return 0;
  memcpy(np + b->n, ptr, add);
  b->n += add;
  np[b->n] = 0;
  b->p = np;
  return add;
}

static const char *const SEGS[] = {
    "subscriptions", "22222222-2222-2222-2222-222222222222", "resourceGroups", "resourcegroups",
    "rg-app", "rg-backup", "providers", "Microsoft.KeyVault", "vaults", "kvprod", "Microsoft.Storage",
    "storageAccounts", "stbackup", "blobServices", "default", "containers", "worm", "plain",
    "immutabilityPolicies", "lock", "extend", "setLegalHold", "clearLegalHold", "Microsoft.Authorization",
    "locks", "Microsoft.Compute", "disks", "disk-os", "snapshots", "beginGetAccess", "endGetAccess",
    "deletedVaults", "locations", "westeurope", "purge", "operationresults", "asyncoperations",
    "Microsoft.Resources", "secrets", "keys", "certificates", "deletedsecrets", "db-password",
    "backup", "restore", "recover", "versions", "create", "import", "oauth2", "v2.0", "token",
    "11111111-1111-1111-1111-111111111111", "metadata", "identity", "msi", ".well-known",
    "openid-configuration", "..", ".", "%00", "%2e%2e", "%ff%fe", "a%20b", "md-0000", "abcd",
    "backup-001.bin", "exportTemplate", "resources", "tenants", "Microsoft.Sql", "servers", "sqlprod",
    "databases", "", "~", "%", "%%", "\xc3\x28", "x\x01y", "contoso", "app", "_apis", "_git", "git",
    "repositories", "recycleBin", "projects", "web", "info", "refs", "git-upload-pack", "git-receive-pack",
    "fileServices", "shares", "team", "dir", "f.txt"};
static const char *const METHODS[] = {"GET", "GET", "GET", "PUT", "PUT", "POST", "POST", "DELETE",
                                      "PATCH", "HEAD", "OPTIONS", "TRACE", "FROB", "PUT", "DELETE"};
static const char *const QUERIES[] = {
    "api-version=2023-05-01", "api-version=7.5", "api-version=", "api-version=7.4&maxresults=0",
    "api-version=7.5&maxresults=99999999999", "api-version=2021-04-01&%24skiptoken=-5",
    "api-version=2021-04-01&%24skiptoken=99999999999999999999", "api-version=2021-04-01&%24top=0",
    "restype=container", "restype=container&comp=list", "restype=container&comp=list&maxresults=-1",
    "restype=container&comp=list&include=deleted&marker=%ff", "comp=list", "comp=block&blockid=",
    "comp=block&blockid=QUFB", "comp=blocklist", "comp=undelete", "restype=container&comp=undelete",
    "resource=https://management.azure.com/", "api-version=2018-02-01&resource=", "", "&&&", "=",
    "a=%zz", "sig=x&sv=1", "restype=share", "restype=share&comp=snapshot", "restype=directory",
    "restype=directory&comp=list", "restype=directory&comp=list&sharesnapshot=x", "comp=range",
    "sharesnapshot=%ff", "service=git-upload-pack", "service=git-receive-pack", "api-version=7.1",
    "api-version=2023-05-01&%24expand=snapshots,deleted", "api-version=2023-05-01&%24include=none"};
static const char *const HOSTS[] = {NULL, NULL, NULL, "kvprod.vault.localhost", "nope.vault.localhost",
                                    "KVPROD.VAULT.LOCALHOST", ".vault.localhost", "x.vault.localhost:1",
                                    "localhost", "[::1]", "a\"b", ""};
static const char *const RANGES[] = {"bytes=0-3", "bytes=5-1", "bytes=-5", "bytes=99999999999-",
                                     "bytes=abc", "bytes=0-18446744073709551615", "items=1-2", ""};

static char *random_body(size_t *len) {
  unsigned kind = rnd() % 9;
  char *s = NULL;
  switch (kind) {
    case 0: s = strdup(""); break;
    case 1: s = strdup("{\"location\":\"westeurope\",\"properties\":{}}"); break;
    case 2: s = strdup("{\"properties\":{\"immutabilityPeriodSinceCreationInDays\":-1e308}}"); break;
    case 3: s = strdup("{\"value\":\"AZSIMKV1AAAA\"}"); break;
    case 4: s = strdup("<?xml version=\"1.0\"?><BlockList><Latest>QUFB</Latest><Committed>x</Committed></BlockList>"); break;
    case 5: s = strdup("<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><BlockList><Latest>&b;</Latest></BlockList>"); break;
    case 6: s = strdup("grant_type=client_credentials&client_id=app-secret&client_secret=s3cret&scope=x%2F.default&client_assertion=a.b.c&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"); break;
    case 7: s = strdup("{\"tags\":[1,{},null,\"x\"],\"access\":7,\"durationInSeconds\":\"x\",\"key\":[],\"kty\":\"EC\"}"); break;
    default: {
      size_t n = rnd() % 2048;
      s = malloc(n + 1);
      for (size_t i = 0; i < n; i++) s[i] = (char)(rnd() & 0xff);
      s[n] = 0;
      *len = n;
      return s;
    }
  }
  /* mutate a few bytes of structured bodies */
  size_t n = strlen(s);
  if (n && rnd() % 3 == 0) {
    for (int i = 0; i < 3; i++) s[rnd() % n] = (char)(rnd() & 0x7f);
  }
  *len = n;
  return s;
}

static int check_response(long status, const char *ctype, const buf *b, const char *what) {
  if (status == 500) {
    fprintf(stderr, "500 for %s: %.300s\n", what, b->p ? b->p : "");
    return 1;
  }
  if (status >= 400 && status < 500 && b->n > 0 && ctype) {
    if (strstr(ctype, "json")) {
      cJSON *j = cJSON_ParseWithLength(b->p, b->n);
      /* ARM/Key Vault/Entra: "error"; App Service identity: statusCode + message */
      bool ok = j && (cJSON_GetObjectItem(j, "error") ||
                      (cJSON_GetObjectItem(j, "statusCode") && cJSON_GetObjectItem(j, "message")) ||
                      /* Azure DevOps: message + typeKey */
                      (cJSON_GetObjectItem(j, "typeKey") && cJSON_GetObjectItem(j, "message")));
      cJSON_Delete(j);
      if (!ok) {
        fprintf(stderr, "4xx JSON without error for %s: %.300s\n", what, b->p);
        return 1;
      }
    } else if (strstr(ctype, "xml") && !strstr(b->p, "<Code>")) {
      fprintf(stderr, "4xx XML without <Code> for %s: %.300s\n", what, b->p);
      return 1;
    }
  }
  return 0;
}

static double now_s(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* Badly framed HTTP over TLS or plain TCP; the reply is read and ignored. */
static void raw_send(int port, SSL_CTX *ctx, bool tls) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return;
  struct timeval tv = {0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return;
  }
  static const char *const RAW[] = {
      "GET / HTTP/1.1\r\n\r\n",
      "GET /subscriptions?api-version=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
      "PUT /stbackup/worm/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
      "POST /t/oauth2/v2.0/token HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nshort",
      "GARBAGE\r\n\r\n", "GET /\x01\x02 HTTP/9.9\r\n\r\n", "\r\n\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: kvprod.vault.localhost\r\nX: \xff\xfe\r\n\r\n",
      "GET /subscriptions HTTP/1.1\r\nHost:\r\nAuthorization: Bearer\r\n\r\n"};
  SSL *ssl = NULL;
  if (tls) {
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
      SSL_free(ssl);
      close(fd);
      return;
    }
  }
  char junk[4096];
  size_t n;
  const char *msg;
  if (rnd() % 4 == 0) {
    n = 1 + rnd() % sizeof junk;
    for (size_t i = 0; i < n; i++) junk[i] = (char)(rnd() & 0xff);
    msg = junk;
  } else {
    msg = PICK(RAW);
    n = strlen(msg);
  }
  if (tls) SSL_write(ssl, msg, (int)n);
  else (void)!write(fd, msg, n);
  char rb[1024];
  if (tls) (void)SSL_read(ssl, rb, sizeof rb);
  else (void)!read(fd, rb, sizeof rb);
  if (ssl) {
    SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  close(fd);
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: azsim_fuzz PORT CA TOKEN_ARM TOKEN_KV TOKEN_ST N SECONDS SEED\n");
    return 2;
  }
  int port = atoi(argv[1]);
  const char *ca = argv[2];
  const char *toks[] = {argv[3], argv[4], argv[5], "garbage", ""};
  long total = atol(argv[6]);
  double budget = atof(argv[7]);
  rng_state = strtoull(argv[8], NULL, 10) | 1;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *h = curl_easy_init();
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  double t0 = now_s();
  long done = 0, raw = 0, failures = 0, by_class[6] = {0};
  for (; done < total && now_s() - t0 < budget; done++) {
    if (rnd() % 20 == 0) {
      raw_send(port, ctx, rnd() % 3 != 0);
      raw++;
      continue;
    }
    char path[4096] = "";
    int tokclass = -1; /* 0 arm, 1 vault, 2 storage: which token fits the template */
    const char *tmpl_host = NULL;
    if (rnd() % 2) {
      /* a valid request shape with one random part, to reach deep code paths */
      static const char *const ARMT[] = {
          "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-%s",
          "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/%s",
          "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-backup/providers/Microsoft.Storage/storageAccounts/stbackup/blobServices/default/containers/%s",
          "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-backup/providers/Microsoft.Storage/storageAccounts/stbackup/blobServices/default/containers/%s/immutabilityPolicies/default",
          "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-backup/providers/Microsoft.Storage/storageAccounts/stbackup/blobServices/default/containers/worm/immutabilityPolicies/default/%s",
          "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-backup/providers/Microsoft.Storage/storageAccounts/stbackup/blobServices/default/containers/%s/setLegalHold",
          "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-app/providers/Microsoft.Compute/disks/%s",
          "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-app/providers/Microsoft.Compute/snapshots/snap-os/%s",
          "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-backup/providers/Microsoft.Authorization/locks/%s",
          "/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/%s/purge",
          "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/%s/resources",
          "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-backup/providers/Microsoft.Storage/storageAccounts/stbackup/fileServices/default/shares/%s",
          "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-backup/providers/Microsoft.Storage/storageAccounts/stbackup/fileServices/default/shares/%s/restore",
          "/contoso/_apis/projects/%s", "/contoso/app/_apis/git/repositories/%s",
          "/contoso/app/_apis/git/recycleBin/repositories/%s", "/contoso/app/_git/%s/info/refs",
          "/contoso/app/_git/web/%s", "/contoso/%s/_apis/git/repositories"};
      static const char *const KVT[] = {"/secrets/%s", "/secrets/%s/backup", "/secrets/restore",
                                        "/deletedsecrets/%s", "/deletedsecrets/%s/recover",
                                        "/keys/%s/create", "/keys/%s", "/certificates/%s/create",
                                        "/secrets/%s/versions", "/secrets"};
      static const char *const BLT[] = {"/stbackup/%s", "/stbackup/plain/%s", "/stbackup/worm/%s",
                                        "/stbackup/%s/fz.bin", "/stbackup", "/stbackup/team/%s",
                                        "/stbackup/team/docs/%s"};
      static const char *const NAMES[] = {"worm", "plain", "fz", "db-password", "kvprod", "app",
                                          "backup", "lock", "extend", "disk-os", "keep-backups",
                                          "p.bin", "backup-001.bin", "x", "", "%00", "a/b/c"};
      int cls = (int)(rnd() % 3);
      const char *t = cls == 0 ? PICK(ARMT) : cls == 1 ? PICK(KVT) : PICK(BLT);
      snprintf(path, sizeof path, t, PICK(NAMES));
      tokclass = cls;
      if (cls == 1) tmpl_host = "kvprod.vault.localhost";
    } else {
      int nseg = 1 + (int)(rnd() % 12);
      for (int i = 0; i < nseg; i++) {
        strcat(path, "/");
        const char *s = PICK(SEGS);
        if (strlen(path) + strlen(s) + 2 < sizeof path) strcat(path, s);
      }
    }
    if (rnd() % 50 == 0) { /* a very long segment */
      size_t l = strlen(path);
      path[l++] = '/';
      for (int i = 0; i < 1500 && l < sizeof path - 1; i++) path[l++] = 'a';
      path[l] = 0;
    }
    char url[8192];
    const char *q = PICK(QUERIES);
    if (tokclass == 0 && rnd() % 4) q = "api-version=2023-05-01";
    if (tokclass == 1 && rnd() % 4) q = "api-version=7.5";
    if (tokclass == 2 && rnd() % 2) q = rnd() % 2 ? "restype=container" : "";
    const char *host = tmpl_host ? tmpl_host : PICK(HOSTS);
    snprintf(url, sizeof url, "https://%s:%d%s%s%s", host && host[0] && host[0] != '[' && !strchr(host, '"') && !strchr(host, ':') ? host : "127.0.0.1",
             port, path, *q ? "?" : "", q);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    char resolve[300];
    struct curl_slist *res = NULL;
    if (host && strstr(host, "vault.localhost") && !strchr(host, ':')) {
      snprintf(resolve, sizeof resolve, "%s:%d:127.0.0.1", host, port);
      res = curl_slist_append(NULL, resolve);
      curl_easy_setopt(h, CURLOPT_RESOLVE, res);
    }
    const char *m = PICK(METHODS);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    if (strcmp(m, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    struct curl_slist *hd = NULL;
    char line[2048];
    const char *tok = tokclass >= 0 && rnd() % 8 ? toks[tokclass] : toks[rnd() % 5];
    if (*tok) {
      snprintf(line, sizeof line, "Authorization: Bearer %s", tok);
      hd = curl_slist_append(hd, line);
    }
    if (rnd() % 3 == 0) {
      snprintf(line, sizeof line, "%s: %s", rnd() % 2 ? "Range" : "x-ms-range", PICK(RANGES));
      hd = curl_slist_append(hd, line);
    }
    if (rnd() % 4 == 0) hd = curl_slist_append(hd, rnd() % 2 ? "If-Match: *" : "If-Match: \"bogus\"");
    if (rnd() % 4 == 0) hd = curl_slist_append(hd, "If-None-Match: *");
    if (rnd() % 3 == 0) hd = curl_slist_append(hd, "x-ms-blob-type: BlockBlob");
    if (rnd() % 5 == 0) hd = curl_slist_append(hd, "Metadata: true");
    if (rnd() % 5 == 0) hd = curl_slist_append(hd, "x-ms-deleted-container-name: plain");
    if (rnd() % 3 == 0) hd = curl_slist_append(hd, "x-ms-file-request-intent: backup");
    if (rnd() % 5 == 0) hd = curl_slist_append(hd, "x-ms-type: file");
    if (rnd() % 5 == 0) hd = curl_slist_append(hd, rnd() % 2 ? "x-ms-content-length: 16" : "x-ms-content-length: -1");
    if (rnd() % 5 == 0) hd = curl_slist_append(hd, rnd() % 2 ? "x-ms-write: update" : "x-ms-write: clear");
    if (rnd() % 9 == 0) hd = curl_slist_append(hd, "x-ms-delete-snapshots: include");
    if (rnd() % 9 == 0) hd = curl_slist_append(hd, "Content-Type: application/x-git-upload-pack-request");
    hd = curl_slist_append(hd, "Expect:");
    hd = curl_slist_append(hd, rnd() % 2 ? "Content-Type: application/json"
                                         : "Content-Type: application/x-www-form-urlencoded");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    size_t blen = 0;
    char *body = NULL;
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
      body = random_body(&blen);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)blen);
    }
    buf b = {0};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
      long status = 0;
      char *ctype = NULL;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
      by_class[status / 100 < 6 ? status / 100 : 0]++;
      char what[9000];
      snprintf(what, sizeof what, "%s %s", m, url);
      failures += check_response(status, ctype, &b, what);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
      fprintf(stderr, "timeout: %s %s\n", m, url);
      failures++;
    }
    free(b.p);
    free(body);
    curl_slist_free_all(hd);
    curl_slist_free_all(res);
  }
  curl_easy_cleanup(h);
  SSL_CTX_free(ctx);
  curl_global_cleanup();
  printf("fuzz: %ld requests (%ld raw) in %.1f s; 2xx %ld, 3xx %ld, 4xx %ld, 5xx %ld; %ld violations\n",
         done, raw, now_s() - t0, by_class[2], by_class[3], by_class[4], by_class[5], failures);
  return failures ? 1 : 0;
}
