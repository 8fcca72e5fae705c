/* HTTP plumbing: two libmicrohttpd daemons on loopback (the Azure endpoints,
 * TLS by default, and the plain-HTTP control API), request assembly, fault
 * injection and dispatch by host and path. */
#include "azsim.h"

#include <arpa/inet.h>
#include <limits.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#define AZ_MAX_BODY (64u * 1024u * 1024u)

az_global az_g = {.mu = PTHREAD_MUTEX_INITIALIZER, .page_size = 100, .token_lifetime = 3600,
                  .lro_seconds = 0, .lro_retry_after = 1, .tls = true, .kv_suffix = "vault.localhost"};

typedef struct conn_ctx {
  char *body;
  size_t len, cap;
  bool too_big;
} conn_ctx;

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  conn_ctx *ctx = *con_cls;
  if (ctx) {
    free(ctx->body);
    free(ctx);
  }
  *con_cls = NULL;
}

static void split_path(az_req *r, char *copy) {
  r->nseg = 0;
  char *save = NULL;
  for (char *t = strtok_r(copy, "/", &save); t && r->nseg < AZ_MAX_SEG;
       t = strtok_r(NULL, "/", &save))
    r->seg[r->nseg++] = t;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, az_resp *p) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(p->len, p->body ? p->body : (void *)"",
                                      p->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  p->body = NULL;
  if (!resp) return MHD_NO;
  if (p->ctype[0]) MHD_add_response_header(resp, "Content-Type", p->ctype);
  for (int i = 0; i < p->nhdr; i++) {
    MHD_add_response_header(resp, p->hdr[i].name, p->hdr[i].value);
  }
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)p->status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static void resp_free(az_resp *p) {
  free(p->body);
  for (int i = 0; i < p->nhdr; i++) {
    free(p->hdr[i].name);
    free(p->hdr[i].value);
  }
}

static bool is_auth_path(const az_req *r) {
  if (r->nseg >= 1 && strcmp(r->seg[0], "metadata") == 0) return true;
  if (r->nseg >= 1 && strcmp(r->seg[0], "msi") == 0) return true;
  if (r->nseg >= 2 && (strcmp(r->seg[1], "oauth2") == 0 || strcmp(r->seg[1], "v2.0") == 0 ||
                       strcmp(r->seg[1], "discovery") == 0))
    return true;
  return false;
}

static bool is_arm_path(const az_req *r) {
  return r->nseg >= 1 && (strcasecmp(r->seg[0], "subscriptions") == 0 ||
                          strcasecmp(r->seg[0], "providers") == 0 ||
                          strcasecmp(r->seg[0], "tenants") == 0);
}

void az_dispatch(az_req *r, az_resp *p) {
  char vault[128];
  if (az_kv_host(r, vault, sizeof vault)) {
    az_kv_route(r, p, vault);
    return;
  }
  if (is_auth_path(r) && az_auth_route(r, p)) return;
  if (is_arm_path(r)) {
    az_arm_route(r, p);
    return;
  }
  if (az_disk_sas_route(r, p)) return;
  if (az_devops_route(r, p)) return;
  if (az_files_route(r, p)) return;
  if (az_blob_route(r, p)) return;
  az_resp_error(p, 404, "NotFound", "azsim serves no resource at '%s'.", r->path);
}

/* The request counters: az_g.counters maps "METHOD path" to a count (the
 * control API lists and resets it). A cJSON object finds a key by walking
 * all of them, and nearly every path is new (operation ids, resource
 * names), so counting there cost O(requests so far) per request (a fifth
 * of azsim's CPU in bench/run.sh lro). This index finds the entry by hash;
 * it follows az_g.counters, which only this function grows: when the
 * object was replaced (DELETE /counters) or no longer starts with the
 * entry it started with, the index is rebuilt. Called with az_g.mu held. */
static struct {
  cJSON *obj, *head; /* the object indexed, and its first entry then */
  cJSON **slot;      /* open addressing, a power of two */
  size_t n, cap;
} g_count_idx;

static size_t count_hash(const char *s) {
  size_t h = 1469598103934665603u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

static bool count_index_add(cJSON *item) {
  if ((g_count_idx.n + 1) * 2 > g_count_idx.cap) {
    size_t cap = g_count_idx.cap ? g_count_idx.cap * 2 : 1024;
    cJSON **slot = calloc(cap, sizeof *slot);
    if (!slot) return false;
    for (size_t i = 0; i < g_count_idx.cap; i++) {
      cJSON *it = g_count_idx.slot[i];
      if (!it) continue;
      size_t j = count_hash(it->string) & (cap - 1);
      while (slot[j]) j = (j + 1) & (cap - 1);
      slot[j] = it;
    }
    free(g_count_idx.slot);
    g_count_idx.slot = slot;
    g_count_idx.cap = cap;
  }
  size_t j = count_hash(item->string) & (g_count_idx.cap - 1);
  while (g_count_idx.slot[j]) j = (j + 1) & (g_count_idx.cap - 1);
  g_count_idx.slot[j] = item;
  g_count_idx.n++;
  return true;
}

static void count_request(const char *method, const char *path) {
  char *key = az_strdupf("%s %s", method, path);
  if (!key) return;
  cJSON *obj = az_g.counters;
  if (g_count_idx.obj != obj || (obj && obj->child != g_count_idx.head)) {
    free(g_count_idx.slot);
    memset(&g_count_idx, 0, sizeof g_count_idx);
    g_count_idx.obj = obj;
    g_count_idx.head = obj ? obj->child : NULL;
    cJSON *it;
    cJSON_ArrayForEach(it, obj) {
      if (it->string && !count_index_add(it)) {
        g_count_idx.obj = NULL; /* out of memory: rebuild next time */
        break;
      }
    }
  }
  cJSON *c = NULL;
  if (g_count_idx.obj != obj) { /* no index (out of memory): the slow way */
    c = cJSON_GetObjectItemCaseSensitive(obj, key);
  } else if (g_count_idx.cap) {
    size_t j = count_hash(key) & (g_count_idx.cap - 1);
    while ((c = g_count_idx.slot[j]) && strcmp(c->string, key) != 0) j = (j + 1) & (g_count_idx.cap - 1);
  }
  if (c) {
    cJSON_SetNumberValue(c, c->valuedouble + 1);
  } else if (obj && (c = cJSON_AddNumberToObject(obj, key, 1))) {
    g_count_idx.head = obj->child;
    if (g_count_idx.obj == obj && !count_index_add(c)) g_count_idx.obj = NULL;
  }
  free(key);
}

/* ARM's classic budget: 12,000 reads and 1,200 writes per hour, counted
 * here over all subscriptions on the virtual clock. azsim only reports it;
 * throttling itself comes from fault rules. */
static long ratelimit_remaining(bool write) {
  static double window;
  static long reads, writes;
  pthread_mutex_lock(&az_g.mu);
  double now = az_now();
  if (now - window >= 3600) {
    window = now;
    reads = writes = 0;
  }
  long left = write ? 1199 - writes++ : 11999 - reads++;
  pthread_mutex_unlock(&az_g.mu);
  return left > 0 ? left : 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls) {
  bool control = cls != NULL;
  conn_ctx *ctx = *con_cls;
  if (!ctx) {
    ctx = calloc(1, sizeof *ctx);
    if (!ctx) return MHD_NO;
    *con_cls = ctx;
    return MHD_YES;
  }
  if (*upload_size) {
    if (ctx->len + *upload_size > AZ_MAX_BODY) {
      ctx->too_big = true;
    } else {
      if (ctx->len + *upload_size + 1 > ctx->cap) {
        size_t ncap = (ctx->len + *upload_size + 1) * 2;
        char *nb = realloc(ctx->body, ncap);
        if (!nb) return MHD_NO;
        ctx->body = nb;
        ctx->cap = ncap;
      }
      memcpy(ctx->body + ctx->len, upload_data, *upload_size);
      ctx->len += *upload_size;
      ctx->body[ctx->len] = 0;
    }
    *upload_size = 0;
    return MHD_YES;
  }

  az_req r = {.conn = c, .method = method, .path = url, .body = ctx->body ? ctx->body : "",
              .body_len = ctx->len};
  const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
  r.host = host ? host : "";
  char base[300];
  if (host && *host && strlen(host) < 200 && !strpbrk(host, " /\\\"<>"))
    snprintf(base, sizeof base, "%s://%s", (az_g.tls && !control) ? "https" : "http", host);
  else
    snprintf(base, sizeof base, "%s://127.0.0.1:%d", (az_g.tls && !control) ? "https" : "http",
             control ? az_g.control_port : az_g.port);
  r.base = base;
  char *copy = strdup(url ? url : "/");
  if (!copy) return MHD_NO;
  split_path(&r, copy);
  az_resp p = {.status = 500};

  if (ctx->too_big) {
    az_resp_error(&p, 413, "RequestBodyTooLarge", "The request body is too large.");
  } else if (control) {
    pthread_mutex_lock(&az_g.mu);
    r.now = az_now();
    az_tick(r.now);
    az_control(&r, &p);
    pthread_mutex_unlock(&az_g.mu);
  } else {
    int latency = 0;
    pthread_mutex_lock(&az_g.mu);
    count_request(method, url);
    int faulted = az_fault_apply(method, url, &p, &latency);
    pthread_mutex_unlock(&az_g.mu);
    if (latency > 0) {
      struct timespec ts = {latency / 1000, (long)(latency % 1000) * 1000000L};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
    if (!faulted) {
      az_git_cgi g = {0};
      pthread_mutex_lock(&az_g.mu);
      r.now = az_now();
      az_tick(r.now);
      int git = az_devops_git_prepare(&r, &p, &g);
      if (git == 0) az_dispatch(&r, &p);
      pthread_mutex_unlock(&az_g.mu);
      if (git == 2) {
        /* git http-backend runs without the lock: a clone never stalls Azure */
        az_devops_git_run(&r, &p, &g);
        pthread_mutex_lock(&az_g.mu);
        az_devops_git_done(&g);
        pthread_mutex_unlock(&az_g.mu);
      }
    }
    char rid[37];
    az_uuid(rid);
    az_resp_header(&p, "x-ms-request-id", "%s", rid);
    if (is_arm_path(&r)) {
      az_resp_header(&p, "x-ms-correlation-request-id", "%s", rid);
      bool write = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
      az_resp_header(&p, write ? "x-ms-ratelimit-remaining-subscription-writes"
                               : "x-ms-ratelimit-remaining-subscription-reads",
                     "%ld", ratelimit_remaining(write));
    }
  }
  free(copy);
  if (p.reset) {
    resp_free(&p);
    return MHD_NO;
  }
  enum MHD_Result ret = send_resp(c, &p);
  resp_free(&p);
  return ret;
}

static struct MHD_Daemon *start_daemon(int port, bool control, const char *cert,
                                       const char *key) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* MHD's own error log is noisy under malformed traffic; AZSIM_DEBUG=1 turns it on */
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
  if (getenv("AZSIM_DEBUG")) flags |= MHD_USE_ERROR_LOG;
  if (!control && cert) flags |= MHD_USE_TLS;
  if (!control && cert)
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_CONNECTION_LIMIT, 512u,
                            MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
                            MHD_OPTION_END);
  return MHD_start_daemon(flags, 0, NULL, NULL, on_request, control ? (void *)1 : NULL,
                          MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                          NULL, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_CONNECTION_LIMIT,
                          512u, MHD_OPTION_END);
}

static int bound_port(struct MHD_Daemon *d) {
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  return info ? (int)info->port : -1;
}

static void on_signal(int sig) { az_g.stop = 1; }

static int write_ready(const char *path) {
  cJSON *o = cJSON_CreateObject();
  char url[256];
  cJSON_AddNumberToObject(o, "port", az_g.port);
  cJSON_AddNumberToObject(o, "control_port", az_g.control_port);
  snprintf(url, sizeof url, "%s://127.0.0.1:%d", az_g.tls ? "https" : "http", az_g.port);
  cJSON_AddStringToObject(o, "base_url", url);
  snprintf(url, sizeof url, "http://127.0.0.1:%d", az_g.control_port);
  cJSON_AddStringToObject(o, "control_url", url);
  if (az_g.tls) {
    char ca[600], abs[PATH_MAX];
    snprintf(ca, sizeof ca, "%s/ca.pem", az_g.tls_dir);
    cJSON_AddStringToObject(o, "ca", realpath(ca, abs) ? abs : ca);
  }
  cJSON_AddStringToObject(o, "kv_suffix", az_g.kv_suffix);
  cJSON_AddNumberToObject(o, "pid", (double)getpid());
  char *s = cJSON_Print(o);
  cJSON_Delete(o);
  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    free(s);
    return -1;
  }
  fprintf(f, "%s\n", s);
  free(s);
  if (fclose(f) != 0 || rename(tmp, path) != 0) return -1;
  return 0;
}

int az_serve(const char *estate_path, int port, int control_port, const char *ready_file,
             const char *tls_dir, bool tls, const char *data_dir) {
  char err[512] = "";
  az_g.tls = tls;
  az_g.st = cJSON_CreateObject();
  az_g.tokens = cJSON_CreateObject();
  az_g.faults = cJSON_CreateArray();
  az_g.lro_rules = cJSON_CreateArray();
  az_g.counters = cJSON_CreateObject();
  az_g.snapshots = cJSON_CreateObject();
  snprintf(az_g.tls_dir, sizeof az_g.tls_dir, "%s", tls_dir);
  if (data_dir) {
    char abs[PATH_MAX];
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
      fprintf(stderr, "rebound-azsim: cannot create --data-dir %s: %s\n", data_dir, strerror(errno));
      return 1;
    }
    const char *d = realpath(data_dir, abs) ? abs : data_dir;
    if (strlen(d) >= sizeof az_g.data_dir - 64) {
      fprintf(stderr, "rebound-azsim: --data-dir path too long\n");
      return 1;
    }
    memcpy(az_g.data_dir, d, strlen(d) + 1);
  }
  if (az_auth_init(err, sizeof err) != 0) {
    fprintf(stderr, "rebound-azsim: %s\n", err);
    return 1;
  }
  cJSON *estate = az_load_file(estate_path, err, sizeof err);
  if (!estate) {
    fprintf(stderr, "rebound-azsim: %s\n", err);
    return 1;
  }
  char *cert = NULL, *key = NULL;
  if (tls) {
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
      fprintf(stderr, "rebound-azsim: this libmicrohttpd has no TLS; use --no-tls\n");
      cJSON_Delete(estate);
      return 1;
    }
    if (az_tls_setup(tls_dir, &cert, &key, err, sizeof err) != 0) {
      cJSON_Delete(estate);
      fprintf(stderr, "rebound-azsim: tls: %s\n", err);
      return 1;
    }
  }
  struct MHD_Daemon *d = start_daemon(port, false, cert, key);
  if (!d) {
    cJSON_Delete(estate);
    fprintf(stderr, "rebound-azsim: cannot listen on 127.0.0.1:%d\n", port);
    free(cert);
    free(key);
    return 1;
  }
  struct MHD_Daemon *cd = start_daemon(control_port, true, NULL, NULL);
  if (!cd) {
    cJSON_Delete(estate);
    fprintf(stderr, "rebound-azsim: cannot listen on 127.0.0.1:%d (control)\n", control_port);
    MHD_stop_daemon(d);
    free(cert);
    free(key);
    return 1;
  }
  az_g.port = bound_port(d);
  az_g.control_port = bound_port(cd);
  pthread_mutex_lock(&az_g.mu);
  int rc = az_estate_load(estate, err, sizeof err);
  pthread_mutex_unlock(&az_g.mu);
  cJSON_Delete(estate);
  if (rc != 0) {
    fprintf(stderr, "rebound-azsim: estate: %s\n", err);
    az_g.stop = 1;
    ready_file = NULL;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (rc == 0) {
    printf("azsim listening on %s://127.0.0.1:%d (control http://127.0.0.1:%d)\n",
           tls ? "https" : "http", az_g.port, az_g.control_port);
    if (tls) printf("trust %s/ca.pem\n", tls_dir);
    fflush(stdout);
  }
  if (ready_file && write_ready(ready_file) != 0) {
    fprintf(stderr, "rebound-azsim: cannot write %s\n", ready_file);
    az_g.stop = 1;
  }
  while (!az_g.stop) {
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
  }
  MHD_stop_daemon(cd);
  MHD_stop_daemon(d);
  free(cert);
  free(key);
  cJSON_Delete(az_g.st);
  az_res_index_free();
  cJSON_Delete(az_g.tokens);
  cJSON_Delete(az_g.faults);
  cJSON_Delete(az_g.lro_rules);
  cJSON_Delete(az_g.counters);
  free(g_count_idx.slot);
  cJSON_Delete(az_g.snapshots);
  EVP_PKEY_free(az_g.signing_key);
  az_data_dir_cleanup();
  az_dstore_cleanup();
  return rc == 0 ? 0 : 1;
}
