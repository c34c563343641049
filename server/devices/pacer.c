#include "devices/pacer.h"

#include "clock.h"

int64_t pacer_due_ns(const sound *s, size_t index, int64_t start_ns, int64_t lead_ns) {
  int64_t position_ns =
      (int64_t)(s->packets[index].start_sample * NS_PER_SEC / WIRE_SAMPLE_RATE);
  return start_ns + position_ns - lead_ns;
}

bool pacer_is_due(const sound *s, size_t index, int64_t start_ns, int64_t lead_ns,
                  int64_t now_ns) {
  return now_ns >= pacer_due_ns(s, index, start_ns, lead_ns);
}
