#include "grpc_log.h"

#include <grpc/support/log.h>
#include <string.h>

#include "log.h"

static void on_grpc_log(gpr_log_func_args *args) {
  const char *file = strrchr(args->file, '/');
  log_level level = args->severity == GPR_LOG_SEVERITY_ERROR ? LOG_WARN : LOG_DEBUG;
  log_write(level, "grpc: %s:%d: %s", file ? file + 1 : args->file, args->line, args->message);
}

void grpc_log_route(void) { gpr_set_log_function(on_grpc_log); }
