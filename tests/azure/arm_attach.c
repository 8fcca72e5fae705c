/* A second process for test_arm and test_azsim: re-attaches to a journaled
 * operation id, waits for it and prints the result.
 * Usage: arm_attach BASE_URL OP_ID [CA_FILE TENANT CLIENT_ID] */
#include <stdio.h>
#include <stdlib.h>

#include "azure/arm.h"
#include "testutil.h"

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 6)
        return 2;
    rb_cloud cloud;
    rb_http_engine *eng = NULL;
    rb_cred *cred = NULL;
    rb_arm *arm = NULL;
    rb_arm_op *op = NULL;
    rb_az_err err;
    rb_cred_options o = {.kind = RB_CRED_CLIENT_SECRET,
                         .tenant_id = argc == 6 ? argv[4] : "t",
                         .client_id = argc == 6 ? argv[5] : "app",
                         .client_secret = TU_CLIENT_SECRET};
    rb_http_options ho = {.ca_file = argc == 6 ? argv[3] : NULL};
    cJSON *res = NULL;
    rb_status st = rb_cloud_custom(&cloud, "public", argv[1], argv[1],
                                   "https://management.azure.com", NULL, NULL, NULL, &err);
    if (st == RB_OK)
        st = rb_http_engine_new(&eng, &ho, &err);
    if (st == RB_OK)
        st = rb_cred_new(&cred, eng, &cloud, &o, &err);
    if (st == RB_OK)
        st = rb_arm_new(&arm, eng, cred, &cloud, &err);
    if (st == RB_OK)
        st = rb_arm_op_attach(arm, argv[2], &op, &err);
    if (st == RB_OK)
        st = rb_arm_op_wait(arm, op, NULL, &res, &err);
    if (st == RB_OK) {
        char *s = cJSON_PrintUnformatted(res);
        printf("%s\n", s ? s : "null");
        free(s);
    } else {
        fprintf(stderr, "arm_attach: %s: %s\n", rb_status_name(st), err.msg);
    }
    cJSON_Delete(res);
    rb_arm_op_free(op);
    rb_arm_free(arm);
    rb_cred_free(cred);
    rb_http_engine_free(eng);
    return st == RB_OK ? 0 : 1;
}
