/* Running ptxas (see ptxas.h). */
#include "ptxas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *ptxas_path(void)
{
    const char *env = getenv("PTXAS");
    if (env && access(env, X_OK) == 0)
        return env;
    if (access("/usr/local/cuda/bin/ptxas", X_OK) == 0)
        return "/usr/local/cuda/bin/ptxas";
    const char *path = getenv("PATH");
    static char found[4096]; /* test utility: one caller at a time */
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(found, sizeof found, "%.*s/ptxas", (int)n, path);
        if (access(found, X_OK) == 0)
            return found;
        path = end ? end + 1 : NULL;
    }
    return NULL;
}

static int number_before(const char *text, const char *suffix)
{
    const char *p = strstr(text, suffix);
    if (!p)
        return 0;
    while (p > text && (p[-1] == ' '))
        p--;
    while (p > text && p[-1] >= '0' && p[-1] <= '9')
        p--;
    return atoi(p);
}

bool ptxas_check(const char *ptx, const char *arch, PtxasReport *rep, StrBuf *log)
{
    char file[] = "/tmp/tessera-ptxas-XXXXXX";
    int fd = mkstemp(file);
    if (fd < 0) {
        sb_puts(log, "cannot create a temporary file");
        return false;
    }
    FILE *f = fdopen(fd, "w");
    fputs(ptx, f);
    fclose(f);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' -arch=%s -v '%s' -o /dev/null 2>&1", ptxas_path(), arch, file);
    FILE *p = popen(cmd, "r");
    char buf[4096];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0)
        sb_putn(log, buf, n);
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
    return status == 0 && !strstr(text, "error");
}
