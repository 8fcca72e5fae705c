#include "core/redact_json.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "azure/redact.h"
#include "core/log.h"

void rb_redact_json(cJSON *item)
{
    for (; item; item = item->next) {
        if (cJSON_IsString(item) && item->valuestring &&
            rb_redact_needed(item->valuestring, strlen(item->valuestring))) {
            char *safe = rb_redact(item->valuestring);
            if (strcmp(safe, item->valuestring) != 0) {
                char *copy = cJSON_malloc(strlen(safe) + 1);
                if (copy) {
                    strcpy(copy, safe);
                    cJSON_free(item->valuestring);
                    item->valuestring = copy;
                }
            }
            free(safe);
        }
        if (item->child)
            rb_redact_json(item->child);
    }
}
