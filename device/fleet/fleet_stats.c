#include "fleet/fleet_stats.h"

#include "clock.h"
#include "wire.h"

bool packet_is_late(int64_t arrival_ns, int64_t first_arrival_ns, uint64_t position_samples,
                    int64_t tolerance_ns) {
  int64_t position_ns = (int64_t)(position_samples * (uint64_t)NS_PER_SEC / WIRE_SAMPLE_RATE);
  return arrival_ns > first_arrival_ns + position_ns + tolerance_ns;
}
