/* fuzz-diff: differential testing of the whole compiler with random
 * programs (issue 20; scripts/fuzz-diff.sh runs it).
 *
 *   fuzz-diff SECONDS [SEED] [--count N] [--out DIR] [--timeout CPU-SECONDS]
 *             [--reduce-seconds S] [--coverage] [--generate-only] [--coverage-table]
 *             [--runtime DEVICE | --runtime-only DEVICE]
 *   fuzz-diff --print SEED          prints the program of one seed
 * (--generate-only: only generates, and prints how often each feature came;
 * --coverage-table: the same as the markdown table of tests/README.md)
 *   fuzz-diff [--runtime[-only] DEVICE] --check FILE...   runs .tsr files with diffgen headers
 * (--runtime cuda|emu: also through the public API on that device, e.g. a
 * GPU; --runtime-only: the interpreter and that device alone)
 *
 * Each program runs in a child process (a crash or a hang is a finding, not
 * the end of the campaign) through check_program (check.h). A finding is
 * written to DIR (default fuzz-out/diff) as seed-SEED.tsr, then reduced to
 * seed-SEED-reduced.tsr (only the first two findings of a kind are
 * reduced: same verdict, configuration, instruction and check). SIGINT or
 * SIGTERM ends a campaign early, with its summary. The last line of the
 * output counts programs and findings; the exit status is 1 when there is any finding (invalid
 * programs, mismatches, device errors, crashes, timeouts), 2 for bad usage. */
#include "check.h"
#include "gen.h"
#include "reduce.h"
#include "tessera.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    double seconds, timeout, reduce_seconds;
    long count;
    uint64_t seed;
    const char *out;
    bool coverage, generate_only, table;
} Options;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Runs check_program in a child; a child that dies or uses more than
 * timeout seconds of CPU time (RLIMIT_CPU: on a busy shared machine a
 * program may wait far longer than it runs) is a crash or a timeout. A
 * child that outlives 20 times that in wall time (asleep: a deadlock) is a
 * timeout too. */
static CheckResult run_isolated(const char *text, uint64_t seed, double timeout)
{
    CheckResult r = { V_CRASH, "" };
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(r.msg, sizeof r.msg, "pipe: %s", strerror(errno));
        return r;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        struct rlimit cpu = { (rlim_t)timeout, (rlim_t)timeout + 1 };
        setrlimit(RLIMIT_CPU, &cpu);
        /* device_print's lines: the campaign's output is the findings */
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        CheckResult c = check_program("generated.tsr", text, seed);
        ssize_t n = write(fds[1], &c, sizeof c);
        _exit(n == (ssize_t)sizeof c ? 0 : 3);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        snprintf(r.msg, sizeof r.msg, "fork: %s", strerror(errno));
        return r;
    }
    struct pollfd pfd = { fds[0], POLLIN, 0 };
    double deadline = test_seconds() + 20 * timeout;
    int ready;
    do /* a signal that stops the campaign lets this program finish */
        ready = poll(&pfd, 1, (int)((deadline - test_seconds()) * 1000));
    while (ready < 0 && errno == EINTR && test_seconds() < deadline);
    size_t got = 0;
    if (ready > 0) {
        ssize_t n;
        while (got < sizeof r && (n = read(fds[0], (char *)&r + got, sizeof r - got)) > 0)
            got += (size_t)n;
    }
    close(fds[0]);
    if (ready <= 0)
        kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (ready <= 0) {
        r.v = V_TIMEOUT;
        snprintf(r.msg, sizeof r.msg, "no result within %.0f s of wall time", 20 * timeout);
    } else if (got != sizeof r && WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) {
        r.v = V_TIMEOUT;
        snprintf(r.msg, sizeof r.msg, "no result within %.0f s of CPU time", timeout);
    } else if (got != sizeof r) {
        r.v = V_CRASH;
        if (WIFSIGNALED(status))
            snprintf(r.msg, sizeof r.msg, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            snprintf(r.msg, sizeof r.msg, "exited with status %d without a result", WEXITSTATUS(status));
    }
    return r;
}

static bool is_finding(Verdict v) { return v != V_OK && v != V_REJECTED; }

static void write_file(const char *path, const char *comment, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "fuzz-diff: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    /* The verdict as comment lines first. */
    fputs("// ", f);
    for (const char *s = comment; *s; s++) {
        fputc(*s, f);
        if (*s == '\n' && s[1])
            fputs("// ", f);
    }
    fputs("\n", f);
    fputs(text, f);
    fclose(f);
}

typedef struct {
    uint64_t seed;
    double timeout;
} ReduceCtx;

static Verdict reduce_run(const Program *p, void *ctx)
{
    const ReduceCtx *c = ctx;
    char *text = prog_print(p);
    CheckResult r = run_isolated(text, c->seed, c->timeout);
    free(text);
    return r.v;
}

/* What kind of failure a finding is, to reduce only the first two of each
 * kind: the verdict, the configuration, and for device errors the
 * instruction and the check ("read of register", "out-of-bounds ..."). */
static void signature(const CheckResult *r, char *buf, size_t n)
{
    const char *m = r->msg, *colon = strchr(m, ':');
    int cfg = colon ? (int)(colon - m) : 0;
    const char *insn = strstr(m, " ("), *what = insn ? strstr(insn, "): ") : NULL;
    int ilen = insn ? (int)strcspn(insn + 2, ". )") : 0;
    int wlen = what ? (int)strcspn(what + 3, "%0123456789") : 0;
    snprintf(buf, n, "%s|%.*s|%.*s|%.*s", verdict_names[r->v], cfg, m, ilen, insn ? insn + 2 : "", wlen,
             what ? what + 3 : "");
}

static bool worth_reducing(const CheckResult *r)
{
    static char seen[64][160];
    static int counts[64], nseen;
    char sig[160];
    signature(r, sig, sizeof sig);
    for (int i = 0; i < nseen; i++)
        if (!strcmp(seen[i], sig))
            return ++counts[i] <= 2;
    if (nseen < 64) {
        snprintf(seen[nseen], sizeof seen[0], "%s", sig);
        counts[nseen++] = 1;
    }
    return true;
}

static void report_finding(const Options *o, Program *p, const CheckResult *r)
{
    char path[512], comment[2048];
    mkdir(o->out, 0777);
    snprintf(path, sizeof path, "%s/seed-%llu.tsr", o->out, (unsigned long long)p->seed);
    snprintf(comment, sizeof comment, "%s: %s", verdict_names[r->v], r->msg);
    char *text = prog_print(p);
    write_file(path, comment, text);
    free(text);
    printf("finding (seed %llu): %s: %s\n  written to %s\n", (unsigned long long)p->seed, verdict_names[r->v], r->msg,
           path);
    if (o->reduce_seconds <= 0)
        return;
    if (!worth_reducing(r)) {
        printf("  not reduced: two of this kind were already\n");
        return;
    }
    ReduceCtx ctx = { p->seed, o->timeout };
    int tries = reduce_program(p, r->v, reduce_run, &ctx, o->reduce_seconds);
    text = prog_print(p);
    CheckResult rr = run_isolated(text, p->seed, o->timeout);
    snprintf(path, sizeof path, "%s/seed-%llu-reduced.tsr", o->out, (unsigned long long)p->seed);
    snprintf(comment, sizeof comment, "%s (reduced in %d tries): %s", verdict_names[rr.v], tries, rr.msg);
    write_file(path, comment, text);
    free(text);
    printf("  reduced in %d tries to %s\n", tries, path);
}

/* The coverage table of tests/README.md, from the generator's own list. */
static void print_coverage_table(const uint64_t *programs, long n, uint64_t seed)
{
    static const char *const sections[] = { "S", "**Statements (§6, §8.1-8.3, §9.1) and resource clauses (§5.3)**",
                                            "O", "**Operators and indexing (§7)**",
                                            "B", "**Built-ins (§9)**",
                                            "T", "**Types, parameters, tensors, grids (§4, §5, §8)**" };
    printf("| feature (gen.h name) | what | programs of %ld (seed %llu) |\n|---|---|---|\n", n, (unsigned long long)seed);
    char last = 0;
    for (int i = 0; i < FEAT_COUNT; i++) {
        if (gen_feature_sections[i] != last) {
            last = gen_feature_sections[i];
            for (size_t k = 0; k < TSR_ARRAY_LEN(sections); k += 2)
                if (sections[k][0] == last)
                    printf("| %s | | |\n", sections[k + 1]);
        }
        printf("| `%s` | %s | %llu |\n", gen_feature_names[i], gen_feature_what[i], (unsigned long long)programs[i]);
    }
}

static void print_coverage(const uint64_t *programs, const uint64_t *uses, long n)
{
    printf("coverage over %ld programs (feature: programs using it, uses):\n", n);
    for (int i = 0; i < FEAT_COUNT; i++)
        printf("  %-24s %8llu %10llu\n", gen_feature_names[i], (unsigned long long)programs[i],
               (unsigned long long)uses[i]);
}

static int campaign(const Options *o)
{
    long counts[V_COUNT] = { 0 }, n = 0;
    uint64_t programs[FEAT_COUNT] = { 0 }, uses[FEAT_COUNT] = { 0 };
    double end = test_seconds() + o->seconds;
    Rng seeds;
    /* Scrambled, so that the streams of seeds S and S + 1 do not overlap
     * (rng_seed's states would be one step apart). */
    rng_seed(&seeds, o->seed * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop && test_seconds() < end && (o->count <= 0 || n < o->count)) {
        uint64_t cov[FEAT_COUNT] = { 0 };
        uint64_t seed = rng_u64(&seeds) >> 16;
        Program *p = gen_program(seed, cov);
        for (int i = 0; i < FEAT_COUNT; i++) {
            programs[i] += cov[i] > 0;
            uses[i] += cov[i];
        }
        char *text = prog_print(p);
        CheckResult r = { V_OK, "" };
        if (!o->generate_only)
            r = run_isolated(text, seed, o->timeout);
        free(text);
        counts[r.v]++;
        n++;
        if (is_finding(r.v))
            report_finding(o, p, &r);
        prog_free(p);
    }
    if (o->table)
        print_coverage_table(programs, n, o->seed);
    else if (o->coverage)
        print_coverage(programs, uses, n);
    if (stop)
        printf("stopped by a signal after %.0f s\n", o->seconds - (end - test_seconds()));
    long findings = 0;
    for (int v = 0; v < V_COUNT; v++)
        findings += is_finding((Verdict)v) ? counts[v] : 0;
    if (o->table)
        return 0;
    if (o->generate_only) {
        printf("fuzz-diff seed %llu: %ld programs generated, none run\n", (unsigned long long)o->seed, n);
        return 0;
    }
    printf("fuzz-diff seed %llu: %ld programs run, %ld agreed, %ld rejected by documented limits; "
           "%ld invalid, %ld mismatches, %ld device errors, %ld crashes, %ld timeouts\n",
           (unsigned long long)o->seed, n, counts[V_OK], counts[V_REJECTED], counts[V_INVALID], counts[V_MISMATCH],
           counts[V_FAIL], counts[V_CRASH], counts[V_TIMEOUT]);
    return findings ? 1 : 0;
}

static int check_files(char **files, int n, double timeout)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        size_t len;
        char *text = tsr_read_file(files[i], &len);
        if (!text) {
            fprintf(stderr, "fuzz-diff: cannot read %s: %s\n", files[i], strerror(errno));
            return 2;
        }
        CheckResult r = run_isolated(text, 1, timeout);
        printf("%s: %s%s%s\n", files[i], verdict_names[r.v], r.msg[0] ? ": " : "", r.msg);
        bad += is_finding(r.v);
        free(text);
    }
    return bad ? 1 : 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: fuzz-diff SECONDS [SEED] [--count N] [--out DIR] [--timeout S] [--reduce-seconds S] "
                    "[--coverage] [--generate-only] [--coverage-table] [--runtime[-only] cuda|emu]\n       fuzz-diff --print SEED\n       fuzz-diff --check FILE...\n");
    return 2;
}

int main(int argc, char **argv)
{
    Options o = { 0, 60, 300, 0, 1, "fuzz-out/diff", false, false, false };
    if (argc >= 3 && !strcmp(argv[1], "--print")) {
        Program *p = gen_program(strtoull(argv[2], NULL, 10), NULL);
        char *text = prog_print(p);
        fputs(text, stdout);
        free(text);
        prog_free(p);
        return 0;
    }
    if (argc >= 5 && (!strcmp(argv[1], "--runtime") || !strcmp(argv[1], "--runtime-only")) &&
        !strcmp(argv[3], "--check")) { /* fuzz-diff --runtime[-only] DEVICE --check FILE... */
        check_set_runtime_device(!strcmp(argv[2], "cuda") ? TSR_DEVICE_CUDA : TSR_DEVICE_EMU,
                                 !strcmp(argv[1], "--runtime-only"));
        argv += 2;
        argc -= 2;
    }
    if (argc >= 3 && !strcmp(argv[1], "--check"))
        return check_files(argv + 2, argc - 2, o.timeout);
    if (argc < 2)
        return usage();
    o.seconds = strtod(argv[1], NULL);
    int i = 2;
    if (i < argc && argv[i][0] != '-')
        o.seed = strtoull(argv[i++], NULL, 10);
    for (; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--coverage"))
            o.coverage = true;
        else if (!strcmp(a, "--generate-only"))
            o.generate_only = o.coverage = true;
        else if (!strcmp(a, "--coverage-table"))
            o.generate_only = o.coverage = o.table = true;
        else if (!v)
            return usage();
        else if (!strcmp(a, "--runtime") || !strcmp(a, "--runtime-only")) {
            if (strcmp(v, "cuda") && strcmp(v, "emu"))
                return usage();
            check_set_runtime_device(!strcmp(v, "cuda") ? TSR_DEVICE_CUDA : TSR_DEVICE_EMU, !strcmp(a, "--runtime-only"));
            i++;
        } else if (!strcmp(a, "--count"))
            o.count = strtol(v, NULL, 10), i++;
        else if (!strcmp(a, "--out"))
            o.out = v, i++;
        else if (!strcmp(a, "--timeout"))
            o.timeout = strtod(v, NULL), i++;
        else if (!strcmp(a, "--reduce-seconds"))
            o.reduce_seconds = strtod(v, NULL), i++;
        else
            return usage();
    }
    if (!(o.seconds > 0))
        return usage();
    return campaign(&o);
}
