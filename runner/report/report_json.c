/* report.json: the machine-readable record of a run. The schema
 * ("rebound.report/1") is documented field by field in
 * docs/report-schema.md; a change that removes or renames a field needs
 * a new schema version. */
#include "report/report.h"

#include <cjson/cJSON.h>

#include "core/util.h"
#include "report/report_internal.h"

static cJSON *step_json(const rb_step_result *st)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        rb_die_oom();
    int started = rb_step_started(st);
    cJSON_AddItemToObject(o, "name", rb_json_text(st->name));
    cJSON_AddItemToObject(o, "description", rb_json_text(st->description));
    cJSON_AddStringToObject(o, "effect", rb_effect_name(st->effect));
    cJSON *needs = cJSON_AddArrayToObject(o, "needs");
    for (size_t i = 0; needs && i < st->n_needs; i++)
        cJSON_AddItemToArray(needs, rb_json_text(st->needs[i]));
    cJSON_AddStringToObject(o, "state", rb_step_state_name(st->state));
    cJSON_AddNumberToObject(o, "attempts", st->attempts);
    cJSON_AddBoolToObject(o, "resumed", st->resumed != 0);
    if (started) {
        rb_json_add_seconds(o, "start_s", st->start_s);
        rb_json_add_seconds(o, "duration_s", st->duration_s);
    } else {
        cJSON_AddNullToObject(o, "start_s");
        cJSON_AddNullToObject(o, "duration_s");
    }
    if (st->estimate_s >= 0)
        rb_json_add_seconds(o, "estimate_s", st->estimate_s);
    else
        cJSON_AddNullToObject(o, "estimate_s");
    cJSON_AddNumberToObject(o, "layer", st->layer);
    cJSON_AddItemToObject(o, "error", rb_json_text(st->error));
    cJSON_AddItemToObject(o, "skip_reason", rb_json_text(rb_step_why_not_run(st)));
    cJSON_AddItemToObject(o, "outputs", rb_json_value(st->outputs));
    cJSON_AddNumberToObject(o, "calls", st->n_calls);
    cJSON_AddNumberToObject(o, "replayed", st->n_replayed);
    return o;
}

/* Builds the whole report; the caller deletes it. */
static cJSON *report_json(const rb_run *run)
{
    cJSON *r = cJSON_CreateObject();
    if (!r)
        rb_die_oom();
    cJSON_AddStringToObject(r, "schema", "rebound.report/1");
    cJSON_AddItemToObject(r, "run_id", rb_json_text(run->run_id));
    cJSON *pb = cJSON_AddObjectToObject(r, "playbook");
    cJSON_AddItemToObject(pb, "name", rb_json_text(run->playbook_name));
    cJSON_AddItemToObject(pb, "path", rb_json_text(run->playbook_path));
    cJSON_AddItemToObject(r, "mode", rb_json_text(run->mode));
    cJSON_AddStringToObject(r, "status", rb_run_status_name(run->status));
    char started[32];
    rb_iso8601(run->started_wall_ms, started);
    cJSON_AddStringToObject(r, "started", started);
    rb_json_add_seconds(r, "wall_s", run->wall_s);
    cJSON_AddNumberToObject(r, "parallel", run->parallel);
    cJSON_AddBoolToObject(r, "resumed", run->resumed != 0);
    cJSON_AddItemToObject(r, "params", run->params ? rb_json_value(run->params)
                                                   : cJSON_CreateObject());
    cJSON *steps = cJSON_AddArrayToObject(r, "steps");
    for (size_t i = 0; steps && i < run->n_steps; i++)
        cJSON_AddItemToArray(steps, step_json(&run->steps[i]));
    cJSON_AddItemToObject(r, "critical_path", rb_json_critical_path(run, 1));
    cJSON_AddItemToObject(r, "notes", run->notes ? rb_json_value(run->notes)
                                                 : cJSON_CreateArray());
    return r;
}

int rb_report_write_json(const rb_run *run, FILE *out)
{
    cJSON *r = report_json(run);
    int rc = rb_json_print(r, out);
    cJSON_Delete(r);
    return rc;
}
