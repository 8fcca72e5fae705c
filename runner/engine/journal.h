/* The run journal: journal.jsonl in the run directory, append-only JSON
 * lines. It must survive SIGKILL and power loss *before* any side effect it
 * protects: a write action's intent record is fsync'd before the action
 * starts. Everything else is group-committed: records are appended to a
 * buffer, written out every scheduler turn (so a killed process loses
 * nothing the kernel had), and fsync'd together at most every
 * RB_JOURNAL_SYNC_MS or when a durable record needs it. One fsync then
 * covers every intent of that turn.
 *
 * Records ("t" is the type):
 *   run     {run_id, playbook, path, digest, mode, params, [target], [config],
 *            plugin_dirs, started}
 *   resume  {started}
 *   step    {step, state, attempt, [error], [outputs], [duration_ms], [reason]}
 *   intent  {step, key, plugin, action, effect, input}   durable
 *   op      {key, op}                                    durable (save_operation)
 *   call    {step, key, outputs}                         a completed write call
 *   end     {status, wall_s}
 * A torn last line (power loss mid-write) is ignored when reading. */
#ifndef REBOUND_RUNNER_JOURNAL_H
#define REBOUND_RUNNER_JOURNAL_H

#include <stddef.h>

#include "core/strmap.h"
#include "rebound/value.h"

#define RB_JOURNAL_FILE "journal.jsonl"
#define RB_JOURNAL_SYNC_MS 50

typedef struct cJSON cJSON;
typedef struct rb_journal rb_journal;

/* Creates dir/journal.jsonl, which must not exist, holding `first` (the run
 * record; ownership taken) from the start: the file is written under a
 * temporary name, fsync'd and linked into place, so a journal never exists
 * without its run record. NULL with a malloc'd *err on failure. */
rb_journal *rb_journal_create(const char *dir, cJSON *first, char **err);
/* Reopens an existing journal for appending (resume); a torn last record
 * left by a crash is cut off first. */
rb_journal *rb_journal_open_append(const char *dir, char **err);
/* Final sync and close. Returns 0 or -1 if an earlier write failed. */
int rb_journal_close(rb_journal *j);

/* Appends a record (takes ownership of rec; secrets are redacted from the
 * text). Thread-safe. durable records set the "needs sync" flag. */
void rb_journal_append(rb_journal *j, cJSON *rec, int durable);
/* Writes buffered records; fsyncs when a durable record is pending or the
 * sync interval passed (or force). Returns 0, or -1 once a write or fsync
 * failed (the run must stop: it can no longer promise resumability). */
int rb_journal_commit(rb_journal *j, int force);
/* Non-zero while a durable record is appended but not yet fsync'd. */
int rb_journal_durable_pending(rb_journal *j);
/* Appends a durable record and syncs at once (for worker threads). */
int rb_journal_append_sync(rb_journal *j, cJSON *rec);
/* Statistics for the benchmark: fsync count. */
long rb_journal_sync_count(const rb_journal *j);

/* What a journal says about a run, for resume. */
typedef struct rb_replay {
    cJSON *records;        /* array of every record, owned */
    const cJSON **index;   /* records by position, for O(1) lookups */
    const cJSON *run;      /* the run record */
    rb_strmap done_steps;  /* step name -> index of its latest "succeeded" record */
    rb_strmap calls;       /* idempotency key -> index of its "call" record */
    rb_strmap ops;         /* idempotency key -> index of its latest "op" record */
    size_t *op_prev;       /* per record: the same key's previous "op" record, or SIZE_MAX */
    int ended;             /* an "end" record exists */
    int n_resumes;         /* "resume" records so far */
    char *end_status;
    size_t n_records;
    int torn_tail;         /* the last line was incomplete and ignored */
} rb_replay;

/* Reads dir/journal.jsonl. 0, or -1 with a malloc'd *err naming the line. */
int rb_replay_read(const char *dir, rb_replay *r, char **err);
void rb_replay_free(rb_replay *r);
/* The record at an index from one of the maps. */
const cJSON *rb_replay_record(const rb_replay *r, size_t index);

#endif
