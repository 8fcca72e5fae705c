#include "engine/history.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strmap.h"
#include "core/util.h"

#define MAX_REPORTS 5

typedef struct candidate {
    char *path;
    char started[40];
} candidate;

static int newest_first(const void *a, const void *b)
{
    return strcmp(((const candidate *)b)->started, ((const candidate *)a)->started);
}

static cJSON *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    rb_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rb_buf_add(&b, chunk, n);
    fclose(f);
    cJSON *j = b.p ? cJSON_Parse(b.p) : NULL;
    rb_buf_free(&b);
    return j;
}

int rb_history_estimate(rb_run *run, const char *runs_dir)
{
    DIR *d = runs_dir ? opendir(runs_dir) : NULL;
    if (!d)
        return 0;
    candidate *c = NULL;
    size_t nc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path = rb_xasprintf("%s/%s/report.json", runs_dir, e->d_name);
        cJSON *j = read_json(path);
        const cJSON *pb = cJSON_GetObjectItem(j, "playbook");
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(pb, "name"));
        const char *mode = cJSON_GetStringValue(cJSON_GetObjectItem(j, "mode"));
        const char *started = cJSON_GetStringValue(cJSON_GetObjectItem(j, "started"));
        if (name && started && mode && strcmp(mode, "plan") != 0 &&
            strcmp(name, run->playbook_name) == 0) {
            c = rb_xrealloc(c, (nc + 1) * sizeof *c);
            c[nc].path = path;
            snprintf(c[nc].started, sizeof c[nc].started, "%s", started);
            nc++;
            path = NULL;
        }
        cJSON_Delete(j);
        free(path);
    }
    closedir(d);
    qsort(c, nc, sizeof *c, newest_first);

    rb_strmap index;
    rb_strmap_init(&index, run->n_steps);
    for (size_t i = 0; i < run->n_steps; i++)
        rb_strmap_put(&index, run->steps[i].name, i, NULL);
    double *sum = rb_xcalloc(run->n_steps, sizeof *sum);
    int *count = rb_xcalloc(run->n_steps, sizeof *count);
    int used = 0;
    for (size_t k = 0; k < nc && used < MAX_REPORTS; k++) {
        cJSON *j = read_json(c[k].path);
        const cJSON *steps = cJSON_GetObjectItem(j, "steps");
        int any = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, steps)
        {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(s, "name"));
            const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(s, "state"));
            const cJSON *dur = cJSON_GetObjectItem(s, "duration_s");
            const cJSON *resumed = cJSON_GetObjectItem(s, "resumed");
            size_t i;
            if (name && state && strcmp(state, "succeeded") == 0 && cJSON_IsNumber(dur) &&
                !cJSON_IsTrue(resumed) && rb_strmap_get(&index, name, &i)) {
                sum[i] += dur->valuedouble;
                count[i]++;
                any = 1;
            }
        }
        used += any;
        cJSON_Delete(j);
    }
    for (size_t i = 0; i < run->n_steps; i++)
        run->steps[i].estimate_s = count[i] ? sum[i] / count[i] : -1;
    for (size_t k = 0; k < nc; k++)
        free(c[k].path);
    free(c);
    free(sum);
    free(count);
    rb_strmap_free(&index);
    return used;
}
