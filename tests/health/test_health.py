#!/usr/bin/python3
"""The standard gRPC health service on the server's own port:
grpc.health.v1.Health's Check and Watch (proto/health.proto,
docs/protocol.md#health-checking).

Each test starts its own server (tests/interop's ServerProcess: the real
binary on a free loopback port). The Redis test starts its own redis-server
(tests/store's RedisServer: a free port, a temp folder) and stops it, also on
failure. The TLS tests make their certificates with scripts/opal-certs in a
temp folder. Messages are health_pb2 from build/gen/python (protoc, make).

Run:   /usr/bin/python3 tests/health/test_health.py [-v] [TestClass[.test_name]]
Environment: OPAL_SERVER (default build/opal-server), OPAL_PY_GEN, as
tests/interop/test_interop.py.

Only /usr/bin/python3 (Debian's python3-grpcio and python3-protobuf).
"""

import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "interop"))
sys.path.insert(0, os.path.join(REPO, "tests", "store"))

import grpc  # noqa: E402

from opal_client import OpalClient  # noqa: E402
from test_interop import SLOW, STOP_TIMEOUT, ServerProcess  # noqa: E402
from test_store_redis import REDIS_SERVER, RedisServer  # noqa: E402

GEN = os.environ.get("OPAL_PY_GEN") or os.path.join(REPO, "build", "gen", "python")
sys.path.insert(0, GEN)
health_pb2 = importlib.import_module("health_pb2")

CHECK = "/grpc.health.v1.Health/Check"
WATCH = "/grpc.health.v1.Health/Watch"
DEVICE_SERVICE = "com.opalcamera.test.DeviceService"
Status = health_pb2.HealthCheckResponse
SERVING, NOT_SERVING, SERVICE_UNKNOWN = Status.SERVING, Status.NOT_SERVING, Status.SERVICE_UNKNOWN
NAMES = {v: k for k, v in Status.ServingStatus.items()}
CERTS = os.path.join(REPO, "scripts", "opal-certs")
TLS_HOST = "opal.test"
WAIT = 10.0 * SLOW   # a generous bound for an answer that must come


def name(status):
    return NAMES.get(status, str(status))


class HealthTestCase(unittest.TestCase):

    def server(self, *args, store="memory"):
        srv = ServerProcess(extra_args=args, store=store)
        self.addCleanup(srv.kill)
        srv.start()
        return srv

    def channel(self, srv, credentials=None):
        """A channel of its own connection (a new TCP connection each)."""
        opts = [("grpc.use_local_subchannel_pool", 1)]
        if credentials is None:
            ch = grpc.insecure_channel(srv.target, options=opts)
        else:
            ch = grpc.secure_channel(srv.target, credentials,
                                     options=opts + [("grpc.ssl_target_name_override", TLS_HOST)])
        self.addCleanup(ch.close)
        return ch

    def check(self, ch, service="", timeout=WAIT):
        rpc = ch.unary_unary(CHECK, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                             response_deserializer=health_pb2.HealthCheckResponse.FromString)
        return rpc(health_pb2.HealthCheckRequest(service=service), timeout=timeout).status

    def watch(self, ch, service="", timeout=None):
        rpc = ch.unary_stream(WATCH, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                              response_deserializer=health_pb2.HealthCheckResponse.FromString)
        call = rpc(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        self.addCleanup(call.cancel)
        return call

    def next_status(self, call, srv, what):
        try:
            return next(call).status
        except grpc.RpcError as e:
            self.fail("%s: the Watch ended with %s %r\n%s" % (what, e.code(), e.details(), srv.log_tail()))

    def wait_status(self, call, want, srv, what):
        """Reads the Watch until it says `want`; the statuses seen."""
        seen = []
        while not seen or seen[-1] != want:
            seen.append(self.next_status(call, srv, "%s (saw %s so far)" % (what, [name(s) for s in seen])))
        return [name(s) for s in seen]

    def stop(self, srv):
        code, err = srv.stop()
        self.assertIsNone(err, "%s\n%s" % (err, srv.log_tail()))


class CheckTests(HealthTestCase):

    def test_serving_after_start_for_the_server_and_the_device_service(self):
        srv = self.server()
        ch = self.channel(srv)
        self.assertEqual(name(self.check(ch, "")), "SERVING")
        self.assertEqual(name(self.check(ch, DEVICE_SERVICE)), "SERVING")
        self.stop(srv)

    def test_unknown_service_is_not_found_with_a_message(self):
        srv = self.server()
        with self.assertRaises(grpc.RpcError) as cm:
            self.check(self.channel(srv), "no.such.Service")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn("no.such.Service", cm.exception.details())
        self.assertIn(DEVICE_SERVICE, cm.exception.details())
        self.stop(srv)

    def test_malformed_request_is_invalid_argument(self):
        srv = self.server()
        ch = self.channel(srv)
        for method in (CHECK, WATCH):
            bad = b"\x0a\x10short"   # field 1 says 16 bytes, 5 follow
            if method == CHECK:
                rpc = ch.unary_unary(method)
                call = lambda: rpc(bad, timeout=WAIT)  # noqa: E731
            else:
                rpc = ch.unary_stream(method)
                call = lambda: list(rpc(bad, timeout=WAIT))  # noqa: E731
            with self.assertRaises(grpc.RpcError, msg=method) as cm:
                call()
            self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, method)
            self.assertIn("HealthCheckRequest", cm.exception.details())
        self.stop(srv)

    def test_probes_make_no_devices_and_devices_play_alongside(self):
        srv = self.server()
        ch = self.channel(srv)
        watch = self.watch(ch)
        self.assertEqual(name(self.next_status(watch, srv, "first Watch message")), "SERVING")
        for _ in range(20):
            self.assertEqual(self.check(ch), SERVING)
        self.assertFalse([line for line in srv.lines if "device=" in line],
                         "a health call made a device:\n" + srv.log_tail())
        dev = OpalClient(srv.target, "health-bystander")
        self.addCleanup(dev.disconnect)
        self.assertTrue(dev.wait_sets(1, 5 * SLOW), "the device got no SET beside the probes\n"
                        + srv.log_tail())
        self.assertEqual(self.check(ch), SERVING)
        self.assertTrue(watch.is_active(), "the Watch ended while a device connected")
        dev.disconnect()
        self.stop(srv)


class WatchTests(HealthTestCase):

    def test_unknown_service_streams_service_unknown_and_stays_open(self):
        srv = self.server()
        call = self.watch(self.channel(srv), "no.such.Service", timeout=2.0 * SLOW)
        self.assertEqual(name(self.next_status(call, srv, "first message")), "SERVICE_UNKNOWN")
        # Open until the client's own deadline: the server did not end it.
        with self.assertRaises(grpc.RpcError) as cm:
            next(call)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.stop(srv)

    def test_sigterm_sends_not_serving_before_the_server_closes(self):
        srv = self.server()
        ch = self.channel(srv)
        calls = [self.watch(ch, ""), self.watch(ch, DEVICE_SERVICE)]
        for call in calls:
            self.assertEqual(name(self.next_status(call, srv, "first message")), "SERVING")
        srv.signal(signal.SIGTERM)
        for call in calls:
            self.assertEqual(name(self.next_status(call, srv, "after SIGTERM")), "NOT_SERVING")
        # Then the server ends the Watch and exits.
        with self.assertRaises(grpc.RpcError) as cm:
            next(calls[0])
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        srv.proc.wait(STOP_TIMEOUT)
        self.assertEqual(srv.proc.returncode, 0, srv.log_tail())
        self.assertTrue(any("health NOT_SERVING" in line for line in srv.lines), srv.log_tail())

    def test_check_during_shutdown_is_not_serving_or_refused(self):
        srv = self.server()
        ch = self.channel(srv)
        watch = self.watch(ch)
        self.assertEqual(self.next_status(watch, srv, "first message"), SERVING)
        srv.signal(signal.SIGTERM)
        self.assertEqual(name(self.next_status(watch, srv, "after SIGTERM")), "NOT_SERVING")
        # From here on the server never says SERVING: a Check is answered
        # NOT_SERVING while the Watch is told, refused once it closes.
        for _ in range(5):
            try:
                self.assertEqual(name(self.check(ch)), "NOT_SERVING")
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE, e.details())
        srv.proc.wait(STOP_TIMEOUT)
        self.assertEqual(srv.proc.returncode, 0, srv.log_tail())

    def test_two_workers_each_answer_and_each_tells_its_watchers(self):
        srv = self.server("--workers", "2")
        channels = [self.channel(srv) for _ in range(6)]   # spread over both workers
        for ch in channels:
            self.assertEqual(name(self.check(ch)), "SERVING")
        watches = [self.watch(ch) for ch in channels]
        for call in watches:
            self.assertEqual(name(self.next_status(call, srv, "first message")), "SERVING")
        srv.signal(signal.SIGTERM)
        for call in watches:
            self.assertEqual(name(self.next_status(call, srv, "after SIGTERM")), "NOT_SERVING")
        srv.proc.wait(STOP_TIMEOUT)
        self.assertEqual(srv.proc.returncode, 0, srv.log_tail())


@unittest.skipUnless(os.access(REDIS_SERVER, os.X_OK), "%s is missing" % REDIS_SERVER)
class RedisStoreTests(HealthTestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="opal-health-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_not_serving_while_redis_is_away_and_serving_again(self):
        redis = RedisServer(self.tmp)
        self.addCleanup(lambda: redis.stop())
        redis.start()
        srv = self.server(store="redis://127.0.0.1:%d" % redis.port)
        ch = self.channel(srv)
        watch = self.watch(ch)
        self.assertEqual(name(self.next_status(watch, srv, "first message")), "SERVING")
        redis.stop()
        self.assertEqual(self.wait_status(watch, NOT_SERVING, srv, "Redis stopped"), ["NOT_SERVING"])
        self.assertEqual(name(self.check(ch)), "NOT_SERVING")
        redis = RedisServer(self.tmp, port=redis.port)
        redis.start()
        self.assertEqual(self.wait_status(watch, SERVING, srv, "Redis back"), ["SERVING"])
        self.assertEqual(name(self.check(ch)), "SERVING")
        self.stop(srv)


@unittest.skipUnless(shutil.which("openssl"), "openssl is missing")
class TlsTests(HealthTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="opal-health-tls-")
        cls.pki = os.path.join(cls.tmp, "pki")
        for args in (("ca", cls.pki), ("server", cls.pki, TLS_HOST, "127.0.0.1"),
                     ("device", cls.pki, "probe")):
            subprocess.run([CERTS, *args], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def read(self, name):
        with open(os.path.join(self.pki, name), "rb") as f:
            return f.read()

    def tls_server(self, mutual):
        args = ["--tls-cert", os.path.join(self.pki, "server.crt"),
                "--tls-key", os.path.join(self.pki, "server.key")]
        return self.server(*(args + (["--client-ca", os.path.join(self.pki, "ca.crt")] if mutual else [])))

    def test_check_and_watch_over_tls(self):
        srv = self.tls_server(mutual=False)
        ch = self.channel(srv, grpc.ssl_channel_credentials(self.read("ca.crt")))
        self.assertEqual(name(self.check(ch)), "SERVING")
        watch = self.watch(ch, DEVICE_SERVICE)
        self.assertEqual(name(self.next_status(watch, srv, "first message")), "SERVING")
        srv.signal(signal.SIGTERM)
        self.assertEqual(name(self.next_status(watch, srv, "after SIGTERM")), "NOT_SERVING")
        srv.proc.wait(STOP_TIMEOUT)
        self.assertEqual(srv.proc.returncode, 0, srv.log_tail())

    def test_mutual_tls_probe_with_any_certificate_of_the_ca(self):
        srv = self.tls_server(mutual=True)
        creds = grpc.ssl_channel_credentials(self.read("ca.crt"), self.read("devices/probe.key"),
                                             self.read("devices/probe.crt"))
        self.assertEqual(name(self.check(self.channel(srv, creds))), "SERVING")
        self.stop(srv)


if __name__ == "__main__":
    unittest.main()
