/* rebound vault: list, show, put, verify, prune, restore and hold, on the
 * vault the config's `vault` section describes (runner/vault/vault.h). Exit
 * codes: 0 ok, 1 verification found problems or the vault refused the
 * operation, 2 usage, config or input error. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd_vault_url.h"
#include "config/config.h"
#include "core/log.h"
#include "core/util.h"
#include "vault/url.h"
#include "vault/vault.h"

typedef struct vault_args {
    const char *sub;
    const char *config;
    const char *vault_dir;
    const char *source_id, *kind, *set_id, *name, *to, *plugin, *plugin_version;
    const char *from_url_env, *to_url_env;
    const rb_config *cfg;
    int retention_days, parallel, json, quiet, no_progress, apply, release, no_resume, block;
    int whole_hash, server_copy;
    double sample_pct;
    uint64_t seed;
    const char *pos[64];
    int npos;
} vault_args;

static const char vault_help[] =
    "Usage: rebound vault list [OPTIONS]\n"
    "       rebound vault show SET [OPTIONS]\n"
    "       rebound vault put FILE... --source-id ID --kind KIND [OPTIONS]\n"
    "       rebound vault put --from-url-env VAR --name NAME --source-id ID --kind KIND\n"
    "       rebound vault verify [SET] [--sample P%] [--seed N] [OPTIONS]\n"
    "       rebound vault prune [--apply] [OPTIONS]\n"
    "       rebound vault restore SET OBJECT --to FILE [OPTIONS]\n"
    "       rebound vault restore SET OBJECT --to-url-env VAR [--block] [OPTIONS]\n"
    "       rebound vault hold SET [--release] [OPTIONS]\n"
    "\n"
    "The backup vault (config section `vault`; default a local directory,\n"
    ".rebound/vault). Objects are written once and never overwritten; every set\n"
    "has a manifest (per-block and whole SHA-256) and an Ed25519-signed catalog\n"
    "entry. An interrupted put resumes when run again with the same arguments:\n"
    "blocks already stored are checked by hash and not sent again.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE        config file (default: ./rebound.yaml if present)\n"
    "      --vault-dir DIR      use the local vault in DIR (overrides the config)\n"
    "      --output text|json   result format on stdout (default text)\n"
    "  -q, --quiet              no progress, no notes\n"
    "      --no-progress        no progress line even on a terminal\n"
    "  -h, --help               this help (also: rebound vault SUBCOMMAND --help)\n"
    "put:\n"
    "      --source-id ID       the resource backed up (required)\n"
    "      --kind KIND          what it is: disk, keyvault, sql, ... (required)\n"
    "      --name NAME          object name for a single FILE (default: basename)\n"
    "      --set ID             write this set id (default: new, or the pending one)\n"
    "      --retention-days N   default vault.min_retention_days\n"
    "      --plugin NAME --plugin-version V  recorded in the manifest\n"
    "      --from-url-env VAR   read the object from the SAS URL in $VAR (ranged GETs;\n"
    "                           e.g. a managed disk's access SAS) instead of FILE\n"
    "      --server-copy        with --from-url-env on an Azure Blob vault: the storage\n"
    "                           service copies the object itself (Put Block From URL),\n"
    "                           then the vault reads it back to hash it\n"
    "  -j, --parallel N         block workers (default 4)\n"
    "      --no-resume          always start a new set\n"
    "verify:\n"
    "      --sample P%          re-read only P percent of the blocks (seeded)\n"
    "      --seed N             the sample's seed (default 1)\n"
    "      --whole-hash         also recompute each object's whole SHA-256 (a second\n"
    "                           pass; the signed per-block hashes already prove it)\n"
    "prune:\n"
    "      --apply              delete; without it prune only shows what it would\n"
    "                           delete (past retention, no legal hold, not\n"
    "                           protected by the storage)\n"
    "restore:\n"
    "      --to FILE            write here (must not exist)\n"
    "      --to-url-env VAR     write to the SAS URL in $VAR: by default an existing\n"
    "                           page blob written in place (a managed disk's upload\n"
    "                           SAS); every block is checked before it is sent\n"
    "      --block              create a new block blob at the URL instead\n"
    "hold:\n"
    "      --release            remove the legal hold\n"
    "\n"
    "Environment: REBOUND_VAULT_NOW (Unix seconds or ISO 8601 UTC) sets the\n"
    "vault's clock for practice and tests.\n"
    "\n"
    "Exit codes: 0 ok, 1 problems found or refused by the vault, 2 usage,\n"
    "config or input error.\n";

enum {
    O_VAULT_DIR = 2000, O_OUTPUT, O_NO_PROGRESS, O_SOURCE_ID, O_KIND, O_NAME, O_SET,
    O_RETENTION, O_PLUGIN, O_PLUGIN_VERSION, O_NO_RESUME, O_SAMPLE, O_SEED, O_APPLY, O_TO,
    O_RELEASE, O_FROM_URL_ENV, O_TO_URL_ENV, O_BLOCK, O_WHOLE_HASH, O_SERVER_COPY
};

static const struct option vault_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"vault-dir", required_argument, NULL, O_VAULT_DIR},
    {"output", required_argument, NULL, O_OUTPUT},
    {"quiet", no_argument, NULL, 'q'},
    {"no-progress", no_argument, NULL, O_NO_PROGRESS},
    {"help", no_argument, NULL, 'h'},
    {"source-id", required_argument, NULL, O_SOURCE_ID},
    {"kind", required_argument, NULL, O_KIND},
    {"name", required_argument, NULL, O_NAME},
    {"set", required_argument, NULL, O_SET},
    {"retention-days", required_argument, NULL, O_RETENTION},
    {"plugin", required_argument, NULL, O_PLUGIN},
    {"plugin-version", required_argument, NULL, O_PLUGIN_VERSION},
    {"parallel", required_argument, NULL, 'j'},
    {"no-resume", no_argument, NULL, O_NO_RESUME},
    {"sample", required_argument, NULL, O_SAMPLE},
    {"seed", required_argument, NULL, O_SEED},
    {"apply", no_argument, NULL, O_APPLY},
    {"to", required_argument, NULL, O_TO},
    {"release", no_argument, NULL, O_RELEASE},
    {"from-url-env", required_argument, NULL, O_FROM_URL_ENV},
    {"to-url-env", required_argument, NULL, O_TO_URL_ENV},
    {"block", no_argument, NULL, O_BLOCK},
    {"whole-hash", no_argument, NULL, O_WHOLE_HASH},
    {"server-copy", no_argument, NULL, O_SERVER_COPY},
    {NULL, 0, NULL, 0}};

static int usage(const char *msg)
{
    fprintf(stderr, "rebound vault: %s\nTry `rebound vault --help`.\n", msg);
    return RB_EXIT_USAGE;
}

static int parse_args(vault_args *a, int argc, char **argv)
{
    optind = 1;
    opterr = 0;
    a->seed = 1;
    int c;
    char msg[512];
    while ((c = getopt_long(argc, argv, ":c:j:qh", vault_opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c': a->config = optarg; break;
        case O_VAULT_DIR: a->vault_dir = optarg; break;
        case O_OUTPUT:
            if (strcmp(optarg, "json") && strcmp(optarg, "text"))
                return usage("--output must be text or json");
            a->json = strcmp(optarg, "json") == 0;
            break;
        case 'q': a->quiet = 1; break;
        case O_NO_PROGRESS: a->no_progress = 1; break;
        case 'h': fputs(vault_help, stdout); return 1;
        case O_SOURCE_ID: a->source_id = optarg; break;
        case O_KIND: a->kind = optarg; break;
        case O_NAME: a->name = optarg; break;
        case O_SET: a->set_id = optarg; break;
        case O_RETENTION: {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 36500)
                return usage("--retention-days needs a number of days from 1 to 36500");
            a->retention_days = (int)v;
            break;
        }
        case O_PLUGIN: a->plugin = optarg; break;
        case O_PLUGIN_VERSION: a->plugin_version = optarg; break;
        case 'j': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 64)
                return usage("--parallel needs a number from 1 to 64");
            a->parallel = (int)v;
            break;
        }
        case O_NO_RESUME: a->no_resume = 1; break;
        case O_SAMPLE: {
            errno = 0;
            double v = strtod(optarg, &end);
            if (*end == '%')
                end++;
            if (*end || errno || !(v > 0 && v <= 100))
                return usage("--sample needs a percentage above 0 and at most 100, like 5%");
            a->sample_pct = v;
            break;
        }
        case O_SEED: {
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || errno || !*optarg)
                return usage("--seed needs a non-negative number");
            a->seed = v;
            break;
        }
        case O_APPLY: a->apply = 1; break;
        case O_TO: a->to = optarg; break;
        case O_RELEASE: a->release = 1; break;
        case O_FROM_URL_ENV: a->from_url_env = optarg; break;
        case O_TO_URL_ENV: a->to_url_env = optarg; break;
        case O_BLOCK: a->block = 1; break;
        case O_WHOLE_HASH: a->whole_hash = 1; break;
        case O_SERVER_COPY: a->server_copy = 1; break;
        case ':':
            snprintf(msg, sizeof msg, "option %s needs a value", argv[optind - 1]);
            return usage(msg);
        default:
            snprintf(msg, sizeof msg, "unknown option %s", argv[optind - 1]);
            return usage(msg);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (!a->sub) {
            a->sub = argv[i];
            continue;
        }
        if (a->npos >= (int)(sizeof a->pos / sizeof a->pos[0]))
            return usage("too many arguments");
        a->pos[a->npos++] = argv[i];
    }
    return 0;
}

/* ---- progress on a terminal ------------------------------------------------ */

typedef struct progress {
    int on;
    double t0, last;
    uint64_t base;       /* bytes of earlier objects */
    const char *object;
    uint64_t last_done;
} progress;

static double mib(uint64_t b)
{
    return (double)b / 1048576.0;
}

static int on_progress(void *user, const char *object, uint64_t done, uint64_t total)
{
    progress *p = user;
    if (!p->on)
        return 0;
    double now = rb_mono_s();
    if (now - p->last < 0.2 && done != total)
        return 0;
    p->last = now;
    double el = now - p->t0;
    double rate = el > 0 ? mib(done) / el : 0;
    if (p->object != object) {
        p->object = object;
        p->t0 = now;
    }
    if (total) {
        double eta = rate > 0 ? (mib(total) - mib(done)) / rate : 0;
        fprintf(stderr, "\r\033[K%s  %.1f / %.1f MiB  %.1f MiB/s  ETA %.0fs", object, mib(done),
                mib(total), rate, eta);
    } else {
        fprintf(stderr, "\r\033[K%s  %.1f MiB  %.1f MiB/s", object, mib(done), rate);
    }
    return 0;
}

static void progress_init(progress *p, const vault_args *a)
{
    memset(p, 0, sizeof *p);
    p->on = !a->quiet && !a->no_progress && !a->json && isatty(2);
    p->t0 = p->last = rb_mono_s();
}

static void progress_done(progress *p)
{
    if (p->on)
        fprintf(stderr, "\r\033[K");
}

static int exit_for(rb_status st)
{
    return st == RB_EINVAL ? RB_EXIT_USAGE : RB_EXIT_FAILED;
}

static void print_json(cJSON *j)
{
    char *s = cJSON_Print(j);
    if (s) {
        puts(s);
        cJSON_free(s);
    }
    cJSON_Delete(j);
}

static void iso(int64_t t, char out[32])
{
    rb_iso8601(t * 1000, out);
}

/* ---- subcommands ------------------------------------------------------------ */

static int cmd_put(rb_vault *v, const vault_args *a)
{
    if (a->from_url_env && a->npos)
        return usage("put takes FILE... or --from-url-env VAR, not both");
    if (a->server_copy && !a->from_url_env)
        return usage("--server-copy copies from --from-url-env VAR");
    if (a->from_url_env && !a->name)
        return usage("--from-url-env needs --name NAME (the object's name in the set)");
    if (a->npos < 1 && !a->from_url_env)
        return usage("put needs at least one FILE");
    if (!a->source_id || !a->kind)
        return usage("put needs --source-id ID and --kind KIND");
    rb_cli_url url = {0};
    rb_vault_url_source *from_url = NULL;
    int n_src = a->npos;
    if (a->name && a->npos != 1 && !a->from_url_env)
        return usage("--name is for a single FILE");
    rb_vault_source src[64];
    memset(src, 0, sizeof src);
    rb_buf key = {0};
    rb_buf_printf(&key, "put\n%s\n%s\n", a->source_id, a->kind);
    for (int i = 0; i < a->npos; i++) {
        const char *path = a->pos[i];
        struct stat sb;
        if (stat(path, &sb) != 0 || S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "rebound vault put: cannot read the source %s: %s\n", path,
                    S_ISDIR(sb.st_mode) ? "it is a directory" : strerror(errno));
            rb_buf_free(&key);
            return RB_EXIT_USAGE;
        }
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "rebound vault put: cannot read the source %s: %s\n", path,
                    strerror(errno));
            rb_buf_free(&key);
            return RB_EXIT_USAGE;
        }
        const char *base = strrchr(path, '/');
        src[i].name = a->name ? a->name : base ? base + 1 : path;
        src[i].path = path;
        src[i].size = (uint64_t)sb.st_size;
        char real[PATH_MAX];
        rb_buf_printf(&key, "%s %s %lld %lld.%09ld\n", src[i].name,
                      realpath(path, real) ? real : path, (long long)sb.st_size,
                      (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
    }
    if (a->from_url_env) {
        if (rb_cli_url_open(a->cfg, a->from_url_env, "rebound vault put", &url) != 0) {
            rb_buf_free(&key);
            return RB_EXIT_USAGE;
        }
        src[0].name = a->name;
        if (a->server_copy)
            src[0].copy_url = url.url;
        rb_vault_err uerr = {{0}};
        if (rb_vault_url_source_open(url.eng, url.url, -1, NULL, &src[0], &from_url, &uerr) !=
            RB_OK) {
            char *m = rb_redact(uerr.msg);
            fprintf(stderr, "rebound vault put: cannot read the source: %s\n", m);
            free(m);
            rb_cli_url_close(&url);
            rb_buf_free(&key);
            return RB_EXIT_USAGE;
        }
        n_src = 1;
        /* The resume key names the source by its variable, size and ETag
         * (this version of it), never by the URL, whose SAS changes with
         * every grant: tomorrow's run does not continue today's set. */
        rb_buf_printf(&key, "%s url:%s %llu %s\n", a->name, a->from_url_env,
                      (unsigned long long)src[0].size, rb_vault_url_source_etag(from_url));
    }
    progress pr;
    progress_init(&pr, a);
    rb_vault_put_opts o = {
        .set_id = a->set_id,
        .resume_key = a->no_resume ? NULL : key.p,
        .source_id = a->source_id,
        .kind = a->kind,
        .plugin = a->plugin,
        .plugin_version = a->plugin_version,
        .retention_days = a->retention_days,
        .parallel = a->parallel,
        .progress = on_progress,
        .progress_user = &pr,
    };
    rb_vault_put_stats st;
    rb_vault_err err = {{0}};
    rb_status rc = rb_vault_put(v, src, (size_t)n_src, &o, &st, &err);
    progress_done(&pr);
    rb_buf_free(&key);
    if (rc != RB_OK && from_url && rb_vault_url_source_error(from_url)[0])
        snprintf(err.msg, sizeof err.msg, "the source: %s", rb_vault_url_source_error(from_url));
    rb_vault_url_source_free(from_url);
    rb_cli_url_close(&url);
    if (a->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "ok", rc == RB_OK);
        cJSON_AddStringToObject(j, "set_id", st.set_id);
        cJSON_AddBoolToObject(j, "resumed", st.resumed);
        cJSON_AddNumberToObject(j, "bytes", (double)st.bytes);
        cJSON_AddNumberToObject(j, "bytes_sent", (double)st.bytes_sent);
        cJSON_AddNumberToObject(j, "bytes_reused", (double)st.bytes_reused);
        cJSON_AddNumberToObject(j, "blocks", (double)st.blocks);
        cJSON_AddNumberToObject(j, "blocks_reused", (double)st.blocks_reused);
        cJSON_AddNumberToObject(j, "seconds", st.seconds);
        if (rb_vault_unlocked_note(v))
            cJSON_AddStringToObject(j, "unlocked", rb_vault_unlocked_note(v));
        if (rc != RB_OK) {
            char *m = rb_redact(err.msg);
            cJSON_AddStringToObject(j, "error", m);
            free(m);
        }
        print_json(j);
    }
    if (rc != RB_OK) {
        char *m = rb_redact(err.msg);
        fprintf(stderr, "rebound vault put: %s\n", m);
        free(m);
        /* A source that cannot be read is bad input. */
        return rc == RB_EIO && strstr(err.msg, "the source") ? RB_EXIT_USAGE : exit_for(rc);
    }
    if (!a->json)
        printf("set %s: %d object(s), %.1f MiB, sent %.1f MiB, reused %.1f MiB%s, %.2f s "
               "(%.1f MiB/s)\n",
               st.set_id, n_src, mib(st.bytes), mib(st.bytes_sent), mib(st.bytes_reused),
               st.resumed ? " (resumed)" : "", st.seconds,
               st.seconds > 0 ? mib(st.bytes) / st.seconds : 0.0);
    return RB_EXIT_OK;
}

static int cmd_list(rb_vault *v, const vault_args *a)
{
    char **ids = NULL;
    size_t n = 0;
    rb_vault_err err = {{0}};
    rb_status rc = rb_vault_list_sets(v, &ids, &n, &err);
    if (rc != RB_OK) {
        fprintf(stderr, "rebound vault list: %s\n", err.msg);
        return exit_for(rc);
    }
    cJSON *arr = a->json ? cJSON_CreateArray() : NULL;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        rb_vault_entry *e = NULL;
        if (rb_vault_entry_read(v, ids[i], &e, &err) != RB_OK) {
            bad = 1;
            if (arr) {
                cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "set_id", ids[i]);
                cJSON_AddStringToObject(j, "error", err.msg);
                cJSON_AddItemToArray(arr, j);
            } else {
                printf("%s  ERROR: %s\n", ids[i], err.msg);
            }
            continue;
        }
        int held = rb_vault_is_held(v, ids[i]);
        if (arr) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "set_id", e->set_id);
            cJSON_AddStringToObject(j, "created", e->created);
            cJSON_AddStringToObject(j, "kind", e->kind);
            cJSON_AddStringToObject(j, "source_id", e->source_id);
            cJSON_AddNumberToObject(j, "objects", (double)e->objects);
            cJSON_AddNumberToObject(j, "bytes", (double)e->bytes);
            cJSON_AddNumberToObject(j, "retention_days", e->retention_days);
            cJSON_AddBoolToObject(j, "legal_hold", held);
            cJSON_AddBoolToObject(j, "unlocked", e->unlocked);
            cJSON_AddItemToArray(arr, j);
        } else {
            printf("%s  %s  %-10s %zu object(s) %10.1f MiB  %s%s%s\n", e->set_id, e->created,
                   e->kind, e->objects, mib(e->bytes), e->source_id, held ? "  [legal hold]" : "",
                   e->unlocked ? "  [unlocked storage]" : "");
        }
        rb_vault_entry_free(e);
    }
    if (arr)
        print_json(arr);
    else if (n == 0 && !a->quiet)
        printf("(no sets)\n");
    rb_vault_ids_free(ids, n);
    return bad ? RB_EXIT_FAILED : RB_EXIT_OK;
}

static int cmd_show(rb_vault *v, const vault_args *a)
{
    if (a->npos != 1)
        return usage("show needs SET");
    rb_vault_entry *e = NULL;
    rb_vault_manifest *m = NULL;
    rb_vault_err err = {{0}}, serr = {{0}};
    rb_status rc = rb_vault_entry_read(v, a->pos[0], &e, &err);
    if (rc != RB_OK) {
        fprintf(stderr, "rebound vault show: %s\n", err.msg);
        return rc == RB_ENOTFOUND ? RB_EXIT_USAGE : exit_for(rc);
    }
    rb_status sig = rb_vault_entry_check(v, e, &serr);
    rc = rb_vault_manifest_read(v, e, &m, &err);
    int held = rb_vault_is_held(v, e->set_id);
    if (a->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "set_id", e->set_id);
        cJSON_AddStringToObject(j, "created", e->created);
        cJSON_AddStringToObject(j, "source_id", e->source_id);
        cJSON_AddStringToObject(j, "kind", e->kind);
        cJSON_AddNumberToObject(j, "retention_days", e->retention_days);
        cJSON_AddBoolToObject(j, "legal_hold", held);
        cJSON_AddStringToObject(j, "key_id", e->key_id);
        cJSON_AddStringToObject(j, "signature", sig == RB_OK ? "valid"
                                                : sig == RB_EINVAL ? "not checked" : "INVALID");
        if (m) {
            cJSON_AddStringToObject(j, "plugin", m->plugin);
            cJSON_AddStringToObject(j, "plugin_version", m->plugin_version);
            cJSON *objs = cJSON_AddArrayToObject(j, "objects");
            for (size_t i = 0; i < m->n_objects; i++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", m->objects[i].name);
                cJSON_AddNumberToObject(o, "size", (double)m->objects[i].size);
                cJSON_AddNumberToObject(o, "block_size", (double)m->objects[i].block_size);
                cJSON_AddNumberToObject(o, "blocks", (double)m->objects[i].n_blocks);
                cJSON_AddStringToObject(o, "sha256", m->objects[i].sha256);
                cJSON_AddItemToArray(objs, o);
            }
        } else {
            cJSON_AddStringToObject(j, "error", err.msg);
        }
        print_json(j);
    } else {
        printf("set:        %s\ncreated:    %s\nsource:     %s\nkind:       %s\n"
               "retention:  %d days%s\nsigned by:  %.16s (%s%s%s)\n",
               e->set_id, e->created, e->source_id, e->kind, e->retention_days,
               held ? " (legal hold)" : "", e->key_id,
               sig == RB_OK ? "valid" : sig == RB_EINVAL ? "not checked" : "INVALID",
               sig == RB_OK ? "" : ": ", sig == RB_OK ? "" : serr.msg);
        if (m) {
            printf("plugin:     %s %s\nobjects:\n", m->plugin, m->plugin_version);
            for (size_t i = 0; i < m->n_objects; i++)
                printf("  %s  %llu bytes  %zu blocks of %llu  sha256 %s\n", m->objects[i].name,
                       (unsigned long long)m->objects[i].size, m->objects[i].n_blocks,
                       (unsigned long long)m->objects[i].block_size, m->objects[i].sha256);
        }
    }
    if (!m)
        fprintf(stderr, "rebound vault show: %s\n", err.msg);
    else if (sig != RB_OK && sig != RB_EINVAL)
        fprintf(stderr, "rebound vault show: set %s: %s\n", e->set_id, serr.msg);
    int code = (!m || (sig != RB_OK && sig != RB_EINVAL)) ? RB_EXIT_FAILED : RB_EXIT_OK;
    rb_vault_manifest_free(m);
    rb_vault_entry_free(e);
    return code;
}

static int cmd_verify(rb_vault *v, const vault_args *a)
{
    if (a->npos > 1)
        return usage("verify takes at most one SET");
    progress pr;
    progress_init(&pr, a);
    rb_vault_verify_opts o = {
        .set_id = a->npos ? a->pos[0] : NULL,
        .sample_pct = a->sample_pct,
        .seed = a->seed,
        .whole_hash = a->whole_hash,
        .parallel = a->parallel,
        .progress = on_progress,
        .progress_user = &pr,
    };
    rb_vault_verify_report r;
    rb_vault_err err = {{0}};
    rb_status rc = rb_vault_verify(v, &o, &r, &err);
    progress_done(&pr);
    if (rc != RB_OK) {
        fprintf(stderr, "rebound vault verify: %s\n", err.msg);
        rb_vault_verify_report_free(&r);
        return rc == RB_ENOTFOUND ? RB_EXIT_USAGE : exit_for(rc);
    }
    if (a->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "ok", r.n_problems == 0);
        cJSON_AddNumberToObject(j, "sets", (double)r.sets);
        cJSON_AddNumberToObject(j, "objects", (double)r.objects);
        cJSON_AddNumberToObject(j, "blocks_checked", (double)r.blocks_checked);
        cJSON_AddNumberToObject(j, "blocks_total", (double)r.blocks_total);
        cJSON_AddNumberToObject(j, "bytes_read", (double)r.bytes_read);
        cJSON_AddNumberToObject(j, "seconds", r.seconds);
        cJSON_AddNumberToObject(j, "sample_pct", a->sample_pct > 0 ? a->sample_pct : 100);
        cJSON_AddNumberToObject(j, "seed", (double)a->seed);
        cJSON *ps = cJSON_AddArrayToObject(j, "problems");
        for (size_t i = 0; i < r.n_problems; i++) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "set_id", r.problems[i].set_id);
            if (r.problems[i].object)
                cJSON_AddStringToObject(p, "object", r.problems[i].object);
            else
                cJSON_AddNullToObject(p, "object");
            cJSON_AddStringToObject(p, "problem", r.problems[i].what);
            cJSON_AddItemToArray(ps, p);
        }
        print_json(j);
    } else {
        for (size_t i = 0; i < r.n_problems; i++)
            printf("%s  %s  %s\n", r.problems[i].set_id,
                   r.problems[i].object ? r.problems[i].object : "-", r.problems[i].what);
        printf("verified %zu set(s), %zu object(s), %zu of %zu blocks (%.1f MiB) in %.2f s: %s\n",
               r.sets, r.objects, r.blocks_checked, r.blocks_total, mib(r.bytes_read),
               r.seconds, r.n_problems ? "PROBLEMS FOUND" : "OK");
    }
    int code = r.n_problems ? RB_EXIT_FAILED : RB_EXIT_OK;
    rb_vault_verify_report_free(&r);
    return code;
}

static int cmd_prune(rb_vault *v, const vault_args *a)
{
    rb_vault_prune_report r;
    rb_vault_err err = {{0}};
    rb_status rc = rb_vault_prune(v, a->apply, &r, &err);
    if (rc != RB_OK) {
        fprintf(stderr, "rebound vault prune: %s\n", err.msg);
        return exit_for(rc);
    }
    int failed = 0;
    cJSON *arr = a->json ? cJSON_CreateArray() : NULL;
    for (size_t i = 0; i < r.n; i++) {
        rb_vault_prune_item *it = &r.items[i];
        char until[32];
        iso(it->expires_s, until);
        const char *action;
        if (it->error)
            action = it->deleted ? "deleted" : "kept";
        else if (it->held)
            action = "kept (legal hold)";
        else if (!it->expired)
            action = "kept (retention)";
        else if (it->protected_by_store)
            action = "kept (protected by the storage policy)";
        else
            action = it->deleted ? "deleted" : "would delete";
        if (it->error && strncmp(it->error, "delete failed", 13) == 0)
            failed = 1;
        if (arr) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "set_id", it->set_id);
            cJSON_AddStringToObject(j, "action", action);
            cJSON_AddBoolToObject(j, "expired", it->expired);
            cJSON_AddBoolToObject(j, "legal_hold", it->held);
            cJSON_AddBoolToObject(j, "protected_by_storage", it->protected_by_store);
            cJSON_AddBoolToObject(j, "deleted", it->deleted);
            cJSON_AddStringToObject(j, "retention_until", until);
            if (it->error)
                cJSON_AddStringToObject(j, "error", it->error);
            cJSON_AddItemToArray(arr, j);
        } else {
            printf("%s  %-40s retention until %s%s%s\n", it->set_id, action, until,
                   it->error ? "  " : "", it->error ? it->error : "");
        }
    }
    if (arr)
        print_json(arr);
    else if (!a->apply && !a->quiet)
        printf("(dry run: nothing deleted; use --apply)\n");
    rb_vault_prune_report_free(&r);
    return failed ? RB_EXIT_FAILED : RB_EXIT_OK;
}

static int cmd_restore(rb_vault *v, const vault_args *a)
{
    if (a->npos != 2 || !a->to == !a->to_url_env)
        return usage("restore needs SET OBJECT and one of --to FILE or --to-url-env VAR");
    rb_cli_url url = {0};
    if (a->to_url_env && rb_cli_url_open(a->cfg, a->to_url_env, "rebound vault restore", &url))
        return RB_EXIT_USAGE;
    progress pr;
    progress_init(&pr, a);
    uint64_t bytes = 0;
    rb_vault_err err = {{0}};
    double t0 = rb_mono_s();
    rb_status rc =
        a->to_url_env
            ? rb_vault_restore_to_url(v, a->pos[0], a->pos[1], url.eng, url.url, !a->block, NULL,
                                      on_progress, &pr, &bytes, &err)
            : rb_vault_restore(v, a->pos[0], a->pos[1], a->to, on_progress, &pr, &bytes, &err);
    progress_done(&pr);
    rb_cli_url_close(&url);
    double s = rb_mono_s() - t0;
    if (a->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddBoolToObject(j, "ok", rc == RB_OK);
        cJSON_AddNumberToObject(j, "bytes", (double)bytes);
        cJSON_AddNumberToObject(j, "seconds", s);
        if (rc != RB_OK) {
            char *m = rb_redact(err.msg);
            cJSON_AddStringToObject(j, "error", m);
            free(m);
        }
        print_json(j);
    }
    if (rc != RB_OK) {
        char *m = rb_redact(err.msg);
        fprintf(stderr, "rebound vault restore: %s\n", m);
        free(m);
        return rc == RB_ENOTFOUND || rc == RB_EEXISTS ? RB_EXIT_USAGE : exit_for(rc);
    }
    if (!a->json)
        printf("restored %s/%s to %s: %.1f MiB in %.2f s, hashes match\n", a->pos[0], a->pos[1],
               a->to ? a->to : a->to_url_env, mib(bytes), s);
    return RB_EXIT_OK;
}

static int cmd_hold(rb_vault *v, const vault_args *a)
{
    if (a->npos != 1)
        return usage("hold needs SET");
    rb_vault_err err = {{0}};
    rb_status rc = rb_vault_hold(v, a->pos[0], a->release, &err);
    if (rc != RB_OK) {
        fprintf(stderr, "rebound vault hold: %s\n", err.msg);
        return rc == RB_ENOTFOUND ? RB_EXIT_USAGE : exit_for(rc);
    }
    if (!a->quiet)
        printf("set %s: legal hold %s\n", a->pos[0], a->release ? "released" : "set");
    return RB_EXIT_OK;
}

int rb_cmd_vault(int argc, char **argv)
{
    vault_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(&a, argc, argv);
    if (rc)
        return rc == 1 ? RB_EXIT_OK : rc;
    if (!a.sub)
        return usage("give a subcommand: list, show, put, verify, prune, restore, hold");
    static const char *const subs[] = {"list", "show", "put", "verify", "prune", "restore",
                                       "hold", NULL};
    int known = 0;
    for (int i = 0; subs[i]; i++)
        known |= strcmp(a.sub, subs[i]) == 0;
    if (!known) {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown subcommand \"%.60s\"", a.sub);
        return usage(msg);
    }
    char cerr[1024];
    rb_config *cfg = rb_config_load(a.config, cerr, sizeof cerr);
    if (!cfg) {
        fprintf(stderr, "rebound vault: %s\n", cerr);
        return RB_EXIT_USAGE;
    }
    if (a.vault_dir) {
        free(cfg->vault.kind);
        free(cfg->vault.path);
        cfg->vault.kind = rb_xstrdup("local");
        cfg->vault.path = rb_xstrdup(a.vault_dir);
    }
    int write = strcmp(a.sub, "put") == 0 || strcmp(a.sub, "hold") == 0;
    rb_vault *v = NULL;
    rb_vault_err err = {{0}};
    a.cfg = cfg;
    rb_status st = rb_vault_open(cfg, write, &v, &err);
    if (st != RB_OK) {
        char *m = rb_redact(err.msg);
        fprintf(stderr, "rebound vault %s: %s\n", a.sub, m);
        free(m);
        rb_config_free(cfg);
        return st == RB_EINVAL || st == RB_EUNSUPPORTED || st == RB_EDENIED ? RB_EXIT_USAGE
                                                                              : RB_EXIT_FAILED;
    }
    if (rb_vault_unlocked_note(v) && !a.quiet && !a.json)
        fprintf(stderr, "rebound vault: warning: %s\n", rb_vault_unlocked_note(v));
    if (strcmp(a.sub, "put") == 0)
        rc = cmd_put(v, &a);
    else if (strcmp(a.sub, "list") == 0)
        rc = cmd_list(v, &a);
    else if (strcmp(a.sub, "show") == 0)
        rc = cmd_show(v, &a);
    else if (strcmp(a.sub, "verify") == 0)
        rc = cmd_verify(v, &a);
    else if (strcmp(a.sub, "prune") == 0)
        rc = cmd_prune(v, &a);
    else if (strcmp(a.sub, "restore") == 0)
        rc = cmd_restore(v, &a);
    else
        rc = cmd_hold(v, &a);
    rb_vault_close(v);
    rb_config_free(cfg);
    return rc;
}
