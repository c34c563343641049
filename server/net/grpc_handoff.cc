/* C++ only because gRPC's handler is a C++ interface; the rest is C. */
#include "grpc_handoff.h"

namespace grpc_core {
/* gRPC core's src/core/lib/iomgr/tcp_server.h, unchanged since 1.24: the
 * handler an "external:" port stores in its channel arg. */
class TcpServerFdHandler {
 public:
  virtual ~TcpServerFdHandler() = default;
  virtual void Handle(int listener_fd, int fd, grpc_byte_buffer *pending_read) = 0;
};
}  // namespace grpc_core

/* The port's name, and the key gRPC looks the handler's slot up by. */
static char port_name[] = "external:opal";

/* The arg's value is the slot itself: copies must point to the same one. */
static void *same_slot(void *p) { return p; }
static void no_destroy(void *) {}
static int compare_slots(void *a, void *b) { return a < b ? -1 : a > b ? 1 : 0; }
static const grpc_arg_pointer_vtable slot_vtable = {same_slot, no_destroy, compare_slots};

extern "C" grpc_arg grpc_handoff_arg(grpc_handoff *h) {
  grpc_arg arg;
  arg.type = GRPC_ARG_POINTER;
  arg.key = port_name;
  arg.value.pointer.p = &h->handler;
  arg.value.pointer.vtable = &slot_vtable;
  return arg;
}

extern "C" bool grpc_handoff_add_port(grpc_handoff *h, grpc_server *server,
                                      grpc_server_credentials *creds) {
  h->handler = nullptr;
  /* It returns 0 for an external port, so the slot says whether it took. */
  grpc_server_add_http2_port(server, port_name, creds);
  return h->handler != nullptr;
}

extern "C" void grpc_handoff_take(grpc_handoff *h, int listen_fd, int fd) {
  static_cast<grpc_core::TcpServerFdHandler *>(h->handler)->Handle(listen_fd, fd, nullptr);
}
