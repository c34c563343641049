/* Which client connection a device's calls come from. The rule it serves:
 * a call from the device's own connection joins it (or replaces the call
 * of its kind), and a call from any other connection takes the device over.
 *
 * Direct, a connection is a call's peer (address and port). Behind a proxy
 * that is not enough: nginx opens one upstream connection per call, so a
 * device's three calls arrive from three peers. Two refinements make the
 * rule hold there:
 *   - with an "opal-client-connection" header (nginx: $connection), a
 *     connection is the proxy's address and that header;
 *   - with a plain proxy config (no header), a call from the address of
 *     the device's newest call, into a kind the device has no call of,
 *     within DEVICE_LINK_JOIN_NS of that newest call, joins it. A call of a
 *     kind already open is always a new connection, so a device that
 *     reconnects takes itself over with its first call. */
#ifndef OPAL_DEVICE_LINK_H
#define OPAL_DEVICE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEVICE_LINK_JOIN_NS (10 * 1000000000LL)
#define DEVICE_LINK_HEADER "opal-client-connection"
#define DEVICE_LINK_VIA_MAX 40
#define DEVICE_LINK_HOST_MAX 80

typedef struct device_link {
  char host[DEVICE_LINK_HOST_MAX]; /* the newest call's peer without its port */
  char via[DEVICE_LINK_VIA_MAX + 1]; /* its opal-client-connection, or "" */
  int64_t joined_ns;                 /* when it attached */
} device_link;

/* Where a new call comes from: its peer ("ipv4:10.0.0.2:41000") and its
 * opal-client-connection header ("" for none). Both borrowed. */
typedef struct call_origin {
  const char *peer;
  const char *via;
} call_origin;

/* True when a call from `from` belongs to the connection `link` describes.
 * `peer_open`: one of the device's open calls has this very peer.
 * `kind_open`: the device already has a call of the new call's kind. */
bool device_link_same(const device_link *link, const call_origin *from, bool peer_open,
                      bool kind_open, int64_t now_ns);

/* The new call attached: it is now the newest. */
void device_link_update(device_link *link, const call_origin *from, int64_t now_ns);

/* The header's value if it is usable (1..DEVICE_LINK_VIA_MAX printable
 * bytes, copied into `out`), else "" in `out`. */
void device_link_via(const char *value, size_t len, char out[DEVICE_LINK_VIA_MAX + 1]);

#endif
