/* C++ only because absl's switch is a C++ function; see the header. */
#include "grpc_mutex_checks.h"

#include <absl/synchronization/mutex.h>

extern "C" void grpc_mutex_checks_off(void) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}
