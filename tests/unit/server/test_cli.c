/* Command-line parsing: every bad value gets a line naming its flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "device_id.h"
#include "server_options.h"
#include "store/store_engine.h"

static void host_port(void **unused) {
  (void)unused;
  char host[64];
  int port = -1;
  assert_null(cli_split_host_port("0.0.0.0:50051", host, sizeof host, &port));
  assert_string_equal(host, "0.0.0.0");
  assert_int_equal(port, 50051);
  assert_null(cli_split_host_port("[::1]:0", host, sizeof host, &port));
  assert_string_equal(host, "::1");
  assert_int_equal(port, 0);
  assert_null(cli_split_host_port("localhost:1", host, sizeof host, &port));
  assert_non_null(cli_split_host_port("localhost", host, sizeof host, &port));
  assert_non_null(cli_split_host_port(":80", host, sizeof host, &port));
  assert_non_null(cli_split_host_port("h:65536", host, sizeof host, &port));
  assert_non_null(cli_split_host_port("h:-1", host, sizeof host, &port));
  assert_non_null(cli_split_host_port("h:12x", host, sizeof host, &port));
  assert_non_null(cli_split_host_port("::1:80", host, sizeof host, &port));
}

static void numbers(void **unused) {
  (void)unused;
  long v = 0;
  assert_true(cli_parse_long("150", 0, 5000, &v));
  assert_int_equal(v, 150);
  assert_false(cli_parse_long("", 0, 5000, &v));
  assert_false(cli_parse_long("5001", 0, 5000, &v));
  assert_false(cli_parse_long("-1", 0, 5000, &v));
  assert_false(cli_parse_long("1.5", 0, 5000, &v));
  assert_false(cli_parse_long("99999999999999999999", 0, 5000, &v));
}

static cli_result parse(char **argv, int argc, server_options *o, char *err) {
  FILE *out = fopen("/dev/null", "w");
  cli_result r = server_options_parse(argc, argv, o, out, err, 256);
  fclose(out);
  return r;
}

static void server_defaults_and_values(void **unused) {
  (void)unused;
  server_options o;
  char err[256];
  char *none[] = {"opal-server"};
  assert_int_equal(parse(none, 1, &o, err), CLI_RUN);
  assert_string_equal(o.listen, "0.0.0.0:50051");
  assert_null(o.assets);
  assert_int_equal(o.lead_ms, 150);
  assert_int_equal(o.log_level, LOG_INFO);

  char *all[] = {"opal-server", "--listen", "127.0.0.1:0", "--assets=/x", "--lead-ms", "40",
                 "--log-level", "debug"};
  assert_int_equal(parse(all, 8, &o, err), CLI_RUN);
  assert_string_equal(o.listen, "127.0.0.1:0");
  assert_string_equal(o.assets, "/x");
  assert_int_equal(o.lead_ms, 40);
  assert_int_equal(o.log_level, LOG_DEBUG);

  char *help[] = {"opal-server", "--help"};
  assert_int_equal(parse(help, 2, &o, err), CLI_DONE);
  char *version[] = {"opal-server", "--version"};
  assert_int_equal(parse(version, 2, &o, err), CLI_DONE);
}

static void expect_bad(char **argv, int argc, const char *flag) {
  server_options o;
  char err[256] = "";
  assert_int_equal(parse(argv, argc, &o, err), CLI_BAD);
  if (strncmp(err, flag, strlen(flag)) != 0) fail_msg("'%s' does not start with '%s'", err, flag);
  assert_null(strchr(err, '\n'));
}

static void server_bad_flags_are_named(void **unused) {
  (void)unused;
  char *a[] = {"opal-server", "--frobnicate"};
  expect_bad(a, 2, "--frobnicate");
  char *b[] = {"opal-server", "--lead-ms", "fast"};
  expect_bad(b, 3, "--lead-ms");
  char *c[] = {"opal-server", "--lead-ms", "9000"};
  expect_bad(c, 3, "--lead-ms");
  char *d[] = {"opal-server", "--listen", "nowhere"};
  expect_bad(d, 3, "--listen");
  char *e[] = {"opal-server", "--log-level", "loud"};
  expect_bad(e, 3, "--log-level");
  char *f[] = {"opal-server", "--listen"};
  expect_bad(f, 2, "--listen");
  char *g[] = {"opal-server", "stray"};
  expect_bad(g, 2, "stray");
  char *h[] = {"opal-server", "--replica-name", "a b"};
  expect_bad(h, 3, "--replica-name");
  char *i[] = {"opal-server", "--replica-name", "{x}"};
  expect_bad(i, 3, "--replica-name");
  char *j[] = {"opal-server", "--replica-name", ""};
  expect_bad(j, 3, "--replica-name");
  /* The TLS flags go together. */
  char *k[] = {"opal-server", "--tls-cert", "s.crt"};
  expect_bad(k, 3, "--tls-key");
  char *l[] = {"opal-server", "--tls-key", "s.key"};
  expect_bad(l, 3, "--tls-cert");
  char *m[] = {"opal-server", "--client-ca", "ca.crt"};
  expect_bad(m, 3, "--client-ca");
  char *n[] = {"opal-server", "--tls-cert", ""};
  expect_bad(n, 3, "--tls-cert");
}

static void tls_flags(void **unused) {
  (void)unused;
  server_options o;
  char err[256];
  char *none[] = {"opal-server"};
  assert_int_equal(parse(none, 1, &o, err), CLI_RUN);
  assert_null(o.tls_cert); /* plaintext by default */
  char *all[] = {"opal-server", "--tls-cert", "s.crt", "--tls-key", "s.key", "--client-ca", "ca.crt"};
  assert_int_equal(parse(all, 7, &o, err), CLI_RUN);
  assert_string_equal(o.tls_cert, "s.crt");
  assert_string_equal(o.tls_key, "s.key");
  assert_string_equal(o.client_ca, "ca.crt");
}

/* The name other replicas know this one by: given, or HOSTNAME:PORT. */
static void replica_names(void **unused) {
  (void)unused;
  server_options o;
  char err[256], name[STORE_REPLICA_MAX + 1], host[256] = "", expected[300];
  char *given[] = {"opal-server", "--replica-name", "eu-1"};
  assert_int_equal(parse(given, 3, &o, err), CLI_RUN);
  server_replica_name(&o, name, sizeof name);
  assert_string_equal(name, "eu-1");
  char *port[] = {"opal-server", "--listen", "127.0.0.1:7001"};
  assert_int_equal(parse(port, 3, &o, err), CLI_RUN);
  server_replica_name(&o, name, sizeof name);
  gethostname(host, sizeof host - 1);
  snprintf(expected, sizeof expected, "%.40s:7001", host);
  assert_string_equal(name, expected);
}

static void device_ids(void **unused) {
  (void)unused;
  assert_null(device_id_problem("test_client", 11));
  assert_null(device_id_problem("a b~", 4));
  char longest[65];
  memset(longest, 'x', sizeof longest);
  assert_null(device_id_problem(longest, 64));
  assert_non_null(device_id_problem(longest, 65));
  assert_non_null(device_id_problem("", 0));
  assert_non_null(device_id_problem("a\x01", 2));
  assert_non_null(device_id_problem("caf\xc3\xa9", 5));
  assert_non_null(device_id_problem("a\x7f", 2));
}

int main(void) {
  /* No default server.conf is read (tests/interop/test_cli.py tests them):
   * nothing in /etc/opal reaches these tests. */
  if (setenv("OPAL_CONFIG_DIR", "/nonexistent/opal-test-config", 1) != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(host_port),
      cmocka_unit_test(numbers),
      cmocka_unit_test(server_defaults_and_values),
      cmocka_unit_test(server_bad_flags_are_named),
      cmocka_unit_test(replica_names),
      cmocka_unit_test(tls_flags),
      cmocka_unit_test(device_ids),
  };
  return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
