/* The library's version, for callers that check what they linked against. */
#include "tessera.h"

const char *tsr_version(void) { return TESSERA_VERSION_STRING; }
