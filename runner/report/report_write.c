/* Writes report.json, junit.xml and summary.txt into the run directory.
 * Each file is written to a temporary name, fsync'd and renamed, so a
 * reader (or a crash) sees the old file or the new one, never half of one. */
#include "report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

typedef int (*write_fn)(const rb_run *run, FILE *out);

static int write_text_adapter(const rb_run *run, FILE *out)
{
    rb_report_write_text(run, out);
    return ferror(out) ? -1 : 0;
}

static int write_atomic(const rb_run *run, const char *dir, const char *name, write_fn fn,
                        char *err, size_t errlen)
{
    char *tmp = rb_xasprintf("%s/.%s.XXXXXX", dir, name);
    char *dst = rb_xasprintf("%s/%s", dir, name);
    int rc = -1;
    const char *what = "create";
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        goto out;
    }
    /* mkstemp makes 0600; reports are for sharing, like the files around them. */
    fchmod(fd, 0644);
    what = "write";
    int failed = fn(run, f) != 0 || fflush(f) != 0 || ferror(f);
    if (!failed) {
        what = "fsync";
        failed = fsync(fileno(f)) != 0;
    }
    int saved = errno;
    if (fclose(f) != 0 && !failed) {
        what = "close";
        failed = 1;
        saved = errno;
    }
    if (!failed) {
        what = "rename";
        failed = rename(tmp, dst) != 0;
        saved = errno;
    }
    if (failed) {
        unlink(tmp);
        errno = saved;
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        snprintf(err, errlen, "cannot %s %s: %s", what, dst, strerror(errno ? errno : EIO));
    free(tmp);
    free(dst);
    return rc;
}

int rb_report_write_all(const rb_run *run, const char *dir, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        write_fn fn;
    } files[] = {
        {"report.json", rb_report_write_json},
        {"junit.xml", rb_report_write_junit},
        {"summary.txt", write_text_adapter},
    };
    if (rb_mkdir_p(dir) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        errno = 0;
        if (write_atomic(run, dir, files[i].name, files[i].fn, err, errlen) != 0)
            return -1;
    }
    /* The renames are durable once the directory is. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}
