#include "calls/health_call.h"

#include <stddef.h>
#include <stdio.h>

#include "health.pb-c.h"
#include "pb_buffer.h"

typedef struct health_call {
  rpc_call rpc; /* first: rpc_call_start allocates the whole struct */
  health_method method;
  health_watcher watcher;
  health_status showing; /* the status this call reports; SERVICE_UNKNOWN stays */
  health_status sending; /* in flight, or HEALTH_UNKNOWN */
} health_call;
_Static_assert(offsetof(health_call, rpc) == 0, "rpc_call frees the call from its rpc member");

const char *health_method_path(health_method m) {
  return m == HEALTH_CHECK ? "/grpc.health.v1.Health/Check" : "/grpc.health.v1.Health/Watch";
}

static void send_status(health_call *c, health_status status) {
  Grpc__Health__V1__HealthCheckResponse res = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  res.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
  c->sending = status;
  rpc_call_send(&c->rpc, pb_buffer_pack(&res.base));
}

/* Sends what the client has not been told yet; changes made while a send
 * was in flight collapse into one message with the latest status. */
static void pump(health_call *c) {
  if (!rpc_call_can_send(&c->rpc) || c->showing == c->watcher.told) return;
  send_status(c, c->showing);
}

static void sent(rpc_call *base, bool ok) {
  health_call *c = container_of(base, health_call, rpc);
  if (ok) c->watcher.told = c->sending;
  c->sending = HEALTH_UNKNOWN;
  if (c->method == HEALTH_CHECK) rpc_call_finish(base, GRPC_STATUS_OK, "");
  else if (ok) pump(c);
}

static const rpc_call_behaviour behaviour = {.sent = sent};

/* health_watcher.changed */
static void changed(health_watcher *w, health_status now) {
  health_call *c = container_of(w, health_call, watcher);
  c->showing = now;
  pump(c);
}

/* rpc_call_closed_fn: the watch ends with its call. */
static void closed(void *owner, rpc_call *base) {
  health_call *c = container_of(base, health_call, rpc);
  health_state_unwatch(owner, &c->watcher);
}

static void watch(health_call *c, health_state *state, bool known) {
  if (!known) {
    /* The standard: the call stays open, as the service may appear. */
    c->showing = HEALTH_SERVICE_UNKNOWN;
    pump(c);
    return;
  }
  c->watcher.changed = changed;
  health_state_watch(state, &c->watcher);
  rpc_call_set_owner(&c->rpc, state, closed);
  c->showing = health_state_status(state);
  pump(c);
}

static void check(health_call *c, health_state *state, const char *service, bool known) {
  if (!known) {
    char why[400];
    snprintf(why, sizeof why,
             "unknown service '%.200s': this server answers for \"\" (the whole server) and %s",
             service, health_device_service_name());
    rpc_call_finish(&c->rpc, GRPC_STATUS_NOT_FOUND, why);
    return;
  }
  c->showing = health_state_status(state);
  pump(c);
}

void health_call_start(rpc_call_list *live, grpc_call *call, health_method m,
                       grpc_byte_buffer *request, health_state *state) {
  rpc_call *base = rpc_call_start(live, sizeof(health_call), METHOD_COUNT, &behaviour, call);
  health_call *c = container_of(base, health_call, rpc);
  c->method = m;
  if (!request) {
    rpc_call_finish(base, GRPC_STATUS_INVALID_ARGUMENT, "no HealthCheckRequest message");
    return;
  }
  ProtobufCMessage *msg =
      pb_buffer_unpack(&grpc__health__v1__health_check_request__descriptor, request);
  if (!msg) {
    rpc_call_finish(base, GRPC_STATUS_INVALID_ARGUMENT, "malformed HealthCheckRequest message");
    return;
  }
  const char *service = ((Grpc__Health__V1__HealthCheckRequest *)msg)->service;
  bool known = health_service_known(service);
  if (m == HEALTH_CHECK) check(c, state, service, known);
  else watch(c, state, known);
  protobuf_c_message_free_unpacked(msg, NULL);
}
