/* unit.h: a check macro for the white-box tests; main returns unit_failures != 0. */
#ifndef ZMM_UNIT_H
#define ZMM_UNIT_H

#include <stdio.h>

static int unit_failures;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            unit_failures++;                                                  \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

#define UNIT_DONE()                                                           \
    (unit_failures ? (fprintf(stderr, "%d check(s) failed\n", unit_failures), 1) : 0)

#endif
