/* The plugin registry: dlopen, resolve the one entry point, check, keep.
 *
 * Unlike Fluent Bit's loader, nothing is trusted before it is checked: the
 * ABI major must match and the structs must be as large as what this host
 * reads (see check.c). Every refusal is kept with its path and reason so
 * `rebound plugins list` can show it and a playbook that needs the plugin
 * can say why it is missing. */
#include "plugin/registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"
#include "core/values.h"
#include "plugin/check.h"
#include "plugin/context.h"

typedef struct loaded {
    rb_loaded_plugin pub;
    char *real; /* realpath of pub.path, to skip a file seen twice */
} loaded;

struct rb_registry {
    const rb_value *settings;
    loaded **plugins;
    size_t n_plugins, cap_plugins;
    rb_refusal **refusals;
    size_t n_refusals, cap_refusals;
};

rb_registry *rb_registry_new(const rb_value *settings)
{
    rb_registry *reg = rb_xcalloc(1, sizeof *reg);
    reg->settings = settings;
    return reg;
}

void rb_registry_free(rb_registry *reg)
{
    if (!reg)
        return;
    /* Unload in reverse order of loading, as a stack of libraries would. */
    for (size_t i = reg->n_plugins; i-- > 0;) {
        loaded *l = reg->plugins[i];
        if (rb_plugin_has_fini(l->pub.def))
            l->pub.def->fini();
        dlclose(l->pub.handle);
        free(l->pub.path);
        free(l->real);
        free(l);
    }
    for (size_t i = 0; i < reg->n_refusals; i++) {
        rb_refusal *r = reg->refusals[i];
        free(r->path);
        free(r->name);
        free(r->reason);
        free(r);
    }
    free(reg->plugins);
    free(reg->refusals);
    free(reg);
}

static int refused_already(const rb_registry *reg, const char *path)
{
    for (size_t i = 0; i < reg->n_refusals; i++)
        if (strcmp(reg->refusals[i]->path, path) == 0)
            return 1;
    return 0;
}

RB_FMT(4, 5)
static void refuse(rb_registry *reg, const char *path, const char *name, const char *fmt, ...)
{
    /* A directory named twice (--plugin-dir and the config) reports once. */
    if (refused_already(reg, path))
        return;
    rb_refusal *r = rb_xcalloc(1, sizeof *r);
    r->path = rb_xstrdup(path);
    r->name = name ? rb_xstrdup(name) : NULL;
    va_list ap;
    va_start(ap, fmt);
    r->reason = rb_xvasprintf(fmt, ap);
    va_end(ap);
    if (reg->n_refusals == reg->cap_refusals) {
        reg->cap_refusals = reg->cap_refusals ? reg->cap_refusals * 2 : 8;
        reg->refusals = rb_xrealloc(reg->refusals, reg->cap_refusals * sizeof *reg->refusals);
    }
    reg->refusals[reg->n_refusals++] = r;
}

static void keep(rb_registry *reg, loaded *l)
{
    if (reg->n_plugins == reg->cap_plugins) {
        reg->cap_plugins = reg->cap_plugins ? reg->cap_plugins * 2 : 8;
        reg->plugins = rb_xrealloc(reg->plugins, reg->cap_plugins * sizeof *reg->plugins);
    }
    reg->plugins[reg->n_plugins++] = l;
}

static const loaded *find_loaded(const rb_registry *reg, const char *name)
{
    for (size_t i = 0; i < reg->n_plugins; i++)
        if (strcmp(reg->plugins[i]->pub.def->name, name) == 0)
            return reg->plugins[i];
    return NULL;
}

/* dlerror() repeats the path ("/x/y.so: invalid ELF header"); the refusal
 * already names it. */
static const char *strip_path(const char *err, const char *path)
{
    size_t n = strlen(path);
    if (strncmp(err, path, n) == 0 && err[n] == ':' && err[n + 1] == ' ')
        return err + n + 2;
    return err;
}

static void unload(void *handle, const rb_plugin *def)
{
    if (rb_plugin_has_fini(def))
        def->fini();
    dlclose(handle);
}

int rb_registry_load_file(rb_registry *reg, const char *path)
{
    if (refused_already(reg, path))
        return -1;
    char *real = realpath(path, NULL);
    if (real) {
        for (size_t i = 0; i < reg->n_plugins; i++) {
            if (reg->plugins[i]->real && strcmp(reg->plugins[i]->real, real) == 0) {
                free(real);
                return 0; /* the same file through a second directory entry */
            }
        }
    }
    /* Without a slash dlopen() would search LD_LIBRARY_PATH and the system
     * directories instead of the file the user named. */
    char *open_path = strchr(path, '/') ? rb_xstrdup(path) : rb_xasprintf("./%s", path);
    dlerror();
    void *handle = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *err = dlerror();
        refuse(reg, path, NULL, "not a loadable plugin: %s",
               err ? strip_path(err, open_path) : "dlopen failed");
        goto fail;
    }
    for (size_t i = 0; i < reg->n_plugins; i++) {
        if (reg->plugins[i]->pub.handle == handle) {
            dlclose(handle); /* a hard link or copy the dynamic linker already knows */
            free(open_path);
            free(real);
            return 0;
        }
    }

    dlerror();
    void *sym = dlsym(handle, RB_PLUGIN_ENTRY);
    if (!sym) {
        refuse(reg, path, NULL,
               "no entry point " RB_PLUGIN_ENTRY " (not a rebound plugin, or the symbol is "
               "not exported with RB_PLUGIN_EXPORT)");
        dlclose(handle);
        goto fail;
    }
    rb_plugin_init_fn init;
    memcpy(&init, &sym, sizeof init); /* POSIX guarantees this conversion */

    const rb_host_api *host = rb_host_api_get();
    const rb_plugin *def = NULL;
    char *errmsg = NULL;
    int rc = init(host, &def, &errmsg);
    if (rc != RB_OK) {
        refuse(reg, path, NULL, "%s failed (%s): %s", RB_PLUGIN_ENTRY, rb_status_name(rc),
               errmsg && *errmsg ? errmsg : "no message");
        host->mem_free(errmsg);
        dlclose(handle);
        goto fail;
    }
    host->mem_free(errmsg);
    if (!def) {
        refuse(reg, path, NULL, RB_PLUGIN_ENTRY " returned RB_OK but no plugin");
        dlclose(handle);
        goto fail;
    }

    char *why = rb_plugin_check_def(def);
    if (why) {
        /* The name is only trustworthy in a header we understand. */
        const char *name = def->abi_major == RB_ABI_MAJOR && rb_name_valid(def->name) ? def->name
                                                                                      : NULL;
        refuse(reg, path, name, "%s", why);
        free(why);
        unload(handle, def);
        goto fail;
    }
    const loaded *prev = find_loaded(reg, def->name);
    if (prev) {
        refuse(reg, path, def->name, "duplicate plugin name %s (already loaded from %s)",
               def->name, prev->pub.path);
        unload(handle, def);
        goto fail;
    }

    loaded *l = rb_xcalloc(1, sizeof *l);
    l->pub.path = rb_xstrdup(path);
    l->pub.handle = handle;
    l->pub.def = def;
    const rb_value *s = rbv_map_get(reg->settings, def->name);
    l->pub.settings = rbv_type(s) == RB_VMAP ? s : rb_host_empty_map();
    l->real = real;
    keep(reg, l);
    free(open_path);
    return 0;

fail:
    free(open_path);
    free(real);
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

void rb_registry_scan_dir(rb_registry *reg, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        refuse(reg, dir, NULL, "cannot open plugin directory: %s", strerror(errno));
        return;
    }
    char **paths = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".so"))
            continue;
        char *p = rb_xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            paths = rb_xrealloc(paths, cap * sizeof *paths);
        }
        paths[n++] = p;
    }
    closedir(d);
    /* A stable order, so "already loaded from" names the same file every run. */
    if (n)
        qsort(paths, n, sizeof *paths, cmp_str);
    for (size_t i = 0; i < n; i++) {
        rb_registry_load_file(reg, paths[i]);
        free(paths[i]);
    }
    free(paths);
}

size_t rb_registry_count(const rb_registry *reg) { return reg->n_plugins; }

const rb_loaded_plugin *rb_registry_at(const rb_registry *reg, size_t i)
{
    return i < reg->n_plugins ? &reg->plugins[i]->pub : NULL;
}

const rb_loaded_plugin *rb_registry_find(const rb_registry *reg, const char *name)
{
    const loaded *l = name ? find_loaded(reg, name) : NULL;
    return l ? &l->pub : NULL;
}

size_t rb_registry_refusal_count(const rb_registry *reg) { return reg->n_refusals; }

const rb_refusal *rb_registry_refusal_at(const rb_registry *reg, size_t i)
{
    return i < reg->n_refusals ? reg->refusals[i] : NULL;
}

static int file_is_named(const char *path, const char *name)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "lib", 3) == 0 && strncmp(base + 3, name, strlen(name)) == 0 &&
        strcmp(base + 3 + strlen(name), ".so") == 0)
        return 1;
    return strncmp(base, name, strlen(name)) == 0 && strcmp(base + strlen(name), ".so") == 0;
}

const rb_refusal *rb_registry_refusal_for(const rb_registry *reg, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < reg->n_refusals; i++)
        if (reg->refusals[i]->name && strcmp(reg->refusals[i]->name, name) == 0)
            return reg->refusals[i];
    for (size_t i = 0; i < reg->n_refusals; i++)
        if (file_is_named(reg->refusals[i]->path, name))
            return reg->refusals[i];
    return NULL;
}

const rb_action *rb_plugin_action_at(const rb_loaded_plugin *p, size_t i)
{
    return p && i < p->def->n_actions ? rb_def_action_at(p->def, i) : NULL;
}

const rb_action *rb_plugin_find_action(const rb_loaded_plugin *p, const char *name)
{
    if (!p || !name)
        return NULL;
    for (size_t i = 0; i < p->def->n_actions; i++) {
        const rb_action *a = rb_def_action_at(p->def, i);
        if (strcmp(a->name, name) == 0)
            return a;
    }
    return NULL;
}

const char *rb_effect_name(rb_effect e)
{
    switch (e) {
    case RB_EFFECT_READ: return "read";
    case RB_EFFECT_WRITE: return "write";
    case RB_EFFECT_DESTRUCTIVE: return "destructive";
    }
    return "?";
}

const char *rb_type_name(rb_type t)
{
    switch (t) {
    case RB_TANY: return "any";
    case RB_TBOOL: return "boolean";
    case RB_TINT: return "integer";
    case RB_TNUMBER: return "number";
    case RB_TSTRING: return "string";
    case RB_TBYTES: return "bytes";
    case RB_TLIST: return "list";
    case RB_TMAP: return "map";
    }
    return "?";
}
