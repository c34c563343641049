#include "metadata.h"

#include <grpc/slice.h>

bool metadata_find(const grpc_metadata_array *md, const char *key,
                   grpc_slice *value) {
  for (size_t i = 0; i < md->count; i++) {
    if (grpc_slice_str_cmp(md->metadata[i].key, key) == 0) {
      *value = md->metadata[i].value;
      return true;
    }
  }
  return false;
}
