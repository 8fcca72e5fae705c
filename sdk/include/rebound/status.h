/* rebound plugin SDK: status codes.
 *
 * Every function in the SDK that can fail returns an rb_status. Success is
 * RB_OK (zero); failures are negative. Like curl's CURLcode, these values are
 * never renumbered and never reused: new codes are only ever appended with
 * the next free number, so a plugin built today reads the same meaning in
 * every future host. */
#ifndef REBOUND_STATUS_H
#define REBOUND_STATUS_H

typedef int rb_status;

#define RB_OK            0   /* success */
#define RB_ERROR        -1   /* failure not covered below; see the error message */
#define RB_ENOMEM       -2   /* out of memory */
#define RB_EINVAL       -3   /* invalid argument or parameter */
#define RB_ENOTFOUND    -4   /* the named resource or object does not exist */
#define RB_EEXISTS      -5   /* the object already exists and will not be overwritten */
#define RB_ERETRY       -6   /* transient failure: the host may retry the action */
#define RB_ECANCELED    -7   /* the action was cancelled (interrupt, timeout, progress callback) */
#define RB_ETIMEDOUT    -8   /* a deadline passed */
#define RB_EAUTH        -9   /* authentication failed or credentials are missing */
#define RB_EDENIED     -10   /* forbidden: locks, immutability, permissions */
#define RB_EIO         -11   /* local I/O failure */
#define RB_EPROTO      -12   /* the remote side answered something malformed or unexpected */
#define RB_EUNSUPPORTED -13  /* the operation is not supported here */
#define RB_ECONFLICT   -14   /* conflicting state (e.g. an item exists with other content) */
#define RB_ECORRUPT    -15   /* data failed an integrity check (hash, signature) */
#define RB_EBLOCKED    -16   /* needs an approval or confirmation before it may run */
#define RB_EABI        -17   /* plugin and host ABI are incompatible */

/* The symbolic name of a status ("RB_EDENIED"), or "RB_E?" for an unknown
 * code. The string is static. */
static inline const char *rb_status_name(rb_status s)
{
    switch (s) {
    case RB_OK: return "RB_OK";
    case RB_ERROR: return "RB_ERROR";
    case RB_ENOMEM: return "RB_ENOMEM";
    case RB_EINVAL: return "RB_EINVAL";
    case RB_ENOTFOUND: return "RB_ENOTFOUND";
    case RB_EEXISTS: return "RB_EEXISTS";
    case RB_ERETRY: return "RB_ERETRY";
    case RB_ECANCELED: return "RB_ECANCELED";
    case RB_ETIMEDOUT: return "RB_ETIMEDOUT";
    case RB_EAUTH: return "RB_EAUTH";
    case RB_EDENIED: return "RB_EDENIED";
    case RB_EIO: return "RB_EIO";
    case RB_EPROTO: return "RB_EPROTO";
    case RB_EUNSUPPORTED: return "RB_EUNSUPPORTED";
    case RB_ECONFLICT: return "RB_ECONFLICT";
    case RB_ECORRUPT: return "RB_ECORRUPT";
    case RB_EBLOCKED: return "RB_EBLOCKED";
    case RB_EABI: return "RB_EABI";
    default: return "RB_E?";
    }
}

#endif
