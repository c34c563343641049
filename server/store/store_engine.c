#include "store/store_engine.h"

#include <stdarg.h>
#include <stdio.h>

void store_engine_fail(char *err, size_t err_len, const char *engine, const char *where,
                       const char *fmt, ...) {
  if (!err || !err_len) return;
  int n = snprintf(err, err_len, "%s %s: ", engine, where);
  if (n < 0 || (size_t)n >= err_len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
  va_end(ap);
}
