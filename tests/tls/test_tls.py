#!/usr/bin/python3
"""opal-server with TLS (--tls-cert, --tls-key) and mutual TLS (--client-ca).

Certificates come from scripts/opal-certs, made per test class in a temp
folder (removed at the end); the certificates a test needs that the script
refuses to make (expired, from another CA) are made with openssl or
python3-cryptography. Clients are tests/interop/opal_client.py over
grpc.ssl_channel_credentials, and Python's ssl module where a test needs to
see the certificate the server presents.

Run:   /usr/bin/python3 tests/tls/test_tls.py [-v] [TestClass[.test_name]]
Env:   OPAL_SERVER, OPAL_SERVER_WRAPPER as tests/interop/test_interop.py.
"""

import datetime
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "interop"))

import grpc  # noqa: E402

from opal_client import MODE, PLAY, STOP, OpalClient, pattern_state  # noqa: E402
from test_interop import SERVER, SLOW, ServerProcess  # noqa: E402

CERTS = os.path.join(REPO, "scripts", "opal-certs")
HOST = "opal.test"          # the server certificate's DNS name; clients override the target name


def run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def make_expired(folder, ca_dir, device_id):
    """A device certificate for `device_id`, signed by ca_dir's CA, that
    expired yesterday (python3-cryptography: openssl x509 cannot backdate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    ca_key = serialization.load_pem_private_key(read(os.path.join(ca_dir, "ca.key")), None)
    ca = x509.load_pem_x509_certificate(read(os.path.join(ca_dir, "ca.crt")))
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30))
            .not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return write_pair(folder, "expired", cert, key)


def write_pair(folder, name, cert, key):
    """folder/name.crt and folder/name.key (PEM) of a python3-cryptography
    certificate and key; returns their paths."""
    from cryptography.hazmat.primitives import serialization
    crt, k = os.path.join(folder, name + ".crt"), os.path.join(folder, name + ".key")
    with open(crt, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(k, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return crt, k


class TlsTestCase(unittest.TestCase):
    """A CA, a server certificate for HOST and 127.0.0.1, device
    certificates for dev-1 and dev-2, and a second CA with its own dev-1."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="opal-tls-")
        cls.pki = os.path.join(cls.tmp, "pki")
        cls.other = os.path.join(cls.tmp, "other")
        run(CERTS, "ca", cls.pki)
        run(CERTS, "server", cls.pki, HOST, "127.0.0.1")
        run(CERTS, "device", cls.pki, "dev-1", "dev-2", "victim")
        run(CERTS, "ca", cls.other)
        run(CERTS, "device", cls.other, "dev-1")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="t-", dir=self.tmp)
        self.addCleanup(shutil.rmtree, self.dir, True)

    def pki_file(self, name, pki=None):
        return os.path.join(pki or self.pki, name)

    def tls_args(self, mutual=True, cert=None, key=None):
        args = ["--tls-cert", cert or self.pki_file("server.crt"), "--tls-key", key or self.pki_file("server.key")]
        return args + (["--client-ca", self.pki_file("ca.crt")] if mutual else [])

    def server(self, *args):
        srv = ServerProcess(extra_args=args)
        self.addCleanup(srv.kill)
        srv.start()
        return srv

    def creds(self, device=None, pki=None, crt=None, key=None):
        """Channel credentials trusting our CA, presenting `device`'s
        certificate (None: none)."""
        if device:
            crt = crt or self.pki_file("devices/%s.crt" % device, pki)
            key = key or self.pki_file("devices/%s.key" % device, pki)
        return grpc.ssl_channel_credentials(read(self.pki_file("ca.crt")), read(key) if key else None,
                                            read(crt) if crt else None)

    def client(self, srv, device_id, creds, **kw):
        c = OpalClient(srv.target, device_id, credentials=creds,
                       channel_options=[("grpc.ssl_target_name_override", HOST)], **kw)
        self.addCleanup(c.disconnect)
        return c

    def served(self, c, srv, what):
        sets = c.wait_sets(1, 5 * SLOW)
        self.assertTrue(sets, "%s: no SET; calls ended %r\n%s" % (what, c.ended, srv.log_tail()))
        return sets[0]

    def refused(self, c, what, wait=3.0):
        """The client's calls all end, none served."""
        ended = c.wait_ended(["status", "event", "audio"], wait * SLOW)
        self.assertTrue(all(ended.values()), "%s: calls still open: %r" % (what, ended))
        self.assertEqual(c.sets, [], "%s: got a SET" % what)
        return ended

    def presented_cert(self, srv):
        """The DER certificate the server presents to a new TLS connection."""
        ctx = ssl.create_default_context(cafile=self.pki_file("ca.crt"))
        ctx.load_cert_chain(self.pki_file("devices/dev-1.crt"), self.pki_file("devices/dev-1.key"))
        ctx.set_alpn_protocols(["h2"])
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname=HOST) as s:
            return s.getpeercert(binary_form=True)

    def renew_into(self, live):
        """A new server certificate and key for HOST from our CA, renamed
        over live/server.{crt,key} as a deploy tool would; returns the
        folder it was made in."""
        renewed = os.path.join(self.dir, "renewed")
        shutil.copytree(self.pki, renewed, ignore=shutil.ignore_patterns("server.*", "devices"))
        run(CERTS, "server", renewed, HOST, "127.0.0.1")
        for name in ("server.key", "server.crt"):
            shutil.copy(os.path.join(renewed, name), os.path.join(live, name + ".new"))
            os.rename(os.path.join(live, name + ".new"), os.path.join(live, name))
        return renewed

    def der(self, pem_path):
        return ssl.PEM_cert_to_DER_cert(read(pem_path).decode())


@unittest.skipUnless(shutil.which("openssl"), "openssl is missing")
class MutualTlsTests(TlsTestCase):

    def test_own_id_is_served_and_plays(self):
        """A device whose certificate names its id: SET, acked presses,
        audio that decodes, Stop."""
        srv = self.server(*self.tls_args())
        self.assertTrue(any("tls on: --tls-cert" in l for l in srv.lines), srv.log_tail())
        self.assertFalse(any("not authenticated" in l for l in srv.lines))
        c = self.client(srv, "dev-1", self.creds("dev-1"))
        s = self.served(c, srv, "dev-1 with its own certificate")
        self.assertEqual(pattern_state(s.leds), ("idle", 0))
        self.assertTrue(c.press(MODE))
        self.assertTrue(c.press(PLAY))
        got = c.wait_for(lambda: len(c.packets) >= 10, 5 * SLOW)
        self.assertTrue(got, "no audio over mTLS: %d packets" % len(c.packets))
        self.assertTrue(c.press(STOP))
        self.assertTrue(c.wait_for(lambda: any(p.is_end for p in c.packets), 3 * SLOW), "no is_end")
        print("over mTLS: %d packets, the last is_end" % len(c.packets))

    def test_another_id_is_permission_denied(self):
        """dev-2's certificate claiming dev-1: every call PERMISSION_DENIED,
        naming the certificate's identity; logged with it and the peer; the
        real dev-1, connected meanwhile, is not touched."""
        srv = self.server(*self.tls_args())
        victim = self.client(srv, "dev-1", self.creds("dev-1"))
        self.served(victim, srv, "dev-1")
        self.assertTrue(victim.press(MODE))
        thief = self.client(srv, "dev-1", self.creds("dev-2"))
        ended = self.refused(thief, "dev-2 claiming dev-1")
        for name, e in ended.items():
            self.assertEqual(e.code, grpc.StatusCode.PERMISSION_DENIED, "%s: %r" % (name, e))
            self.assertIn("device_id dev-1 is not the identity of the client certificate (dev-2)", e.details)
        print("dev-2 as dev-1: %r" % ended["status"])
        logged = [l for l in srv.lines if "rejected call" in l and "(dev-2)" in l]
        self.assertTrue(logged and "peer=ipv4:127.0.0.1:" in logged[0], srv.log_tail())
        time.sleep(0.3)
        self.assertEqual(victim.ended, {}, "the victim's calls ended")
        n = len(victim.sets)
        self.assertTrue(victim.press(MODE))
        self.assertTrue(victim.wait_for(lambda: len(victim.sets) > n, 2 * SLOW))
        self.assertEqual(pattern_state(victim.sets[-1].leds), ("idle", 2), "the victim's mode")

    def test_bad_clients_are_refused(self):
        """No client certificate, one from another CA, an expired one, and
        plaintext to the TLS port: each refused at the handshake; a good
        device is served afterwards."""
        srv = self.server(*self.tls_args())
        crt, key = make_expired(self.dir, self.pki, "dev-1")
        cases = [("no client certificate", self.creds()),
                 ("a certificate from another CA", self.creds("dev-1", pki=self.other)),
                 ("an expired certificate", self.creds(crt=crt, key=key))]
        for what, creds in cases:
            c = self.client(srv, "dev-1", creds)
            ended = self.refused(c, what)
            print("%s: %r" % (what, ended["status"]))
            self.assertEqual(ended["status"].code, grpc.StatusCode.UNAVAILABLE, what)
            c.disconnect()
        plain = OpalClient(srv.target, "dev-1")
        self.addCleanup(plain.disconnect)
        print("plaintext to the TLS port: %r" % self.refused(plain, "plaintext")["status"])
        c = self.client(srv, "dev-1", self.creds("dev-1"))
        self.served(c, srv, "a good device after the bad ones")
        self.assertTrue(srv.alive())

    def test_sighup_renews_the_certificate(self):
        """The server certificate replaced on disk and SIGHUP: new
        connections get the new one, the call already open stays up. A
        renewal whose key does not match is logged and the current
        certificate kept."""
        live = os.path.join(self.dir, "live")
        os.mkdir(live)
        shutil.copy(self.pki_file("server.crt"), os.path.join(live, "server.crt"))
        shutil.copy(self.pki_file("server.key"), os.path.join(live, "server.key"))
        srv = self.server(*self.tls_args(cert=os.path.join(live, "server.crt"), key=os.path.join(live, "server.key")))
        old = self.client(srv, "dev-1", self.creds("dev-1"))
        self.served(old, srv, "before the renewal")
        self.assertEqual(self.presented_cert(srv), self.der(self.pki_file("server.crt")))
        # A renewal: a new certificate (and key) for the same name.
        renewed = self.renew_into(live)
        srv.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5 * SLOW
        while self.presented_cert(srv) != self.der(os.path.join(renewed, "server.crt")):
            self.assertLess(time.monotonic(), deadline, "new connections still get the old certificate\n%s"
                            % srv.log_tail())
            time.sleep(0.1)
        self.assertTrue(any("tls reloaded" in l for l in srv.lines), srv.log_tail())
        self.assertTrue(srv.alive(), "SIGHUP stopped the server")
        self.assertEqual(old.ended, {}, "the open call ended at the renewal")
        self.assertTrue(old.press(MODE), "the open call took no press after the renewal")
        new = self.client(srv, "dev-2", self.creds("dev-2"))
        self.served(new, srv, "a new connection after the renewal")
        # A broken renewal: the key of another certificate.
        shutil.copy(self.pki_file("server.key"), os.path.join(live, "server.key"))
        srv.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5 * SLOW
        while not any("keeping the current certificate" in l for l in srv.lines):
            self.assertLess(time.monotonic(), deadline, srv.log_tail())
            time.sleep(0.05)
        line = [l for l in srv.lines if "keeping the current certificate" in l][-1]
        print(line)
        self.assertIn("does not match --tls-cert", line)
        self.assertEqual(self.presented_cert(srv), self.der(os.path.join(renewed, "server.crt")))

    def test_changed_files_are_picked_up_without_a_signal(self):
        """Files replaced on disk, no signal: within a few seconds new
        connections get the new certificate."""
        live = os.path.join(self.dir, "live")
        os.mkdir(live)
        for name in ("server.crt", "server.key"):
            shutil.copy(self.pki_file(name), os.path.join(live, name))
        srv = self.server(*self.tls_args(cert=os.path.join(live, "server.crt"), key=os.path.join(live, "server.key")))
        renewed = self.renew_into(live)
        t0 = time.monotonic()
        while self.presented_cert(srv) != self.der(os.path.join(renewed, "server.crt")):
            self.assertLess(time.monotonic() - t0, 5 * SLOW, "the new files were not picked up\n%s" % srv.log_tail())
            time.sleep(0.1)
        print("renewed files served %.1f s after they were replaced" % (time.monotonic() - t0))


@unittest.skipUnless(shutil.which("openssl"), "openssl is missing")
class ServerTlsOnlyTests(TlsTestCase):

    def test_tls_without_client_ca(self):
        """TLS without --client-ca: any id is served over TLS, and the server
        said once, at start-up, that ids are not authenticated."""
        srv = self.server(*self.tls_args(mutual=False))
        c = self.client(srv, "anyone", self.creds())
        self.served(c, srv, "TLS without a client certificate")
        warned = [l for l in srv.lines if "device ids are not authenticated" in l]
        self.assertEqual(len(warned), 1, srv.log_tail())
        print(warned[0])

    def test_plaintext_stays_the_default(self):
        """No TLS flag: plaintext, and nothing said about TLS."""
        srv = self.server()
        c = OpalClient(srv.target, "plain")
        self.addCleanup(c.disconnect)
        self.served(c, srv, "plaintext")
        self.assertFalse(any(" tls" in l for l in srv.lines), srv.log_tail())


class BadFilesTests(TlsTestCase):
    """A missing, unreadable, malformed or mismatched file: one line naming
    the flag, the file and what is wrong; exit 2."""

    def start_fails(self, args, *fragments):
        p = subprocess.run([SERVER, "--listen", "127.0.0.1:0", "--store", "memory"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(p.returncode, 2, "exit code: %r" % p.stderr)
        self.assertEqual(len(lines), 1, "not one line: %r" % p.stderr)
        for f in fragments:
            self.assertIn(f, lines[0])
        print(lines[0])

    def test_bad_files(self):
        crt, key, ca = self.pki_file("server.crt"), self.pki_file("server.key"), self.pki_file("ca.crt")
        missing = os.path.join(self.dir, "nowhere.crt")
        junk = os.path.join(self.dir, "junk.pem")
        with open(junk, "w") as f:
            f.write("this is not PEM\n")
        other_key = self.pki_file("devices/dev-1.key")
        self.start_fails(["--tls-cert", missing, "--tls-key", key], "--tls-cert", missing, "No such file")
        self.start_fails(["--tls-cert", crt, "--tls-key", self.dir], "--tls-key", self.dir, "cannot be read")
        self.start_fails(["--tls-cert", junk, "--tls-key", key], "--tls-cert", junk, "no PEM certificate")
        self.start_fails(["--tls-cert", crt, "--tls-key", junk], "--tls-key", junk, "no PEM private key")
        self.start_fails(["--tls-cert", crt, "--tls-key", other_key], "--tls-key", other_key,
                         "does not match --tls-cert", crt)
        self.start_fails(["--tls-cert", crt, "--tls-key", key, "--client-ca", junk], "--client-ca", junk)
        self.start_fails(["--tls-cert", crt], "--tls-key: needed with --tls-cert")
        self.start_fails(["--tls-key", key], "--tls-cert: needed with --tls-key")
        self.start_fails(["--client-ca", ca], "--client-ca: needs --tls-cert and --tls-key")


if __name__ == "__main__":
    unittest.main()
