/* Arena allocation: everything made while compiling one module comes from an
 * arena and is freed at once when the module is done. */
#ifndef TSR_ARENA_H
#define TSR_ARENA_H

#include <stddef.h>
#include <string.h>

typedef struct ArenaChunk ArenaChunk;

typedef struct {
    ArenaChunk *head;
    size_t total; /* bytes handed out, for statistics */
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
/* Zero-filled, 16-byte aligned memory that lives until arena_free. */
void *arena_alloc(Arena *a, size_t n);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Growable arrays in an arena: `T *data; int len, cap;`. Growth copies into
 * fresh arena memory; the old block is reclaimed with the arena. */
void *arena_grow(Arena *a, void *data, int len, int *cap, size_t elem, int need);

#define VEC(T) struct { T *data; int len, cap; }
#define vec_push(arena, v, x)                                                          \
    do {                                                                               \
        if ((v).len >= (v).cap)                                                        \
            (v).data = arena_grow((arena), (v).data, (v).len, &(v).cap,                \
                                  sizeof(*(v).data), (v).len + 1);                     \
        (v).data[(v).len++] = (x);                                                     \
    } while (0)

#endif
