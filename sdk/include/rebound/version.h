/* rebound plugin SDK: ABI version.
 *
 * The ABI major changes only when an existing field or function changes
 * meaning, which we promise never to do casually: the host refuses plugins
 * built for another major. The minor grows whenever fields are appended to
 * rb_host_api or rb_plugin; a plugin built against minor N runs in any host
 * with minor >= N of the same major.
 *
 *   1.0  values, logging, errors, progress, idempotency keys, operations
 *   1.1  Azure: arm_call, arm_list, vault_call
 *   1.2  the backup vault: backup_put, backup_list, backup_get
 *   1.3  large objects: backup_put_stream, backup_manifest, backup_to_url,
 *        url_digest; json_encode, json_decode */
#ifndef REBOUND_VERSION_H
#define REBOUND_VERSION_H

#define RB_ABI_MAJOR 1
#define RB_ABI_MINOR 3

#endif
