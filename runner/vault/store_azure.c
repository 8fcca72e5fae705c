/* The Azure Blob backend.
 *
 * Never overwrite: Put Blob and Put Block List go with If-None-Match: *.
 * Before a write the container's immutability policy is read through ARM
 * (the storage account is found by name across the credential's
 * subscriptions): it must be Locked with a retention of at least
 * vault.min_retention_days, otherwise the vault refuses, unless
 * vault.allow_unlocked (practice drills), which is recorded in every
 * catalog entry written and in the command's output.
 *
 * Resume: blocks are uploaded with ids "<index>-<first 55 hex of SHA-256>",
 * and every block the service acknowledged is appended to a local resume
 * file (<state_dir>/<sha of name>.blocks: "index sha256 length"). The
 * service does not serve uncommitted blocks back, so a block is reused when
 * the resume file lists it with the source block's hash: its id then names
 * exactly that content. If the service dropped the uncommitted blocks (after
 * 7 days, or another writer committed), Put Block List fails, the resume
 * file is discarded and the next run sends everything. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "azure/azure.h"
#include "core/log.h"
#include "core/util.h"
#include "plugin/azure_session.h"
#include "vault/store.h"

#define STORAGE_API "2023-01-01"
#define SUBS_API "2022-12-01"

typedef struct azure_store {
    rb_vault_store base;
    rb_azure_session *session;
    rb_blob_client *blob;
    char *container;
    char *unlocked_note;
    int policy_days; /* locked policy retention, 0 unknown */
} azure_store;

typedef struct block_rec {
    char sha[65];
    size_t len;
    int present;
} block_rec;

struct rb_vault_upload {
    azure_store *s;
    char *name, *resume_path;
    int resume_fd;
    pthread_mutex_t mu;
    block_rec *recs;
    size_t n_recs;
};

static rb_status az_status(rb_status st, const rb_az_err *e, rb_vault_err *err, const char *what,
                           const char *name)
{
    if (st == RB_OK)
        return st;
    if (e->http_status == 409 && st != RB_EEXISTS)
        st = RB_EDENIED;
    return rb_vault_fail(err, st, "%s %s: %s%s%s", what, name,
                         st == RB_EEXISTS ? "already exists; the vault never overwrites" : e->msg,
                         e->code[0] ? " " : "", e->code);
}

static rb_status az_put_once(rb_vault_store *bs, const char *name, const void *data, size_t len,
                             rb_vault_err *err)
{
    azure_store *s = (azure_store *)bs;
    rb_az_err e = {0};
    rb_status st = rb_blob_put(s->blob, s->container, name, data, len, "application/octet-stream",
                               0, NULL, NULL, &e);
    return az_status(st, &e, err, "cannot write", name);
}

static void block_id(uint32_t idx, const char sha[65], char out[65])
{
    snprintf(out, 65, "%08x-%.55s", idx, sha);
}

static rb_status az_upload_begin(rb_vault_store *bs, const char *name, uint64_t size,
                                 size_t block_size, rb_vault_upload **out, rb_vault_err *err)
{
    (void)size;
    azure_store *s = (azure_store *)bs;
    *out = NULL;
    rb_az_err e = {0};
    rb_blob_props props;
    rb_status st = rb_blob_get_properties(s->blob, s->container, name, NULL, &props, &e);
    if (st == RB_OK)
        return rb_vault_fail(err, RB_EEXISTS,
                             "vault object %s already exists; the vault never overwrites", name);
    if (st != RB_ENOTFOUND)
        return az_status(st, &e, err, "cannot check", name);
    rb_vault_upload *u = rb_xcalloc(1, sizeof *u);
    u->s = s;
    u->name = rb_xstrdup(name);
    pthread_mutex_init(&u->mu, NULL);
    char key[65];
    rb_sha256_hex(name, strlen(name), key);
    u->resume_path = rb_xasprintf("%s/%s.blocks", s->base.state_dir, key);
    char hdr[64];
    snprintf(hdr, sizeof hdr, "# block_size %zu\n", block_size);
    FILE *f = fopen(u->resume_path, "r");
    int same = 0;
    if (f) {
        char line[256];
        same = fgets(line, sizeof line, f) && strcmp(line, hdr) == 0;
        while (same && fgets(line, sizeof line, f)) {
            unsigned long idx;
            char sha[65];
            size_t len;
            if (!strchr(line, '\n') ||
                sscanf(line, "%lu %64[0-9a-f] %zu", &idx, sha, &len) != 3 || strlen(sha) != 64 ||
                idx > UINT32_MAX)
                continue;
            if (idx >= u->n_recs) {
                u->recs = rb_xrealloc(u->recs, (idx + 1) * sizeof *u->recs);
                memset(u->recs + u->n_recs, 0, (idx + 1 - u->n_recs) * sizeof *u->recs);
                u->n_recs = idx + 1;
            }
            memcpy(u->recs[idx].sha, sha, 65);
            u->recs[idx].len = len;
            u->recs[idx].present = 1;
        }
        fclose(f);
    }
    u->resume_fd = open(u->resume_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
                        (same ? 0 : O_TRUNC), 0644);
    if (u->resume_fd < 0 || (!same && write(u->resume_fd, hdr, strlen(hdr)) < 0)) {
        st = rb_vault_fail(err, RB_EIO, "cannot write the resume file %s: %s", u->resume_path,
                           strerror(errno));
        bs->ops->upload_free(u, 1);
        return st;
    }
    *out = u;
    return RB_OK;
}

static int az_upload_has_block(rb_vault_upload *u, uint32_t idx, const char sha[65], size_t len)
{
    pthread_mutex_lock(&u->mu);
    int ok = idx < u->n_recs && u->recs[idx].present && u->recs[idx].len == len &&
             strcmp(u->recs[idx].sha, sha) == 0;
    pthread_mutex_unlock(&u->mu);
    return ok;
}

static rb_status az_upload_put_block(rb_vault_upload *u, uint32_t idx, const void *data,
                                     size_t len, const char sha[65], rb_vault_err *err)
{
    char id[65];
    block_id(idx, sha, id);
    /* Content-MD5 lets the service check the block in transit. Azurite then
     * checks that MD5 (native code) instead of computing a CRC64 of the block
     * in JavaScript, which made Put Block about 4x slower (docs/vault.md). */
    unsigned char md5[EVP_MAX_MD_SIZE];
    unsigned int md5_len = 0;
    if (EVP_Digest(data, len, md5, &md5_len, EVP_md5(), NULL) != 1 || md5_len != 16)
        md5_len = 0;
    rb_az_err e = {0};
    rb_status st = rb_blob_put_block_md5(u->s->blob, u->s->container, u->name, id, data, len,
                                         md5_len ? md5 : NULL, NULL, &e);
    if (st != RB_OK)
        return az_status(st, &e, err, "cannot upload a block of", u->name);
    char line[128];
    int n = snprintf(line, sizeof line, "%u %s %zu\n", idx, sha, len);
    if (write(u->resume_fd, line, (size_t)n) != n)
        return rb_vault_fail(err, RB_EIO, "cannot append to %s: %s", u->resume_path,
                             strerror(errno));
    pthread_mutex_lock(&u->mu);
    if (idx >= u->n_recs) {
        u->recs = rb_xrealloc(u->recs, (idx + 1) * sizeof *u->recs);
        memset(u->recs + u->n_recs, 0, (idx + 1 - u->n_recs) * sizeof *u->recs);
        u->n_recs = idx + 1;
    }
    memcpy(u->recs[idx].sha, sha, 65);
    u->recs[idx].len = len;
    u->recs[idx].present = 1;
    pthread_mutex_unlock(&u->mu);
    return RB_OK;
}

static rb_status az_upload_commit(rb_vault_upload *u, uint32_t n_blocks, uint64_t size,
                                  rb_vault_err *err)
{
    (void)size;
    rb_az_err e = {0};
    rb_status st;
    if (n_blocks == 0) {
        st = rb_blob_put(u->s->blob, u->s->container, u->name, "", 0,
                         "application/octet-stream", 0, NULL, NULL, &e);
    } else {
        char (*ids)[65] = rb_xcalloc(n_blocks, sizeof *ids);
        const char **ptrs = rb_xcalloc(n_blocks, sizeof *ptrs);
        pthread_mutex_lock(&u->mu);
        for (uint32_t i = 0; i < n_blocks; i++) {
            block_id(i, i < u->n_recs ? u->recs[i].sha : "", ids[i]);
            ptrs[i] = ids[i];
        }
        pthread_mutex_unlock(&u->mu);
        st = rb_blob_put_block_list(u->s->blob, u->s->container, u->name, ptrs, n_blocks,
                                    "application/octet-stream", 0, NULL, &e);
        free(ptrs);
        free(ids);
    }
    if (st == RB_OK) {
        unlink(u->resume_path);
        return RB_OK;
    }
    if (st != RB_EEXISTS && e.http_status == 400) {
        /* The uncommitted blocks are gone: start over next time. */
        unlink(u->resume_path);
        return rb_vault_fail(err, st, "the service no longer holds the uploaded blocks of %s "
                             "(%s); run the put again to send them anew", u->name, e.msg);
    }
    return az_status(st, &e, err, "cannot commit", u->name);
}

/* Server-side copy: the service reads source_url itself, block by block
 * (Put Block From URL; ids of one length, "copy-" and the index), then the
 * block list is committed with If-None-Match: *. An interrupted copy is
 * simply done again: the uncommitted blocks are replaced. */
static rb_status az_copy_from_url(rb_vault_store *bs, const char *name, const char *source_url,
                                  uint64_t size, size_t block_size, rb_vault_err *err)
{
    azure_store *s = (azure_store *)bs;
    if (block_size == 0)
        return rb_vault_fail(err, RB_EINVAL, "a copy needs a block size");
    uint64_t n = size ? (size + block_size - 1) / block_size : 0;
    if (n == 0 || n > 50000)
        return rb_vault_fail(err, RB_EINVAL, "cannot copy %s: %llu blocks (1 to 50,000)", name,
                             (unsigned long long)n);
    char (*ids)[32] = rb_xcalloc((size_t)n, sizeof *ids);
    const char **ptrs = rb_xcalloc((size_t)n, sizeof *ptrs);
    rb_az_err e = {0};
    rb_status st = RB_OK;
    for (uint64_t i = 0; i < n && st == RB_OK; i++) {
        snprintf(ids[i], sizeof ids[i], "copy-%012llu", (unsigned long long)i);
        ptrs[i] = ids[i];
        uint64_t off = i * block_size;
        uint64_t len = size - off < block_size ? size - off : block_size;
        st = rb_blob_put_block_from_url(s->blob, s->container, name, ids[i], source_url, off, len,
                                        NULL, &e);
    }
    if (st == RB_OK)
        st = rb_blob_put_block_list(s->blob, s->container, name, ptrs, (size_t)n,
                                    "application/octet-stream", 0, NULL, &e);
    free(ptrs);
    free(ids);
    return az_status(st, &e, err, "cannot copy into", name);
}

static void az_upload_free(rb_vault_upload *u, int keep)
{
    if (!u)
        return;
    if (u->resume_fd >= 0)
        close(u->resume_fd);
    if (!keep && u->resume_path)
        unlink(u->resume_path);
    pthread_mutex_destroy(&u->mu);
    free(u->recs);
    free(u->name);
    free(u->resume_path);
    free(u);
}

static rb_status az_get(rb_vault_store *bs, const char *name, uint64_t off, void *buf, size_t len,
                        size_t *got, rb_vault_err *err)
{
    azure_store *s = (azure_store *)bs;
    rb_az_err e = {0};
    *got = 0;
    if (len == 0)
        return RB_OK;
    rb_status st = rb_blob_get_into(s->blob, s->container, name, off, len, buf, len, NULL, got, &e);
    if (st == RB_ENOTFOUND)
        return rb_vault_fail(err, st, "%s is not in the container", name);
    return az_status(st, &e, err, "cannot read", name);
}

static rb_status az_get_stream(rb_vault_store *bs, const char *name, uint64_t off, uint64_t len,
                               int (*fn)(void *user, const void *data, size_t len), void *user,
                               rb_vault_err *err)
{
    azure_store *s = (azure_store *)bs;
    rb_az_err e = {0};
    /* At least 10 MB/s before an attempt counts as stuck. */
    long ms = 60000 + (long)(len / 10000);
    rb_az_call_opts o = {.try_timeout_ms = ms, .deadline_ms = 2 * ms};
    rb_status st = rb_blob_get_stream(s->blob, s->container, name, off, len, fn, user, &o, &e);
    if (st == RB_ENOTFOUND)
        return rb_vault_fail(err, st, "%s is not in the container", name);
    return az_status(st, &e, err, "cannot read", name);
}

static rb_status az_stat(rb_vault_store *bs, const char *name, uint64_t *size, rb_vault_err *err)
{
    azure_store *s = (azure_store *)bs;
    rb_az_err e = {0};
    rb_blob_props p;
    rb_status st = rb_blob_get_properties(s->blob, s->container, name, NULL, &p, &e);
    if (st == RB_ENOTFOUND)
        return rb_vault_fail(err, st, "%s is not in the container", name);
    if (st == RB_OK)
        *size = p.size;
    return az_status(st, &e, err, "cannot stat", name);
}

static rb_status az_list(rb_vault_store *bs, const char *prefix, rb_vault_list_fn fn, void *user,
                         rb_vault_err *err)
{
    azure_store *s = (azure_store *)bs;
    rb_az_err e = {0};
    rb_blob_lister *l = NULL;
    rb_status st = rb_blob_lister_new(s->blob, s->container, prefix, 0, NULL, &l, &e);
    while (st == RB_OK) {
        rb_blob_item it;
        int has = 0;
        st = rb_blob_lister_next(l, &it, &has, &e);
        if (st != RB_OK || !has || fn(user, it.name, it.size))
            break;
    }
    rb_blob_lister_free(l);
    return az_status(st, &e, err, "cannot list", s->container);
}

static rb_status az_del(rb_vault_store *bs, const char *name, rb_vault_err *err)
{
    azure_store *s = (azure_store *)bs;
    rb_az_err e = {0};
    rb_status st = rb_blob_delete(s->blob, s->container, name, NULL, &e);
    if (st == RB_ENOTFOUND)
        return rb_vault_fail(err, st, "%s is not in the container", name);
    return az_status(st, &e, err, "cannot delete", name);
}

static int64_t az_protected_until(rb_vault_store *bs, const char *name)
{
    azure_store *s = (azure_store *)bs;
    if (s->policy_days <= 0)
        return 0;
    rb_az_err e = {0};
    rb_blob_props p;
    if (rb_blob_get_properties(s->blob, s->container, name, NULL, &p, &e) != RB_OK)
        return 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!strptime(p.last_modified, "%a, %d %b %Y %H:%M:%S GMT", &tm))
        return 0;
    return (int64_t)timegm(&tm) + (int64_t)s->policy_days * 86400;
}

static void az_free(rb_vault_store *bs)
{
    azure_store *s = (azure_store *)bs;
    if (!s)
        return;
    rb_blob_client_free(s->blob);
    rb_azure_session_free(s->session);
    free(s->container);
    free(s->unlocked_note);
    free(s->base.state_dir);
    free(s);
}

static const rb_vault_store_ops azure_ops = {
    .kind = "azure-blob",
    .put_once = az_put_once,
    .upload_begin = az_upload_begin,
    .upload_has_block = az_upload_has_block,
    .upload_put_block = az_upload_put_block,
    .upload_commit = az_upload_commit,
    .upload_free = az_upload_free,
    .get = az_get,
    .stat = az_stat,
    .list = az_list,
    .del = az_del,
    .protected_until = az_protected_until,
    .free = az_free,
    .get_stream = az_get_stream,
    .copy_from_url = az_copy_from_url,
};

/* Finds the storage account's resource id by name across subscriptions. */
static rb_status find_account(rb_arm *arm, const char *account, const rb_az_call_opts *o,
                              char **id, rb_az_err *e)
{
    *id = NULL;
    rb_arm_pager *subs = NULL;
    rb_status st = rb_arm_pager_new(arm, "/subscriptions", SUBS_API, o, &subs, e);
    while (st == RB_OK && !*id) {
        const cJSON *sub = NULL;
        st = rb_arm_pager_next(subs, &sub, e);
        if (st != RB_OK || !sub)
            break;
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(sub, "subscriptionId");
        if (!cJSON_IsString(sid))
            continue;
        char *path = rb_xasprintf("/subscriptions/%s/providers/Microsoft.Storage/storageAccounts",
                                  sid->valuestring);
        rb_arm_pager *accts = NULL;
        st = rb_arm_pager_new(arm, path, STORAGE_API, o, &accts, e);
        free(path);
        while (st == RB_OK) {
            const cJSON *a = NULL;
            st = rb_arm_pager_next(accts, &a, e);
            if (st != RB_OK || !a)
                break;
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(a, "name");
            const cJSON *i = cJSON_GetObjectItemCaseSensitive(a, "id");
            if (cJSON_IsString(n) && cJSON_IsString(i) && strcasecmp(n->valuestring, account) == 0) {
                *id = rb_xstrdup(i->valuestring);
                break;
            }
        }
        rb_arm_pager_free(accts);
    }
    rb_arm_pager_free(subs);
    if (st == RB_OK && !*id)
        return rb_az_fail(e, RB_ENOTFOUND, "no storage account named %s in the subscriptions "
                          "the credential can read", account);
    return st;
}

/* Checks the container's immutability policy. RB_OK when locked with
 * enough retention (*days set); RB_EDENIED with the reason otherwise;
 * other statuses when ARM could not answer. */
static rb_status check_policy(rb_azure *az, const rb_vault_config *cfg, int *days, char *why,
                              size_t whylen)
{
    rb_az_err e = {0};
    char *id = NULL;
    /* With the override the answer only feeds the note: one quick try. */
    rb_retry_policy once = {.max_attempts = 1};
    rb_az_call_opts o = {.deadline_ms = cfg->allow_unlocked ? 10000 : 60000,
                         .retry = cfg->allow_unlocked ? &once : NULL};
    rb_status st = find_account(rb_azure_arm(az), cfg->account, &o, &id, &e);
    if (st != RB_OK) {
        snprintf(why, whylen, "the immutability policy could not be read: %s", e.msg);
        return st;
    }
    char *path = rb_xasprintf("%s/blobServices/default/containers/%s/immutabilityPolicies/default",
                              id, cfg->container);
    free(id);
    cJSON *body = NULL;
    long http = 0;
    st = rb_arm_request(rb_azure_arm(az), "GET", path, STORAGE_API, NULL, &o, &http, &body, &e);
    free(path);
    if (st == RB_ENOTFOUND || http == 404) {
        snprintf(why, whylen, "container %s has no immutability policy", cfg->container);
        cJSON_Delete(body);
        return RB_EDENIED;
    }
    if (st != RB_OK) {
        snprintf(why, whylen, "the immutability policy could not be read: %s", e.msg);
        return st;
    }
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(body, "properties");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(props, "state");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(props,
                                                      "immutabilityPeriodSinceCreationInDays");
    int locked = cJSON_IsString(state) && strcasecmp(state->valuestring, "Locked") == 0;
    *days = cJSON_IsNumber(d) ? (int)d->valuedouble : 0;
    int min = cfg->min_retention_days > 0 ? cfg->min_retention_days : 30;
    cJSON_Delete(body);
    if (!locked) {
        snprintf(why, whylen, "the immutability policy of container %s is not locked "
                 "(state %s, %d days)", cfg->container,
                 cJSON_IsString(state) ? "other" : "unknown", *days);
        return RB_EDENIED;
    }
    if (*days < min) {
        snprintf(why, whylen, "the locked immutability policy of container %s keeps blobs %d "
                 "days, less than vault.min_retention_days (%d)", cfg->container, *days, min);
        return RB_EDENIED;
    }
    return RB_OK;
}

rb_status rb_vault_store_azure_open(const rb_config *cfg, int need_write, rb_vault_store **out,
                                    rb_vault_err *err)
{
    *out = NULL;
    const rb_vault_config *vc = &cfg->vault;
    if (!vc->account || !vc->container)
        return rb_vault_fail(err, RB_EINVAL, "vault.kind azure-blob needs vault.account and "
                             "vault.container");
    char msg[512];
    char *key = NULL, *sas = NULL;
    if ((vc->account_key_env && *vc->account_key_env) || (vc->account_key_file && *vc->account_key_file)) {
        key = rb_config_read_secret(vc->account_key_env, vc->account_key_file,
                                    "vault account key", msg, sizeof msg);
        if (!key)
            return rb_vault_fail(err, RB_EINVAL, "%s", msg);
        rb_secret_register(key);
    } else if ((vc->sas_env && *vc->sas_env) || (vc->sas_file && *vc->sas_file)) {
        sas = rb_config_read_secret(vc->sas_env, vc->sas_file, "vault SAS", msg, sizeof msg);
        if (!sas)
            return rb_vault_fail(err, RB_EINVAL, "%s", msg);
        rb_secret_register(sas);
    }
    azure_store *s = rb_xcalloc(1, sizeof *s);
    s->base.ops = &azure_ops;
    s->container = rb_xstrdup(vc->container);
    s->session = rb_azure_session_new(cfg, NULL);
    rb_azure *az = NULL;
    rb_status st = rb_azure_session_get(s->session, &az, msg, sizeof msg);
    rb_az_err e = {0};
    if (st != RB_OK) {
        rb_vault_fail(err, st, "cannot set up Azure access: %s", msg);
        goto fail;
    }
    st = rb_azure_blob_client(az, vc->account, vc->endpoint, key, sas, &s->blob, &e);
    if (st != RB_OK) {
        rb_vault_fail(err, st, "cannot create the Blob client: %s", e.msg);
        goto fail;
    }
    /* Resume state is local, per account and container. */
    s->base.state_dir = rb_xasprintf(".rebound/vault-state/%s/%s", vc->account, vc->container);
    if (rb_mkdir_p(s->base.state_dir) != 0) {
        st = rb_vault_fail(err, RB_EIO, "cannot create %s: %s", s->base.state_dir,
                           strerror(errno));
        goto fail;
    }
    if (need_write) {
        char why[2300];
        int days = 0;
        st = check_policy(az, vc, &days, why, sizeof why);
        if (st == RB_OK) {
            s->policy_days = days;
        } else if (vc->allow_unlocked) {
            s->unlocked_note = rb_xasprintf("writing to a container that is not verified as "
                                            "locked-immutable (vault.allow_unlocked): %s", why);
            st = RB_OK;
        } else {
            rb_vault_fail(err, RB_EDENIED, "refusing to write to the vault: %s. A backup vault "
                          "needs a locked time-based immutability policy of at least %d days; "
                          "set vault.allow_unlocked: true only for practice drills", why,
                          vc->min_retention_days > 0 ? vc->min_retention_days : 30);
            st = RB_EDENIED;
            goto fail;
        }
    }
    free(key);
    free(sas);
    *out = &s->base;
    return RB_OK;
fail:
    free(key);
    free(sas);
    az_free(&s->base);
    return st;
}

const char *rb_vault_store_azure_unlocked_note(const rb_vault_store *s)
{
    if (!s || s->ops != &azure_ops)
        return NULL;
    return ((const azure_store *)s)->unlocked_note;
}
