/* rebound-azsim: command line. */
#include "azsim.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

static void usage(FILE *f) {
  fputs("usage: rebound-azsim serve --estate FILE [options]\n"
        "       rebound-azsim attack --control URL [--role Owner|Contributor] [--json]\n"
        "\n"
        "serve: a simulated Azure estate on 127.0.0.1 (see docs/azsim.md)\n"
        "  --estate FILE        estate to seed (YAML or JSON)\n"
        "  --port N             Azure endpoints port (default 0: any free port)\n"
        "  --control-port N     control API port (default 0: any free port)\n"
        "  --ready-file F       write {port, control_port, base_url, control_url, ca, ...}\n"
        "                       as JSON to F once listening\n"
        "  --tls-dir DIR        where the test CA lives (default ./azsim-tls); clients\n"
        "                       trust DIR/ca.pem\n"
        "  --no-tls             plain HTTP (debugging only)\n"
        "  --kv-suffix S        Key Vault host suffix (default vault.localhost)\n"
        "  --data-dir DIR       where git repositories live (default: a temporary\n"
        "                       directory removed at shutdown)\n"
        "\n"
        "attack: play an attacker against a running azsim and print what survived\n"
        "  --control URL        the control API, e.g. http://127.0.0.1:PORT\n"
        "  --role R             Owner (default; may delete locks) or Contributor\n"
        "  --json               print the full JSON report\n",
        f);
}

static size_t sink(char *ptr, size_t size, size_t n, void *ud) {
  char **buf = ud;
  size_t old = *buf ? strlen(*buf) : 0;
  char *nb = realloc(*buf, old + size * n + 1);
  if (!nb) return 0;
  memcpy(nb + old, ptr, size * n);
  nb[old + size * n] = 0;
  *buf = nb;
  return size * n;
}

static int cmd_attack(int argc, char **argv) {
  const char *control = NULL, *role = "Owner";
  bool json = false;
  static const struct option opts[] = {{"control", required_argument, NULL, 'c'},
                                       {"role", required_argument, NULL, 'r'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (c == 'c') control = optarg;
    else if (c == 'r') role = optarg;
    else if (c == 'j') json = true;
    else if (c == 'h') {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (!control) {
    usage(stderr);
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *h = curl_easy_init();
  char *url = az_strdupf("%s/attack", control);
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "role", role);
  char *body = cJSON_PrintUnformatted(b);
  cJSON_Delete(b);
  char *resp = NULL;
  struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(h);
  curl_global_cleanup();
  free(url);
  free(body);
  if (rc != CURLE_OK || status != 200) {
    fprintf(stderr, "rebound-azsim: attack failed: %s (HTTP %ld)\n", curl_easy_strerror(rc), status);
    free(resp);
    return 1;
  }
  cJSON *rep = cJSON_Parse(resp);
  if (json || !rep) {
    printf("%s\n", resp);
  } else {
    cJSON *s = cJSON_GetObjectItem(rep, "summary");
    printf("attacker role: %s\n", az_str(rep, "role"));
    printf("actions: %.0f (%.0f refused by protections)\n", az_num(s, "actions", 0), az_num(s, "refused", 0));
    static const char *groups[] = {"survived", "recoverable", "altered", "lost"};
    for (int i = 0; i < 4; i++) {
      cJSON *arr = cJSON_GetObjectItem(rep, groups[i]);
      printf("%s: %d\n", groups[i], cJSON_GetArraySize(arr));
      cJSON *it;
      cJSON_ArrayForEach(it, arr) printf("  %s\n", it->valuestring);
    }
    printf("resources deleted: %.0f, kept: %.0f\n", az_num(s, "resources_deleted", 0), az_num(s, "resources_kept", 0));
  }
  cJSON_Delete(rep);
  free(resp);
  return 0;
}

static int cmd_serve(int argc, char **argv) {
  const char *estate = NULL, *ready = NULL, *tls_dir = "azsim-tls", *data_dir = NULL;
  int port = 0, cport = 0;
  bool tls = true;
  static const struct option opts[] = {{"estate", required_argument, NULL, 'e'},
                                       {"port", required_argument, NULL, 'p'},
                                       {"control-port", required_argument, NULL, 'c'},
                                       {"ready-file", required_argument, NULL, 'r'},
                                       {"tls-dir", required_argument, NULL, 't'},
                                       {"no-tls", no_argument, NULL, 'n'},
                                       {"kv-suffix", required_argument, NULL, 'k'},
                                       {"data-dir", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
      case 'e': estate = optarg; break;
      case 'p':
      case 'c': {
        long v = strtol(optarg, &end, 10);
        if (!*optarg || *end || v < 0 || v > 65535) {
          fprintf(stderr, "rebound-azsim: bad port '%s'\n", optarg);
          return 2;
        }
        if (c == 'p') port = (int)v;
        else cport = (int)v;
        break;
      }
      case 'r': ready = optarg; break;
      case 't': tls_dir = optarg; break;
      case 'n': tls = false; break;
      case 'd': data_dir = optarg; break;
      case 'k':
        if (strlen(optarg) >= sizeof az_g.kv_suffix || !*optarg) {
          fprintf(stderr, "rebound-azsim: bad --kv-suffix\n");
          return 2;
        }
        snprintf(az_g.kv_suffix, sizeof az_g.kv_suffix, "%s", optarg);
        break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  if (!estate) {
    fprintf(stderr, "rebound-azsim: serve needs --estate FILE\n");
    usage(stderr);
    return 2;
  }
  return az_serve(estate, port, cport, ready, tls_dir, tls, data_dir);
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "serve") == 0) return cmd_serve(argc - 1, argv + 1);
  if (strcmp(argv[1], "attack") == 0) return cmd_attack(argc - 1, argv + 1);
  fprintf(stderr, "rebound-azsim: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
