/* Running ptxas (see ptxas.h). */
#define _POSIX_C_SOURCE 200809L
#include "ptxas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool ptxas_find(char *buf, size_t n)
{
    const char *env = getenv("PTXAS");
    if (env && *env && access(env, X_OK) == 0) {
        snprintf(buf, n, "%s", env);
        return true;
    }
    if (access("/usr/local/cuda/bin/ptxas", X_OK) == 0) {
        snprintf(buf, n, "/usr/local/cuda/bin/ptxas");
        return true;
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *end = strchr(path, ':');
        int len = end ? (int)(end - path) : (int)strlen(path);
        snprintf(buf, n, "%.*s/ptxas", len, path);
        if (access(buf, X_OK) == 0)
            return true;
        path = end ? end + 1 : NULL;
    }
    return false;
}

/* The number just before `suffix` in text (0 when absent). */
static int number_before(const char *text, const char *suffix)
{
    const char *p = strstr(text, suffix);
    if (!p)
        return 0;
    while (p > text && p[-1] == ' ')
        p--;
    while (p > text && p[-1] >= '0' && p[-1] <= '9')
        p--;
    return atoi(p);
}

bool ptxas_check(const char *ptxas, const char *ptx, const char *arch, PtxasReport *rep, StrBuf *log)
{
    char file[] = "/tmp/tessera-ptxas-XXXXXX";
    int fd = mkstemp(file);
    if (fd < 0) {
        sb_puts(log, "cannot create a temporary file");
        return false;
    }
    FILE *f = fdopen(fd, "w");
    bool written = f && fputs(ptx, f) >= 0;
    if (f)
        written = fclose(f) == 0 && written;
    char cmd[4096 + 128];
    snprintf(cmd, sizeof cmd, "'%.4000s' -arch=%.16s -v '%s' -o /dev/null 2>&1", ptxas, arch, file);
    FILE *p = written ? popen(cmd, "r") : NULL;
    char buf[4096];
    size_t got;
    while (p && (got = fread(buf, 1, sizeof buf, p)) > 0)
        sb_putn(log, buf, got);
    int status = p ? pclose(p) : -1;
    unlink(file);
    const char *text = log->data ? log->data : "";
    memset(rep, 0, sizeof *rep);
    const char *used = strstr(text, "Used ");
    if (used)
        rep->registers = atoi(used + 5);
    rep->spill_stores = number_before(text, "bytes spill stores");
    rep->spill_loads = number_before(text, "bytes spill loads");
    rep->stack = number_before(text, "bytes stack frame");
    rep->smem = number_before(text, "bytes smem");
    return status == 0;
}
