#include "fleet/fleet_report.h"

#include <stddef.h>

typedef enum {
  FIELD_FLAG,    /* bool */
  FIELD_SECONDS, /* double */
  FIELD_COUNT,   /* uint64_t */
  FIELD_LATENCY, /* latency_summary */
  FIELD_ERRORS,  /* uint64_t[FLEET_ERROR_SLOTS] */
} field_kind;

/* One field of the summary, as both writers show it. The JSON line has
 * every field in the table's order; the text shows them line by line. */
typedef struct summary_field {
  const char *key;  /* its JSON member */
  field_kind kind;
  size_t at;        /* where its value is in fleet_figures */
  unsigned line;    /* the text line that shows it */
  /* How the text shows it: a flag's words when true (`text_false` when
   * false), a latency's label, the errors' heading; otherwise a printf
   * format of the value (%llu for a count, %f for seconds). */
  const char *text, *text_false;
  bool text_last;   /* the text shows it at the end of its line */
} summary_field;

#define FIELD(kind, key, member, line, last, text, text_false) \
  {key, kind, offsetof(fleet_figures, member), line, text, text_false, last}
#define FLAG(key, member, line, yes, no) FIELD(FIELD_FLAG, key, member, line, false, yes, no)
#define SECONDS(key, member, line, format) \
  FIELD(FIELD_SECONDS, key, member, line, false, format, NULL)
#define COUNT(key, member, line, format) FIELD(FIELD_COUNT, key, member, line, false, format, NULL)
#define LATENCY(key, member, line, label) \
  FIELD(FIELD_LATENCY, key, member, line, false, label, NULL)
#define ERRORS(key, member, line, heading) \
  FIELD(FIELD_ERRORS, key, member, line, false, heading, NULL)

static const summary_field fields[] = {
    /*      JSON key                    value                  line  text */
    FLAG(   "final",                    final,                 0, "fleet summary", "fleet progress"),
    SECONDS("elapsed_s",                elapsed_s,             0, " after %.1f s: "),
    /* Third in JSON, last on its line in the text. */
    FIELD(FIELD_SECONDS, "ramp_s", ramp_s, 0, true, " (ramp %.2f s)", NULL),
    COUNT(  "devices",                  devices,               0, "%llu devices, "),
    COUNT(  "connected",                connected,             0, "%llu connected, "),
    COUNT(  "failed",                   failed,                0, "%llu never connected, "),
    COUNT(  "reconnects",               reconnects,            0, "%llu reconnects, "),
    COUNT(  "script_timeouts",          script_timeouts,       0, "%llu script timeouts"),
    LATENCY("press_to_first_packet_ms", first_packet,          1, "press -> first packet"),
    LATENCY("stop_to_end_ms",           stop_to_end,           2, "stop -> is_end"),
    LATENCY("ack_ms",                   ack,                   3, "event -> ack"),
    COUNT(  "streams_started",          tally.streams_started, 4, "  streams %llu started, "),
    COUNT(  "streams_ended",            tally.streams_ended,   4, "%llu ended; "),
    COUNT(  "packets",                  tally.packets,         4, "%llu packets, "),
    SECONDS("audio_s",                  audio_s,               4, "%.1f s of audio, "),
    COUNT(  "bytes",                    tally.bytes,           4, "%llu bytes, "),
    COUNT(  "late_packets",             tally.late,            4, "%llu late, "),
    COUNT(  "decode_errors",            tally.decode_errors,   4, "%llu undecodable"),
    ERRORS( "errors",                   tally.errors,          5, "  errors:"),
};

#define FIELD_TOTAL (sizeof fields / sizeof fields[0])
#define TEXT_LINES (fields[FIELD_TOTAL - 1].line + 1)

static const void *value_of(const summary_field *field, const fleet_figures *f) {
  return (const char *)f + field->at;
}

static const char *error_name(int slot) {
  if (slot < FLEET_OTHER_SLOT) return status_name((grpc_status_code)slot);
  if (slot == FLEET_OTHER_SLOT) return "OTHER";
  return loss_reason_words((loss_reason)(slot - FLEET_OTHER_SLOT));
}

/* ---- JSON: "key":value, ... ---- */

static void json_value(const summary_field *field, const fleet_figures *f, FILE *out) {
  const void *v = value_of(field, f);
  switch (field->kind) {
  case FIELD_FLAG:
    fputs(*(const bool *)v ? "true" : "false", out);
    break;
  case FIELD_SECONDS:
    fprintf(out, "%.3f", *(const double *)v);
    break;
  case FIELD_COUNT:
    fprintf(out, "%llu", (unsigned long long)*(const uint64_t *)v);
    break;
  case FIELD_LATENCY: {
    const latency_summary *s = v;
    fprintf(out, "{\"n\":%zu,\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,\"max\":%.3f}", s->n, s->p50,
            s->p95, s->p99, s->max);
    break;
  }
  case FIELD_ERRORS: {
    const uint64_t *errors = v;
    const char *sep = "";
    fputc('{', out);
    for (int i = 0; i < FLEET_ERROR_SLOTS; i++) {
      if (!errors[i]) continue;
      fprintf(out, "%s\"%s\":%llu", sep, error_name(i), (unsigned long long)errors[i]);
      sep = ",";
    }
    fputc('}', out);
    break;
  }
  }
}

static void write_json(const fleet_figures *f, FILE *out) {
  fputs("{\"event\":\"summary\"", out);
  for (size_t i = 0; i < FIELD_TOTAL; i++) {
    fprintf(out, ",\"%s\":", fields[i].key);
    json_value(&fields[i], f, out);
  }
  fputs("}\n", out);
}

/* ---- text: a few lines for people ---- */

static void text_value(const summary_field *field, const fleet_figures *f, FILE *out) {
  const void *v = value_of(field, f);
  switch (field->kind) {
  case FIELD_FLAG:
    fputs(*(const bool *)v ? field->text : field->text_false, out);
    break;
  case FIELD_SECONDS:
    fprintf(out, field->text, *(const double *)v);
    break;
  case FIELD_COUNT:
    fprintf(out, field->text, (unsigned long long)*(const uint64_t *)v);
    break;
  case FIELD_LATENCY: {
    const latency_summary *s = v;
    fprintf(out, "  %-24s n=%-7zu p50 %.2f  p95 %.2f  p99 %.2f  max %.2f ms", field->text, s->n,
            s->p50, s->p95, s->p99, s->max);
    break;
  }
  case FIELD_ERRORS: {
    const uint64_t *errors = v;
    bool any = false;
    fputs(field->text, out);
    for (int i = 0; i < FLEET_ERROR_SLOTS; i++) {
      if (!errors[i]) continue;
      /* Words have spaces: a colon ends the name. */
      fprintf(out, " %s%s %llu", error_name(i), i > FLEET_OTHER_SLOT ? ":" : "",
              (unsigned long long)errors[i]);
      any = true;
    }
    if (!any) fputs(" none", out);
    break;
  }
  }
}

static void write_text(const fleet_figures *f, FILE *out) {
  for (unsigned line = 0; line < TEXT_LINES; line++) {
    for (int last = 0; last <= 1; last++)
      for (size_t i = 0; i < FIELD_TOTAL; i++)
        if (fields[i].line == line && fields[i].text_last == last) text_value(&fields[i], f, out);
    fputc('\n', out);
  }
}

void fleet_report_write(const fleet_figures *f, bool json, FILE *out) {
  if (json) write_json(f, out);
  else write_text(f, out);
  fflush(out);
}
