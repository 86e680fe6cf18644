/* tessera-bench: attention benchmark against a reference (seed). */
#include "tessera.h"

#include <stdio.h>

int main(void)
{
    printf("tessera-bench %s\n", tsr_version());
    return 0;
}
