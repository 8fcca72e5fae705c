/* Azure DevOps: organisations, projects and Git repositories served as real
 * git repositories.
 *
 * REST subset, following the Azure DevOps Services REST API 7.1
 * (https://learn.microsoft.com/rest/api/azure/devops/?view=azure-devops-rest-7.1,
 * specification/core 7.1 "Projects - List/Get" and specification/git 7.1
 * "Repositories - List/Get/Create/Delete", "Repositories - Get Recycle Bin
 * Repositories / Restore Repository From Recycle Bin / Delete Repository
 * From Recycle Bin"):
 *   GET    /{org}/_apis/projects[/{project}]
 *   GET    /{org}[/{project}]/_apis/git/repositories
 *   POST   /{org}/{project}/_apis/git/repositories           {"name", "project": {"id"}}
 *   GET    /{org}/{project}/_apis/git/repositories/{repo}    (name or id)
 *   DELETE /{org}/{project}/_apis/git/repositories/{id}      (to the recycle bin)
 *   GET    /{org}/{project}/_apis/git/recycleBin/repositories
 *   PATCH  /{org}/{project}/_apis/git/recycleBin/repositories/{id} {"deleted": false}
 *   DELETE /{org}/{project}/_apis/git/recycleBin/repositories/{id} (purge)
 * Errors: {"$id","innerException","message":"TFnnnnnn: ...","typeName","typeKey",
 * "errorCode","eventId"} as Azure DevOps sends them.
 *
 * Git smart HTTP on remoteUrl (https://127.0.0.1:PORT/{org}/{project}/_git/{repo}):
 * info/refs, git-upload-pack and git-receive-pack are answered by running
 * `git http-backend` as a CGI (git-http-backend(1)), outside the global
 * lock. Pushes refresh the refs recorded in the state.
 *
 * Auth: a bearer token for Azure DevOps (resource 499b84ac-1321-427f-aa17-267ca6975798)
 * or ARM, or Basic with a PAT of the estate (any user name).
 *
 * Store: st.devops = {pats: [..], orgs: {org(lower): {id, name, projects:
 * {project(lower): {id, name, description, revision, updated, repos: {id:
 * {id, name, created, refs, size, deleted, deleted_at, deleted_by}}}}}}}.
 * The repositories themselves are bare git directories
 * DATA_DIR/devops/{id}.git; purging drops a repository from the state only,
 * so a state snapshot taken before still restores it, and restoring a state
 * sets the refs on disk back to the recorded ones (az_devops_state_restored).
 */
#include "azsim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEVOPS_AUD "499b84ac-1321-427f-aa17-267ca6975798"
#define RECYCLE_DAYS 30.0
#define GIT_OUT_MAX (512u * 1024u * 1024u)

/* ---- processes: fixed argv, never a shell ---- */

/* Runs argv with env, feeding in/inlen on stdin and collecting stdout (at
 * most outmax bytes). Returns the exit status (0..255), or -1 when it could
 * not start, overflowed, or ran past timeout_ms (then it is killed). */
int az_run(char *const argv[], char *const envp[], const char *in, size_t inlen, char **out,
           size_t *outlen, size_t outmax, int timeout_ms) {
  int pin[2], pout[2];
  if (out) *out = NULL;
  if (outlen) *outlen = 0;
  if (pipe2(pin, O_CLOEXEC) != 0) return -1;
  if (pipe2(pout, O_CLOEXEC) != 0) {
    close(pin[0]);
    close(pin[1]);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
  posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t def, none;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&at, &def);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(pin[0]);
  close(pout[1]);
  if (rc != 0) {
    close(pin[1]);
    close(pout[0]);
    return -1;
  }
  fcntl(pin[1], F_SETFL, O_NONBLOCK);
  fcntl(pout[0], F_SETFL, O_NONBLOCK);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  size_t off = 0, cap = 0, len = 0;
  char *buf = NULL;
  int win = pin[1], rout = pout[0];
  bool failed = false;
  if (inlen == 0) {
    close(win);
    win = -1;
  }
  while (rout >= 0 && !failed) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long spent = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
    if (spent >= timeout_ms) {
      failed = true;
      break;
    }
    struct pollfd pf[2];
    int n = 0;
    pf[n++] = (struct pollfd){.fd = rout, .events = POLLIN};
    if (win >= 0) pf[n++] = (struct pollfd){.fd = win, .events = POLLOUT};
    int pr = poll(pf, (nfds_t)n, (int)(timeout_ms - spent));
    if (pr < 0 && errno != EINTR) failed = true;
    if (pr <= 0) continue;
    if (win >= 0 && (pf[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(win, in + off, inlen - off);
      if (w > 0) off += (size_t)w;
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || off >= inlen) {
        close(win);
        win = -1;
      }
    }
    if (pf[0].revents & (POLLIN | POLLERR | POLLHUP)) {
      if (cap - len < 65536) {
        cap = cap ? cap * 2 : 131072;
        char *nb = realloc(buf, cap);
        if (!nb) {
          failed = true;
          break;
        }
        buf = nb;
      }
      ssize_t rd = read(rout, buf + len, cap - len - 1);
      if (rd > 0) {
        len += (size_t)rd;
        if (len > outmax) failed = true;
      } else if (rd == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(rout);
        rout = -1;
      }
    }
  }
  if (win >= 0) close(win);
  if (rout >= 0) close(rout);
  int st = 0;
  if (failed) kill(pid, SIGKILL);
  /* stdout is closed: the child is exiting; wait a bounded time */
  for (int i = 0; i < 2000; i++) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (i == 1000) kill(pid, SIGKILL);
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
  }
  if (failed || !WIFEXITED(st)) {
    free(buf);
    return -1;
  }
  if (buf) buf[len] = 0;
  if (out) *out = buf;
  else free(buf);
  if (outlen) *outlen = len;
  return WEXITSTATUS(st);
}

/* ---- the data directory ---- */

static void rm_tree(const char *path, int depth) {
  if (depth > 32) return;
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char *p = az_strdupf("%s/%s", path, e->d_name);
      struct stat sb;
      if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) rm_tree(p, depth + 1);
      else unlink(p);
      free(p);
    }
    closedir(d);
  }
  rmdir(path);
}

static long long dir_size(const char *path, int depth) {
  long long n = 0;
  if (depth > 32) return 0;
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char *p = az_strdupf("%s/%s", path, e->d_name);
    struct stat sb;
    if (lstat(p, &sb) == 0) n += S_ISDIR(sb.st_mode) ? dir_size(p, depth + 1) : (long long)sb.st_size;
    free(p);
  }
  closedir(d);
  return n;
}

const char *az_data_dir(void) {
  if (!az_g.data_dir[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(az_g.data_dir, sizeof az_g.data_dir, "%s/azsim-data.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(az_g.data_dir)) {
      az_g.data_dir[0] = 0;
      return NULL;
    }
    az_g.data_dir_tmp = true;
  }
  return az_g.data_dir;
}

void az_data_dir_cleanup(void) {
  if (az_g.data_dir_tmp && az_g.data_dir[0]) rm_tree(az_g.data_dir, 0);
  az_g.data_dir_tmp = false;
}

/* ---- git ---- */

static char **git_env(const char *const *extra) {
  const char *path = getenv("PATH");
  size_t n = 0;
  while (extra && extra[n]) n++;
  char **env = calloc(n + 8, sizeof *env);
  int i = 0;
  env[i++] = az_strdupf("PATH=%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
  env[i++] = az_strdupf("HOME=%s", az_g.data_dir);
  env[i++] = strdup("GIT_CONFIG_NOSYSTEM=1");
  env[i++] = strdup("GIT_CONFIG_GLOBAL=/dev/null");
  env[i++] = strdup("LC_ALL=C");
  env[i++] = strdup("GIT_TERMINAL_PROMPT=0");
  for (size_t k = 0; k < n; k++) env[i++] = strdup(extra[k]);
  env[i] = NULL;
  return env;
}

static void env_free(char **env) {
  for (int i = 0; env && env[i]; i++) free(env[i]);
  free(env);
}

/* git --git-dir=DIR args...; stdout (trimmed) into *out when out != NULL */
static int git(const char *gitdir, const char *const *extra_env, const char *in, size_t inlen, char **out,
               const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
               const char *a6, const char *a7) {
  char *gd = az_strdupf("--git-dir=%s", gitdir);
  const char *argv[12] = {"git", gd, a1, a2, a3, a4, a5, a6, a7, NULL};
  char **env = git_env(extra_env);
  char *o = NULL;
  size_t ol = 0;
  int rc = az_run((char *const *)argv, env, in, inlen, &o, &ol, 16u * 1024u * 1024u, 30000);
  env_free(env);
  free(gd);
  if (out) {
    while (o && ol && (o[ol - 1] == '\n' || o[ol - 1] == '\r')) o[--ol] = 0;
    *out = o;
  } else {
    free(o);
  }
  return rc;
}

static bool safe_id(const char *s) {
  if (!s || !*s || strlen(s) > 40) return false;
  for (const char *c = s; *c; c++)
    if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || *c == '-')) return false;
  return true;
}

static bool valid_name(const char *s) {
  if (!s || !*s || strlen(s) > 64 || s[0] == '.' || s[0] == '_') return false;
  for (const char *c = s; *c; c++)
    if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '-' ||
          *c == '_' || *c == '.'))
      return false;
  return true;
}

static char *repo_dir(const char *id) { return az_strdupf("%s/devops/%s.git", az_g.data_dir, id); }

/* "objectname refname" lines and the directory size */
static void read_refs(const char *id, char **refs, long long *size) {
  char *d = repo_dir(id);
  *refs = NULL;
  git(d, NULL, NULL, 0, refs, "for-each-ref", "--format=%(objectname) %(refname)", NULL, NULL, NULL, NULL,
      NULL);
  if (!*refs) *refs = strdup("");
  /* the exact output of for-each-ref, final newline included */
  if (**refs) {
    char *full = az_strdupf("%s\n", *refs);
    free(*refs);
    *refs = full;
  }
  *size = dir_size(d, 0);
  free(d);
}

static void store_refs(cJSON *repo, char *refs, long long size) {
  az_set_str(repo, "refs", refs ? refs : "");
  az_set_num(repo, "size", (double)size);
}

/* Creates DATA/devops/{id}.git with files committed `commits` times. */
static int repo_create(const char *id, const cJSON *files, int commits, char *err, size_t errlen) {
  if (!az_data_dir()) {
    snprintf(err, errlen, "devops: cannot create a data directory");
    return -1;
  }
  char *top = az_strdupf("%s/devops", az_g.data_dir);
  mkdir(top, 0700);
  free(top);
  char *d = repo_dir(id);
  int rc = 0;
  const char *argv[] = {"git", "init", "--bare", "-q", "--initial-branch=main", d, NULL};
  char **env = git_env(NULL);
  if (az_run((char *const *)argv, env, NULL, 0, NULL, NULL, 1 << 20, 30000) != 0) {
    snprintf(err, errlen, "devops: 'git init --bare %s' failed (is git installed?)", d);
    rc = -1;
  }
  env_free(env);
  if (!rc) git(d, NULL, NULL, 0, NULL, "config", "http.receivepack", "true", NULL, NULL, NULL, NULL);
  if (!rc && (cJSON_GetArraySize(files) > 0 || commits > 0)) {
    char *index = az_strdupf("INDEX_FILE=%s/azsim-index", d);
    char *genv_index = az_strdupf("GIT_%s", index);
    const char *ienv[] = {genv_index, NULL};
    size_t cap = 256, len = 0;
    char *lines = malloc(cap);
    lines[0] = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, files) {
      const char *content = cJSON_IsString(f) ? f->valuestring : NULL;
      if (!content || !f->string || !*f->string || strchr(f->string, '\n') || strchr(f->string, '\t')) {
        snprintf(err, errlen, "devops: files: '%s' needs a string content", f->string ? f->string : "");
        rc = -1;
        break;
      }
      char *sha = NULL;
      if (git(d, NULL, content, strlen(content), &sha, "hash-object", "-w", "--stdin", NULL, NULL, NULL, NULL) !=
              0 ||
          !sha) {
        free(sha);
        snprintf(err, errlen, "devops: git hash-object failed");
        rc = -1;
        break;
      }
      char *line = az_strdupf("100644 %s\t%s\n", sha, f->string);
      free(sha);
      size_t ln = strlen(line);
      while (len + ln + 1 > cap) cap *= 2;
      lines = realloc(lines, cap);
      memcpy(lines + len, line, ln + 1);
      len += ln;
      free(line);
    }
    char *tree = NULL;
    if (!rc && len && git(d, ienv, lines, len, NULL, "update-index", "--add", "--index-info", NULL, NULL, NULL, NULL) != 0) {
      snprintf(err, errlen, "devops: git update-index failed (a bad path?)");
      rc = -1;
    }
    if (!rc && (git(d, ienv, NULL, 0, &tree, "write-tree", NULL, NULL, NULL, NULL, NULL, NULL) != 0 || !tree)) {
      snprintf(err, errlen, "devops: git write-tree failed");
      rc = -1;
    }
    char *parent = NULL;
    for (int i = 1; !rc && i <= (commits > 0 ? commits : 1); i++) {
      /* fixed identities and dates: equal estates give equal refs */
      char *date = az_strdupf("@%ld +0000", 1704067200L + i * 60L);
      char *ad = az_strdupf("GIT_AUTHOR_DATE=%s", date), *cd = az_strdupf("GIT_COMMITTER_DATE=%s", date);
      const char *cenv[] = {"GIT_AUTHOR_NAME=azsim", "GIT_AUTHOR_EMAIL=azsim@example.invalid",
                            "GIT_COMMITTER_NAME=azsim", "GIT_COMMITTER_EMAIL=azsim@example.invalid", ad, cd, NULL};
      char *msg = az_strdupf("azsim seed commit %d", i);
      char *commit = NULL;
      int grc = parent ? git(d, cenv, NULL, 0, &commit, "commit-tree", tree, "-p", parent, "-m", msg, NULL)
                       : git(d, cenv, NULL, 0, &commit, "commit-tree", tree, "-m", msg, NULL, NULL, NULL);
      if (grc != 0 || !commit) {
        snprintf(err, errlen, "devops: git commit-tree failed");
        rc = -1;
        free(commit);
      } else {
        free(parent);
        parent = commit;
      }
      free(msg);
      free(date);
      free(ad);
      free(cd);
    }
    if (!rc && git(d, NULL, NULL, 0, NULL, "update-ref", "refs/heads/main", parent, NULL, NULL, NULL, NULL) != 0) {
      snprintf(err, errlen, "devops: git update-ref failed");
      rc = -1;
    }
    char *ip = az_strdupf("%s/azsim-index", d);
    unlink(ip);
    free(ip);
    free(parent);
    free(tree);
    free(lines);
    free(index);
    free(genv_index);
  }
  free(d);
  return rc;
}

/* ---- state ---- */

static cJSON *orgs(void) { return az_obj(az_obj(az_g.st, "devops"), "orgs"); }

static cJSON *find_org(const char *name) {
  if (!name) return NULL;
  char *l = az_lower(name);
  cJSON *o = cJSON_GetObjectItemCaseSensitive(orgs(), l);
  free(l);
  return o;
}

static cJSON *find_project(cJSON *org, const char *name_or_id) {
  cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItem(org, "projects")) {
    if (az_ieq(az_str(p, "name"), name_or_id) || az_ieq(az_str(p, "id"), name_or_id)) return p;
  }
  return NULL;
}

static cJSON *find_repo(cJSON *proj, const char *name_or_id, bool deleted) {
  cJSON *r;
  cJSON_ArrayForEach(r, cJSON_GetObjectItem(proj, "repos")) {
    if (az_bool(r, "deleted", false) != deleted) continue;
    if (az_ieq(az_str(r, "name"), name_or_id) || az_ieq(az_str(r, "id"), name_or_id)) return r;
  }
  return NULL;
}

static cJSON *new_repo(cJSON *proj, const char *name, double now) {
  char id[37];
  az_uuid(id);
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "id", id);
  cJSON_AddStringToObject(r, "name", name);
  cJSON_AddNumberToObject(r, "created", now);
  cJSON_AddStringToObject(r, "refs", "");
  cJSON_AddNumberToObject(r, "size", 0);
  cJSON_AddItemToObject(az_obj(proj, "repos"), id, r);
  return r;
}

int az_devops_seed(const cJSON *spec, char *err, size_t errlen) {
  if (!spec) return 0;
  cJSON *dv = az_obj(az_g.st, "devops");
  cJSON *pats = cJSON_GetObjectItem(spec, "pats");
  az_set(dv, "pats", pats ? cJSON_Duplicate(pats, 1) : cJSON_CreateArray());
  const cJSON *o;
  cJSON_ArrayForEach(o, cJSON_GetObjectItem(spec, "organizations")) {
    const char *on = az_str(o, "name");
    if (!valid_name(on) || find_org(on)) {
      snprintf(err, errlen, "devops: organizations need a unique valid 'name'");
      return -1;
    }
    char id[37];
    az_uuid(id);
    cJSON *org = cJSON_CreateObject();
    cJSON_AddStringToObject(org, "id", id);
    cJSON_AddStringToObject(org, "name", on);
    cJSON *projects = cJSON_AddObjectToObject(org, "projects");
    char *l = az_lower(on);
    cJSON_AddItemToObject(orgs(), l, org);
    free(l);
    const cJSON *pj;
    cJSON_ArrayForEach(pj, cJSON_GetObjectItem(o, "projects")) {
      const char *pn = az_str(pj, "name");
      if (!valid_name(pn) || find_project(org, pn)) {
        snprintf(err, errlen, "devops: projects of '%s' need a unique valid 'name'", on);
        return -1;
      }
      cJSON *proj = cJSON_CreateObject();
      az_uuid(id);
      cJSON_AddStringToObject(proj, "id", id);
      cJSON_AddStringToObject(proj, "name", pn);
      if (az_str(pj, "description")) cJSON_AddStringToObject(proj, "description", az_str(pj, "description"));
      cJSON_AddNumberToObject(proj, "revision", 1);
      cJSON_AddNumberToObject(proj, "updated", az_now());
      cJSON_AddObjectToObject(proj, "repos");
      l = az_lower(pn);
      cJSON_AddItemToObject(projects, l, proj);
      free(l);
      const cJSON *rs;
      cJSON_ArrayForEach(rs, cJSON_GetObjectItem(pj, "repos")) {
        const char *rn = az_str(rs, "name");
        if (!valid_name(rn) || find_repo(proj, rn, false)) {
          snprintf(err, errlen, "devops: repos of '%s/%s' need a unique valid 'name'", on, pn);
          return -1;
        }
        const cJSON *files = cJSON_GetObjectItem(rs, "files");
        double commits = az_num(rs, "commits", cJSON_GetArraySize(files) > 0 ? 1 : 0);
        if (commits < 0 || commits > 1000 || (files && !cJSON_IsObject(files))) {
          snprintf(err, errlen, "devops: repo '%s': files is a map path -> content, commits 0..1000", rn);
          return -1;
        }
        cJSON *repo = new_repo(proj, rn, az_now());
        if (repo_create(az_str(repo, "id"), files, (int)commits, err, errlen) != 0) return -1;
        char *refs;
        long long size;
        read_refs(az_str(repo, "id"), &refs, &size);
        store_refs(repo, refs, size);
        free(refs);
      }
    }
  }
  return 0;
}

/* ---- responses ---- */

static void devops_error(az_resp *p, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void devops_error(az_resp *p, int status, const char *type, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "$id", "1");
  cJSON_AddNullToObject(o, "innerException");
  cJSON_AddStringToObject(o, "message", msg ? msg : "");
  char *tn = az_strdupf("Microsoft.TeamFoundation.Git.Server.%s, Microsoft.TeamFoundation.Git.Server", type);
  cJSON_AddStringToObject(o, "typeName", tn);
  cJSON_AddStringToObject(o, "typeKey", type);
  cJSON_AddNumberToObject(o, "errorCode", 0);
  cJSON_AddNumberToObject(o, "eventId", 3000);
  free(tn);
  free(msg);
  az_resp_json(p, status, o);
}

static void add_header(az_resp *p, const char *name, const char *value) {
  if (p->nhdr >= AZ_MAX_HDR) return;
  p->hdr[p->nhdr].name = strdup(name);
  p->hdr[p->nhdr].value = strdup(value);
  p->nhdr++;
}

/* Bearer (Azure DevOps or ARM audience) or Basic with a PAT. */
static bool devops_auth(az_req *r, az_resp *p, char *user, size_t n) {
  snprintf(user, n, "%s", "azsim-owner");
  if (r->internal) return true;
  const char *h = az_header(r, "Authorization");
  if (h && strncasecmp(h, "Bearer ", 7) == 0) {
    cJSON *t = cJSON_GetObjectItemCaseSensitive(az_g.tokens, h + 7);
    const char *cls = az_str(t, "class");
    if (t && az_num(t, "exp", 0) > r->now && cls && (strcmp(cls, "devops") == 0 || strcmp(cls, "arm") == 0)) {
      snprintf(user, n, "%s", az_str(t, "sub") ? az_str(t, "sub") : "azsim");
      return true;
    }
  } else if (h && strncasecmp(h, "Basic ", 6) == 0) {
    size_t len = 0;
    unsigned char *raw = az_b64_decode(h + 6, &len);
    if (raw) {
      char *s = malloc(len + 1);
      memcpy(s, raw, len);
      s[len] = 0;
      free(raw);
      char *colon = strchr(s, ':');
      const cJSON *pat;
      bool okay = false;
      cJSON_ArrayForEach(pat, cJSON_GetObjectItem(az_obj(az_g.st, "devops"), "pats")) {
        if (colon && cJSON_IsString(pat) && *pat->valuestring && strcmp(colon + 1, pat->valuestring) == 0) okay = true;
      }
      if (okay) {
        *colon = 0;
        snprintf(user, n, "%s", *s ? s : "pat");
      }
      free(s);
      if (okay) return true;
    }
  }
  /* Azure DevOps answers 401 with both challenges */
  char *v = az_strdupf("Bearer authorization_uri=%s://127.0.0.1:%d/common", az_g.tls ? "https" : "http", az_g.port);
  add_header(p, "WWW-Authenticate", v);
  free(v);
  v = az_strdupf("Basic realm=\"%s/\"", r->base);
  add_header(p, "WWW-Authenticate", v);
  free(v);
  devops_error(p, 401, "UnauthorizedRequestException",
               "TF400813: The user '' is not authorized to access this resource.");
  return false;
}

static cJSON *project_json(az_req *r, cJSON *org, cJSON *proj) {
  cJSON *o = cJSON_CreateObject();
  char ts[64];
  cJSON_AddStringToObject(o, "id", az_str(proj, "id"));
  cJSON_AddStringToObject(o, "name", az_str(proj, "name"));
  if (az_str(proj, "description")) cJSON_AddStringToObject(o, "description", az_str(proj, "description"));
  char *u = az_strdupf("%s/%s/_apis/projects/%s", r->base, az_str(org, "name"), az_str(proj, "id"));
  cJSON_AddStringToObject(o, "url", u);
  free(u);
  cJSON_AddStringToObject(o, "state", "wellFormed");
  cJSON_AddNumberToObject(o, "revision", az_num(proj, "revision", 1));
  cJSON_AddStringToObject(o, "visibility", "private");
  az_iso8601(az_num(proj, "updated", 0), ts, sizeof ts);
  cJSON_AddStringToObject(o, "lastUpdateTime", ts);
  return o;
}

static cJSON *repo_json(az_req *r, cJSON *org, cJSON *proj, cJSON *repo) {
  cJSON *o = cJSON_CreateObject();
  const char *on = az_str(org, "name");
  cJSON_AddStringToObject(o, "id", az_str(repo, "id"));
  cJSON_AddStringToObject(o, "name", az_str(repo, "name"));
  char *u = az_strdupf("%s/%s/%s/_apis/git/repositories/%s", r->base, on, az_str(proj, "id"), az_str(repo, "id"));
  cJSON_AddStringToObject(o, "url", u);
  free(u);
  cJSON_AddItemToObject(o, "project", project_json(r, org, proj));
  const char *refs = az_str(repo, "refs");
  if (refs && strstr(refs, " refs/heads/main")) cJSON_AddStringToObject(o, "defaultBranch", "refs/heads/main");
  cJSON_AddNumberToObject(o, "size", az_num(repo, "size", 0));
  u = az_strdupf("%s/%s/%s/_git/%s", r->base, on, az_str(proj, "name"), az_str(repo, "name"));
  cJSON_AddStringToObject(o, "remoteUrl", u);
  cJSON_AddStringToObject(o, "webUrl", u);
  free(u);
  cJSON_AddBoolToObject(o, "isDisabled", false);
  cJSON_AddBoolToObject(o, "isInMaintenance", false);
  return o;
}

static cJSON *deleted_json(az_req *r, cJSON *org, cJSON *proj, cJSON *repo) {
  cJSON *o = cJSON_CreateObject();
  char ts[64];
  cJSON_AddStringToObject(o, "id", az_str(repo, "id"));
  cJSON_AddStringToObject(o, "name", az_str(repo, "name"));
  cJSON_AddItemToObject(o, "project", project_json(r, org, proj));
  az_iso8601(az_num(repo, "created", 0), ts, sizeof ts);
  cJSON_AddStringToObject(o, "createdDate", ts);
  az_iso8601(az_num(repo, "deleted_at", 0), ts, sizeof ts);
  cJSON_AddStringToObject(o, "deletedDate", ts);
  cJSON *by = cJSON_AddObjectToObject(o, "deletedBy");
  cJSON_AddStringToObject(by, "displayName", az_str(repo, "deleted_by") ? az_str(repo, "deleted_by") : "");
  return o;
}

static cJSON *list(cJSON *value) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "count", cJSON_GetArraySize(value));
  cJSON_AddItemToObject(o, "value", value);
  return o;
}

static void no_project(az_resp *p, const char *name) {
  devops_error(p, 404, "ProjectDoesNotExistWithNameException", "TF200016: The following project does not exist: %s. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server.", name);
}

static void no_repo(az_resp *p, const char *name) {
  devops_error(p, 404, "GitRepositoryNotFoundException",
               "TF401019: The Git repository with name or identifier %s does not exist or you do not have "
               "permissions for the operation you are attempting.",
               name);
}

static cJSON *body_obj(az_req *r, az_resp *p) {
  cJSON *b = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
  if (!cJSON_IsObject(b)) {
    cJSON_Delete(b);
    devops_error(p, 400, "VssPropertyValidationException", "TF400898: An Internal Error Occurred. The request body is not a JSON object.");
    return NULL;
  }
  return b;
}

static void repos_list(az_req *r, az_resp *p, cJSON *org, cJSON *only) {
  cJSON *value = cJSON_CreateArray();
  cJSON *proj;
  cJSON_ArrayForEach(proj, cJSON_GetObjectItem(org, "projects")) {
    if (only && proj != only) continue;
    cJSON *repo;
    cJSON_ArrayForEach(repo, cJSON_GetObjectItem(proj, "repos")) {
      if (!az_bool(repo, "deleted", false)) cJSON_AddItemToArray(value, repo_json(r, org, proj, repo));
    }
  }
  az_resp_json(p, 200, list(value));
}

static void repo_create_req(az_req *r, az_resp *p, cJSON *org, cJSON *proj) {
  cJSON *b = body_obj(r, p);
  if (!b) return;
  const char *name = az_str(b, "name");
  const char *pid = az_str(cJSON_GetObjectItem(b, "project"), "id");
  if (pid && !az_ieq(pid, az_str(proj, "id")) && !az_ieq(pid, az_str(proj, "name"))) {
    devops_error(p, 400, "InvalidArgumentValueException", "The project id in the body does not match the project of the URL.");
  } else if (!valid_name(name)) {
    devops_error(p, 400, "InvalidArgumentValueException", "TF401025: '%s' is not a valid name for a Git repository.", name ? name : "");
  } else if (find_repo(proj, name, false)) {
    devops_error(p, 409, "GitRepositoryNameAlreadyExistsException", "TF400948: A Git repository with the name %s already exists.", name);
  } else {
    cJSON *repo = new_repo(proj, name, r->now);
    char err[256];
    if (repo_create(az_str(repo, "id"), NULL, 0, err, sizeof err) != 0) {
      cJSON_DeleteItemFromObject(cJSON_GetObjectItem(proj, "repos"), az_str(repo, "id"));
      devops_error(p, 500, "GitServerException", "%s", err);
    } else {
      char *refs;
      long long size;
      read_refs(az_str(repo, "id"), &refs, &size);
      store_refs(repo, refs, size);
      free(refs);
      az_resp_json(p, 201, repo_json(r, org, proj, repo));
    }
  }
  cJSON_Delete(b);
}

/* Routes /{org}/... when org is an Azure DevOps organisation of the estate. */
bool az_devops_route(az_req *r, az_resp *p) {
  if (r->nseg < 2) return false;
  cJSON *org = find_org(r->seg[0]);
  if (!org) return false;
  char user[128];
  if (!devops_auth(r, p, user, sizeof user)) return true;
  const char *m = r->method;
  /* /{org}/_apis/projects[/{p}] and /{org}/_apis/git/repositories */
  if (strcmp(r->seg[1], "_apis") == 0) {
    if (r->nseg >= 3 && strcasecmp(r->seg[2], "projects") == 0 && r->nseg <= 4 && strcmp(m, "GET") == 0) {
      if (r->nseg == 3) {
        cJSON *value = cJSON_CreateArray();
        cJSON *proj;
        cJSON_ArrayForEach(proj, cJSON_GetObjectItem(org, "projects")) cJSON_AddItemToArray(value, project_json(r, org, proj));
        az_resp_json(p, 200, list(value));
      } else {
        cJSON *proj = find_project(org, r->seg[3]);
        if (!proj) no_project(p, r->seg[3]);
        else az_resp_json(p, 200, project_json(r, org, proj));
      }
      return true;
    }
    if (r->nseg == 4 && strcasecmp(r->seg[2], "git") == 0 && strcasecmp(r->seg[3], "repositories") == 0 &&
        strcmp(m, "GET") == 0) {
      repos_list(r, p, org, NULL);
      return true;
    }
    devops_error(p, 404, "ApiResourceNotFoundException", "API resource location was not found for '%s %s'.", m, r->path);
    return true;
  }
  cJSON *proj = find_project(org, r->seg[1]);
  if (!proj) {
    no_project(p, r->seg[1]);
    return true;
  }
  if (r->nseg >= 3 && strcmp(r->seg[2], "_git") == 0) {
    /* git requests come here only when not served by the CGI path */
    no_repo(p, r->nseg >= 4 ? r->seg[3] : "");
    return true;
  }
  if (r->nseg < 4 || strcmp(r->seg[2], "_apis") != 0 || strcasecmp(r->seg[3], "git") != 0) {
    devops_error(p, 404, "ApiResourceNotFoundException", "API resource location was not found for '%s %s'.", m, r->path);
    return true;
  }
  if (r->nseg >= 5 && strcasecmp(r->seg[4], "repositories") == 0) {
    if (r->nseg == 5) {
      if (strcmp(m, "GET") == 0) repos_list(r, p, org, proj);
      else if (strcmp(m, "POST") == 0) repo_create_req(r, p, org, proj);
      else devops_error(p, 405, "RequestMethodNotAllowedException", "The requested resource does not support http method '%s'.", m);
      return true;
    }
    if (r->nseg == 6) {
      cJSON *repo = find_repo(proj, r->seg[5], false);
      if (!repo) {
        no_repo(p, r->seg[5]);
      } else if (strcmp(m, "GET") == 0) {
        az_resp_json(p, 200, repo_json(r, org, proj, repo));
      } else if (strcmp(m, "DELETE") == 0) {
        /* "Delete a git repository": 204, the repository goes to the recycle bin */
        az_set_bool(repo, "deleted", true);
        az_set_num(repo, "deleted_at", r->now);
        az_set_str(repo, "deleted_by", user);
        az_resp_empty(p, 204);
      } else {
        devops_error(p, 405, "RequestMethodNotAllowedException", "The requested resource does not support http method '%s'.", m);
      }
      return true;
    }
  }
  if (r->nseg >= 6 && strcasecmp(r->seg[4], "recycleBin") == 0 && strcasecmp(r->seg[5], "repositories") == 0) {
    if (r->nseg == 6 && strcmp(m, "GET") == 0) {
      cJSON *value = cJSON_CreateArray();
      cJSON *repo;
      cJSON_ArrayForEach(repo, cJSON_GetObjectItem(proj, "repos")) {
        if (az_bool(repo, "deleted", false)) cJSON_AddItemToArray(value, deleted_json(r, org, proj, repo));
      }
      az_resp_json(p, 200, list(value));
      return true;
    }
    if (r->nseg == 7) {
      cJSON *repo = find_repo(proj, r->seg[6], true);
      if (!repo) {
        no_repo(p, r->seg[6]);
      } else if (strcmp(m, "PATCH") == 0) {
        cJSON *b = body_obj(r, p);
        if (!b) return true;
        cJSON *del = cJSON_GetObjectItem(b, "deleted");
        if (!cJSON_IsFalse(del)) {
          devops_error(p, 400, "InvalidArgumentValueException", "The only supported change is {\"deleted\": false}.");
        } else if (find_repo(proj, az_str(repo, "name"), false)) {
          devops_error(p, 409, "GitRepositoryNameAlreadyExistsException", "TF400948: A Git repository with the name %s already exists.", az_str(repo, "name"));
        } else {
          cJSON_DeleteItemFromObject(repo, "deleted");
          cJSON_DeleteItemFromObject(repo, "deleted_at");
          cJSON_DeleteItemFromObject(repo, "deleted_by");
          az_resp_json(p, 200, repo_json(r, org, proj, repo));
        }
        cJSON_Delete(b);
      } else if (strcmp(m, "DELETE") == 0) {
        /* permanent: gone from the state (the bytes stay on disk for state snapshots) */
        cJSON_DeleteItemFromObject(cJSON_GetObjectItem(proj, "repos"), az_str(repo, "id"));
        az_resp_empty(p, 204);
      } else {
        devops_error(p, 405, "RequestMethodNotAllowedException", "The requested resource does not support http method '%s'.", m);
      }
      return true;
    }
  }
  devops_error(p, 404, "ApiResourceNotFoundException", "API resource location was not found for '%s %s'.", m, r->path);
  return true;
}

/* Deleted repositories stay in the recycle bin for 30 days, then are purged. */
void az_devops_tick(double now) {
  cJSON *org, *proj;
  cJSON_ArrayForEach(org, cJSON_GetObjectItem(cJSON_GetObjectItem(az_g.st, "devops"), "orgs")) {
    cJSON_ArrayForEach(proj, cJSON_GetObjectItem(org, "projects")) {
      cJSON *repos = cJSON_GetObjectItem(proj, "repos");
      cJSON *repo = repos ? repos->child : NULL;
      while (repo) {
        cJSON *next = repo->next;
        if (az_bool(repo, "deleted", false) && now >= az_num(repo, "deleted_at", now) + RECYCLE_DAYS * 86400.0)
          cJSON_Delete(cJSON_DetachItemViaPointer(repos, repo));
        repo = next;
      }
    }
  }
}

void az_devops_inventory(cJSON *items) {
  cJSON *org, *proj, *repo;
  cJSON_ArrayForEach(org, cJSON_GetObjectItem(cJSON_GetObjectItem(az_g.st, "devops"), "orgs")) {
    cJSON_ArrayForEach(proj, cJSON_GetObjectItem(org, "projects")) {
      cJSON_ArrayForEach(repo, cJSON_GetObjectItem(proj, "repos")) {
        const char *refs = az_str(repo, "refs");
        char sum[65];
        az_sha256_hex(refs ? refs : "", refs ? strlen(refs) : 0, sum);
        cJSON *o = cJSON_CreateObject();
        char *key = az_strdupf("repo:%s/%s/%s", az_str(org, "name"), az_str(proj, "name"), az_str(repo, "name"));
        cJSON_AddStringToObject(o, "id", az_str(repo, "id"));
        cJSON_AddNumberToObject(o, "size", az_num(repo, "size", 0));
        cJSON_AddStringToObject(o, "key", key);
        cJSON_AddStringToObject(o, "kind", "git-repo");
        cJSON_AddStringToObject(o, "state", az_bool(repo, "deleted", false) ? "soft-deleted" : "live");
        cJSON_AddStringToObject(o, "sha256", sum);
        cJSON_AddItemToArray(items, o);
        free(key);
      }
    }
  }
}

/* After PUT /state or a snapshot restore: make every repository's refs on
 * disk what the state records (objects are never deleted while azsim runs,
 * so earlier refs can be set again). Refs whose objects are missing stay as
 * they are; the state then records what the disk has. */
void az_devops_state_restored(void) {
  if (!az_g.data_dir[0]) return;
  cJSON *org, *proj, *repo;
  cJSON_ArrayForEach(org, cJSON_GetObjectItem(cJSON_GetObjectItem(az_g.st, "devops"), "orgs")) {
    cJSON_ArrayForEach(proj, cJSON_GetObjectItem(org, "projects")) {
      cJSON_ArrayForEach(repo, cJSON_GetObjectItem(proj, "repos")) {
        const char *id = az_str(repo, "id");
        const char *want = az_str(repo, "refs");
        if (!safe_id(id) || !want) continue;
        char *d = repo_dir(id);
        struct stat sb;
        bool exists = stat(d, &sb) == 0;
        char *have = NULL;
        long long size = 0;
        if (exists) read_refs(id, &have, &size);
        if (exists && strcmp(have, want) != 0) {
          /* update-ref --stdin: "update REF SHA" for the state's refs, "delete REF" for the rest */
          size_t cap = strlen(want) * 2 + strlen(have) * 2 + 64, len = 0;
          char *cmds = malloc(cap);
          cmds[0] = 0;
          char *w = strdup(want);
          char *save = NULL;
          for (char *line = strtok_r(w, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *sp = strchr(line, ' ');
            if (!sp) continue;
            len += (size_t)snprintf(cmds + len, cap - len, "update %s %.*s\n", sp + 1, (int)(sp - line), line);
          }
          free(w);
          char *h = strdup(have);
          for (char *line = strtok_r(h, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *sp = strchr(line, ' ');
            if (!sp) continue;
            char *needle = az_strdupf(" %s\n", sp + 1);
            bool kept = strstr(want, needle) != NULL;
            free(needle);
            if (!kept) len += (size_t)snprintf(cmds + len, cap - len, "delete %s\n", sp + 1);
          }
          free(h);
          if (git(d, NULL, cmds, len, NULL, "update-ref", "--stdin", NULL, NULL, NULL, NULL, NULL) != 0)
            fprintf(stderr, "azsim: devops: could not restore the refs of repository %s\n", id);
          free(cmds);
          free(have);
          read_refs(id, &have, &size);
        }
        if (exists) store_refs(repo, have, size);
        free(have);
        free(d);
      }
    }
  }
}

/* ---- git smart HTTP through git http-backend (CGI) ---- */

int az_devops_git_prepare(az_req *r, az_resp *p, az_git_cgi *g) {
  if (r->nseg < 5 || strcmp(r->seg[2], "_git") != 0) return 0;
  cJSON *org = find_org(r->seg[0]);
  if (!org) return 0;
  char user[128];
  if (!devops_auth(r, p, user, sizeof user)) return 1;
  cJSON *proj = find_project(org, r->seg[1]);
  if (!proj) {
    no_project(p, r->seg[1]);
    return 1;
  }
  cJSON *repo = find_repo(proj, r->seg[3], false);
  if (!repo) {
    size_t n = strlen(r->seg[3]);
    if (n > 4 && strcmp(r->seg[3] + n - 4, ".git") == 0) {
      char *base = strndup(r->seg[3], n - 4);
      repo = find_repo(proj, base, false);
      free(base);
    }
  }
  if (!repo || !safe_id(az_str(repo, "id"))) {
    no_repo(p, r->seg[3]);
    return 1;
  }
  const char *svc = NULL;
  if (r->nseg == 6 && strcmp(r->seg[4], "info") == 0 && strcmp(r->seg[5], "refs") == 0 && strcmp(r->method, "GET") == 0) {
    svc = az_query(r, "service");
    if (!svc || (strcmp(svc, "git-upload-pack") != 0 && strcmp(svc, "git-receive-pack") != 0)) {
      devops_error(p, 403, "GitUnsupportedProtocolException", "Only git's smart HTTP protocol is served (service=git-upload-pack or git-receive-pack).");
      return 1;
    }
  } else if (r->nseg == 5 && strcmp(r->method, "POST") == 0 &&
             (strcmp(r->seg[4], "git-upload-pack") == 0 || strcmp(r->seg[4], "git-receive-pack") == 0)) {
    svc = NULL;
  } else {
    no_repo(p, r->seg[3]);
    return 1;
  }
  memset(g, 0, sizeof *g);
  snprintf(g->repo_id, sizeof g->repo_id, "%s", az_str(repo, "id"));
  snprintf(g->user, sizeof g->user, "%s", user);
  if (svc) {
    snprintf(g->path_info, sizeof g->path_info, "/devops/%s.git/info/refs", g->repo_id);
    snprintf(g->query, sizeof g->query, "service=%s", svc);
  } else {
    snprintf(g->path_info, sizeof g->path_info, "/devops/%s.git/%s", g->repo_id, r->seg[4]);
  }
  g->push = r->nseg == 5 && strcmp(r->seg[4], "git-receive-pack") == 0;
  return 2;
}

static void setenvf(const char **env, int *n, char **owned, const char *fmt, const char *v) {
  if (!v) return;
  char *s = az_strdupf(fmt, v);
  owned[*n] = s;
  env[(*n)++] = s;
}

void az_devops_git_run(az_req *r, az_resp *p, az_git_cgi *g) {
  const char *env[24];
  char *owned[24];
  int n = 0;
  setenvf(env, &n, owned, "GIT_PROJECT_ROOT=%s", az_g.data_dir);
  setenvf(env, &n, owned, "GIT_HTTP_EXPORT_ALL=%s", "1");
  setenvf(env, &n, owned, "PATH_INFO=%s", g->path_info);
  setenvf(env, &n, owned, "REQUEST_METHOD=%s", r->method);
  setenvf(env, &n, owned, "QUERY_STRING=%s", g->query);
  setenvf(env, &n, owned, "CONTENT_TYPE=%s", az_header(r, "Content-Type"));
  char cl[32];
  snprintf(cl, sizeof cl, "%zu", r->body_len);
  if (strcmp(r->method, "POST") == 0) setenvf(env, &n, owned, "CONTENT_LENGTH=%s", cl);
  setenvf(env, &n, owned, "HTTP_CONTENT_ENCODING=%s", az_header(r, "Content-Encoding"));
  setenvf(env, &n, owned, "GIT_PROTOCOL=%s", az_header(r, "Git-Protocol"));
  setenvf(env, &n, owned, "REMOTE_USER=%s", g->user);
  setenvf(env, &n, owned, "REMOTE_ADDR=%s", "127.0.0.1");
  setenvf(env, &n, owned, "GATEWAY_INTERFACE=%s", "CGI/1.1");
  setenvf(env, &n, owned, "SERVER_PROTOCOL=%s", "HTTP/1.1");
  env[n] = NULL;
  char **full = git_env(env);
  for (int i = 0; i < n; i++) free(owned[i]);
  const char *argv[] = {"git", "http-backend", NULL};
  char *out = NULL;
  size_t len = 0;
  int rc = az_run((char *const *)argv, full, r->body, r->body_len, &out, &len, GIT_OUT_MAX, 120000);
  env_free(full);
  if (rc < 0 || !out) {
    free(out);
    devops_error(p, 500, "GitServerException", "git http-backend failed.");
    return;
  }
  /* CGI response: header lines, a blank line, the body */
  char *hend = NULL, *body = NULL;
  for (size_t i = 0; i + 1 < len; i++) {
    if (out[i] == '\n' && out[i + 1] == '\n') {
      hend = out + i;
      body = out + i + 2;
      break;
    }
    if (i + 3 < len && memcmp(out + i, "\r\n\r\n", 4) == 0) {
      hend = out + i;
      body = out + i + 4;
      break;
    }
  }
  if (!hend) {
    free(out);
    /* http-backend stops without a reply on requests it cannot parse */
    devops_error(p, 400, "GitProtocolException", "git could not process the request.");
    return;
  }
  *hend = 0;
  int status = 200;
  char *save = NULL;
  for (char *line = strtok_r(out, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
    char *colon = strchr(line, ':');
    if (!colon) continue;
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ') v++;
    if (strcasecmp(line, "Status") == 0) {
      int s = atoi(v);
      if (s >= 100 && s <= 599) status = s;
    } else if (strcasecmp(line, "Content-Type") == 0) {
      snprintf(p->ctype, sizeof p->ctype, "%s", v);
    } else if (strcasecmp(line, "Content-Length") != 0) {
      az_resp_header(p, line, "%s", v);
    }
  }
  size_t blen = len - (size_t)(body - out);
  free(p->body);
  p->body = malloc(blen + 1);
  if (p->body) {
    memcpy(p->body, body, blen);
    p->body[blen] = 0;
  }
  p->len = p->body ? blen : 0;
  p->status = status;
  free(out);
  if (g->push) read_refs(g->repo_id, &g->refs, &g->size);
}

void az_devops_git_done(az_git_cgi *g) {
  if (!g->refs) return;
  cJSON *org, *proj;
  cJSON_ArrayForEach(org, cJSON_GetObjectItem(cJSON_GetObjectItem(az_g.st, "devops"), "orgs")) {
    cJSON_ArrayForEach(proj, cJSON_GetObjectItem(org, "projects")) {
      cJSON *repo = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(proj, "repos"), g->repo_id);
      if (repo) store_refs(repo, g->refs, g->size);
    }
  }
  free(g->refs);
  g->refs = NULL;
}
