#!/usr/bin/python3
"""opal-device over TLS and mutual TLS: --tls-ca, --tls-cert, --tls-key,
--tls-server-name, and the fleet's --tls-cert-dir, against the real
opal-server started with --tls-cert/--tls-key/--client-ca.

Certificates come from scripts/opal-certs (TlsTestCase of test_tls.py, a
temp folder per class); the ones it refuses to make (expired, not yet
valid) from python3-cryptography. Devices run in --script mode and print
JSON lines (docs/device.md); what they received is compared with the
server's `stream end ... digest=` lines, as tests/loopback does. Every
failure must reach the device's log and its `disconnected` events in
words (docs/device.md, "TLS"), said once per change of reason.

Run:   /usr/bin/python3 tests/tls/test_device_tls.py [-v] [TestClass[.test_name]]
Env:   OPAL_SERVER, OPAL_DEVICE (default build/); OPAL_DEVICE_WRAPPER as
       tests/loopback/test_loopback.py.
"""

import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "loopback"))

# Servers are test_interop's ServerProcess, through TlsTestCase.server.
from test_tls import CERTS, HOST, TlsTestCase, make_expired, read, run, write_pair  # noqa: E402
from test_loopback import DEVICE, DEVICE_WRAPPER, STREAM_END  # noqa: E402

WAIT = 90 if DEVICE_WRAPPER else 30          # a device's whole script, at most
FLEET = 20
# The words of docs/device.md, as the device prints them.
UNTRUSTED = "server certificate not trusted"
EXPIRED = "server certificate expired"
NOT_YET_VALID = "server certificate not yet valid"
NAME = "server name does not match the certificate"
CERT_REQUIRED = "the server requires a client certificate"
CERT_REFUSED = "client certificate refused by the server"
NOT_TLS = "the server does not speak TLS"
WANTS_TLS = "the server hung up at once (does it want TLS? see --tls-ca)"
IDENTITY = "device_id is not the identity of the client certificate"

# Connects, and stays long enough after the first failure for a few more
# attempts (backoff 0-100 ms, 0-200 ms, ...), to show they are not logged.
FAILING_SCRIPT = "connect\nwait-for disconnected %d\nwait %d\nquit\n" % (
    (40000, 8000) if DEVICE_WRAPPER else (8000, 2000))


def make_server_cert(folder, ca_dir, name, days_from, days_to):
    """A server certificate for HOST and 127.0.0.1 signed by ca_dir's CA,
    valid from now + days_from to now + days_to (python3-cryptography)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    ca_key = serialization.load_pem_private_key(read(os.path.join(ca_dir, "ca.key")), None)
    ca = x509.load_pem_x509_certificate(read(os.path.join(ca_dir, "ca.crt")))
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    san = [x509.DNSName(HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days_from))
            .not_valid_after(now + datetime.timedelta(days=days_to))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return write_pair(folder, name, cert, key)


def losses_to_say(events):
    """How many losses the log says: the first, and the first after each
    connection (a success is a change of reason)."""
    n, fresh = 0, True
    for e in events:
        if e["event"] == "connected":
            fresh = True
        elif e["event"] == "disconnected" and e["retrying"]:
            n += fresh
            fresh = False
    return n


class DeviceProcess:
    """A real opal-device running `script` in --script mode with the
    connection flags `args`; its JSON events and its log lines."""

    def __init__(self, folder, name, script, args, env=None):
        self.name = name
        path = os.path.join(folder, name + ".script")
        with open(path, "w") as f:
            f.write(script)
        self.cmd = DEVICE_WRAPPER + [DEVICE, "--script", path, "--audio-out", "null",
                                     "--log-level", "info"] + list(args)
        self.events, self.lines = [], []
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, errors="replace", env=env)
        self.threads = [threading.Thread(target=self._drain, args=(s, k), daemon=True)
                        for s, k in ((self.proc.stdout, self.events), (self.proc.stderr, self.lines))]
        for t in self.threads:
            t.start()

    def _drain(self, stream, sink):
        for line in stream:
            sink.append(json.loads(line) if sink is self.events else line.rstrip("\n"))

    def finish(self, timeout=WAIT):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s did not finish its script: %s" % (self.name, self.names()))
        for t in self.threads:
            t.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for t in self.threads:
            t.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def of(self, name):
        return [e for e in self.events if e["event"] == name]

    def names(self):
        return [e["event"] for e in self.events]

    def said(self, fragment):
        return [l for l in self.lines if fragment in l]

    def log(self):
        return "\n".join(self.lines[-15:])


class DeviceTlsCase(TlsTestCase):
    """TlsTestCase's certificates, and a fleet's: fleet-0 .. fleet-19."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        run(CERTS, "devices", cls.pki, "fleet", str(FLEET))

    def device(self, name, script, *args, env=None):
        d = DeviceProcess(self.dir, name, script, args, env)
        self.addCleanup(d.kill)
        return d

    def mtls_server(self, cert=None, key=None):
        return self.server(*self.tls_args(cert=cert, key=key))

    def trust(self, pki=None):
        return ["--tls-ca", self.pki_file("ca.crt", pki)]

    def identity(self, device):
        return ["--tls-cert", self.pki_file("devices/%s.crt" % device),
                "--tls-key", self.pki_file("devices/%s.key" % device)]


@unittest.skipUnless(shutil.which("openssl"), "openssl is missing")
class DeviceMutualTlsTests(DeviceTlsCase):

    def test_mode_play_stop_over_mtls(self):
        """dev-1 with its certificate: connected, Mode acked, a sound played
        and stopped, then a second one that ends by itself; what the device
        got is what the server sent, digest for digest."""
        srv = self.mtls_server()
        d = self.device("dev-1", """
            connect
            wait-for connected 10000
            press mode          # mode 1
            wait-for ack
            press play
            wait-for stream_start 5000
            wait 700
            press stop
            wait-for stream_end 5000
            press mode          # mode 2
            wait-for ack
            press mode          # mode 3
            wait-for ack
            press mode          # mode 4
            wait-for ack
            press mode          # mode 0, the short sound
            wait-for ack
            press play
            wait-for stream_start 5000
            wait-for stream_end 10000
            quit
            """, "--server", srv.target, "--device-id", "dev-1", *self.trust(), *self.identity("dev-1"))
        rc = d.finish()
        self.assertEqual(rc, 0, "exit %s; events %s\n%s" % (rc, d.names(), d.log()))
        self.assertTrue(d.said("tls on: the server's certificate checked against"), d.log())
        self.assertEqual(len(d.of("connected")), 1, d.names())
        acks = d.of("ack")
        self.assertEqual([a["button"] for a in acks], ["mode", "play", "stop"] + ["mode"] * 4 + ["play"])
        self.assertTrue(all(a["ack"] for a in acks), acks)
        ends = d.of("stream_end")
        srv_ends = [m.groups() for m in map(STREAM_END.search, srv.lines) if m and m.group(1) == "dev-1"]
        self.assertEqual(len(ends), 2, ends)
        self.assertEqual(len(srv_ends), 2, srv.log_tail())
        for dev, (_, mode, reason, sent, total, digest) in zip(ends, srv_ends):
            self.assertEqual(dev["packets"], int(sent), "mode %s (%s)" % (mode, reason))
            self.assertEqual(dev["digest"], digest, "mode %s (%s)" % (mode, reason))
            print("  over mTLS: mode %s %-7s %4s/%-4s packets, digest %s: device and server agree"
                  % (mode, reason, sent, total, digest))
        self.assertEqual([r for _, _, r, *_ in srv_ends], ["stop", "natural"])
        self.assertFalse([l for l in srv.lines if "rejected call" in l], srv.log_tail())

    def test_server_name_override(self):
        """--tls-server-name opal.test: the certificate's DNS name is
        checked instead of the target's 127.0.0.1, and matches."""
        srv = self.mtls_server()
        d = self.device("named", "connect\nwait-for connected 10000\nquit\n", "--server", srv.target,
                        "--device-id", "dev-1", "--tls-server-name", HOST, *self.trust(),
                        *self.identity("dev-1"))
        self.assertEqual(d.finish(), 0, "%s\n%s" % (d.names(), d.log()))
        self.assertEqual(len(d.of("connected")), 1, d.names())

    def test_system_roots(self):
        """--tls-ca system: OpenSSL's default store, which SSL_CERT_FILE
        points at our CA here; without it, our CA is not trusted."""
        srv = self.mtls_server()
        env = dict(os.environ, SSL_CERT_FILE=self.pki_file("ca.crt"))
        d = self.device("system", "connect\nwait-for connected 10000\nquit\n", "--server", srv.target,
                        "--device-id", "dev-1", "--tls-ca", "system", *self.identity("dev-1"), env=env)
        self.assertEqual(d.finish(), 0, "%s\n%s" % (d.names(), d.log()))
        self.assertTrue(d.said("checked against the system's roots"), d.log())
        env = dict(os.environ)
        env.pop("SSL_CERT_FILE", None)  # the system's own roots: none signed ours
        d = self.device("system-untrusted", FAILING_SCRIPT, "--server", srv.target, "--device-id", "dev-1",
                        "--tls-ca", "system", *self.identity("dev-1"), env=env)
        self.assertEqual(d.finish(), 0, d.log())
        self.assertTrue(d.of("disconnected")[0]["reason"].startswith(UNTRUSTED), d.of("disconnected"))


@unittest.skipUnless(shutil.which("openssl"), "openssl is missing")
class DeviceTlsFailureTests(DeviceTlsCase):

    def test_failures_in_words(self):
        """Each way a TLS set-up fails, with the device retrying: the
        `disconnected` reason and the log line start with the words; the log
        says it once per change of reason (each success is a change), though
        the device tried again several times; it never connected."""
        mtls = self.mtls_server()
        plain = self.server()
        tls_only = self.server(*self.tls_args(mutual=False))
        old_crt, old_key = make_server_cert(self.dir, self.pki, "old", -30, -1)
        new_crt, new_key = make_server_cert(self.dir, self.pki, "future", 1, 30)
        expired = self.server(*self.tls_args(mutual=False, cert=old_crt, key=old_key))
        future = self.server(*self.tls_args(mutual=False, cert=new_crt, key=new_key))
        exp_crt, exp_key = make_expired(self.dir, self.pki, "dev-1")
        dev1 = self.identity("dev-1")
        cases = [
            ("untrusted", UNTRUSTED, mtls, ["--device-id", "dev-1"] + self.trust(self.other) + dev1),
            ("wrong-name", NAME, mtls, ["--device-id", "dev-1", "--tls-server-name", "wrong.test"]
             + self.trust() + dev1),
            ("not-the-identity", IDENTITY, mtls, ["--device-id", "dev-1"] + self.trust()
             + self.identity("dev-2")),
            ("expired-device", CERT_REFUSED, mtls, ["--device-id", "dev-1"] + self.trust()
             + ["--tls-cert", exp_crt, "--tls-key", exp_key]),
            ("other-ca-device", CERT_REFUSED, mtls, ["--device-id", "dev-1"] + self.trust()
             + ["--tls-cert", self.pki_file("devices/dev-1.crt", self.other),
                "--tls-key", self.pki_file("devices/dev-1.key", self.other)]),
            ("no-device-cert", CERT_REQUIRED, mtls, ["--device-id", "dev-1"] + self.trust()),
            ("plaintext-server", NOT_TLS, plain, ["--device-id", "dev-1"] + self.trust() + dev1),
            ("plaintext-device", WANTS_TLS, tls_only, ["--device-id", "dev-1"]),
            ("expired-server", EXPIRED, expired, ["--device-id", "dev-1"] + self.trust()),
            ("future-server", NOT_YET_VALID, future, ["--device-id", "dev-1"] + self.trust()),
        ]
        devices = [(name, words, self.device(name, FAILING_SCRIPT, "--server", srv.target, *args))
                   for name, words, srv, args in cases]
        for name, words, d in devices:
            rc = d.finish()
            self.assertEqual(rc, 0, "%s: exit %s\n%s" % (name, rc, d.log()))
            lost = d.of("disconnected")
            retried = [e for e in lost if e["retrying"]]
            self.assertGreaterEqual(len(retried), 2, "%s: attempts %s\n%s" % (name, d.names(), d.log()))
            for e in retried:
                self.assertTrue(e["reason"].startswith(words + " ("), "%s: %r" % (name, e["reason"]))
            said = d.said("info  connection lost: ")
            connected = len(d.of("connected"))
            self.assertEqual(len(said), losses_to_say(d.events), "%s: said %d times over %d attempts, %d "
                             "connected:\n%s" % (name, len(said), len(retried), connected, "\n".join(said)))
            self.assertIn("connection lost: " + words + " (", said[0])
            if name != "not-the-identity":  # refused per call, after the handshake
                self.assertEqual(connected, 0, "%s: %s" % (name, d.names()))
            first_ms = retried[0]["t_ms"] - d.of("connecting")[0]["t_ms"]
            print("  %-17s %d attempts in %.1f s, said %dx, %d connected, first after %.0f ms: %s"
                  % (name, len(retried), lost[-1]["t_ms"] / 1000, len(said), connected, first_ms,
                     retried[0]["reason"]))
        expired_dev = dict((n, d) for n, _, d in devices)["expired-device"]
        self.assertTrue(expired_dev.said("warn  tls: --tls-cert %s expired on" % exp_crt), expired_dev.log())
        denied = [l for l in mtls.lines if "rejected call" in l and "(dev-2)" in l]
        self.assertTrue(denied, mtls.log_tail())


class DeviceTlsFileTests(DeviceTlsCase):
    """A missing, unreadable, malformed or mismatched file, or flags that
    do not go together: one line naming the flag (and the file, and what
    is wrong), exit 2, before anything connects."""

    def start_fails(self, args, *fragments):
        script = os.path.join(self.dir, "quit.script")
        with open(script, "w") as f:
            f.write("quit\n")
        p = subprocess.run(DEVICE_WRAPPER + [DEVICE, "--audio-out", "null", "--server", "127.0.0.1:9"]
                           + list(args) + ([] if "--fleet" in args else ["--script", script]),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=WAIT)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(p.returncode, 2, "exit %s: %r" % (p.returncode, p.stderr))
        self.assertEqual(len(lines), 1, "not one line: %r" % p.stderr)
        for f in fragments:
            self.assertIn(f, lines[0])
        print("  " + lines[0])

    def test_bad_files(self):
        ca, crt, key = self.pki_file("ca.crt"), self.pki_file("devices/dev-1.crt"), self.pki_file("devices/dev-1.key")
        missing = os.path.join(self.dir, "nowhere.pem")
        junk = os.path.join(self.dir, "junk.pem")
        empty = os.path.join(self.dir, "empty.pem")
        with open(junk, "w") as f:
            f.write("this is not PEM\n")
        open(empty, "w").close()
        other_key = self.pki_file("devices/dev-2.key")
        pair = ["--tls-cert", crt, "--tls-key", key]
        self.start_fails(["--tls-ca", missing], "--tls-ca", missing, "No such file")
        self.start_fails(["--tls-ca", junk], "--tls-ca", junk, "no PEM certificate")
        self.start_fails(["--tls-ca", empty], "--tls-ca", empty, "empty")
        self.start_fails(["--tls-ca", ca, "--tls-cert", missing, "--tls-key", key], "--tls-cert", missing,
                         "No such file")
        self.start_fails(["--tls-ca", ca, "--tls-cert", junk, "--tls-key", key], "--tls-cert", junk,
                         "no PEM certificate")
        self.start_fails(["--tls-ca", ca, "--tls-cert", crt, "--tls-key", self.dir], "--tls-key", self.dir,
                         "cannot be read")
        self.start_fails(["--tls-ca", ca, "--tls-cert", crt, "--tls-key", junk], "--tls-key", junk,
                         "no PEM private key")
        self.start_fails(["--tls-ca", ca, "--tls-cert", crt, "--tls-key", other_key], "--tls-key", other_key,
                         "does not match --tls-cert", crt)
        if os.geteuid() != 0:  # root reads anything
            unreadable = os.path.join(self.dir, "unreadable.key")
            shutil.copy(key, unreadable)
            os.chmod(unreadable, 0)
            self.start_fails(["--tls-ca", ca, "--tls-cert", crt, "--tls-key", unreadable], "--tls-key",
                             unreadable, "Permission denied")
        self.start_fails(["--tls-ca", ca, "--tls-cert", crt], "--tls-key: needed with --tls-cert")
        self.start_fails(pair, "--tls-cert: needs --tls-ca")
        self.start_fails(["--tls-server-name", HOST], "--tls-server-name: needs --tls-ca")
        self.start_fails(["--tls-ca", ca, "--tls-cert-dir", self.pki_file("devices")],
                         "--tls-cert-dir: only with --fleet")
        self.start_fails(["--fleet", "2", "--tls-ca", ca] + pair, "--tls-cert: not with --fleet")
        # The fleet's folder holds fleet-0 .. fleet-19: a 21st device has none.
        self.start_fails(["--fleet", str(FLEET + 1), "--tls-ca", ca, "--tls-cert-dir", self.pki_file("devices")],
                         "--tls-cert-dir", self.pki_file("devices/fleet-%d.crt" % FLEET), "No such file")
        self.start_fails(["--fleet", "2", "--id-prefix", "dev", "--tls-ca", ca,
                          "--tls-cert-dir", self.pki_file("devices")],
                         "--tls-cert-dir", self.pki_file("devices/dev-0.crt"))


@unittest.skipUnless(shutil.which("openssl"), "openssl is missing")
class FleetTlsTests(DeviceTlsCase):

    def fleet(self, srv, *args, duration=5):
        p = subprocess.run(
            [DEVICE, "--fleet", str(FLEET), "--id-prefix", "fleet", "--server", srv.target, "--ramp", "200",
             "--duration", str(duration), "--play-rate", "12", "--play-seconds", "1", "--mode-rate", "6",
             "--json", "--log-level", "warn"] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=duration + WAIT)
        self.assertEqual(p.returncode, 0, p.stderr)
        summary = json.loads(p.stdout.splitlines()[-1])
        self.assertTrue(summary["final"], summary)
        return summary, p.stderr

    def test_fleet_of_twenty_over_mtls(self):
        """20 devices, each with its own certificate from --tls-cert-dir,
        ~5 s of the random mix: every device connected, no error, and the
        server served the 20 ids."""
        srv = self.mtls_server()
        t0 = time.monotonic()
        summary, err = self.fleet(srv, *self.trust(), "--tls-cert-dir", self.pki_file("devices"))
        took = time.monotonic() - t0
        print("  fleet of %d over mTLS, %.1f s: %d connected, %d never, %d reconnects, errors %s, ramp %.2f s, "
              "%d streams, %d packets, %d late, ack p50 %.2f ms, press->first packet p50 %.2f ms"
              % (FLEET, took, summary["connected"], summary["failed"], summary["reconnects"], summary["errors"],
                 summary["ramp_s"], summary["streams_started"], summary["packets"], summary["late_packets"],
                 summary["ack_ms"]["p50"], summary["press_to_first_packet_ms"]["p50"]))
        self.assertEqual(summary["devices"], FLEET)
        self.assertEqual(summary["connected"], FLEET)
        self.assertEqual(summary["failed"], 0)
        self.assertEqual(summary["reconnects"], 0)
        self.assertEqual(summary["errors"], {})
        self.assertEqual(summary["decode_errors"], 0)
        self.assertGreater(summary["packets"], 0, "no Play in 5 s from 20 devices")
        self.assertGreater(summary["ack_ms"]["n"], 0)
        served = {l.split("connect device=")[1].split()[0] for l in srv.lines if "connect device=" in l}
        self.assertEqual(served, {"fleet-%d" % i for i in range(FLEET)}, srv.log_tail())
        self.assertFalse([l for l in srv.lines if "rejected call" in l], srv.log_tail())
        self.assertFalse([l for l in err.splitlines() if " warn " in l or " error " in l], err)

    def test_fleet_errors_are_counted_in_words(self):
        """A CA that did not sign the server's certificate: every device
        fails, and the summary's errors say why, in words."""
        srv = self.mtls_server()
        summary, _ = self.fleet(srv, *self.trust(self.other), "--tls-cert-dir", self.pki_file("devices"),
                                duration=1)
        print("  fleet against an untrusted server: %d connected, errors %s" % (summary["connected"], summary["errors"]))
        self.assertEqual(summary["connected"], 0)
        self.assertEqual(list(summary["errors"]), [UNTRUSTED])
        self.assertGreaterEqual(summary["errors"][UNTRUSTED], FLEET)


if __name__ == "__main__":
    unittest.main()
