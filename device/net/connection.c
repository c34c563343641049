#include "net/connection.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "net/backoff.h"
#include "net/session.h"

/* While connecting, how often to ask the channel whether it is ready: a
 * server that sends nothing until asked still counts as reached. */
#define CONNECT_POLL_NS (50 * NS_PER_MS)

struct device_conn {
  grpc_completion_queue *cq;
  char *target;
  grpc_slice device_id;
  grpc_channel_credentials *creds; /* borrowed; NULL: plaintext */
  bool client_cert;
  char *server_name;
  unsigned packet_ms;
  const conn_handler *handler;
  void *ctx;

  conn_state state;
  bool wanted;
  bool was_connected; /* so a later success counts as a reconnect */
  session *session;   /* the current attempt; non-NULL exactly when CONNECTING or CONNECTED */
  int dying;          /* ended sessions not yet released */
  backoff backoff;
  int64_t retry_at_ns, next_poll_ns;
  unsigned reconnects;
  /* The reason of the last loss since the last success, said once: a
   * failure that retrying cannot heal (an untrusted certificate) is
   * retried all the same, since the server may be fixed, but not logged
   * at every attempt. */
  loss_reason said;
};

const char *conn_state_name(conn_state s) {
  static const char *const names[] = {"offline", "connecting", "connected", "waiting"};
  return names[s];
}

static void set_state(device_conn *c, conn_state s, const conn_loss *loss) {
  c->state = s;
  if (c->handler->state_changed) c->handler->state_changed(c->ctx, s, loss);
}

/* ---- what the current session says ---- */

static void session_reached(void *ctx, session *s) {
  device_conn *c = ctx;
  assert(s == c->session && c->state == CONN_CONNECTING);
  backoff_reset(&c->backoff);
  c->said = LOSS_UNCLASSIFIED;
  if (c->was_connected) c->reconnects++;
  c->was_connected = true;
  set_state(c, CONN_CONNECTED, NULL);
}

/* Says why, once per change of reason for the failures loss_reason names;
 * the others, as ever, at every loss. */
static void log_loss(device_conn *c, const conn_loss *loss, unsigned delay_ms) {
  bool again = loss->reason != LOSS_UNCLASSIFIED && loss->reason == c->said;
  c->said = loss->reason;
  log_write(again ? LOG_DEBUG : LOG_INFO, "connection lost: %s; next attempt in %u ms%s", loss->why,
            delay_ms, again || loss->reason == LOSS_UNCLASSIFIED
                          ? "" : " (retrying; said again only when the reason changes)");
}

/* The connection lets go of the session; it drains on its own. */
static void session_ended(void *ctx, session *s, const conn_loss *loss) {
  device_conn *c = ctx;
  assert(s == c->session);
  c->session = NULL;
  c->dying++;
  if (c->wanted) {
    unsigned delay = backoff_next_ms(&c->backoff);
    c->retry_at_ns = clock_now_ns() + (int64_t)delay * NS_PER_MS;
    log_loss(c, loss, delay);
    set_state(c, CONN_WAITING, loss);
  } else {
    set_state(c, CONN_OFFLINE, loss);
  }
}

static void session_released(void *ctx) {
  device_conn *c = ctx;
  c->dying--;
}

static const session_owner conn_as_owner = {
    .reached = session_reached, .ended = session_ended, .released = session_released};

static void start_session(device_conn *c) {
  const channel_security security = {.creds = c->creds, .client_cert = c->client_cert,
                                     .server_name = c->server_name};
  c->session = session_start(&(session_config){
      .cq = c->cq, .target = c->target, .security = &security, .device_id = c->device_id,
      .packet_ms = c->packet_ms, .device = c->handler, .device_ctx = c->ctx,
      .owner = &conn_as_owner, .owner_ctx = c});
  c->next_poll_ns = clock_now_ns() + CONNECT_POLL_NS;
  set_state(c, CONN_CONNECTING, NULL);
}

/* ---- public ---- */

device_conn *conn_create(grpc_completion_queue *cq, const conn_config *config,
                         const conn_handler *handler, void *ctx) {
  device_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->cq = cq;
  c->target = strdup(config->target);
  c->creds = config->security.creds;
  c->client_cert = config->security.client_cert;
  if (config->security.server_name) c->server_name = strdup(config->security.server_name);
  c->device_id = grpc_slice_from_copied_string(config->device_id);
  c->packet_ms = config->packet_ms;
  c->handler = handler;
  c->ctx = ctx;
  backoff_init(&c->backoff, config->backoff_base_ms, config->backoff_cap_ms, config->seed);
  return c;
}

void conn_open(device_conn *c) {
  if (c->wanted) return;
  c->wanted = true;
  backoff_reset(&c->backoff);
  start_session(c); /* unwanted, it had none: conn_close ends the session */
}

void conn_close(device_conn *c) {
  c->wanted = false;
  if (c->session) session_end(c->session, CONN_NO_STATUS, "closed");
  else if (c->state != CONN_OFFLINE)
    set_state(c, CONN_OFFLINE, &(conn_loss){.status = CONN_NO_STATUS, .why = "closed"});
}

conn_state conn_get_state(const device_conn *c) { return c->state; }
bool conn_wanted(const device_conn *c) { return c->wanted; }
unsigned conn_reconnects(const device_conn *c) { return c->reconnects; }

bool conn_send_event(device_conn *c, int button, int event, int64_t at_ns) {
  if (c->state != CONN_CONNECTED) return false;
  return session_send_event(c->session, button, event, at_ns);
}

void conn_tick(device_conn *c, int64_t now_ns) {
  /* WAITING means wanted, with no session: conn_close and start_session leave it. */
  if (c->state == CONN_WAITING && now_ns >= c->retry_at_ns) start_session(c);
  if (c->state == CONN_CONNECTING && now_ns >= c->next_poll_ns) {
    c->next_poll_ns = now_ns + CONNECT_POLL_NS;
    session_check_channel(c->session);
  }
}

int64_t conn_next_deadline_ns(const device_conn *c) {
  if (c->state == CONN_WAITING) return c->retry_at_ns;
  if (c->state == CONN_CONNECTING) return c->next_poll_ns;
  return INT64_MAX;
}

bool conn_busy(const device_conn *c) { return c->session || c->dying > 0; }

void conn_destroy(device_conn *c) {
  if (!c) return;
  if (conn_busy(c)) {
    /* Its sessions still hold `c` and would report into freed memory. */
    log_error("conn_destroy: the connection to %s is still busy; conn_close it and drain "
              "the queue until conn_busy is false first",
              c->target);
    abort();
  }
  grpc_slice_unref(c->device_id);
  free(c->target);
  free(c->server_name);
  free(c);
}
