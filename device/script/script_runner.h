/* The script back end: plays a parsed script as if a person pressed the
 * buttons, on a thread of its own. `wait-for` waits for what the device
 * loop tells it through hw_ops.observe; a wait-for that timed out makes
 * hw_ops.failed true. */
#ifndef OPAL_SCRIPT_RUNNER_H
#define OPAL_SCRIPT_RUNNER_H

#include "hw/hw.h"
#include "script/report.h"
#include "script/script.h"

/* Takes ownership of `s`. `rep` (borrowed) gets timeouts. */
hw_backend *script_runner_create(script *s, reporter *rep);

#endif
