/* Allocation-failure injection for the out-of-memory tests (issue 17).
 *
 * A test linked with --wrap for malloc, calloc, realloc, aligned_alloc and
 * free (Makefile) has the library's calls come to track.c: while armed,
 * allocations are counted and the fail_at-th returns NULL; every block the
 * wrappers hand out is tracked until freed, which is how leaks are counted
 * (also under ASan, where __real_malloc is ASan's). Thread-safe: the
 * interpreter's and the emulator's host threads allocate too. */
#ifndef TSR_TESTS_OOM_TRACK_H
#define TSR_TESTS_OOM_TRACK_H

/* Starts counting allocations from 0; the fail_at-th fails (0: none). */
void oom_track_arm(long fail_at);
/* Stops counting; returns how many allocations were made while armed. */
long oom_track_disarm(void);
/* Blocks from the wrappers not freed yet. */
long oom_track_live(void);

#endif
