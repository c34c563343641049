#include "metrics/metrics_page.h"

#include <grpc/grpc.h>

#include "metrics/metrics.h"
#include "metrics/process_stats.h"
#include "metrics/prom_text.h"
#include "status_name.h"
#include "wire.h"

#define COUNT_OF(a) (sizeof(a) / sizeof *(a))

static uint64_t load(const atomic_uint_fast64_t *a) {
  return atomic_load_explicit(a, memory_order_relaxed);
}

static int64_t load_signed(const atomic_int_fast64_t *a) {
  return atomic_load_explicit(a, memory_order_relaxed);
}

/* A gauge that is a difference of two figures read an instant apart may
 * dip below zero for that instant; it never really does. */
static uint64_t not_below_zero(int64_t v) { return v < 0 ? 0 : (uint64_t)v; }

static void one_value(prom_text *t, const char *name, const char *type, const char *help,
                      uint64_t value) {
  prom_text_family(t, name, type, help);
  prom_text_sample_u64(t, name, NULL, 0, value);
}

static void build_info(prom_text *t, const metrics_page_sources *src) {
  prom_text_family(t, "opal_build_info", "gauge",
                   "Always 1; the labels name opal-server's version and gRPC core's.");
  prom_label labels[] = {{"version", src->version}, {"grpc", grpc_version_string()}};
  prom_text_sample_u64(t, "opal_build_info", labels, COUNT_OF(labels), 1);
}

static void devices(prom_text *t) {
  const metrics *m = &metrics_now;
  int64_t known = load_signed(&m->devices_known);
  one_value(t, "opal_devices_known", "gauge",
            "Devices the server remembers, connected or not (at most --max-devices).",
            not_below_zero(known));
  one_value(t, "opal_devices_connected", "gauge", "Devices with at least one open call.",
            not_below_zero(known - load_signed(&m->devices_offline)));
  prom_text_family(t, "opal_devices_refused_total", "counter",
                   "New devices refused with RESOURCE_EXHAUSTED, by reason: full (--max-devices, "
                   "none could be forgotten), rate (--new-devices-per-ip), memory.");
  static const char *const reasons[METRICS_REFUSED_COUNT] = {"full", "rate", "memory"};
  for (size_t i = 0; i < METRICS_REFUSED_COUNT; i++) {
    prom_label label = {"reason", reasons[i]};
    prom_text_sample_u64(t, "opal_devices_refused_total", &label, 1, load(&m->devices_refused[i]));
  }
}

/* Every known (button, type) pair, zeros too, so rate() sees a series
 * from the start; unknown values only once they came. */
static void events(prom_text *t) {
  prom_text_family(t, "opal_events_total", "counter",
                   "Button events received, by button and event type.");
  for (int b = 0; b < METRICS_BUTTONS; b++) {
    for (int e = 0; e < METRICS_EVENT_TYPES; e++) {
      uint64_t n = load(&metrics_now.events[b][e]);
      bool known = b < BUTTON_COUNT && e < EVENT_COUNT;
      if (!known && n == 0) continue;
      prom_label labels[] = {{"button", b < BUTTON_COUNT ? wire_button_word(b) : "unknown"},
                             {"type", e < EVENT_COUNT ? wire_event_word(e) : "unknown"}};
      prom_text_sample_u64(t, "opal_events_total", labels, COUNT_OF(labels), n);
    }
  }
}

static void streams(prom_text *t) {
  const metrics *m = &metrics_now;
  uint64_t starts = load(&m->stream_starts), ends = 0;
  for (size_t i = 0; i < METRICS_END_COUNT; i++) ends += load(&m->stream_ends[i]);
  one_value(t, "opal_streams_playing", "gauge",
            "Sounds in progress: started and not yet ended (a stopped sound until its is_end "
            "packet went out).",
            starts > ends ? starts - ends : 0);
  one_value(t, "opal_stream_starts_total", "counter", "Sounds started (Play).", starts);
  prom_text_family(t, "opal_stream_ends_total", "counter",
                   "Sounds ended, by reason: natural (its last packet went out), stop, preempt "
                   "(Play while playing), disconnect (its audio stream went away).");
  static const char *const reasons[METRICS_END_COUNT] = {"natural", "stop", "preempt",
                                                         "disconnect"};
  for (size_t i = 0; i < METRICS_END_COUNT; i++) {
    prom_label label = {"reason", reasons[i]};
    prom_text_sample_u64(t, "opal_stream_ends_total", &label, 1, load(&m->stream_ends[i]));
  }
  prom_text_family(t, "opal_plays_refused_total", "counter",
                   "Plays that would have started a new stream, refused with ack=false for load: "
                   "max_streams (--max-streams), pacing_lag (--max-pacing-lag-ms).");
  static const char *const refusals[METRICS_PLAY_REFUSED_COUNT] = {"max_streams", "pacing_lag"};
  for (size_t i = 0; i < METRICS_PLAY_REFUSED_COUNT; i++) {
    prom_label label = {"reason", refusals[i]};
    prom_text_sample_u64(t, "opal_plays_refused_total", &label, 1, load(&m->plays_refused[i]));
  }
  one_value(t, "opal_takeovers_total", "counter",
            "Times a new connection took a device's calls over from an older one.",
            load(&m->takeovers));
  uint64_t packets = 0, bytes = 0;
  for (size_t i = 0; i < THREAD_SHARDS; i++) {
    packets += load(&m->audio[i].packets);
    bytes += load(&m->audio[i].bytes);
  }
  one_value(t, "opal_audio_packets_sent_total", "counter",
            "AudioPackets handed to gRPC, every stream together.", packets);
  one_value(t, "opal_audio_sent_bytes_total", "counter",
            "Bytes of AudioPacket messages (serialized) handed to gRPC.", bytes);
  histogram_reading lag = histogram_read(&m->pacing_lag);
  prom_text_histogram(t, "opal_pacing_lag_seconds",
                      "How late each audio packet left after it was due (the lead's first "
                      "packets are due at Play).",
                      &lag);
  histogram_reading first = histogram_read(&m->first_packet);
  prom_text_histogram(t, "opal_play_to_first_packet_seconds",
                      "From a Play event's arrival to its sound's first packet handed to gRPC.",
                      &first);
}

/* OK for every method from the start; other codes once they happened. */
static void calls(prom_text *t) {
  prom_text_family(t, "opal_calls_ended_total", "counter",
                   "Calls ended, by method and gRPC status code (CANCELLED: the client went).");
  for (int m = 0; m < METRICS_METHODS; m++) {
    for (int c = 0; c < METRICS_CODES; c++) {
      uint64_t n = load(&metrics_now.calls_ended[m][c]);
      if (n == 0 && !(c == 0 && m < METHOD_COUNT)) continue;
      prom_label labels[] = {{"method", m < METHOD_COUNT ? wire_method_name(m) : "other"},
                             {"code", status_name(c)}};
      prom_text_sample_u64(t, "opal_calls_ended_total", labels, COUNT_OF(labels), n);
    }
  }
}

static void store(prom_text *t) {
  const metrics *m = &metrics_now;
  one_value(t, "opal_store_loads_total", "counter",
            "Device records asked of the store (first calls of devices new to this process).",
            load(&m->store_loads));
  one_value(t, "opal_store_load_errors_total", "counter",
            "Loads that failed (the device was served a fresh record).",
            load(&m->store_load_errors));
  one_value(t, "opal_store_batches_written_total", "counter",
            "Write-behind batches the store wrote.", load(&m->store_batches));
  one_value(t, "opal_store_changes_written_total", "counter",
            "Device changes written (one per device per batch).",
            load(&m->store_changes_written));
  one_value(t, "opal_store_write_errors_total", "counter",
            "Batch writes that failed (kept and retried every second).",
            load(&m->store_write_errors));
  one_value(t, "opal_store_changes_dropped_total", "counter",
            "Queued changes dropped because the queue was full during an outage.",
            load(&m->store_changes_dropped));
  one_value(t, "opal_store_queue_depth", "gauge",
            "Changes handed to the store's thread and not yet written.",
            not_below_zero(load_signed(&m->store_queued)));
}

static void labelled(prom_text *t, const char *name, const char *label, const char *value,
                     uint64_t n) {
  prom_label l = {label, value};
  prom_text_sample_u64(t, name, &l, 1, n);
}

static void connection_figures(prom_text *t, connections *conns) {
  connection_counts n = connections_counts(conns);
  one_value(t, "opal_connections_open", "gauge", "Client connections open.",
            connections_open(conns));
  one_value(t, "opal_connections_accepted_total", "counter",
            "Client connections accepted and handed to gRPC.", n.accepted);
  prom_text_family(t, "opal_connections_refused_total", "counter",
                   "Connections closed at once, by limit: max_connections, "
                   "max_connections_per_ip, no_fd (no descriptor left).");
  labelled(t, "opal_connections_refused_total", "reason", "max_connections", n.refused_full);
  labelled(t, "opal_connections_refused_total", "reason", "max_connections_per_ip", n.refused_ip);
  labelled(t, "opal_connections_refused_total", "reason", "no_fd", n.refused_no_fd);
  prom_text_family(t, "opal_connections_closed_total", "counter",
                   "Connections the server ended, by reason: idle (--idle-timeout), call_flood "
                   "(far over --max-calls-per-connection), resets (--max-resets), receive_rate "
                   "(--max-receive-rate).");
  labelled(t, "opal_connections_closed_total", "reason", "idle", n.closed_idle);
  labelled(t, "opal_connections_closed_total", "reason", "call_flood", n.closed_streams);
  labelled(t, "opal_connections_closed_total", "reason", "resets", n.closed_resets);
  labelled(t, "opal_connections_closed_total", "reason", "receive_rate", n.closed_bytes);
  one_value(t, "opal_calls_refused_total", "counter",
            "Calls refused over --max-calls-per-connection.", n.calls_refused);
}

static void process(prom_text *t) {
  process_stats p;
  if (!process_stats_read(&p)) return;
  prom_text_family(t, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
  prom_text_sample(t, "process_cpu_seconds_total", NULL, 0, p.cpu_seconds);
  one_value(t, "process_resident_memory_bytes", "gauge", "Resident memory size.",
            p.resident_bytes);
  one_value(t, "process_virtual_memory_bytes", "gauge", "Virtual memory size.", p.virtual_bytes);
  prom_text_family(t, "process_start_time_seconds", "gauge",
                   "Start time of the process since the Unix epoch.");
  prom_text_sample(t, "process_start_time_seconds", NULL, 0, p.start_time_s);
  one_value(t, "process_open_fds", "gauge", "Open file descriptors.", p.open_fds);
  one_value(t, "process_max_fds", "gauge", "The open-file limit.", p.max_fds);
}

char *metrics_page_write(const metrics_page_sources *src, size_t *len) {
  prom_text t;
  prom_text_init(&t);
  build_info(&t, src);
  devices(&t);
  events(&t);
  streams(&t);
  calls(&t);
  store(&t);
  if (src->connections) connection_figures(&t, src->connections);
  process(&t);
  return prom_text_take(&t, len);
}
