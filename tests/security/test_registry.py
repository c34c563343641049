"""Issue 9, the device registry under a flood of device ids (docs/security.md,
"Devices: capacity, eviction and new-device rate").

Each test starts its own server, a bystander device that streams through the
attack (bystander.py), floods it with ids over raw HTTP/2 (id_flood.py), and
checks what the server promises: a remembered mode is never lost to
eviction (with the store it is in the store), new ids past the capacity or
the rate get RESOURCE_EXHAUSTED saying why, the log says so once in a while,
the memory of a flood that went is given back, and afterwards a new device
is served as before.

    OPAL_SERVER=build/asan/opal-server /usr/bin/python3 -m unittest tests/security/test_registry.py
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interop"))

import grpc  # noqa: E402
import opal_client as oc  # noqa: E402
from bystander import Bystander  # noqa: E402
from id_flood import H2Flood  # noqa: E402
from opal_client import MODE, pattern_state  # noqa: E402
from test_interop import LISTEN_RE, SERVER, START_TIMEOUT, ServerProcess  # noqa: E402

RESOURCE_EXHAUSTED = 8
ASAN = "asan" in SERVER  # ASan's allocator keeps freed memory: RSS is printed, not bounded
SLOW = 3.0 if ASAN else 1.0
CAPACITY = 100
NO_ROOM = "no room for a new device"


class RegistryTest(unittest.TestCase):
    def start_server(self, *args, store="memory", server_class=ServerProcess):
        self.server = server_class(list(args), store=store)
        self.addCleanup(self.stop_server)
        self.server.start()
        return self.server

    def stop_server(self):
        if self.server.alive():
            _, err = self.server.stop()
            self.assertIsNone(err, err)

    def bystander(self, seconds=8):
        b = Bystander(self.server.target, seconds=seconds)
        b.__enter__()
        self.addCleanup(b.stop)
        deadline = time.monotonic() + 5 * SLOW
        while not any("connect device=bystander" in l for l in self.server.lines):
            self.assertLess(time.monotonic(), deadline, "the bystander never connected")
            time.sleep(0.05)
        return b

    def flood(self, ids, **kw):
        f = H2Flood(self.server.port, ids, **kw)
        self.addCleanup(f.close)
        return f

    def client(self, device_id, **kw):
        c = oc.OpalClient(self.server.target, device_id, **kw)
        self.addCleanup(c.disconnect)
        self.assertTrue(c.wait_sets(1, 5 * SLOW), "%s got no SET: %r" % (device_id, c.ended))
        return c

    def set_mode_1(self, device_id):
        c = self.client(device_id)
        self.assertTrue(c.press(MODE))
        s = c.wait_set_where(0, lambda s: pattern_state(s.leds) == ("idle", 1), 2 * SLOW)
        self.assertIsNotNone(s, "no SET of mode 1: %r" % c.sets)
        c.disconnect()
        self.wait_line("disconnect device=%s mode=1" % device_id)

    def wait_line(self, text, count=1, timeout=10.0):
        deadline = time.monotonic() + timeout * SLOW
        while True:
            n = sum(text in l for l in self.server.lines)
            if n >= count:
                return n
            self.assertLess(time.monotonic(), deadline, "no %d lines with %r; log:\n%s"
                            % (count, text, self.server.log_tail(20)))
            time.sleep(0.05)

    def assert_first_set_mode(self, device_id, mode):
        c = self.client(device_id)
        self.assertEqual(pattern_state(c.sets[0].leds), ("idle", mode), "%s: %r" % (device_id, c.sets[0]))
        c.disconnect()

    def assert_refusals(self, refused, text):
        self.assertTrue(refused)
        for device_id, status, message in refused:
            self.assertEqual(status, RESOURCE_EXHAUSTED, (device_id, status, message))
            self.assertIn(text, message or "", device_id)
        # Logged once in a while with a count, not a line per refusal.
        lines = [l for l in self.server.lines if "refused" in l and text in l]
        self.assertTrue(lines, "no log line for %d refusals" % len(refused))
        self.assertLess(len(lines), 5, lines)
        self.assertTrue(re.search(r"refused \d+ new device", lines[0]), lines[0])

    def settle_all_gone(self, prefix, count):
        self.wait_line("disconnect device=%s" % prefix, count)

    def test_memory_store_keeps_a_remembered_mode(self):
        """--store memory: the mode exists only here, so a full registry
        refuses new ids rather than forget it."""
        self.start_server("--max-devices", str(CAPACITY), "--new-devices-per-ip", "0")
        b = self.bystander()
        self.set_mode_1("keeper")
        flood = self.flood(["flood-%d" % i for i in range(2 * CAPACITY)]).open().settle()
        # Every room but the bystander's and the keeper's.
        self.assertEqual(len(flood.admitted()), CAPACITY - 2, flood.refused()[:3])
        self.assertEqual(len(flood.refused()), CAPACITY + 2)
        self.assert_refusals(flood.refused(), NO_ROOM)
        self.assertIn("none can be forgotten without losing its mode", flood.refused()[0][2])
        admitted, refused = len(flood.admitted()), len(flood.refused())
        flood.close()
        self.settle_all_gone("flood-", CAPACITY - 2)
        self.assert_first_set_mode("keeper", 1)
        self.client("after-the-flood")
        b.assert_on_time(self)
        print("memory store: %d admitted, %d refused, keeper kept mode 1" % (admitted, refused))

    def test_sqlite_store_forgets_what_it_wrote(self):
        """With SQLite the keeper's mode is in the store: it makes room for the
        flood, and comes back with its mode from the store."""
        folder = tempfile.mkdtemp(prefix="opal-registry-")
        self.addCleanup(shutil.rmtree, folder, True)
        self.start_server("--max-devices", str(CAPACITY), "--new-devices-per-ip", "0",
                          store="sqlite:%s/opal.db" % folder)
        b = self.bystander()
        self.set_mode_1("keeper")
        time.sleep(0.5)  # the write-behind window (50 ms) and the write: then it may go
        flood = self.flood(["flood-%d" % i for i in range(2 * CAPACITY)]).open().settle()
        # The keeper was forgotten for one of them: all rooms but the bystander's.
        self.assertEqual(len(flood.admitted()), CAPACITY - 1, flood.refused()[:3])
        self.assert_refusals(flood.refused(), NO_ROOM)
        admitted, refused = len(flood.admitted()), len(flood.refused())
        flood.close()
        self.settle_all_gone("flood-", CAPACITY - 1)
        self.assert_first_set_mode("keeper", 1)
        self.assertTrue(any(re.search(r"connect device=keeper .*mode=1", l) for l in self.server.lines))
        self.client("after-the-flood")
        b.assert_on_time(self)
        print("sqlite store: %d admitted (the keeper made room), %d refused, keeper back in mode 1"
              % (admitted, refused))

    def test_new_device_rate(self):
        """New ids from one address faster than --new-devices-per-ip: refused
        past the burst, admitted again after a pause; other addresses
        unaffected."""
        rate, burst = 20, 40
        self.start_server("--new-devices-per-ip", "%d/%d" % (rate, burst))
        b = self.bystander()
        # One source address for the whole flood.
        flood = self.flood(["fast-%d" % i for i in range(200)], connections_per_source=1000)
        started = time.monotonic()
        flood.open().settle()
        # The server saw them all by the end of settle: at most what
        # refilled until then beyond the burst.
        elapsed = time.monotonic() - started
        admitted = len(flood.admitted())
        self.assertGreaterEqual(admitted, burst)
        self.assertLessEqual(admitted, burst + rate * elapsed + 1, "in %.2f s" % elapsed)
        self.assert_refusals(flood.refused(), "arrive faster than %d/s" % rate)
        self.assertRegex(flood.refused()[0][2], r"new devices from 127\.0\.\d+\.\d+ arrive")
        time.sleep(1.5)  # 30 tokens back
        later = self.flood(["later-%d" % i for i in range(rate)], connections_per_source=1000,
                           first_source=flood.first_source).open().settle()
        self.assertEqual(len(later.admitted()), rate, later.refused()[:3])
        self.client("after-the-flood")  # from 127.0.0.1: a bucket of its own
        b.assert_on_time(self)
        print("rate %d/%d: %d of 200 admitted in %.2f s, then %d of %d after a pause"
              % (rate, burst, admitted, elapsed, len(later.admitted()), rate))

    def test_ipv6_peer(self):
        """gRPC's IPv6 peer string (ipv6:%5B::1%5D:PORT in 1.51) is read as
        the address ::1."""
        self.start_server("--new-devices-per-ip", "1/2", server_class=Ipv6Server)
        self.client("v6-a")
        self.client("v6-b")
        c = oc.OpalClient(self.server.target, "v6-c", audio=False)
        self.addCleanup(c.disconnect)
        status = c.wait_ended(["status"], 5 * SLOW)["status"]
        self.assertIsNotNone(status, "v6-c was not refused")
        self.assertEqual(status.code, grpc.StatusCode.RESOURCE_EXHAUSTED, status)
        self.assertIn("new devices from ::1 arrive faster than 1/s", status.details)
        self.assertTrue(any("peer=ipv6:%5B::1%5D:" in l for l in self.server.lines),
                        "the peer form this parser expects: %s" % self.server.log_tail(5))

    def test_memory_is_given_back(self):
        """Many ids held at once, then gone: the server's RSS comes back near
        where it started (glibc keeps freed chunks unless told)."""
        count = 10000
        self.start_server("--new-devices-per-ip", "0")
        b = self.bystander(seconds=12 if ASAN else 8)
        time.sleep(0.5)
        before = self.server.vmrss_kb()
        flood = self.flood(["mem-%d" % i for i in range(count)]).open().settle(timeout=60 * SLOW)
        self.assertEqual(len(flood.admitted()), count, flood.refused()[:3])
        peak = self.server.vmrss_kb()
        flood.close()
        self.settle_all_gone("mem-", count)
        self.wait_line("memory handed back")
        time.sleep(1.5)  # a sweep after the last of them
        after = self.server.vmrss_kb()
        self.client("after-the-flood")
        b.assert_on_time(self)
        print("RSS: %d KiB before, %d KiB with %d ids held, %d KiB after they went%s"
              % (before, peak, count, after, " (ASan: not bounded)" if ASAN else ""))
        if not ASAN:
            self.assertGreater(peak - before, 40000, "the flood did not cost memory: a test of nothing")
            self.assertLess(after - before, 0.25 * (peak - before) + 16384,
                            "RSS %d -> %d -> %d KiB" % (before, peak, after))


class RegistryFlagsTest(unittest.TestCase):
    def test_bad_values_name_the_flag(self):
        for args in (("--max-devices", "0"), ("--max-devices", "lots"),
                     ("--new-devices-per-ip", "-1"), ("--new-devices-per-ip", "10/0"),
                     ("--new-devices-per-ip", "fast"), ("--new-devices-per-ip", "10/"),
                     ("--new-devices-per-ip", "nan")):
            p = subprocess.run([SERVER, *args], capture_output=True, text=True, timeout=20)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertRegex(p.stderr, r"^opal-server: %s: expected .*\(got '" % re.escape(args[0]))

    def test_help_names_the_defaults(self):
        out = subprocess.run([SERVER, "--help"], capture_output=True, text=True, timeout=20).stdout
        self.assertRegex(out, r"--max-devices N[^\n]*\n(.*\n)*.*default 100000")
        self.assertRegex(out, r"--new-devices-per-ip RATE\[/BURST\]\n(.*\n)*.*default 1000/2000")


class Ipv6Server(ServerProcess):
    """The server on [::1] instead of 127.0.0.1."""

    def __init__(self, extra_args=(), **kw):
        super().__init__(extra_args, **kw)
        self.cmd = [("[::1]:0" if a == "127.0.0.1:0" else a) for a in self.cmd]

    @property
    def target(self):
        return "[::1]:%d" % self.port

    def start(self):
        deadline = time.monotonic() + START_TIMEOUT
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        for stream, sink in ((self.proc.stderr, self.lines), (self.proc.stdout, self.stdout_lines)):
            th = threading.Thread(target=self._drain, args=(stream, sink), daemon=True)
            th.start()
            self._threads.append(th)
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = LISTEN_RE.search(line)
                if m:
                    self.port = int(m.group(1))
                    return self
            time.sleep(0.05)
        raise AssertionError("server on [::1] did not start:\n%s" % self.log_tail())


if __name__ == "__main__":
    unittest.main()
