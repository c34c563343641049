#include "wire.h"

static const struct {
  const char *path, *name;
} methods[METHOD_COUNT] = {
    [METHOD_STATUS] = {"/com.opalcamera.test.DeviceService/StatusStream", "StatusStream"},
    [METHOD_EVENT] = {"/com.opalcamera.test.DeviceService/EventStream", "EventStream"},
    [METHOD_AUDIO] = {"/com.opalcamera.test.DeviceService/ServerAudioStream",
                      "ServerAudioStream"},
};

static const struct {
  const char *word, *title, *label;
} buttons[BUTTON_COUNT + 1] = {
    [BUTTON_CONNECT] = {"connect", "Connect", "CONNECT"},
    [BUTTON_MODE] = {"mode", "Mode", "MODE"},
    [BUTTON_STOP] = {"stop", "Stop", "STOP"},
    [BUTTON_PLAY] = {"play", "Play", "PLAY"},
    [BUTTON_COUNT] = {"?", "?", "UNKNOWN"},
};

static const struct {
  const char *word, *label;
} events[EVENT_COUNT + 1] = {
    [EVENT_PRESS] = {"press", "PRESS"},
    [EVENT_HOLD] = {"hold", "HOLD"},
    [EVENT_RELEASE] = {"release", "RELEASE"},
    [EVENT_COUNT] = {"?", "UNKNOWN"},
};

static int button_index(int button) {
  return button >= 0 && button < BUTTON_COUNT ? button : BUTTON_COUNT;
}

static int event_index(int event) {
  return event >= 0 && event < EVENT_COUNT ? event : EVENT_COUNT;
}

const char *wire_method_path(wire_method m) { return methods[m].path; }
const char *wire_method_name(wire_method m) { return methods[m].name; }

const char *wire_button_word(int button) { return buttons[button_index(button)].word; }
const char *wire_button_title(int button) { return buttons[button_index(button)].title; }
const char *wire_button_label(int button) { return buttons[button_index(button)].label; }

const char *wire_event_word(int event) { return events[event_index(event)].word; }
const char *wire_event_label(int event) { return events[event_index(event)].label; }
