/* Runs the Python package's tests (python/tests, unittest) against this
 * build's libtessera.so, with the Python that has NumPy: $TESSERA_PYTHON,
 * else build/py/bin/python (the virtual environment scripts/test.sh makes),
 * else python3. Without NumPy the tests are skipped with the reason printed,
 * except under CI (CI=true), where that is a failure: CI must run them. A
 * build with sanitizers is skipped too (its library cannot be loaded into a
 * Python that was not started with the sanitizers' runtime). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define TSR_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TSR_SANITIZED 1
#endif
#endif

#ifndef TSR_SANITIZED
static int shell_status(const char *cmd)
{
    int rc = system(cmd);
    return rc >= 0 && (rc & 0x7f) == 0 ? (rc >> 8) & 0xff : -1;
}
#endif

int main(void)
{
#ifdef TSR_SANITIZED
    printf("SKIP: python tests: this build has sanitizers; its libtessera.so cannot be loaded into python3\n");
    return 0;
#else
    const char *build = getenv("BUILD");
    build = build && *build ? build : "build";
    const char *python = getenv("TESSERA_PYTHON");
    if (!python || !*python)
        python = access("build/py/bin/python", X_OK) == 0 ? "build/py/bin/python" : "python3";
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s -c 'import numpy' 2>/dev/null", python);
    if (shell_status(cmd) != 0) {
        const char *ci = getenv("CI");
        printf("%s: python tests: %s has no NumPy (sh scripts/test.sh makes build/py with it; or set TESSERA_PYTHON)\n",
               ci && !strcmp(ci, "true") ? "FAILED" : "SKIP", python);
        return ci && !strcmp(ci, "true") ? 1 : 0;
    }
    snprintf(cmd, sizeof cmd,
             "PYTHONPATH=python TESSERA_LIBRARY=%s/libtessera.so BUILD=%s %s -m unittest discover -s python/tests -v",
             build, build, python);
    printf("%s\n", cmd);
    fflush(stdout);
    return shell_status(cmd) == 0 ? 0 : 1;
#endif
}
