#include "script/script_exec.h"

#include <string.h>

#include "clock.h"

void script_exec_init(script_exec *x, const script *s) {
  memset(x, 0, sizeof *x);
  x->script = s;
  x->done = s->count == 0;
}

void script_exec_notify(script_exec *x, device_watch w) { x->seen[w]++; }

/* Runs one command. Returns false when it has to wait. */
static bool run_one(script_exec *x, const script_command *c, int64_t now, script_act_fn act,
                    void *ctx) {
  switch (c->op) {
  case SCRIPT_CONNECT:
  case SCRIPT_DISCONNECT:
  case SCRIPT_BUTTON:
    memcpy(x->mark, x->seen, sizeof x->mark);
    act(ctx, c);
    return true;
  case SCRIPT_WAIT:
    if (!x->waiting) {
      x->waiting = true;
      x->wake_ns = now + (int64_t)c->ms * NS_PER_MS;
    }
    if (now < x->wake_ns) return false;
    x->waiting = false;
    return true;
  case SCRIPT_WAIT_FOR:
    if (!x->waiting) {
      x->waiting = true;
      x->wake_ns = now + (int64_t)c->ms * NS_PER_MS;
    }
    if (x->seen[c->watch] > x->mark[c->watch]) {
      x->mark[c->watch] = x->seen[c->watch];
      x->waiting = false;
      return true;
    }
    if (now < x->wake_ns) return false;
    x->timed_out = c;
    x->done = true;
    return false;
  case SCRIPT_QUIT:
    x->done = true;
    return false;
  }
  return true;
}

int64_t script_exec_step(script_exec *x, int64_t now_ns, script_act_fn act, void *ctx) {
  while (!x->done && x->pc < x->script->count) {
    if (!run_one(x, &x->script->commands[x->pc], now_ns, act, ctx))
      return x->done ? INT64_MAX : x->wake_ns;
    x->pc++;
  }
  x->done = true;
  return INT64_MAX;
}
