/* Reading a fuzz input a piece at a time: the state machine harness and the
 * metadata harness turn bytes into steps. Past the end every read is 0, so
 * any input is a whole program. */
#ifndef OPAL_FUZZ_INPUT_H
#define OPAL_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct fuzz_input {
  const uint8_t *data;
  size_t size, at;
} fuzz_input;

static inline int fuzz_more(const fuzz_input *in) { return in->at < in->size; }

static inline uint8_t fuzz_byte(fuzz_input *in) {
  return in->at < in->size ? in->data[in->at++] : 0;
}

/* Up to `want` bytes from the input, in place; *len says how many. */
static inline const uint8_t *fuzz_bytes(fuzz_input *in, size_t want, size_t *len) {
  size_t left = in->size - in->at;
  *len = want < left ? want : left;
  const uint8_t *p = in->data + in->at;
  in->at += *len;
  return p;
}

#endif
