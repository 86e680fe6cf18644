/* The tracked allocator of the out-of-memory tests (track.h). */
#define _POSIX_C_SOURCE 200809L
#include "track.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void __real_free(void *p);

enum { SLOTS = 1 << 20 };
#define TOMBSTONE ((void *)1)

static void **live;  /* open addressing: NULL empty, TOMBSTONE deleted */
static long nlive;   /* blocks from the wrappers not freed yet */
static long count;   /* allocations while armed */
static long fail_at; /* fail allocation number fail_at while armed (0: none) */
static int armed;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static size_t slot_of(void *p) { return ((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull >> 44; }

/* The table, made on first use (with the real allocator: it is not tracked). */
static int table(void)
{
    if (!live)
        live = __real_calloc(SLOTS, sizeof *live);
    return live != NULL;
}

static void track(void *p)
{
    if (!p || !table())
        return;
    size_t i = slot_of(p) & (SLOTS - 1);
    while (live[i] && live[i] != TOMBSTONE)
        i = (i + 1) & (SLOTS - 1);
    live[i] = p;
    nlive++;
}

/* Whether p was tracked (and is no longer). */
static int untrack(void *p)
{
    if (!p || !live)
        return 0;
    for (size_t i = slot_of(p) & (SLOTS - 1); live[i]; i = (i + 1) & (SLOTS - 1))
        if (live[i] == p) {
            live[i] = TOMBSTONE;
            nlive--;
            return 1;
        }
    return 0;
}

static int should_fail(void)
{
    if (!armed)
        return 0;
    count++;
    return fail_at && count == fail_at;
}

void oom_track_arm(long n)
{
    pthread_mutex_lock(&lock);
    count = 0;
    fail_at = n;
    armed = 1;
    pthread_mutex_unlock(&lock);
}

long oom_track_disarm(void)
{
    pthread_mutex_lock(&lock);
    armed = 0;
    long n = count;
    pthread_mutex_unlock(&lock);
    return n;
}

long oom_track_live(void)
{
    pthread_mutex_lock(&lock);
    long n = nlive;
    pthread_mutex_unlock(&lock);
    return n;
}

void *__wrap_malloc(size_t n)
{
    pthread_mutex_lock(&lock);
    void *p = should_fail() ? NULL : __real_malloc(n);
    track(p);
    pthread_mutex_unlock(&lock);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    pthread_mutex_lock(&lock);
    void *p = should_fail() ? NULL : __real_calloc(n, size);
    track(p);
    pthread_mutex_unlock(&lock);
    return p;
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    pthread_mutex_lock(&lock);
    void *p = should_fail() ? NULL : __real_aligned_alloc(align, n);
    track(p);
    pthread_mutex_unlock(&lock);
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    pthread_mutex_lock(&lock);
    void *q = NULL; /* when it fails, p stays its owner's */
    if (!should_fail()) {
        int was = untrack(p);
        q = __real_realloc(p, n);
        if (q)
            track(q);
        else if (was)
            track(p);
    }
    pthread_mutex_unlock(&lock);
    return q;
}

void __wrap_free(void *p)
{
    pthread_mutex_lock(&lock);
    untrack(p);
    __real_free(p);
    pthread_mutex_unlock(&lock);
}
