/* opal-device's command line: modes, values, and errors naming the flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/device_options.h"

/* The folder the default device.conf is read from (OPAL_CONFIG_DIR): a
 * fresh one, so that nothing in /etc/opal reaches these tests. */
static char config_dir[] = "/tmp/opal-device-options-XXXXXX";
static char config_path[sizeof config_dir + 32];

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

/* Writes `text` as the file the next parse reads with --config; returns
 * its path. */
static const char *config_file(const char *name, const char *text) {
  snprintf(config_path, sizeof config_path, "%s/%s", config_dir, name);
  FILE *f = fopen(config_path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return config_path;
}

static void config_file_values(void **unused) {
  (void)unused;
  device_options o;
  char err[256];
  const char *path = config_file("device.conf",
                                 "# the kitchen's device\n"
                                 "server = opal.lan:7000\n"
                                 "device-id = kitchen ; inline comment\n"
                                 "buffer-ms = 120\n"
                                 "decode = true\n"
                                 "json = false\n"
                                 "[gpio]\n"
                                 "led_lines = 1, 2,3,4,5,6\n"
                                 "hold_ms = 900\n");
  assert_int_equal(PARSE(&o, err, "--config", (char *)path), CLI_RUN);
  assert_string_equal(o.server, "opal.lan:7000");
  assert_string_equal(o.device_id, "kitchen");
  assert_int_equal(o.audio.buffer_ms, 120);
  assert_true(o.decode && !o.json);
  assert_int_equal(o.gpio_count, 2);
  assert_string_equal(o.gpio[0].key, "led_lines");
  assert_string_equal(o.gpio[0].value, "1, 2,3,4,5,6");
  assert_string_equal(o.gpio[1].key, "hold_ms");
  assert_string_equal(o.gpio[1].value, "900");
}

static void flags_win_over_the_file(void **unused) {
  (void)unused;
  device_options o;
  char err[256];
  const char *path = config_file("x.conf", "server = opal.lan:7000\nbuffer-ms = 120\n"
                                           "[gpio]\nhold_ms = 900\n");
  assert_int_equal(PARSE(&o, err, "--server", "other:1", "--config", (char *)path, "--hold-ms",
                         "700"),
                   CLI_RUN);
  assert_string_equal(o.server, "other:1");
  assert_int_equal(o.audio.buffer_ms, 120);
  /* The file's [gpio] first, then the flag over it. */
  assert_int_equal(o.gpio_count, 2);
  assert_string_equal(o.gpio[0].value, "900");
  assert_string_equal(o.gpio[1].flag, "--hold-ms");
  assert_string_equal(o.gpio[1].value, "700");
}

static void expect_config_error(const char *text, const char *want) {
  device_options o;
  char err[256], expected[320];
  const char *path = config_file("bad.conf", text);
  assert_int_equal(PARSE(&o, err, "--config", (char *)path), CLI_BAD);
  snprintf(expected, sizeof expected, "%s:%s", path, want);
  assert_string_equal(err, expected);
}

static void config_file_errors_name_file_line_and_key(void **unused) {
  (void)unused;
  expect_config_error("sim = true\nservr = x:1\n", "2: unknown key 'servr'");
  expect_config_error("\n\nbuffer-ms = 5\n",
                      "3: key 'buffer-ms': expected milliseconds from 10 to 2000 (got '5')");
  expect_config_error("sim = yes\n", "1: key 'sim': expected true or false (got 'yes')");
  expect_config_error("[gpio]\nhold_ms = 5\n",
                      "2: [gpio] key 'hold_ms': '5' is not a whole number from 50 to 10000 "
                      "(milliseconds)");
  expect_config_error("[gpio]\nchip = a\nchip = b\n",
                      "3: key 'chip' given twice (first on line 2)");
  expect_config_error("hold-ms = 900\n", "1: key 'hold-ms': set hold_ms in the [gpio] section");
  expect_config_error("[pins]\n", "1: unknown section [pins]");
}

static void config_file_missing(void **unused) {
  (void)unused;
  device_options o;
  char err[256], path[sizeof config_dir + 32];
  snprintf(path, sizeof path, "%s/none.conf", config_dir);
  assert_int_equal(PARSE(&o, err, "--config", path), CLI_BAD);
  assert_non_null(strstr(err, "none.conf: No such file or directory"));
  /* The default file may be missing: nothing is read. */
  assert_int_equal(PARSE(&o, err, "--sim"), CLI_RUN);
}

static void default_file_in_the_config_dir(void **unused) {
  (void)unused;
  device_options o;
  char err[256];
  config_file("device.conf", "server = opal.lan:7000\n[gpio]\nchip = gpiochip4\n");
  assert_int_equal(PARSE(&o, err, "--sim"), CLI_RUN);
  unlink(config_path);
  assert_string_equal(o.server, "opal.lan:7000");
  assert_int_equal(o.gpio_count, 1);
  assert_string_equal(o.gpio[0].value, "gpiochip4");
}

static int remove_config_dir(void **unused) {
  (void)unused;
  const char *names[] = {"device.conf", "x.conf", "bad.conf"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    snprintf(config_path, sizeof config_path, "%s/%s", config_dir, names[i]);
    unlink(config_path);
  }
  return rmdir(config_dir);
}

int main(void) {
  if (!mkdtemp(config_dir) || setenv("OPAL_CONFIG_DIR", config_dir, 1) != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults),
      cmocka_unit_test(modes),
      cmocka_unit_test(values),
      cmocka_unit_test(bad_values_name_the_flag),
      cmocka_unit_test(tls_flags),
      cmocka_unit_test(tls_flags_that_do_not_go_together),
      cmocka_unit_test(config_file_values),
      cmocka_unit_test(flags_win_over_the_file),
      cmocka_unit_test(config_file_errors_name_file_line_and_key),
      cmocka_unit_test(config_file_missing),
      cmocka_unit_test(default_file_in_the_config_dir),
  };
  return cmocka_run_group_tests_name("device_options", tests, NULL, remove_config_dir);
}
