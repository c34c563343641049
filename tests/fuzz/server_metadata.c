/* A call's metadata, as the server's admission reads it (server/server.c,
 * take_device_id and take_via, which are static there): metadata_find for
 * "device_id", device_id_problem on its value, then metadata_find and
 * device_link_via for the proxy's opal-client-connection header, and the
 * peer through device_link_update/_same. The input is a list of entries,
 * each a key length byte, the key, a value length byte and the value.
 *
 * An accepted id fits the server's id buffer and is printable (it reaches
 * logs and terminals), a refusal says why, the entry found is the first of
 * its key, and a via copied out is the whole header or nothing. */
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <string.h>

#include "device_id.h"
#include "devices/device_link.h"
#include "fuzz_check.h"
#include "fuzz_input.h"
#include "metadata.h"

#define MAX_ENTRIES 16

static grpc_slice take_slice(fuzz_input *in) {
  size_t len;
  const uint8_t *p = fuzz_bytes(in, fuzz_byte(in), &len);
  return grpc_slice_from_copied_buffer((const char *)p, len);
}

static bool printable(const char *s, size_t len, unsigned char lowest) {
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)s[i] < lowest || (unsigned char)s[i] > 0x7e) return false;
  return true;
}

/* The first entry with `key`, by a plain walk; -1 if none. */
static int first_with_key(const grpc_metadata_array *md, const char *key) {
  for (size_t i = 0; i < md->count; i++)
    if (grpc_slice_str_cmp(md->metadata[i].key, key) == 0) return (int)i;
  return -1;
}

static void check_found(const grpc_metadata_array *md, const char *key, grpc_slice *value,
                        bool *found) {
  *found = metadata_find(md, key, value);
  int first = first_with_key(md, key);
  FUZZ_CHECK(*found == (first >= 0));
  /* A copy of the slice: an inlined one's bytes live in the copy itself. */
  if (*found) FUZZ_CHECK(grpc_slice_eq(*value, md->metadata[first].value));
}

static void check_device_id(const grpc_metadata_array *md) {
  grpc_slice value;
  bool found;
  check_found(md, "device_id", &value, &found);
  if (!found) return;
  const char *start = (const char *)GRPC_SLICE_START_PTR(value);
  size_t len = GRPC_SLICE_LENGTH(value);
  const char *problem = device_id_problem(start, len);
  if (problem) {
    FUZZ_CHECK(problem[0] != '\0');
    return;
  }
  FUZZ_CHECK(len >= 1 && len <= DEVICE_ID_MAX_LEN && printable(start, len, 0x20));
  char id[DEVICE_ID_MAX_LEN + 1]; /* as admit() copies it */
  memcpy(id, start, len);
  id[len] = '\0';
  (void)device_id_hash(id);
}

/* The header's value, and the peer made of the same bytes, through the
 * connection rule. */
static void check_via(const grpc_metadata_array *md) {
  grpc_slice value;
  bool found;
  char via[DEVICE_LINK_VIA_MAX + 1] = "";
  check_found(md, DEVICE_LINK_HEADER, &value, &found);
  if (!found) return;
  const char *start = (const char *)GRPC_SLICE_START_PTR(value);
  size_t len = GRPC_SLICE_LENGTH(value);
  device_link_via(start, len, via);
  size_t got = strlen(via);
  FUZZ_CHECK(got == 0 || (got == len && memcmp(via, start, len) == 0 && printable(via, got, 0x21)));

  char peer[256];
  size_t n = len < sizeof peer - 1 ? len : sizeof peer - 1;
  memcpy(peer, start, n);
  peer[n] = '\0';
  device_link link = {0};
  call_origin from = {.peer = peer, .via = via};
  device_link_update(&link, &from, 0);
  FUZZ_CHECK(strlen(link.host) < DEVICE_LINK_HOST_MAX && strcmp(link.via, via) == 0);
  /* The connection a call just made is its own. */
  FUZZ_CHECK(device_link_same(&link, &from, false, false, 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = {data, size, 0};
  grpc_metadata entries[MAX_ENTRIES];
  grpc_metadata_array md = {.count = 0, .capacity = MAX_ENTRIES, .metadata = entries};
  while (fuzz_more(&in) && md.count < MAX_ENTRIES) {
    grpc_metadata *e = &entries[md.count++];
    memset(e, 0, sizeof *e);
    e->key = take_slice(&in);
    e->value = take_slice(&in);
  }
  check_device_id(&md);
  check_via(&md);
  for (size_t i = 0; i < md.count; i++) {
    grpc_slice_unref(entries[i].key);
    grpc_slice_unref(entries[i].value);
  }
  return 0;
}
