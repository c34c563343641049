/* Switching off absl's lock-order checks under gRPC.
 *
 * gRPC's locks are absl::Mutex. Debian builds absl without NDEBUG, so
 * every lock and unlock also updates absl's deadlock detector (a graph of
 * which locks were held while taking which): callgrind put it at a tenth
 * of a fleet's instructions per received packet, gRPC's mutexes a fifth in
 * all. absl's release builds leave the detector off; so does this. */
#ifndef OPAL_GRPC_MUTEX_CHECKS_H
#define OPAL_GRPC_MUTEX_CHECKS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Call once, before grpc_init. */
void grpc_mutex_checks_off(void);

#ifdef __cplusplus
}
#endif

#endif
