/* opal-device's command line: modes, values, and errors naming the flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "app/device_options.h"

static cli_result parse(int argc, char **argv, device_options *o, char *err) {
  FILE *out = fopen("/dev/null", "w");
  cli_result r = device_options_parse(argc, argv, o, out, err, 256);
  fclose(out);
  return r;
}

#define PARSE(o, err, ...)                                             \
  parse(sizeof((char *[]){"opal-device", __VA_ARGS__}) / sizeof(char *), \
        (char *[]){"opal-device", __VA_ARGS__}, o, err)

static void defaults(void **unused) {
  (void)unused;
  device_options o;
  char err[256];
  char *argv[] = {"opal-device"};
  assert_int_equal(parse(1, argv, &o, err), CLI_RUN);
  assert_int_equal(o.mode, MODE_GPIO);
  assert_string_equal(o.server, "localhost:50051");
  assert_true(strlen(o.device_id) > 0);
  assert_int_equal(o.audio.kind, AUDIO_OUT_PORTAUDIO);
  assert_int_equal(o.audio.buffer_ms, 60);
  assert_int_equal(o.packet_ms, 120); /* every device asks for 120 ms packets */
  assert_int_equal(o.fleet_count, 0);
}

static void modes(void **unused) {
  (void)unused;
  device_options o;
  char err[256];
  assert_int_equal(PARSE(&o, err, "--sim"), CLI_RUN);
  assert_int_equal(o.mode, MODE_SIM);
  assert_int_equal(PARSE(&o, err, "--sim", "--script", "x.txt"), CLI_RUN);
  assert_int_equal(o.mode, MODE_SCRIPT);
  assert_int_equal(PARSE(&o, err, "--script", "-", "--sim"), CLI_RUN);
  assert_int_equal(o.mode, MODE_SCRIPT);
  assert_int_equal(PARSE(&o, err, "--fleet", "20", "--script", "x.txt"), CLI_RUN);
  assert_int_equal(o.mode, MODE_FLEET);
  assert_int_equal(o.fleet_count, 20);
}

static void values(void **unused) {
  (void)unused;
  device_options o;
  char err[256];
  assert_int_equal(PARSE(&o, err, "--server", "[::1]:7000", "--device-id", "kitchen",
                         "--buffer-ms", "120", "--audio-out", "wav:/tmp/x.wav", "--fleet", "5",
                         "--id-prefix", "lab", "--ramp", "2.5", "--duration", "0.5",
                         "--play-rate", "0", "--play-seconds", "0", "--mode-rate", "1.5",
                         "--late-ms", "100", "--decode", "--progress", "2", "--json",
                         "--packet-ms", "60",
                         "--led-lines", "1,2,3,4,5,6"),
                   CLI_RUN);
  assert_string_equal(o.server, "[::1]:7000");
  assert_string_equal(o.device_id, "kitchen");
  assert_int_equal(o.audio.buffer_ms, 120);
  assert_int_equal(o.audio.kind, AUDIO_OUT_WAV);
  assert_string_equal(o.audio.wav_path, "/tmp/x.wav");
  assert_string_equal(o.id_prefix, "lab");
  assert_true(o.ramp_per_s == 2.5 && o.duration_s == 0.5 && o.play_per_min == 0);
  assert_true(o.play_seconds == 0 && o.mode_per_min == 1.5 && o.progress_s == 2);
  assert_int_equal(o.late_ms, 100);
  assert_int_equal(o.packet_ms, 60);
  assert_true(o.decode && o.json);
  assert_int_equal(o.gpio_count, 1);
  assert_string_equal(o.gpio[0].key, "led_lines");
}

static void expect_bad(const char *flag, cli_result r, const char *err) {
  assert_int_equal(r, CLI_BAD);
  if (strncmp(err, flag, strlen(flag)) != 0) fail_msg("'%s' does not start with '%s'", err, flag);
}

static void bad_values_name_the_flag(void **unused) {
  (void)unused;
  device_options o;
  char err[256];
  expect_bad("--fleet", PARSE(&o, err, "--fleet", "0"), err);
  expect_bad("--fleet", PARSE(&o, err, "--fleet", "many"), err);
  expect_bad("--ramp", PARSE(&o, err, "--ramp", "0"), err);
  expect_bad("--duration", PARSE(&o, err, "--duration", "-1"), err);
  expect_bad("--play-rate", PARSE(&o, err, "--play-rate", "fast"), err);
  expect_bad("--late-ms", PARSE(&o, err, "--late-ms", "1e3"), err);
  expect_bad("--progress", PARSE(&o, err, "--progress", "0"), err);
  char long_prefix[80];
  memset(long_prefix, 'p', 70);
  long_prefix[70] = '\0';
  expect_bad("--id-prefix", PARSE(&o, err, "--id-prefix", long_prefix), err);
  expect_bad("--server", PARSE(&o, err, "--server", "nowhere"), err);
  expect_bad("--device-id", PARSE(&o, err, "--device-id", "tab\there"), err);
  expect_bad("--buffer-ms", PARSE(&o, err, "--buffer-ms", "5"), err);
  expect_bad("--packet-ms", PARSE(&o, err, "--packet-ms", "10"), err);
  expect_bad("--packet-ms", PARSE(&o, err, "--packet-ms", "121"), err);
  expect_bad("--audio-out", PARSE(&o, err, "--audio-out", "speaker"), err);
  expect_bad("--audio-out", PARSE(&o, err, "--audio-out", "wav:"), err);
  expect_bad("--log-level", PARSE(&o, err, "--log-level", "loud"), err);
  expect_bad("--bogus", PARSE(&o, err, "--bogus"), err);
  expect_bad("--fleet", PARSE(&o, err, "--fleet"), err);
}

static void tls_flags(void **unused) {
  (void)unused;
  device_options o;
  char err[256];
  assert_int_equal(PARSE(&o, err, "--script", "x"), CLI_RUN);
  assert_null(o.tls_ca); /* plaintext by default */
  assert_int_equal(PARSE(&o, err, "--tls-ca", "ca.crt", "--tls-cert", "d.crt", "--tls-key",
                         "d.key", "--tls-server-name", "opal.test", "--script", "x"),
                   CLI_RUN);
  assert_string_equal(o.tls_ca, "ca.crt");
  assert_string_equal(o.tls_cert, "d.crt");
  assert_string_equal(o.tls_key, "d.key");
  assert_string_equal(o.tls_server_name, "opal.test");
  assert_int_equal(PARSE(&o, err, "--tls-ca", "system", "--sim"), CLI_RUN);
  assert_int_equal(PARSE(&o, err, "--fleet", "3", "--tls-ca", "ca.crt", "--tls-cert-dir", "d"),
                   CLI_RUN);
  assert_string_equal(o.tls_cert_dir, "d");
}

static void tls_flags_that_do_not_go_together(void **unused) {
  (void)unused;
  device_options o;
  char err[256];
  expect_bad("--tls-key", PARSE(&o, err, "--tls-ca", "c", "--tls-cert", "d.crt"), err);
  assert_string_equal(err, "--tls-key: needed with --tls-cert");
  expect_bad("--tls-cert", PARSE(&o, err, "--tls-ca", "c", "--tls-key", "d.key"), err);
  expect_bad("--tls-cert", PARSE(&o, err, "--tls-cert", "d.crt", "--tls-key", "d.key"), err);
  assert_non_null(strstr(err, "needs --tls-ca"));
  expect_bad("--tls-server-name", PARSE(&o, err, "--tls-server-name", "x"), err);
  expect_bad("--tls-cert-dir", PARSE(&o, err, "--tls-ca", "c", "--tls-cert-dir", "d"), err);
  assert_non_null(strstr(err, "only with --fleet"));
  expect_bad("--tls-cert-dir", PARSE(&o, err, "--fleet", "2", "--tls-cert-dir", "d"), err);
  expect_bad("--tls-cert", PARSE(&o, err, "--fleet", "2", "--tls-ca", "c", "--tls-cert", "a",
                                 "--tls-key", "b"), err);
  assert_non_null(strstr(err, "--tls-cert-dir"));
  expect_bad("--tls-ca", PARSE(&o, err, "--tls-ca", ""), err);
  expect_bad("--tls-ca", PARSE(&o, err, "--tls-ca"), err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults),
      cmocka_unit_test(modes),
      cmocka_unit_test(values),
      cmocka_unit_test(bad_values_name_the_flag),
      cmocka_unit_test(tls_flags),
      cmocka_unit_test(tls_flags_that_do_not_go_together),
  };
  return cmocka_run_group_tests_name("device_options", tests, NULL, NULL);
}
