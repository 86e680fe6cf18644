/* Running ptxas (see ptxas.h). */
#define _POSIX_C_SOURCE 200809L
#include "ptxas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* $env, /usr/local/cuda/bin/<name>, or <name> on PATH. */
static bool tool_find(const char *name, const char *env_name, char *buf, size_t n)
{
    const char *env = getenv(env_name);
    if (env && *env && access(env, X_OK) == 0) {
        snprintf(buf, n, "%s", env);
        return true;
    }
    snprintf(buf, n, "/usr/local/cuda/bin/%s", name);
    if (access(buf, X_OK) == 0)
        return true;
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *end = strchr(path, ':');
        int len = end ? (int)(end - path) : (int)strlen(path);
        snprintf(buf, n, "%.*s/%s", len, path, name);
        if (access(buf, X_OK) == 0)
            return true;
        path = end ? end + 1 : NULL;
    }
    return false;
}

bool ptxas_find(char *buf, size_t n) { return tool_find("ptxas", "PTXAS", buf, n); }

bool nvdisasm_find(char *buf, size_t n)
{
    if (tool_find("nvdisasm", "NVDISASM", buf, n))
        return true;
    /* where scripts/deps.sh puts PyPI's nvidia-cuda-nvdisasm */
    const char *home = getenv("HOME");
    snprintf(buf, n, "%s/.cache/tessera/pip/nvidia/cu13/bin/nvdisasm", home ? home : "");
    return home && access(buf, X_OK) == 0;
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

/* Runs cmd, appending its output to log; returns its exit status. */
static int run_into(const char *cmd, StrBuf *log)
{
    FILE *p = popen(cmd, "r");
    char buf[4096];
    size_t got;
    while (p && (got = fread(buf, 1, sizeof buf, p)) > 0)
        sb_putn(log, buf, got);
    return p ? pclose(p) : -1;
}

/* Counts the instruction lines of `nvdisasm -c` output: an address in a
 * comment (slash-star, hex digits, star-slash), an optional predicate
 * (@P0), then the opcode in capitals. */
void ptxas_count_sass(const char *text, SassCounts *c)
{
    memset(c, 0, sizeof *c);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (p[0] != '/' || p[1] != '*')
            continue;
        const char *e = strstr(p, "*/");
        if (!e || e - p < 3 || strspn(p + 2, "0123456789abcdef") != (size_t)(e - p - 2))
            continue;
        p = e + 2;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '@') { /* a predicate guards it */
            p += strcspn(p, " \t\n");
            p += strspn(p, " \t");
        }
        if (!(*p >= 'A' && *p <= 'Z'))
            continue;
        c->instructions++;
        c->hmma += strncmp(p, "HMMA", 4) == 0;
        c->hgmma += strncmp(p, "HGMMA", 5) == 0;
        c->qgmma += strncmp(p, "QGMMA", 5) == 0;
        c->ldsm += strncmp(p, "LDSM", 4) == 0;
        c->ldgsts += strncmp(p, "LDGSTS", 6) == 0;
        c->utmaldg += strncmp(p, "UTMALDG", 7) == 0;
        c->usetmaxreg += strncmp(p, "USETMAXREG", 10) == 0;
        if (strncmp(p, "WARPGROUP.DEPBAR.LE", 19) == 0) {
            const char *n = strstr(p, "0x");
            c->wgmma_wait_deep += n && n < p + strcspn(p, ";\n") && strtol(n, NULL, 16) > 0;
        }
        c->mufu += strncmp(p, "MUFU", 4) == 0;
    }
}

bool ptxas_check_listing(const char *ptxas, const char *nvdisasm, const char *ptx, const char *arch, PtxasReport *rep,
                         StrBuf *listing, StrBuf *log)
{
    char file[] = "/tmp/tessera-ptxas-XXXXXX", cubin[64];
    int fd = mkstemp(file);
    memset(rep, 0, sizeof *rep);
    if (fd < 0) {
        sb_puts(log, "cannot create a temporary file");
        return false;
    }
    FILE *f = fdopen(fd, "w");
    bool written = f && fputs(ptx, f) >= 0;
    if (f)
        written = fclose(f) == 0 && written;
    snprintf(cubin, sizeof cubin, "%s.cubin", file);
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "'%.4000s' -arch=%.16s -v '%s' -o '%s' 2>&1", ptxas, arch, file,
             nvdisasm ? cubin : "/dev/null");
    int status = written ? run_into(cmd, log) : -1;
    unlink(file);
    const char *text = log->data ? log->data : "";
    const char *used = strstr(text, "Used ");
    if (used)
        rep->registers = atoi(used + 5);
    rep->spill_stores = number_before(text, "bytes spill stores");
    rep->spill_loads = number_before(text, "bytes spill loads");
    rep->stack = number_before(text, "bytes stack frame");
    rep->smem = number_before(text, "bytes smem");
    for (const char *c = strstr(text, "(C75"); c; c = strstr(c + 4, "(C75"))
        rep->c75xx++;
    if (status == 0 && nvdisasm && listing) {
        StrBuf dis;
        sb_init(&dis);
        snprintf(cmd, sizeof cmd, "'%.4000s' -c '%s' 2>&1", nvdisasm, cubin);
        if (run_into(cmd, &dis) == 0)
            sb_puts(listing, dis.data ? dis.data : "");
        else
            sb_printf(log, "nvdisasm failed:\n%s", dis.data ? dis.data : "");
        sb_free(&dis);
    }
    if (nvdisasm)
        unlink(cubin);
    return status == 0;
}

bool ptxas_check_sass(const char *ptxas, const char *nvdisasm, const char *ptx, const char *arch, PtxasReport *rep,
                      SassCounts *sass, StrBuf *log)
{
    StrBuf listing;
    sb_init(&listing);
    if (sass)
        memset(sass, 0, sizeof *sass);
    bool ok = ptxas_check_listing(ptxas, sass ? nvdisasm : NULL, ptx, arch, rep, &listing, log);
    if (ok && sass && listing.data)
        ptxas_count_sass(listing.data, sass);
    sb_free(&listing);
    return ok;
}

bool ptxas_check(const char *ptxas, const char *ptx, const char *arch, PtxasReport *rep, StrBuf *log)
{
    return ptxas_check_sass(ptxas, NULL, ptx, arch, rep, NULL, log);
}
