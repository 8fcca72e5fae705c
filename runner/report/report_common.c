/* Helpers the report writers share; see report_internal.h. */
#include "report/report_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/redact_json.h"
#include "core/util.h"
#include "core/values.h"
#include "report/textsafe.h"

int rb_step_state_final(rb_step_state s)
{
    return s == RB_STEP_SUCCEEDED || s == RB_STEP_FAILED || s == RB_STEP_SKIPPED ||
           s == RB_STEP_BLOCKED || s == RB_STEP_CANCELLED;
}

const char *rb_step_why_not_run(const rb_step_result *st)
{
    int applies = st->state == RB_STEP_SKIPPED || st->state == RB_STEP_BLOCKED ||
                  st->state == RB_STEP_CANCELLED;
    return applies ? st->skip_reason : NULL;
}

int rb_step_started(const rb_step_result *st)
{
    return st->attempts > 0 || st->resumed;
}

void rb_text_notes(const rb_run *run, FILE *out)
{
    size_t n = run->notes && rbv_type(run->notes) == RB_VLIST ? rbv_len(run->notes) : 0;
    if (n == 0)
        return;
    fputs("\nNotes:\n", out);
    for (size_t i = 0; i < n; i++) {
        const rb_value *v = rbv_list_get(run->notes, i);
        char *json = rbv_type(v) == RB_VSTRING ? NULL : rbv_to_json_text(v);
        char *clean = rb_term_clean(json ? json : rbv_as_string(v));
        fprintf(out, "  - %s\n", clean);
        free(clean);
        free(json);
    }
}

void rb_fmt_duration(double s, char out[32])
{
    if (!isfinite(s) || s < 0) {
        snprintf(out, 32, "-");
    } else if (s < 0.1) {
        snprintf(out, 32, "%.0fms", s * 1000.0);
    } else if (s < 60.0) {
        snprintf(out, 32, "%.1fs", s);
    } else if (s < 3600.0) {
        long t = lround(s);
        snprintf(out, 32, "%ldm%02lds", t / 60, t % 60);
    } else {
        long t = lround(s / 60.0);
        snprintf(out, 32, "%ldh%02ldm", t / 60, t % 60);
    }
}

cJSON *rb_json_seconds(double s)
{
    if (!isfinite(s))
        return cJSON_CreateNull();
    char text[48];
    snprintf(text, sizeof text, "%.3f", rb_round_ms(s));
    /* trim trailing zeros ("1.500" -> "1.5", "2.000" -> "2") */
    char *dot = strchr(text, '.');
    if (dot) {
        char *end = text + strlen(text) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
    if (strcmp(text, "-0") == 0)
        strcpy(text, "0");
    return cJSON_CreateRaw(text);
}

void rb_json_add_seconds(cJSON *obj, const char *key, double s)
{
    cJSON_AddItemToObject(obj, key, rb_json_seconds(s));
}

double rb_round_ms(double s)
{
    if (!isfinite(s))
        return 0.0;
    return round(s * 1000.0) / 1000.0;
}

static void oom_if_null(const void *p)
{
    if (!p)
        rb_die_oom();
}

cJSON *rb_json_text(const char *s)
{
    if (!s)
        return cJSON_CreateNull();
    char *clean = rb_utf8_clean(s);
    cJSON *j = cJSON_CreateString(clean);
    free(clean);
    oom_if_null(j);
    return j;
}

/* Replaces *slot (allocated by cJSON unless is_const) with a clean copy
 * when it holds invalid UTF-8. */
static void clean_cjson_string(char **slot, int is_const)
{
    const unsigned char *p = (const unsigned char *)*slot;
    int valid = 1;
    while (*p) {
        size_t n = rb_utf8_seq_len(p);
        if (n == 0) {
            valid = 0;
            break;
        }
        p += n;
    }
    if (valid)
        return;
    char *clean = rb_utf8_clean(*slot);
    size_t len = strlen(clean) + 1;
    char *copy = cJSON_malloc(len);
    oom_if_null(copy);
    memcpy(copy, clean, len);
    free(clean);
    if (!is_const)
        cJSON_free(*slot);
    *slot = copy;
}

void rb_json_clean_tree(cJSON *j)
{
    for (; j; j = j->next) {
        if (j->string) {
            clean_cjson_string(&j->string, (j->type & cJSON_StringIsConst) != 0);
            j->type &= ~cJSON_StringIsConst;
        }
        if (cJSON_IsString(j) && j->valuestring)
            clean_cjson_string(&j->valuestring, 0);
        if (j->child)
            rb_json_clean_tree(j->child);
    }
}

cJSON *rb_json_value(const rb_value *v)
{
    if (!v)
        return cJSON_CreateNull();
    cJSON *j = rbv_to_json(v);
    oom_if_null(j);
    /* Only this tree, not its (absent) siblings. */
    rb_json_clean_tree(j);
    return j;
}

cJSON *rb_json_critical_path(const rb_run *run, int seconds_known)
{
    cJSON *cp = cJSON_CreateObject();
    cJSON *names = cJSON_AddArrayToObject(cp, "steps");
    oom_if_null(names);
    for (size_t i = 0; i < run->n_critical; i++) {
        size_t k = run->critical_path[i];
        if (k < run->n_steps)
            cJSON_AddItemToArray(names, rb_json_text(run->steps[k].name));
    }
    if (seconds_known)
        rb_json_add_seconds(cp, "seconds", run->critical_s);
    else
        cJSON_AddNullToObject(cp, "seconds");
    return cp;
}

int rb_json_print(const cJSON *j, FILE *out)
{
    /* Outputs come from plugins: mask registered secrets before printing. */
    rb_redact_json((cJSON *)j);
    /* Indented for people; past a few thousand entries (a 10,000-step
     * report is megabytes) compact, which is several times cheaper. */
    int big = cJSON_GetArraySize(cJSON_GetObjectItem(j, "steps")) > 2000;
    char *text = big ? cJSON_PrintUnformatted(j) : cJSON_Print(j);
    oom_if_null(text);
    int rc = fputs(text, out) < 0 || fputc('\n', out) == EOF ? -1 : 0;
    cJSON_free(text);
    if (fflush(out) != 0 || ferror(out))
        rc = -1;
    return rc;
}
