/* Plan mode's output: the layers in order, each step with its effect and
 * estimate (write and destructive steps only have predicted outputs), the
 * critical path and the estimated duration. Text for people, or JSON
 * ("rebound.plan/1", see docs/report-schema.md) with --output json. */
#include "report/report.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "report/report_internal.h"
#include "report/textsafe.h"

/* Step indices grouped by layer, in step order within a layer (counting
 * sort). *n_layers_out counts layers up to the highest one used. */
static size_t *by_layer(const rb_run *run, size_t **starts_out, size_t *n_layers_out)
{
    size_t n_layers = run->n_layers > 0 ? (size_t)run->n_layers : 0;
    for (size_t i = 0; i < run->n_steps; i++) {
        size_t l = run->steps[i].layer > 0 ? (size_t)run->steps[i].layer : 0;
        if (l + 1 > n_layers)
            n_layers = l + 1;
    }
    size_t *starts = rb_xcalloc(n_layers + 1, sizeof *starts);
    for (size_t i = 0; i < run->n_steps; i++) {
        size_t l = run->steps[i].layer > 0 ? (size_t)run->steps[i].layer : 0;
        starts[l + 1]++;
    }
    for (size_t l = 0; l < n_layers; l++)
        starts[l + 1] += starts[l];
    size_t *fill = rb_xcalloc(n_layers + 1, sizeof *fill);
    size_t *order = rb_xcalloc(run->n_steps ? run->n_steps : 1, sizeof *order);
    for (size_t i = 0; i < run->n_steps; i++) {
        size_t l = run->steps[i].layer > 0 ? (size_t)run->steps[i].layer : 0;
        order[starts[l] + fill[l]++] = i;
    }
    free(fill);
    *starts_out = starts;
    *n_layers_out = n_layers;
    return order;
}

static size_t count_estimated(const rb_run *run)
{
    size_t known = 0;
    for (size_t i = 0; i < run->n_steps; i++)
        if (run->steps[i].estimate_s >= 0)
            known++;
    return known;
}

static void plan_json(const rb_run *run, FILE *out, int history_runs)
{
    size_t *starts, n_layers;
    size_t *order = by_layer(run, &starts, &n_layers);
    int known = count_estimated(run) > 0;

    cJSON *r = cJSON_CreateObject();
    if (!r)
        rb_die_oom();
    cJSON_AddStringToObject(r, "schema", "rebound.plan/1");
    cJSON *pb = cJSON_AddObjectToObject(r, "playbook");
    cJSON_AddItemToObject(pb, "name", rb_json_text(run->playbook_name));
    cJSON_AddItemToObject(pb, "path", rb_json_text(run->playbook_path));
    cJSON *layers = cJSON_AddArrayToObject(r, "layers");
    for (size_t l = 0; layers && l < n_layers; l++) {
        cJSON *layer = cJSON_CreateArray();
        for (size_t k = starts[l]; layer && k < starts[l + 1]; k++)
            cJSON_AddItemToArray(layer, rb_json_text(run->steps[order[k]].name));
        cJSON_AddItemToArray(layers, layer);
    }
    cJSON *steps = cJSON_AddArrayToObject(r, "steps");
    for (size_t k = 0; steps && k < run->n_steps; k++) {
        const rb_step_result *st = &run->steps[order[k]];
        cJSON *o = cJSON_CreateObject();
        if (!o)
            rb_die_oom();
        cJSON_AddItemToObject(o, "name", rb_json_text(st->name));
        cJSON_AddItemToObject(o, "description", rb_json_text(st->description));
        cJSON_AddStringToObject(o, "effect", rb_effect_name(st->effect));
        cJSON_AddNumberToObject(o, "layer", st->layer);
        cJSON *needs = cJSON_AddArrayToObject(o, "needs");
        for (size_t i = 0; needs && i < st->n_needs; i++)
            cJSON_AddItemToArray(needs, rb_json_text(st->needs[i]));
        if (st->estimate_s >= 0)
            rb_json_add_seconds(o, "estimate_s", st->estimate_s);
        else
            cJSON_AddNullToObject(o, "estimate_s");
        cJSON_AddBoolToObject(o, "predicted", st->effect != RB_EFFECT_READ);
        cJSON_AddItemToObject(o, "outputs", rb_json_value(st->outputs));
        cJSON_AddStringToObject(o, "state", rb_step_state_name(st->state));
        cJSON_AddItemToObject(o, "error", rb_json_text(st->error));
        cJSON_AddItemToArray(steps, o);
    }
    cJSON_AddItemToObject(r, "critical_path", rb_json_critical_path(run, known));
    if (known)
        rb_json_add_seconds(r, "estimated_s", run->critical_s);
    else
        cJSON_AddNullToObject(r, "estimated_s");
    if (history_runs >= 0)
        cJSON_AddNumberToObject(r, "history_runs", history_runs);
    else
        cJSON_AddNullToObject(r, "history_runs");
    cJSON_AddItemToObject(r, "notes", run->notes ? rb_json_value(run->notes)
                                                 : cJSON_CreateArray());
    rb_json_print(r, out);
    cJSON_Delete(r);
    free(order);
    free(starts);
}

static void plan_text(const rb_run *run, FILE *out, int history_runs)
{
    size_t *starts, n_layers;
    size_t *order = by_layer(run, &starts, &n_layers);
    size_t known = count_estimated(run);
    char d[32];

    char *pb = rb_term_clean(run->playbook_name);
    fprintf(out, "Plan for %s (%zu step%s, %zu layer%s)\n", pb, run->n_steps,
            run->n_steps == 1 ? "" : "s", n_layers, n_layers == 1 ? "" : "s");
    free(pb);

    size_t w_name = 0;
    for (size_t i = 0; i < run->n_steps; i++) {
        size_t w = rb_term_width(run->steps[i].name);
        if (w > w_name)
            w_name = w;
    }
    const size_t w_effect = strlen("[destructive]");

    fputc('\n', out);
    rb_buf line = {0};
    for (size_t l = 0; l < n_layers; l++) {
        /* Layers are 1-based for people; the JSON "layer" field is 0-based. */
        fprintf(out, "Layer %zu:\n", l + 1);
        for (size_t k = starts[l]; k < starts[l + 1]; k++) {
            const rb_step_result *st = &run->steps[order[k]];
            char *name = rb_term_clean(st->name);
            char effect[32];
            snprintf(effect, sizeof effect, "[%s]", rb_effect_name(st->effect));
            rb_buf_reset(&line);
            rb_buf_printf(&line, "  %s%*s  %-*s  ", name, (int)(w_name - rb_term_width(name)), "",
                          (int)w_effect, effect);
            free(name);
            if (st->estimate_s >= 0) {
                rb_fmt_duration(st->estimate_s, d);
                rb_buf_printf(&line, "est %-8s", d);
            } else {
                rb_buf_puts(&line, "no history  ");
            }
            if (st->effect != RB_EFFECT_READ)
                rb_buf_puts(&line, "  (predicted)");
            const char *not_run = rb_step_why_not_run(st);
            if (st->state == RB_STEP_FAILED || not_run) {
                char *why = rb_term_clean(st->state == RB_STEP_FAILED ? st->error : not_run);
                rb_buf_printf(&line, "  %s: %s", rb_step_state_name(st->state), why);
                free(why);
            }
            while (line.len && line.p[line.len - 1] == ' ')
                line.p[--line.len] = '\0';
            fprintf(out, "%s\n", line.p);
        }
    }
    rb_buf_free(&line);

    fputs("\nCritical path: ", out);
    if (run->n_critical == 0)
        fputs("(none)", out);
    for (size_t i = 0; i < run->n_critical; i++) {
        size_t k = run->critical_path[i];
        char *name = rb_term_clean(k < run->n_steps ? run->steps[k].name : "?");
        fprintf(out, "%s%s", i ? " -> " : "", name);
        free(name);
    }
    if (known) {
        rb_fmt_duration(run->critical_s, d);
        fprintf(out, " (est %s)\n", d);
        fprintf(out, "Estimated duration: %s (from ", d);
        if (history_runs >= 0)
            fprintf(out, "%d earlier run%s", history_runs, history_runs == 1 ? "" : "s");
        else
            fputs("earlier runs", out);
        if (known < run->n_steps)
            fprintf(out, "; %zu step%s without history", run->n_steps - known,
                    run->n_steps - known == 1 ? "" : "s");
        fputs(")\n", out);
    } else {
        fputs("\nEstimated duration: no recorded durations yet; run or drill once to get"
              " estimates\n", out);
    }
    rb_text_notes(run, out);
    fflush(out);
    free(order);
    free(starts);
}

void rb_report_write_plan_history(const rb_run *run, FILE *out, int json, int history_runs)
{
    if (json)
        plan_json(run, out, history_runs);
    else
        plan_text(run, out, history_runs);
}

void rb_report_write_plan(const rb_run *run, FILE *out, int json)
{
    rb_report_write_plan_history(run, out, json, -1);
}
