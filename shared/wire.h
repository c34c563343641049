/* Facts of the wire contract (docs/protocol.md) that the server and the
 * device both depend on: the service's methods, the button and event
 * values of ButtonEvent, the LEDs of DeviceStatus, and the audio format.
 * Each is written here once. */
#ifndef OPAL_WIRE_H
#define OPAL_WIRE_H

/* The three calls of com.opalcamera.test.DeviceService. */
typedef enum { METHOD_STATUS, METHOD_EVENT, METHOD_AUDIO, METHOD_COUNT } wire_method;

/* "/com.opalcamera.test.DeviceService/StatusStream", ... */
const char *wire_method_path(wire_method m);
/* "StatusStream", ... */
const char *wire_method_name(wire_method m);

/* ButtonEvent.ButtonId: BUTTON_1 .. BUTTON_4. */
enum { BUTTON_CONNECT = 0, BUTTON_MODE = 1, BUTTON_STOP = 2, BUTTON_PLAY = 3, BUTTON_COUNT = 4 };
/* ButtonEvent.ButtonEventType. */
enum { EVENT_PRESS = 0, EVENT_HOLD = 1, EVENT_RELEASE = 2, EVENT_COUNT = 3 };

/* led_0 (the device's own power LED) .. led_5 (the server's). */
#define LED_COUNT 6

/* Every Opus packet on the wire decodes to 48 kHz mono. */
#define WIRE_SAMPLE_RATE 48000

/* A button's name in three spellings, each where people read it:
 *   word  "connect": the script language, the status line, the device log;
 *   title "Connect": the gadget's label, as docs and gpio messages write it;
 *   label "CONNECT": the server's log.
 * An out-of-range value is "?" as a word or title, "UNKNOWN" as a label. */
const char *wire_button_word(int button);
const char *wire_button_title(int button);
const char *wire_button_label(int button);

/* An event type: word "press", label "PRESS"; out of range "?", "UNKNOWN". */
const char *wire_event_word(int event);
const char *wire_event_label(int event);

#endif
