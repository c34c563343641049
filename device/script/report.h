/* Script mode's output: one JSON object per line on stdout for every
 * observable event, e.g.
 *   {"t_ms":12.5,"device":"pi-1","event":"stream_start","press_to_first_packet_ms":0.8}
 * Thread-safe. */
#ifndef OPAL_REPORT_H
#define OPAL_REPORT_H

#include <stdio.h>

typedef struct reporter reporter;

/* NULL `out` gives a reporter that prints nothing. Caller owns the result. */
reporter *reporter_create(FILE *out, const char *device_id);
void reporter_destroy(reporter *r);

/* Prints {"t_ms":...,"device":...,"event":EVENT<,FIELDS>}. `fields_fmt` is
 * printf-style text of extra members ("\"packets\":%u"), or NULL. Strings
 * from outside must go through report_quote first. */
void report(reporter *r, const char *event, const char *fields_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes `text` as a JSON string (with quotes) into `out`. */
void report_quote(const char *text, char *out, size_t out_len);

#endif
