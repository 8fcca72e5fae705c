/* `rebound plugins list` and `rebound plugins info NAME`: printed from the
 * plugins' own tables, so the help can never drift from what the host
 * validates. JSON goes through cJSON. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "plugin/registry.h"

static const char *or_empty(const char *s) { return s ? s : ""; }

static char *abi_text(const rb_plugin *def)
{
    return rb_xasprintf("%u.%u", (unsigned)def->abi_major, (unsigned)def->abi_minor);
}

static void emit_json(cJSON *root, FILE *out)
{
    char *text = cJSON_Print(root);
    if (!text)
        rb_die_oom();
    fprintf(out, "%s\n", text);
    cJSON_free(text);
    cJSON_Delete(root);
}

static cJSON *add_array(cJSON *obj, const char *key)
{
    cJSON *a = cJSON_AddArrayToObject(obj, key);
    if (!a)
        rb_die_oom();
    return a;
}

static cJSON *new_object(void)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        rb_die_oom();
    return o;
}

static void add_string(cJSON *obj, const char *key, const char *s)
{
    if (s)
        cJSON_AddStringToObject(obj, key, s);
    else
        cJSON_AddNullToObject(obj, key);
}

/* --- plugins list ------------------------------------------------------------ */

static void list_json(const rb_registry *reg, FILE *out)
{
    cJSON *root = new_object();
    cJSON *plugins = add_array(root, "plugins");
    for (size_t i = 0; i < rb_registry_count(reg); i++) {
        const rb_loaded_plugin *p = rb_registry_at(reg, i);
        cJSON *o = new_object();
        cJSON_AddItemToArray(plugins, o);
        add_string(o, "name", p->def->name);
        add_string(o, "version", p->def->version);
        add_string(o, "description", p->def->description);
        char *abi = abi_text(p->def);
        add_string(o, "abi", abi);
        free(abi);
        add_string(o, "path", p->path);
        cJSON *actions = add_array(o, "actions");
        for (size_t k = 0; k < p->def->n_actions; k++)
            cJSON_AddItemToArray(actions, cJSON_CreateString(rb_plugin_action_at(p, k)->name));
    }
    cJSON *refused = add_array(root, "refused");
    for (size_t i = 0; i < rb_registry_refusal_count(reg); i++) {
        const rb_refusal *r = rb_registry_refusal_at(reg, i);
        cJSON *o = new_object();
        cJSON_AddItemToArray(refused, o);
        add_string(o, "path", r->path);
        add_string(o, "name", r->name);
        add_string(o, "reason", r->reason);
    }
    emit_json(root, out);
}

static int max_int(int a, int b) { return a > b ? a : b; }

static void list_text(const rb_registry *reg, FILE *out)
{
    size_t n = rb_registry_count(reg);
    if (n == 0) {
        fprintf(out, "no plugins loaded\n");
    } else {
        int wn = 4, wv = 7, wp = 4;
        for (size_t i = 0; i < n; i++) {
            const rb_loaded_plugin *p = rb_registry_at(reg, i);
            wn = max_int(wn, (int)strlen(p->def->name));
            wv = max_int(wv, (int)strlen(or_empty(p->def->version)));
            wp = max_int(wp, (int)strlen(p->path));
        }
        fprintf(out, "%-*s  %-*s  %-5s  %-*s  %s\n", wn, "NAME", wv, "VERSION", "ABI", wp, "PATH",
                "ACTIONS");
        for (size_t i = 0; i < n; i++) {
            const rb_loaded_plugin *p = rb_registry_at(reg, i);
            char *abi = abi_text(p->def);
            fprintf(out, "%-*s  %-*s  %-5s  %-*s  ", wn, p->def->name, wv,
                    p->def->version ? p->def->version : "-", abi, wp, p->path);
            free(abi);
            for (size_t k = 0; k < p->def->n_actions; k++)
                fprintf(out, "%s%s", k ? ", " : "", rb_plugin_action_at(p, k)->name);
            fprintf(out, "%s\n", p->def->n_actions ? "" : "-");
        }
    }
    size_t nr = rb_registry_refusal_count(reg);
    if (nr) {
        fprintf(out, "\nrefused:\n");
        for (size_t i = 0; i < nr; i++) {
            const rb_refusal *r = rb_registry_refusal_at(reg, i);
            fprintf(out, "  %s: %s\n", r->path, r->reason);
        }
    }
}

void rb_registry_print_list(const rb_registry *reg, FILE *out, int json)
{
    if (json)
        list_json(reg, out);
    else
        list_text(reg, out);
}

/* --- plugins info NAME ---------------------------------------------------------- */

static void fields_json(cJSON *obj, const char *key, const rb_field *fields, int params)
{
    cJSON *arr = add_array(obj, key);
    for (const rb_field *f = fields; f && f->name; f++) {
        cJSON *o = new_object();
        cJSON_AddItemToArray(arr, o);
        add_string(o, "name", f->name);
        add_string(o, "type", rb_type_name(f->type));
        if (params) {
            cJSON_AddBoolToObject(o, "required", f->required != 0);
            cJSON *dv = f->default_json ? cJSON_Parse(f->default_json) : NULL;
            cJSON_AddItemToObject(o, "default", dv ? dv : cJSON_CreateNull());
        }
        add_string(o, "help", f->help);
    }
}

static void info_json(const rb_loaded_plugin *p, FILE *out)
{
    cJSON *root = new_object();
    add_string(root, "name", p->def->name);
    add_string(root, "version", p->def->version);
    add_string(root, "description", p->def->description);
    char *abi = abi_text(p->def);
    add_string(root, "abi", abi);
    free(abi);
    add_string(root, "path", p->path);
    cJSON *actions = add_array(root, "actions");
    for (size_t k = 0; k < p->def->n_actions; k++) {
        const rb_action *a = rb_plugin_action_at(p, k);
        cJSON *o = new_object();
        cJSON_AddItemToArray(actions, o);
        add_string(o, "name", a->name);
        add_string(o, "effect", rb_effect_name(a->effect));
        add_string(o, "summary", a->summary);
        fields_json(o, "parameters", a->params, 1);
        fields_json(o, "outputs", a->outputs, 0);
    }
    emit_json(root, out);
}

static void fields_text(FILE *out, const char *title, const rb_field *fields, int params)
{
    fprintf(out, "  %s:", title);
    if (!fields || !fields->name) {
        fprintf(out, " none\n");
        return;
    }
    fprintf(out, "\n");
    int wn = 0, wt = 0, wr = 0;
    for (const rb_field *f = fields; f->name; f++) {
        wn = max_int(wn, (int)strlen(f->name));
        wt = max_int(wt, (int)strlen(rb_type_name(f->type)));
        if (params)
            wr = max_int(wr, f->default_json ? 9 + (int)strlen(f->default_json)
                                             : (int)strlen(f->required ? "required" : "optional"));
    }
    for (const rb_field *f = fields; f->name; f++) {
        fprintf(out, "    %-*s  %-*s  ", wn, f->name, wt, rb_type_name(f->type));
        if (params) {
            char *req = f->default_json ? rb_xasprintf("default: %s", f->default_json)
                                        : rb_xstrdup(f->required ? "required" : "optional");
            fprintf(out, "%-*s  ", wr, req);
            free(req);
        }
        fprintf(out, "%s\n", or_empty(f->help));
    }
}

static void info_text(const rb_loaded_plugin *p, FILE *out)
{
    fprintf(out, "%s %s: %s\n", p->def->name, p->def->version ? p->def->version : "-",
            or_empty(p->def->description));
    char *abi = abi_text(p->def);
    fprintf(out, "  ABI %s, %s\n", abi, p->path);
    free(abi);
    for (size_t k = 0; k < p->def->n_actions; k++) {
        const rb_action *a = rb_plugin_action_at(p, k);
        fprintf(out, "\n%s.%s (%s)\n", p->def->name, a->name, rb_effect_name(a->effect));
        if (a->summary && *a->summary)
            fprintf(out, "  %s\n", a->summary);
        fields_text(out, "parameters", a->params, 1);
        fields_text(out, "outputs", a->outputs, 0);
    }
}

int rb_registry_print_info(const rb_registry *reg, const char *name, FILE *out, int json)
{
    const rb_loaded_plugin *p = rb_registry_find(reg, name);
    if (!p)
        return -1;
    if (json)
        info_json(p, out);
    else
        info_text(p, out);
    return 0;
}
