#!/usr/bin/python3
"""The connection limits of opal-server (server/net/), each repeated as an
attack with a real client while a bystander device streams
(tests/security/bystander.py), and each followed by a new device that must
still be served:

  ConnectionBoundTests   400 idle TCP connections against a server whose
                         open-file limit is 300: those past --max-connections
                         (derived from the limit) are closed at once, the
                         listener never dies, and once they go new devices
                         connect again
  IdleTests              a connection that never opens a call is closed
                         after --idle-timeout; a device's is not
  StreamFloodTests       2,000 streams on one connection before the
                         server's SETTINGS are acknowledged: past
                         --max-calls-per-connection refused with
                         RESOURCE_EXHAUSTED, far past it the connection is
                         closed, and the server's memory stays put; a few
                         over the limit are refused and the connection lives
  RapidResetTests        10,000 streams opened and reset at once on one
                         connection: it is closed after --max-resets
  FastSenderTests        16 EventStreams announcing 4 GiB messages, then fed
                         as fast as the windows allow (gRPC core buffers
                         them whole): the connection is closed past
                         --max-receive-rate and the memory goes back

Run:   /usr/bin/python3 tests/security/test_limits.py [-v] [Class[.test]]
Env:   OPAL_SERVER, OPAL_DEVICE (the binaries).
"""

import os
import socket
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interop"))

from bystander import Bystander  # noqa: E402
from h2flood import EVENT_PATH, RawConnection, fd_count  # noqa: E402
from opal_client import OpalClient  # noqa: E402
from test_interop import SERVER, SLOW, ServerProcess  # noqa: E402

RESOURCE_EXHAUSTED = 8
ASAN = "asan" in SERVER  # ASan's allocator keeps freed memory: its RSS is printed, not bounded


def start_server(test, args=(), nofile=None):
    server = ServerProcess(extra_args=list(args))
    if nofile:
        server.cmd = ["prlimit", "--nofile=%d:%d" % (nofile, nofile), "--"] + server.cmd
    test.addCleanup(server.kill)
    server.start()
    return server


def served(test, server, device_id, timeout=10.0):
    """A new device gets its first SET; returns the seconds it took."""
    t0 = time.monotonic()
    c = OpalClient(server.target, device_id)
    try:
        got = c.wait_for(lambda: len(c.sets) >= 1, timeout * SLOW)
        test.assertTrue(got, "new device %s got no SET (ended=%r)\n%s"
                        % (device_id, c.ended, server.log_tail()))
        return time.monotonic() - t0
    finally:
        c.disconnect()


def closed_by_server(sock):
    """True if the server closed (or reset) this connection; what it sent
    before (its SETTINGS) is read and dropped."""
    sock.setblocking(False)
    try:
        while sock.recv(65536):
            pass
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def wait_log(server, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with server._cond:
            hits = [l for l in server.lines if text in l]
        if hits:
            return hits
        time.sleep(0.05)
    return []


class ConnectionBoundTests(unittest.TestCase):

    NOFILE = 300
    ATTACK = 400

    def test_connections_past_the_bound_are_closed_and_the_listener_lives(self):
        server = start_server(self, nofile=self.NOFILE)
        # What the server leaves itself: see OWN_FDS in server/main.c.
        bound_line = wait_log(server, "connections: at most", 5)
        self.assertTrue(bound_line, server.log_tail())
        bound = int(bound_line[0].split("at most ")[1].split()[0])
        print("bound: %s" % bound_line[0])
        self.assertLess(bound, self.NOFILE - 32, "the bound leaves the server no descriptors")
        with Bystander(server.target, seconds=8) as b:
            time.sleep(1.5)  # connected and streaming before the attack
            socks = []
            self.addCleanup(lambda: [s.close() for s in socks])
            for _ in range(self.ATTACK):
                socks.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            time.sleep(1.0 * SLOW)
            closed = sum(closed_by_server(s) for s in socks)
            print("%d idle connections: %d closed by the server, %d held; server fds %d"
                  % (self.ATTACK, closed, self.ATTACK - closed, fd_count(server.pid)))
            # The bystander's one connection is inside the bound too.
            self.assertGreaterEqual(closed, self.ATTACK - bound + 1)
            self.assertLessEqual(self.ATTACK - closed, bound)
            self.assertTrue(wait_log(server, "--max-connections", 2), server.log_tail())
            self.assertLess(fd_count(server.pid), self.NOFILE, "the server reached its open-file limit")
            for s in socks:
                s.close()
            socks.clear()
        b.assert_on_time(self)
        time.sleep(1.5)  # a sweep notices they are gone
        print("new device after the attack served in %.0f ms"
              % (1000 * served(self, server, "after-bound")))
        self.assertTrue(server.alive())


class IdleTests(unittest.TestCase):

    def test_connection_without_a_call_is_closed_after_the_timeout(self):
        server = start_server(self, ["--idle-timeout", "2"])
        device = OpalClient(server.target, "idle-but-connected")
        self.addCleanup(device.disconnect)
        self.assertTrue(device.wait_for(lambda: len(device.sets) >= 1, 5 * SLOW))
        bare = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        self.addCleanup(bare.close)
        h2 = RawConnection(server.port)  # preface and SETTINGS, then nothing
        self.addCleanup(h2.close)
        t0 = time.monotonic()
        outcome = h2.read_until_closed(timeout=8 * SLOW)
        took = time.monotonic() - t0
        print("HTTP/2 connection without a call closed after %.1f s; bare TCP closed: %s"
              % (took, closed_by_server(bare)))
        self.assertTrue(outcome.closed, "the idle HTTP/2 connection is still open after 8 s")
        self.assertGreaterEqual(took, 1.0)
        self.assertTrue(closed_by_server(bare), "the bare TCP connection is still open")
        self.assertTrue(wait_log(server, "no call for 2 s (--idle-timeout)", 2), server.log_tail())
        # The device's connection has calls open: it stays.
        self.assertEqual(device.ended, {}, "the device's calls ended")
        before = len(device.sets)
        device.press(1)  # Mode
        self.assertTrue(device.wait_for(lambda: len(device.sets) > before, 5 * SLOW),
                        "the connected device is no longer served")


class StreamFloodTests(unittest.TestCase):

    LIMIT = 16

    def setUp(self):
        self.server = start_server(self)

    def test_streams_before_settings_ack_are_bounded(self):
        server = self.server
        rss0 = server.vmrss_kb()
        with Bystander(server.target, seconds=6) as b:
            time.sleep(1.5)
            with RawConnection(server.port, ack_settings=False) as conn:
                frames = b"".join(conn.open_stream(1 + 2 * i, EVENT_PATH, [(b"device_id", b"flood-%d" % i)])
                                  for i in range(2000))
                conn.send(frames)
                outcome = conn.read_until_closed(timeout=10 * SLOW)
            rss1 = server.vmrss_kb()
        refused = [m for s, m in outcome.statuses.values() if s == RESOURCE_EXHAUSTED]
        print("2000 streams before the SETTINGS ack: connection closed=%s, %d refused with "
              "RESOURCE_EXHAUSTED (%r), RSS %d -> %d kB"
              % (outcome.closed, len(refused), refused[:1], rss0, rss1))
        self.assertTrue(outcome.closed, "the flooding connection was not closed")
        self.assertTrue(refused, "no stream was refused")
        self.assertIn("too many calls on one connection", refused[0])
        self.assertLess(rss1 - rss0, 100 * 1024, "the server's memory grew by more than 100 MB")
        self.assertTrue(wait_log(server, "calls refused within", 2), server.log_tail())
        b.assert_on_time(self)
        served(self, server, "after-stream-flood")

    def test_a_few_streams_over_the_limit_are_refused_and_the_connection_lives(self):
        server = self.server
        extra = 4
        with RawConnection(server.port) as conn:
            conn.send(b"".join(conn.open_stream(1 + 2 * i, EVENT_PATH, [(b"device_id", b"many-%d" % i)])
                               for i in range(self.LIMIT + extra)))
            outcome = conn.read_until_closed(
                timeout=5 * SLOW, stop=lambda o: len(o.statuses) >= extra)
            self.assertFalse(outcome.closed, "the connection was closed for %d streams too many" % extra)
            refused = {sid: st for sid, st in outcome.statuses.items() if st[0] == RESOURCE_EXHAUSTED}
            print("%d streams on one connection: %d refused: %r, reset: %r"
                  % (self.LIMIT + extra, len(refused), sorted(refused), outcome.resets))
            self.assertEqual(len(refused), extra, outcome.statuses)
            # The first LIMIT streams are the ones served, and still open.
            self.assertEqual(sorted(refused), [1 + 2 * i for i in range(self.LIMIT, self.LIMIT + extra)])
        served(self, server, "after-few-streams")


class RapidResetTests(unittest.TestCase):

    PAIRS = 10000

    def test_open_and_reset_floods_close_the_connection(self):
        server = start_server(self)
        rss0 = server.vmrss_kb()
        with Bystander(server.target, seconds=8) as b:
            time.sleep(1.5)
            with RawConnection(server.port) as conn:
                sent = 0
                for chunk in range(0, self.PAIRS, 500):
                    frames = b"".join(
                        conn.open_stream(1 + 2 * i, EVENT_PATH, [(b"device_id", b"reset-%d" % (i % 50))])
                        + conn.reset_stream(1 + 2 * i) for i in range(chunk, chunk + 500))
                    if not conn.send(frames):
                        break
                    sent += 500
                outcome = conn.read_until_closed(timeout=10 * SLOW)
            rss1 = server.vmrss_kb()
            took = served(self, server, "after-rapid-reset")
        admitted = len([l for l in server.lines if "connect device=reset-" in l])
        print("rapid reset: %d pairs sent before the server closed the connection (closed=%s); "
              "%d of the streams admitted; RSS %d -> %d kB; a new device's first SET %.0f ms after"
              % (sent, outcome.closed, admitted, rss0, rss1, 1000 * took))
        self.assertLess(admitted, 1000, "most of the flood's streams were admitted")
        self.assertTrue(outcome.closed, "the connection survived %d resets" % sent)
        # gRPC core reads a whole socket buffer before our code hears of any
        # call in it, so the opens of one read can pass the calls-per-connection
        # bound before their resets arrive: either limit may close the
        # connection first, and both are the defence working.
        closed_by = wait_log(server, "cancelled more than", 2) or wait_log(server, "calls refused within", 1)
        self.assertTrue(closed_by, server.log_tail())
        print("closed by: %s" % closed_by[0])
        self.assertLess(rss1 - rss0, 100 * 1024, "the server's memory grew by more than 100 MB")
        b.assert_on_time(self)


class FastSenderTests(unittest.TestCase):

    STREAMS = 16

    def test_a_connection_sending_too_fast_is_closed(self):
        """gRPC core either stops opening the windows (the sender is held to
        a few MB) or keeps opening them; then --max-receive-rate closes the
        connection within a sweep. Either way the server's memory stays
        bounded and goes back."""
        server = start_server(self)
        rss0 = server.vmrss_kb()
        peak = [rss0]
        sampling = threading.Event()

        def sample():
            while not sampling.wait(0.02):
                peak[0] = max(peak[0], server.vmrss_kb())
        sampler = threading.Thread(target=sample)
        sampler.start()
        self.addCleanup(lambda: (sampling.set(), sampler.join()))
        with Bystander(server.target, seconds=8) as b:
            time.sleep(1.5)
            with RawConnection(server.port) as conn:
                # The server's SETTINGS first: the windows it grants are what
                # the attack fills.
                conn.read_until_closed(0.3 * SLOW)
                sids = [1 + 2 * i for i in range(self.STREAMS)]
                prefix = b"\x00" + (0xFFFFFFFF).to_bytes(4, "big")  # a 4 GiB message follows
                conn.send(b"".join(conn.open_stream(sid, EVENT_PATH, [(b"device_id", b"big-%d" % sid)])
                                   + RawConnection.data(sid, prefix) for sid in sids))
                t0 = time.monotonic()
                sent, outcome = conn.feed(sids, seconds=12 * SLOW)
                took = time.monotonic() - t0
            time.sleep(2.5)  # two sweeps: the buffers are freed, and handed back
            sampling.set()
            sampler.join()
            rss2 = server.vmrss_kb()
        print("4 GiB messages fed: %.0f MB sent in %.1f s, connection closed by the server: %s; "
              "RSS %d kB, at most %d kB, then %d kB" % (sent / 1e6, took, outcome.closed, rss0, peak[0], rss2))
        if outcome.closed:
            self.assertTrue(wait_log(server, "--max-receive-rate", 2), server.log_tail())
        else:
            self.assertLess(sent, 32e6, "neither held nor closed: %.0f MB in %.0f s" % (sent / 1e6, took))
        self.assertLess(peak[0] - rss0, 200 * 1024, "the server's memory grew by more than 200 MB")
        if not ASAN:
            self.assertLess(rss2 - rss0, 64 * 1024, "the server kept more than 64 MB")
        b.assert_on_time(self)
        served(self, server, "after-fast-sender")


if __name__ == "__main__":
    unittest.main(verbosity=2)
