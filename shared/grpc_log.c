#include "grpc_log.h"

#include <grpc/support/log.h>
#include <stdbool.h>
#include <string.h>

#include "log.h"

/* A failed TLS handshake is logged by gRPC on every attempt, and a client
 * retrying with a bad certificate (or a device at a plaintext server)
 * would fill the log: the device says why in words itself, once per
 * change, so these are debug detail. */
static bool is_handshake_noise(const char *file) {
  return strcmp(file, "ssl_transport_security.cc") == 0 ||
         strcmp(file, "security_handshaker.cc") == 0;
}

static void on_grpc_log(gpr_log_func_args *args) {
  const char *slash = strrchr(args->file, '/'), *file = slash ? slash + 1 : args->file;
  log_level level = args->severity == GPR_LOG_SEVERITY_ERROR && !is_handshake_noise(file)
                        ? LOG_WARN : LOG_DEBUG;
  log_write(level, "grpc: %s:%d: %s", file, args->line, args->message);
}

void grpc_log_route(void) { gpr_set_log_function(on_grpc_log); }
