#include "security/peer_identity.h"

#include <grpc/grpc_security.h>
#include <stdio.h>
#include <string.h>

bool peer_identity_is(grpc_call *call, const char *device_id, char *who, size_t who_len) {
  grpc_auth_context *ctx = grpc_call_auth_context(call);
  size_t used = 0;
  bool match = false;
  who[0] = '\0';
  if (ctx) {
    grpc_auth_property_iterator it = grpc_auth_context_peer_identity(ctx);
    for (const grpc_auth_property *p; (p = grpc_auth_property_iterator_next(&it));) {
      if (strlen(device_id) == p->value_length && memcmp(p->value, device_id, p->value_length) == 0)
        match = true;
      int n = snprintf(who + used, who_len - used, "%s%.*s", used ? "," : "",
                       (int)(p->value_length > 64 ? 64 : p->value_length), p->value);
      if (n > 0 && used + (size_t)n < who_len) used += (size_t)n;
    }
    grpc_auth_context_release(ctx);
  }
  if (!used) snprintf(who, who_len, "none");
  return match;
}
