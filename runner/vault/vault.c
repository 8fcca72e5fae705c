/* The vault object: opening a backend from the config, writing a set
 * (objects, then manifest, then the signed catalog entry), and reading the
 * catalog back. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "vault/internal.h"

#define CATALOG_FORMAT "rebound-vault-catalog/1"
#define DEFAULT_BLOCK_SIZE ((size_t)8 << 20)

rb_vault *rb_vault_new(rb_vault_store *store, rb_vault_key *signing, rb_vault_key *public_key,
                       size_t block_size, int retention_days)
{
    rb_vault *v = rb_xcalloc(1, sizeof *v);
    v->store = store;
    v->signing = signing;
    v->public_key = public_key;
    v->block_size = block_size ? block_size : DEFAULT_BLOCK_SIZE;
    v->retention_days = retention_days > 0 ? retention_days : 30;
    pthread_mutex_init(&v->keys_mu, NULL);
    pthread_cond_init(&v->keys_cv, NULL);
    return v;
}

void rb_vault_close(rb_vault *v)
{
    if (!v)
        return;
    if (v->store)
        v->store->ops->free(v->store);
    rb_vault_key_free(v->signing);
    rb_vault_key_free(v->public_key);
    free(v->unlocked_note);
    free(v->active_keys);
    pthread_cond_destroy(&v->keys_cv);
    pthread_mutex_destroy(&v->keys_mu);
    free(v);
}

rb_vault_store *rb_vault_store_of(rb_vault *v)
{
    return v->store;
}

const char *rb_vault_unlocked_note(const rb_vault *v)
{
    return v->unlocked_note;
}

void rb_vault_set_unlocked_note(rb_vault *v, const char *note)
{
    free(v->unlocked_note);
    v->unlocked_note = note ? rb_xstrdup(note) : NULL;
}

const rb_vault_key *rb_vault_verify_key(const rb_vault *v)
{
    return v->public_key ? v->public_key : v->signing;
}

int64_t rb_vault_now(void)
{
    const char *env = getenv("REBOUND_VAULT_NOW");
    if (env && *env) {
        char *end;
        long long t = strtoll(env, &end, 10);
        if (*end == '\0')
            return t;
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *rest = strptime(env, "%Y-%m-%dT%H:%M:%S", &tm);
        if (rest && (*rest == 'Z' || *rest == '\0'))
            return (int64_t)timegm(&tm);
    }
    return (int64_t)time(NULL);
}

static void iso_of(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *rb_vault_object_path(const char *set_id, const char *object)
{
    return rb_xasprintf("sets/%s/data/%s", set_id, object);
}

static char *manifest_path(const char *set_id)
{
    return rb_xasprintf("sets/%s/manifest.json", set_id);
}

static char *catalog_path(const char *set_id)
{
    return rb_xasprintf("catalog/%s.json", set_id);
}

static char *hold_path(const char *set_id)
{
    return rb_xasprintf("sets/%s/legal-hold", set_id);
}

static int valid_id(const char *s)
{
    if (!s || !*s || strlen(s) > 80)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static int valid_object_name(const char *s)
{
    if (!s || !*s || strlen(s) > 200 || s[0] == '.' || s[0] == '/')
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == '\\' || (s[0] == '/' && s[1] == '.'))
            return 0;
    return 1;
}

rb_status rb_vault_read_small(rb_vault_store *s, const char *name, size_t max, char **data,
                              size_t *len, rb_vault_err *err)
{
    *data = NULL;
    uint64_t size;
    rb_status st = s->ops->stat(s, name, &size, err);
    if (st != RB_OK)
        return st;
    if (size > max)
        return rb_vault_fail(err, RB_ECORRUPT, "%s is too large (%llu bytes)", name,
                             (unsigned long long)size);
    char *buf = rb_xmalloc((size_t)size + 1);
    size_t got = 0;
    st = s->ops->get(s, name, 0, buf, (size_t)size, &got, err);
    if (st != RB_OK) {
        free(buf);
        return st;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return RB_OK;
}

/* ---- pending sets (resume) -------------------------------------------------- */

static char *pending_path(rb_vault *v, const char *resume_key)
{
    char k[65];
    rb_sha256_hex(resume_key, strlen(resume_key), k);
    return rb_xasprintf("%s/pending-%s", v->store->state_dir, k);
}

static int pending_read(const char *path, char *set_id, size_t cap, int64_t *created)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char id[128];
    long long c;
    int ok = fscanf(f, "%127s %lld", id, &c) == 2 && valid_id(id) && strlen(id) < cap;
    fclose(f);
    if (!ok)
        return -1;
    snprintf(set_id, cap, "%s", id);
    *created = c;
    return 0;
}

static rb_status pending_write(const char *path, const char *set_id, int64_t created,
                               rb_vault_err *err)
{
    char *tmp = rb_xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int ok = f && fprintf(f, "%s %lld\n", set_id, (long long)created) > 0 && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    if (f)
        fclose(f);
    ok = ok && rename(tmp, path) == 0;
    rb_status st = ok ? RB_OK
                      : rb_vault_fail(err, RB_EIO, "cannot record the pending set in %s: %s",
                                      path, strerror(errno));
    free(tmp);
    return st;
}

static void new_set_id(int64_t now, char *out, size_t cap)
{
    unsigned char r[4];
    if (RAND_bytes(r, sizeof r) != 1)
        rb_die_oom();
    char hex[9], t[32];
    rb_hex(r, 4, hex);
    time_t tt = (time_t)now;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(t, sizeof t, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(out, cap, "%s-%s", t, hex);
}

/* Writes a small object once; finding it already there with the same bytes
 * (a resumed set) is fine. */
static rb_status put_idempotent(rb_vault_store *s, const char *name, const char *data,
                                size_t len, rb_vault_err *err)
{
    rb_status st = s->ops->put_once(s, name, data, len, err);
    if (st != RB_EEXISTS)
        return st;
    char *have = NULL;
    size_t hl = 0;
    rb_vault_err e2;
    if (rb_vault_read_small(s, name, len + 1, &have, &hl, &e2) == RB_OK && hl == len &&
        memcmp(have, data, len) == 0) {
        free(have);
        return RB_OK;
    }
    free(have);
    return rb_vault_fail(err, RB_EEXISTS,
                         "vault object %s already exists with other content; the vault never "
                         "overwrites", name);
}

static char *catalog_payload(rb_vault *v, const rb_vault_manifest *m, const char *mname,
                             const char *msha, size_t mlen, uint64_t bytes)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "set_id", m->set_id);
    cJSON_AddStringToObject(p, "manifest", mname);
    cJSON_AddStringToObject(p, "manifest_sha256", msha);
    cJSON_AddNumberToObject(p, "manifest_size", (double)mlen);
    cJSON_AddStringToObject(p, "source_id", m->source_id);
    cJSON_AddStringToObject(p, "kind", m->kind);
    cJSON_AddStringToObject(p, "created", m->created);
    cJSON_AddNumberToObject(p, "created_unix", (double)m->created_s);
    cJSON_AddNumberToObject(p, "retention_days", m->retention_days);
    cJSON_AddNumberToObject(p, "objects", (double)m->n_objects);
    cJSON_AddNumberToObject(p, "bytes", (double)bytes);
    cJSON_AddBoolToObject(p, "unlocked", v->unlocked_note != NULL);
    if (v->unlocked_note)
        cJSON_AddStringToObject(p, "unlocked_note", v->unlocked_note);
    char *s = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (!s)
        rb_die_oom();
    char *out = rb_xstrdup(s);
    cJSON_free(s);
    return out;
}

static int key_active(const rb_vault *v, const char *key)
{
    for (size_t i = 0; i < v->n_active; i++)
        if (strcmp(v->active_keys[i], key) == 0)
            return 1;
    return 0;
}

/* Waits until no other put holds key, then holds it. */
static void key_hold(rb_vault *v, const char *key)
{
    pthread_mutex_lock(&v->keys_mu);
    while (key_active(v, key))
        pthread_cond_wait(&v->keys_cv, &v->keys_mu);
    v->active_keys = rb_xrealloc(v->active_keys, (v->n_active + 1) * sizeof *v->active_keys);
    v->active_keys[v->n_active++] = (char *)key;
    pthread_mutex_unlock(&v->keys_mu);
}

static void key_release(rb_vault *v, const char *key)
{
    pthread_mutex_lock(&v->keys_mu);
    for (size_t i = 0; i < v->n_active; i++)
        if (v->active_keys[i] == key) {
            v->active_keys[i] = v->active_keys[--v->n_active];
            break;
        }
    pthread_cond_broadcast(&v->keys_cv);
    pthread_mutex_unlock(&v->keys_mu);
}

static rb_status put_set(rb_vault *v, const rb_vault_source *src, size_t n,
                         const rb_vault_put_opts *o, rb_vault_put_stats *stats,
                         rb_vault_err *err);

rb_status rb_vault_put(rb_vault *v, const rb_vault_source *src, size_t n,
                       const rb_vault_put_opts *o, rb_vault_put_stats *stats, rb_vault_err *err)
{
    const char *key = o ? o->resume_key : NULL;
    if (key)
        key_hold(v, key);
    rb_status st = put_set(v, src, n, o, stats, err);
    if (key)
        key_release(v, key);
    return st;
}

static rb_status put_set(rb_vault *v, const rb_vault_source *src, size_t n,
                         const rb_vault_put_opts *o, rb_vault_put_stats *stats,
                         rb_vault_err *err)
{
    rb_vault_put_opts none;
    memset(&none, 0, sizeof none);
    if (!o)
        o = &none;
    memset(stats, 0, sizeof *stats);
    double t0 = rb_mono_s();
    if (!v->signing)
        return rb_vault_fail(err, RB_EINVAL, "writing to the vault needs a signing key "
                             "(vault.signing_key_file or vault.signing_key_env)");
    if (n == 0)
        return rb_vault_fail(err, RB_EINVAL, "nothing to put");
    for (size_t i = 0; i < n; i++) {
        if (!valid_object_name(src[i].name))
            return rb_vault_fail(err, RB_EINVAL, "invalid object name \"%s\"",
                                 src[i].name ? src[i].name : "");
        for (size_t j = 0; j < i; j++)
            if (strcmp(src[i].name, src[j].name) == 0)
                return rb_vault_fail(err, RB_EINVAL, "object name \"%s\" given twice",
                                     src[i].name);
    }
    /* The set id: given, pending from an interrupted attempt, or new. */
    int64_t created = rb_vault_now();
    char *pend = o->resume_key ? pending_path(v, o->resume_key) : NULL;
    rb_status st = RB_OK;
    if (o->set_id) {
        if (!valid_id(o->set_id)) {
            free(pend);
            return rb_vault_fail(err, RB_EINVAL, "invalid set id \"%s\"", o->set_id);
        }
        snprintf(stats->set_id, sizeof stats->set_id, "%s", o->set_id);
        char was[96];
        int64_t was_created;
        if (pend && pending_read(pend, was, sizeof was, &was_created) == 0 &&
            strcmp(was, o->set_id) == 0) {
            created = was_created; /* the same set, interrupted before */
            stats->resumed = 1;
        }
    } else if (pend && pending_read(pend, stats->set_id, sizeof stats->set_id, &created) == 0) {
        stats->resumed = 1;
    } else {
        new_set_id(created, stats->set_id, sizeof stats->set_id);
    }
    const char *sid = stats->set_id;
    char *cat = catalog_path(sid);
    uint64_t dummy;
    rb_vault_err e2;
    if (v->store->ops->stat(v->store, cat, &dummy, &e2) == RB_OK) {
        st = rb_vault_fail(err, RB_EEXISTS, "set %s is already complete in the vault", sid);
        goto out;
    }
    if (pend && !stats->resumed && (st = pending_write(pend, sid, created, err)) != RB_OK)
        goto out;

    rb_vault_manifest m;
    memset(&m, 0, sizeof m);
    char iso[32];
    iso_of(created, iso);
    m.set_id = (char *)sid;
    m.source_id = (char *)(o->source_id ? o->source_id : "");
    m.kind = (char *)(o->kind ? o->kind : "");
    m.created = iso;
    m.created_s = created;
    m.retention_days = o->retention_days > 0 ? o->retention_days : v->retention_days;
    m.plugin = (char *)(o->plugin ? o->plugin : "rebound-cli");
    m.plugin_version = (char *)(o->plugin_version ? o->plugin_version : REBOUND_VERSION);
    m.objects = rb_xcalloc(n, sizeof *m.objects);
    rb_vault_stream_stats ss;
    memset(&ss, 0, sizeof ss);
    for (size_t i = 0; i < n && st == RB_OK; i++) {
        char *name = rb_vault_object_path(sid, src[i].name);
        if (src[i].copy_url && v->store->ops->copy_from_url)
            st = rb_vault_copy_object(v->store, name, &src[i], v->block_size, o->progress,
                                      o->progress_user, &m.objects[i], &ss, err);
        else
            st = rb_vault_stream_object(v->store, name, &src[i], v->block_size, o->parallel,
                                        o->progress, o->progress_user, &m.objects[i], &ss, err);
        free(name);
        m.objects[i].name = (char *)src[i].name;
        m.n_objects = i + 1;
    }
    stats->bytes = ss.bytes;
    stats->bytes_sent = ss.bytes_sent;
    stats->bytes_reused = ss.bytes_reused;
    stats->blocks = ss.blocks;
    stats->blocks_reused = ss.blocks_reused;
    if (st == RB_OK) {
        char *mjson = rb_vault_manifest_to_json(&m);
        size_t mlen = strlen(mjson);
        char msha[65];
        rb_sha256_hex(mjson, mlen, msha);
        char *mname = manifest_path(sid);
        st = put_idempotent(v->store, mname, mjson, mlen, err);
        char *payload = NULL, *sig = NULL;
        if (st == RB_OK) {
            payload = catalog_payload(v, &m, mname, msha, mlen, ss.bytes);
            st = rb_vault_sign(v->signing, payload, strlen(payload), &sig, err);
        }
        if (st == RB_OK) {
            cJSON *c = cJSON_CreateObject();
            char kid[65];
            rb_vault_key_id(v->signing, kid);
            cJSON_AddStringToObject(c, "format", CATALOG_FORMAT);
            cJSON_AddStringToObject(c, "payload", payload);
            cJSON_AddStringToObject(c, "signature", sig);
            cJSON_AddStringToObject(c, "key_id", kid);
            char *cj = cJSON_Print(c);
            cJSON_Delete(c);
            if (!cj)
                rb_die_oom();
            st = put_idempotent(v->store, cat, cj, strlen(cj), err);
            cJSON_free(cj);
        }
        free(payload);
        free(sig);
        free(mname);
        free(mjson);
    }
    for (size_t i = 0; i < m.n_objects; i++) {
        if (st == RB_OK && o->object_sha256)
            memcpy(o->object_sha256[i], m.objects[i].sha256, sizeof o->object_sha256[i]);
        free(m.objects[i].blocks);
    }
    free(m.objects);
    if (st == RB_OK && pend)
        unlink(pend);
out:
    free(cat);
    free(pend);
    stats->seconds = rb_mono_s() - t0;
    return st;
}

rb_status rb_vault_hold(rb_vault *v, const char *set_id, int release, rb_vault_err *err)
{
    if (!valid_id(set_id))
        return rb_vault_fail(err, RB_EINVAL, "invalid set id \"%s\"", set_id);
    char *cat = catalog_path(set_id);
    uint64_t size;
    rb_status st = v->store->ops->stat(v->store, cat, &size, err);
    free(cat);
    if (st == RB_ENOTFOUND)
        return rb_vault_fail(err, st, "no set %s in the vault", set_id);
    if (st != RB_OK)
        return st;
    char *hp = hold_path(set_id);
    if (release) {
        st = v->store->ops->del(v->store, hp, err);
        if (st == RB_ENOTFOUND)
            st = RB_OK;
    } else {
        char body[64];
        int len = snprintf(body, sizeof body, "{\"held_unix\":%lld}\n", (long long)rb_vault_now());
        st = v->store->ops->put_once(v->store, hp, body, (size_t)len, err);
        if (st == RB_EEXISTS)
            st = RB_OK;
    }
    free(hp);
    return st;
}

int rb_vault_is_held(rb_vault *v, const char *set_id)
{
    char *hp = hold_path(set_id);
    uint64_t size;
    int held = v->store->ops->stat(v->store, hp, &size, NULL) == RB_OK;
    free(hp);
    return held;
}

/* ---- the catalog ---------------------------------------------------------- */

void rb_vault_entry_free(rb_vault_entry *e)
{
    if (!e)
        return;
    free(e->set_id);
    free(e->payload);
    free(e->signature);
    free(e->key_id);
    free(e->manifest_name);
    free(e->manifest_sha256);
    free(e->source_id);
    free(e->kind);
    free(e->created);
    free(e);
}

static char *dup_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? rb_xstrdup(v->valuestring) : NULL;
}

static double get_num(const cJSON *o, const char *key, int *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0) {
        *bad = 1;
        return 0;
    }
    return v->valuedouble;
}

rb_status rb_vault_entry_read(rb_vault *v, const char *set_id, rb_vault_entry **out,
                              rb_vault_err *err)
{
    *out = NULL;
    if (!valid_id(set_id))
        return rb_vault_fail(err, RB_EINVAL, "invalid set id \"%s\"", set_id);
    char *cat = catalog_path(set_id);
    char *data = NULL;
    size_t len = 0;
    rb_status st = rb_vault_read_small(v->store, cat, 1 << 20, &data, &len, err);
    if (st == RB_ENOTFOUND)
        st = rb_vault_fail(err, st, "no set %s in the vault", set_id);
    if (st != RB_OK) {
        free(cat);
        return st;
    }
    cJSON *root = cJSON_ParseWithLength(data, len);
    free(data);
    cJSON *pl = NULL;
    rb_vault_entry *e = rb_xcalloc(1, sizeof *e);
    st = RB_ECORRUPT;
    if (!root) {
        rb_vault_fail(err, st, "catalog entry %s is truncated or not valid JSON", cat);
        goto out;
    }
    e->payload = dup_str(root, "payload");
    e->signature = dup_str(root, "signature");
    e->key_id = dup_str(root, "key_id");
    if (!e->payload || !e->signature || !e->key_id) {
        rb_vault_fail(err, st, "catalog entry %s lacks payload, signature or key_id", cat);
        goto out;
    }
    pl = cJSON_Parse(e->payload);
    int bad = !pl;
    if (pl) {
        e->set_id = dup_str(pl, "set_id");
        e->manifest_name = dup_str(pl, "manifest");
        e->manifest_sha256 = dup_str(pl, "manifest_sha256");
        e->source_id = dup_str(pl, "source_id");
        e->kind = dup_str(pl, "kind");
        e->created = dup_str(pl, "created");
        e->created_s = (int64_t)get_num(pl, "created_unix", &bad);
        e->retention_days = (int)get_num(pl, "retention_days", &bad);
        e->bytes = (uint64_t)get_num(pl, "bytes", &bad);
        e->objects = (size_t)get_num(pl, "objects", &bad);
        e->unlocked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pl, "unlocked"));
    }
    if (bad || !e->set_id || !e->manifest_name || !e->manifest_sha256 || !e->source_id ||
        !e->kind || !e->created) {
        rb_vault_fail(err, st, "catalog entry %s has an incomplete payload", cat);
        goto out;
    }
    if (strcmp(e->set_id, set_id) != 0) {
        rb_vault_fail(err, st, "catalog entry %s names another set (%s)", cat, e->set_id);
        goto out;
    }
    st = RB_OK;
out:
    cJSON_Delete(pl);
    cJSON_Delete(root);
    free(cat);
    if (st == RB_OK)
        *out = e;
    else
        rb_vault_entry_free(e);
    return st;
}

rb_status rb_vault_entry_check(rb_vault *v, const rb_vault_entry *e, rb_vault_err *err)
{
    const rb_vault_key *k = rb_vault_verify_key(v);
    if (!k)
        return rb_vault_fail(err, RB_EINVAL, "checking signatures needs vault.public_key_file "
                             "(or the signing key)");
    return rb_vault_check_signature(k, e->payload, strlen(e->payload), e->signature, err);
}

rb_status rb_vault_manifest_read(rb_vault *v, const rb_vault_entry *e, rb_vault_manifest **out,
                                 rb_vault_err *err)
{
    *out = NULL;
    char want[128];
    snprintf(want, sizeof want, "sets/%s/manifest.json", e->set_id);
    if (strcmp(e->manifest_name, want) != 0)
        return rb_vault_fail(err, RB_ECORRUPT, "set %s: the entry names the manifest %s",
                             e->set_id, e->manifest_name);
    char *data = NULL;
    size_t len = 0;
    rb_status st = rb_vault_read_small(v->store, want, 256u << 20, &data, &len, err);
    if (st == RB_ENOTFOUND)
        return rb_vault_fail(err, st, "set %s: the manifest %s is missing", e->set_id, want);
    if (st != RB_OK)
        return st;
    char sha[65];
    rb_sha256_hex(data, len, sha);
    rb_vault_err pe;
    rb_vault_manifest *m = NULL;
    rb_status pst = rb_vault_manifest_parse(data, len, &m, &pe);
    free(data);
    if (strcmp(sha, e->manifest_sha256) != 0) {
        rb_vault_manifest_free(m);
        return rb_vault_fail(err, RB_ECORRUPT,
                             "set %s: the manifest %s does not match its signed hash%s%s",
                             e->set_id, want, pst != RB_OK ? ": " : " (altered)",
                             pst != RB_OK ? pe.msg : "");
    }
    if (pst != RB_OK)
        return rb_vault_fail(err, pst, "set %s: %s", e->set_id, pe.msg);
    if (strcmp(m->set_id, e->set_id) != 0) {
        rb_vault_manifest_free(m);
        return rb_vault_fail(err, RB_ECORRUPT, "set %s: the manifest names set %s", e->set_id,
                             m->set_id);
    }
    *out = m;
    return RB_OK;
}

typedef struct id_list {
    char **ids;
    size_t n, cap;
} id_list;

static int collect_id(void *user, const char *name, uint64_t size)
{
    (void)size;
    id_list *l = user;
    const char *base = name + strlen("catalog/");
    size_t bl = strlen(base);
    if (bl <= 5 || strcmp(base + bl - 5, ".json") != 0 || strchr(base, '/'))
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->ids = rb_xrealloc(l->ids, l->cap * sizeof *l->ids);
    }
    l->ids[l->n++] = rb_xstrndup(base, bl - 5);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

rb_status rb_vault_list_sets(rb_vault *v, char ***ids, size_t *n, rb_vault_err *err)
{
    id_list l = {0};
    rb_status st = v->store->ops->list(v->store, "catalog/", collect_id, &l, err);
    if (st != RB_OK) {
        rb_vault_ids_free(l.ids, l.n);
        return st;
    }
    if (l.n)
        qsort(l.ids, l.n, sizeof *l.ids, cmp_str);
    *ids = l.ids;
    *n = l.n;
    return RB_OK;
}

void rb_vault_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

rb_status rb_vault_open(const rb_config *config, int need_write, rb_vault **out,
                        rb_vault_err *err)
{
    *out = NULL;
    const rb_vault_config *cfg = &config->vault;
    rb_vault_key *signing = NULL, *pub = NULL;
    rb_status st;
    int have_signing = (cfg->signing_key_env && *cfg->signing_key_env &&
                        getenv(cfg->signing_key_env)) ||
                       (cfg->signing_key_file && *cfg->signing_key_file);
    if (have_signing) {
        char msg[512];
        char *pem = rb_config_read_secret(cfg->signing_key_env, cfg->signing_key_file,
                                          "vault signing key", msg, sizeof msg);
        if (!pem)
            return rb_vault_fail(err, RB_EINVAL, "%s", msg);
        /* PEM wants its final newline back after the trim. */
        char *full = rb_xasprintf("%s\n", pem);
        st = rb_vault_key_parse(full, strlen(full), 0, "the vault signing key", &signing, err);
        OPENSSL_cleanse(pem, strlen(pem));
        OPENSSL_cleanse(full, strlen(full));
        free(pem);
        free(full);
        if (st != RB_OK)
            return st;
    } else if (need_write) {
        return rb_vault_fail(err, RB_EINVAL, "writing to the vault needs a signing key "
                             "(vault.signing_key_file or vault.signing_key_env)");
    }
    if (cfg->public_key_file && *cfg->public_key_file) {
        st = rb_vault_key_load(cfg->public_key_file, 1, &pub, err);
        if (st != RB_OK) {
            rb_vault_key_free(signing);
            return st;
        }
    }
    rb_vault_store *store = NULL;
    const char *kind = cfg->kind ? cfg->kind : "local";
    if (strcmp(kind, "local") == 0) {
        st = rb_vault_store_local_new(cfg->path ? cfg->path : ".rebound/vault", &store, err);
    } else if (strcmp(kind, "azure-blob") == 0) {
        st = rb_vault_store_azure_open(config, need_write, &store, err);
    } else {
        st = rb_vault_fail(err, RB_EINVAL, "unknown vault.kind \"%s\"", kind);
    }
    if (st != RB_OK) {
        rb_vault_key_free(signing);
        rb_vault_key_free(pub);
        return st;
    }
    rb_vault *v = rb_vault_new(store, signing, pub,
                               cfg->block_size > 0 ? (size_t)cfg->block_size : 0,
                               cfg->min_retention_days);
    const char *note = rb_vault_store_azure_unlocked_note(store);
    if (note)
        rb_vault_set_unlocked_note(v, note);
    *out = v;
    return RB_OK;
}
