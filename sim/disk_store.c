/* Managed disk and snapshot contents, kept out of the cJSON state.
 *
 * A content descriptor (entry.content in the state) is one of
 *   {"seed": S, "size": N}  N bytes of AES-256-CTR keystream keyed by
 *                           SHA-256(S), so any range is computed directly;
 *   {"blob": ID, "size": N} bytes held in the store below;
 *   {"data": base64}        legacy (states written by older azsim), read only.
 *
 * The store holds binary blobs by id, each in a temporary file that is
 * unlinked as soon as it is opened, so nothing remains on disk once azsim
 * exits (however it exits). A blob is writable only while a direct upload
 * is in progress (diskState ActiveUpload); endGetAccess freezes it. Frozen
 * blobs never change, so state snapshots, copies (sourceResourceId) and
 * restores share ids freely; blobs are never freed while azsim runs.
 *
 * Everything here runs under az_g.mu, like every handler.
 */
#include "azsim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#define CHUNK (4u * 1024u * 1024u)

typedef struct dblob {
  char id[40];
  int fd;
  size_t size;
  bool frozen;
  bool has_sum;
  char sum[65];
} dblob;

static dblob *blobs;
static size_t nblobs, capblobs;
static unsigned long blob_seq;
static cJSON *seed_sums; /* "size:seed" -> hex SHA-256 (not in the state) */

static dblob *find(const char *id) {
  if (!id) return NULL;
  for (size_t i = 0; i < nblobs; i++)
    if (strcmp(blobs[i].id, id) == 0) return &blobs[i];
  return NULL;
}

const char *az_dstore_create(size_t size) {
  if (nblobs == capblobs) {
    size_t ncap = capblobs ? capblobs * 2 : 16;
    dblob *nb = realloc(blobs, ncap * sizeof *nb);
    if (!nb) return NULL;
    blobs = nb;
    capblobs = ncap;
  }
  const char *tmp = getenv("TMPDIR");
  char path[600];
  snprintf(path, sizeof path, "%s/azsim-disk.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  unlink(path);
  /* sparse: unwritten pages read as zeros, as a fresh upload disk does */
  if (ftruncate(fd, (off_t)size) != 0) {
    close(fd);
    return NULL;
  }
  dblob *b = &blobs[nblobs++];
  memset(b, 0, sizeof *b);
  char rnd[9];
  az_rand_token(rnd, 4);
  snprintf(b->id, sizeof b->id, "d%lu-%s", ++blob_seq, rnd);
  b->fd = fd;
  b->size = size;
  return b->id;
}

bool az_dstore_exists(const char *id) { return find(id) != NULL; }

bool az_dstore_frozen(const char *id) {
  dblob *b = find(id);
  return !b || b->frozen;
}

void az_dstore_freeze(const char *id) {
  dblob *b = find(id);
  if (b) b->frozen = true;
}

int az_dstore_write(const char *id, size_t off, const void *data, size_t len) {
  dblob *b = find(id);
  if (!b || b->frozen || off > b->size || len > b->size - off) return -1;
  b->has_sum = false;
  static const unsigned char zeros[65536];
  size_t done = 0;
  while (done < len) {
    size_t n = len - done;
    const void *src = (const unsigned char *)data + done;
    if (!data) {
      if (n > sizeof zeros) n = sizeof zeros;
      src = zeros;
    }
    ssize_t w = pwrite(b->fd, src, n, (off_t)(off + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    done += (size_t)w;
  }
  return 0;
}

static void dstore_read(dblob *b, size_t off, size_t len, unsigned char *out) {
  size_t done = 0;
  while (b && done < len && off + done < b->size) {
    size_t n = len - done;
    if (n > b->size - off - done) n = b->size - off - done;
    ssize_t got = pread(b->fd, out + done, n, (off_t)(off + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    done += (size_t)got;
  }
  if (done < len) memset(out + done, 0, len - done);
}

void az_dstore_cleanup(void) {
  for (size_t i = 0; i < nblobs; i++) close(blobs[i].fd);
  free(blobs);
  blobs = NULL;
  nblobs = capblobs = 0;
  cJSON_Delete(seed_sums);
  seed_sums = NULL;
}

/* ---- content descriptors ---- */

/* Keystream bytes [off, off+len) for seed: AES-256-CTR over zeros with key
 * SHA-256(seed) and the counter starting at block off/16. */
static void keystream(const char *seed, size_t off, size_t len, unsigned char *out) {
  unsigned char key[32], iv[16] = {0};
  unsigned int klen = 0;
  EVP_Digest(seed ? seed : "", seed ? strlen(seed) : 0, key, &klen, EVP_sha256(), NULL);
  unsigned long long block = off / 16;
  for (int i = 15; i >= 8; i--) {
    iv[i] = (unsigned char)(block & 0xff);
    block >>= 8;
  }
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  memset(out, 0, len);
  int outl = 0;
  if (c && EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), NULL, key, iv) == 1) {
    unsigned char skip[16] = {0};
    size_t s = off % 16;
    if (s) EVP_EncryptUpdate(c, skip, &outl, skip, (int)s);
    size_t done = 0;
    while (done < len) {
      int n = len - done > (1u << 30) ? (1 << 30) : (int)(len - done);
      EVP_EncryptUpdate(c, out + done, &outl, out + done, n);
      done += (size_t)n;
    }
  }
  EVP_CIPHER_CTX_free(c);
}

void az_disk_bytes(const cJSON *content, size_t off, size_t len, unsigned char *out) {
  size_t size = az_disk_size(content);
  size_t avail = off < size ? size - off : 0;
  size_t n = len < avail ? len : avail;
  if (n < len) memset(out + n, 0, len - n);
  if (!n) return;
  const char *data = az_str(content, "data");
  if (data) {
    size_t dn = 0;
    unsigned char *raw = *data ? az_b64_decode(data, &dn) : NULL;
    for (size_t i = 0; i < n; i++) out[i] = (raw && off + i < dn) ? raw[off + i] : 0;
    free(raw);
    return;
  }
  if (az_str(content, "blob")) {
    dstore_read(find(az_str(content, "blob")), off, n, out);
    return;
  }
  keystream(az_str(content, "seed"), off, n, out);
}

size_t az_disk_size(const cJSON *content) {
  const char *data = az_str(content, "data");
  if (data && !cJSON_GetObjectItem(content, "size")) {
    size_t l = strlen(data);
    return l / 4 * 3 - (l >= 2 && data[l - 1] == '=' ? (data[l - 2] == '=' ? 2 : 1) : 0);
  }
  double n = az_num(content, "size", 0);
  return n > 0 ? (size_t)n : 0;
}

static void sum_range(const cJSON *content, size_t size, char out[65]) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned char *buf = malloc(size < CHUNK ? (size ? size : 1) : CHUNK);
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  for (size_t off = 0; off < size; off += CHUNK) {
    size_t n = size - off < CHUNK ? size - off : CHUNK;
    az_disk_bytes(content, off, n, buf);
    EVP_DigestUpdate(md, buf, n);
  }
  unsigned char d[32];
  unsigned int dl = 0;
  EVP_DigestFinal_ex(md, d, &dl);
  EVP_MD_CTX_free(md);
  free(buf);
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Contents are immutable (frozen blobs, seeds), so their sums are cached:
 * the inventory, the attacker and the guest check hash 64 MiB disks often. */
char *az_disk_checksum(const cJSON *content) {
  size_t size = az_disk_size(content);
  char hex[65];
  const char *bid = az_str(content, "blob");
  if (bid) {
    dblob *b = find(bid);
    if (b && b->has_sum && b->size == size) return strdup(b->sum);
    sum_range(content, size, hex);
    if (b && b->frozen && b->size == size) {
      memcpy(b->sum, hex, sizeof hex);
      b->has_sum = true;
    }
    return strdup(hex);
  }
  if (az_str(content, "data")) {
    sum_range(content, size, hex);
    return strdup(hex);
  }
  if (!seed_sums) seed_sums = cJSON_CreateObject();
  char *key = az_strdupf("%zu:%s", size, az_str(content, "seed") ? az_str(content, "seed") : "");
  const char *cached = az_str(seed_sums, key);
  if (cached) {
    free(key);
    return strdup(cached);
  }
  sum_range(content, size, hex);
  cJSON_AddStringToObject(seed_sums, key, hex);
  free(key);
  return strdup(hex);
}

cJSON *az_disk_content_seeded(const char *seed, size_t size) {
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "seed", seed ? seed : "");
  cJSON_AddNumberToObject(c, "size", (double)size);
  return c;
}

cJSON *az_disk_content_blob(size_t size, const unsigned char *data, size_t len, bool writable) {
  const char *id = az_dstore_create(size);
  if (!id) return NULL;
  if (data && len && az_dstore_write(id, 0, data, len < size ? len : size) != 0) return NULL;
  if (!writable) az_dstore_freeze(id);
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "blob", id);
  cJSON_AddNumberToObject(c, "size", (double)size);
  return c;
}
