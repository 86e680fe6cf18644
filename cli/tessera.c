/* The tessera command line: compile a .tsr file and print any stage. */
#include "tessera.h"
#include "token.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("tessera %s\n", tsr_version());
        return 0;
    }
    fprintf(stderr, "usage: tessera compile FILE.tsr [--emit tokens]\n");
    return 2;
}
