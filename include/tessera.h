/* Tessera public C API. (Grows with the runtime issue; this is its seed.) */
#ifndef TESSERA_H
#define TESSERA_H

#ifdef __cplusplus
extern "C" {
#endif

#define TESSERA_VERSION_MAJOR 0
#define TESSERA_VERSION_MINOR 1
#define TESSERA_VERSION_PATCH 0
#define TESSERA_VERSION_STRING "0.1.0"

#if defined(__GNUC__)
#define TSR_API __attribute__((visibility("default")))
#else
#define TSR_API
#endif

/* Returns TESSERA_VERSION_STRING of the library actually linked. */
TSR_API const char *tsr_version(void);

#ifdef __cplusplus
}
#endif

#endif
