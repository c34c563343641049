/* The script back end: plays a parsed script as if a person pressed the
 * buttons, on a thread of its own. `wait-for` waits for events the device
 * loop announces with script_runner_notify. */
#ifndef OPAL_SCRIPT_RUNNER_H
#define OPAL_SCRIPT_RUNNER_H

#include <stdbool.h>

#include "hw/hw.h"
#include "script/report.h"
#include "script/script.h"

/* Takes ownership of `s`. `rep` (borrowed) gets timeouts. */
hw_backend *script_runner_create(script *s, reporter *rep);

/* The device loop saw `watch` happen. Any thread. */
void script_runner_notify(hw_backend *hw, script_watch watch);

/* True if a wait-for timed out: the run failed. */
bool script_runner_failed(hw_backend *hw);

#endif
