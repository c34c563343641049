/* The state machine: every button and event type in every state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "devices/device_machine.h"

#define MODES 5

static device_state idle_in(unsigned mode) { return (device_state){.mode = mode, .playing = false}; }
static device_state playing_in(unsigned mode) { return (device_state){.mode = mode, .playing = true}; }

static void mode_press_cycles_and_wraps(void **unused) {
  (void)unused;
  device_state s = idle_in(0);
  for (unsigned i = 1; i <= MODES; i++) {
    device_outcome o = device_machine_button(&s, BUTTON_MODE, EVENT_PRESS, MODES, NULL);
    assert_true(o.ack);
    assert_int_equal(o.effects, EFFECT_LEDS);
    assert_int_equal(s.mode, i % MODES);
    assert_false(s.playing);
  }
  assert_int_equal(s.mode, 0);
}

static void mode_while_playing_keeps_the_sound(void **unused) {
  (void)unused;
  device_state s = playing_in(4);
  device_outcome o = device_machine_button(&s, BUTTON_MODE, EVENT_PRESS, MODES, NULL);
  assert_true(o.ack);
  assert_int_equal(o.effects, EFFECT_LEDS);
  assert_int_equal(s.mode, 0);
  assert_true(s.playing);
}

static void play_when_idle_starts(void **unused) {
  (void)unused;
  device_state s = idle_in(2);
  device_outcome o = device_machine_button(&s, BUTTON_PLAY, EVENT_PRESS, MODES, NULL);
  assert_true(o.ack);
  assert_int_equal(o.effects, EFFECT_LEDS | EFFECT_START_SOUND);
  assert_true(s.playing);
  assert_int_equal(s.mode, 2);
}

static void play_while_playing_preempts(void **unused) {
  (void)unused;
  device_state s = playing_in(1);
  device_outcome o = device_machine_button(&s, BUTTON_PLAY, EVENT_PRESS, MODES, NULL);
  assert_true(o.ack);
  assert_int_equal(o.effects, EFFECT_END_SOUND | EFFECT_START_SOUND);
  assert_true(s.playing);
}

static void play_without_audio_stream_is_refused(void **unused) {
  (void)unused;
  device_state s = idle_in(0);
  device_outcome o = device_machine_button(&s, BUTTON_PLAY, EVENT_PRESS, MODES, "no audio stream open");
  assert_false(o.ack);
  assert_int_equal(o.effects, 0);
  assert_non_null(o.note);
  assert_false(s.playing);
}

static void stop_while_playing_ends(void **unused) {
  (void)unused;
  device_state s = playing_in(3);
  device_outcome o = device_machine_button(&s, BUTTON_STOP, EVENT_PRESS, MODES, NULL);
  assert_true(o.ack);
  assert_int_equal(o.effects, EFFECT_LEDS | EFFECT_END_SOUND);
  assert_false(s.playing);
  assert_int_equal(s.mode, 3);
}

static void stop_when_idle_does_nothing(void **unused) {
  (void)unused;
  device_state s = idle_in(3);
  device_outcome o = device_machine_button(&s, BUTTON_STOP, EVENT_PRESS, MODES, NULL);
  assert_true(o.ack);
  assert_int_equal(o.effects, 0);
  assert_false(s.playing);
}

static void connect_is_acked_without_effect(void **unused) {
  (void)unused;
  device_state states[] = {idle_in(1), playing_in(1)};
  for (int i = 0; i < 2; i++) {
    device_state before = states[i];
    device_outcome o = device_machine_button(&states[i], BUTTON_CONNECT, EVENT_PRESS, MODES, NULL);
    assert_true(o.ack);
    assert_int_equal(o.effects, 0);
    assert_memory_equal(&before, &states[i], sizeof before);
  }
}

static void hold_and_release_are_acked_and_ignored(void **unused) {
  (void)unused;
  for (int button = BUTTON_CONNECT; button <= BUTTON_PLAY; button++) {
    for (int event = EVENT_HOLD; event <= EVENT_RELEASE; event++) {
      for (int playing = 0; playing < 2; playing++) {
        device_state s = {.mode = 2, .playing = playing};
        device_outcome o = device_machine_button(&s, button, event, MODES, NULL);
        assert_true(o.ack);
        assert_int_equal(o.effects, 0);
        assert_int_equal(s.mode, 2);
        assert_int_equal(s.playing, playing);
      }
    }
  }
}

static void unknown_values_are_refused_without_effect(void **unused) {
  (void)unused;
  int bad_buttons[] = {-1, 4, 7, 1000};
  for (size_t i = 0; i < sizeof bad_buttons / sizeof *bad_buttons; i++) {
    device_state s = playing_in(1);
    device_outcome o = device_machine_button(&s, bad_buttons[i], EVENT_PRESS, MODES, NULL);
    assert_false(o.ack);
    assert_int_equal(o.effects, 0);
    assert_string_equal(o.note, "unknown button");
    assert_true(s.playing);
  }
  int bad_events[] = {-1, 3, 9};
  for (size_t i = 0; i < sizeof bad_events / sizeof *bad_events; i++) {
    device_state s = idle_in(1);
    device_outcome o = device_machine_button(&s, BUTTON_PLAY, bad_events[i], MODES, NULL);
    assert_false(o.ack);
    assert_int_equal(o.effects, 0);
    assert_string_equal(o.note, "unknown event type");
    assert_false(s.playing);
  }
}

static void natural_end_returns_to_idle(void **unused) {
  (void)unused;
  device_state s = playing_in(0);
  device_outcome o = device_machine_sound_over(&s);
  assert_true(o.ack);
  assert_int_equal(o.effects, EFFECT_LEDS);
  assert_false(s.playing);
  o = device_machine_sound_over(&s);
  assert_int_equal(o.effects, 0);
}

static void names(void **unused) {
  (void)unused;
  assert_string_equal(wire_button_label(BUTTON_PLAY), "PLAY");
  assert_string_equal(wire_button_label(9), "UNKNOWN");
  assert_string_equal(wire_event_label(EVENT_HOLD), "HOLD");
  assert_string_equal(wire_event_label(-3), "UNKNOWN");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(mode_press_cycles_and_wraps),
      cmocka_unit_test(mode_while_playing_keeps_the_sound),
      cmocka_unit_test(play_when_idle_starts),
      cmocka_unit_test(play_while_playing_preempts),
      cmocka_unit_test(play_without_audio_stream_is_refused),
      cmocka_unit_test(stop_while_playing_ends),
      cmocka_unit_test(stop_when_idle_does_nothing),
      cmocka_unit_test(connect_is_acked_without_effect),
      cmocka_unit_test(hold_and_release_are_acked_and_ignored),
      cmocka_unit_test(unknown_values_are_refused_without_effect),
      cmocka_unit_test(natural_end_returns_to_idle),
      cmocka_unit_test(names),
  };
  return cmocka_run_group_tests_name("device_machine", tests, NULL, NULL);
}
