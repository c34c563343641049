/* The fuzz input as a file, for the readers that take a path (the program
 * gives them a path): an in-memory file, opened through /proc/self/fd so
 * that nothing is written to disk and nothing is left behind. */
#ifndef OPAL_FUZZ_FILE_H
#define OPAL_FUZZ_FILE_H

#include <stddef.h>
#include <stdint.h>

/* The path of a file holding exactly `data`; valid until the next call. */
const char *fuzz_file(const uint8_t *data, size_t size);

#endif
