/* The harnesses' assertion: unlike assert(), it cannot be compiled out, and
 * it says which invariant broke before libFuzzer saves the input. */
#ifndef OPAL_FUZZ_CHECK_H
#define OPAL_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);     \
      abort();                                                                         \
    }                                                                                  \
  } while (0)

#endif
