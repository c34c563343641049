#!/usr/bin/python3
"""The server's Redis store: `--store redis://HOST:PORT[/DB]`.

Each test starts its own redis-server (/usr/bin/redis-server, no persistence,
its folder a temp folder) on a free loopback port and stops it at the end,
also on failure; the class is skipped when redis-server is missing. Servers
and devices are those of tests/store/test_store.py (StoreTestCase). Redis is
read with a raw RESP socket: key opal:device:{ID}, a hash of mode, owner and
version (the number of the device's changes).

Run:   /usr/bin/python3 tests/store/test_store_redis.py [-v] [TestClass[.test_name]]
Environment: as tests/store/test_store.py (OPAL_SERVER, OPAL_SERVER_WRAPPER, ...).

Only /usr/bin/python3 (Debian's python3-grpcio and python3-protobuf).
"""

import os
import signal
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from test_store import (AFTER_LAST_CHANGE, LOG_LINE, LONG_MODE, NMODES, SLOW,  # noqa: E402
                        START_TIMEOUT, StoreTestCase, clean_env)
from test_interop import ASSETS, SERVER  # noqa: E402
from opal_client import MODE, audio_seconds, pattern_state  # noqa: E402

REDIS_SERVER = "/usr/bin/redis-server"
OUTAGE = 10.0     # seconds Redis is away in the outage test (issue 8: 10 s)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RespError(Exception):
    pass


def redis_call(port, *args, db=None, timeout=5.0):
    """One command (after SELECT db, if given) on a fresh connection; the
    reply as str / int / list / None. An error reply raises RespError."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock, sock.makefile("rb") as f:

        def send(*words):
            out = b"*%d\r\n" % len(words)
            for w in words:
                w = w if isinstance(w, bytes) else str(w).encode()
                out += b"$%d\r\n%s\r\n" % (len(w), w)
            sock.sendall(out)

        def read():
            line = f.readline()
            if not line.endswith(b"\r\n"):
                raise ConnectionError("redis closed the connection")
            kind, rest = line[:1], line[1:-2]
            if kind == b"+":
                return rest.decode()
            if kind == b"-":
                raise RespError(rest.decode())
            if kind == b":":
                return int(rest)
            if kind == b"$":
                return None if int(rest) < 0 else f.read(int(rest) + 2)[:-2].decode()
            if kind == b"*":
                return None if int(rest) < 0 else [read() for _ in range(int(rest))]
            raise RespError("unexpected reply %r" % line)

        if db is not None:
            send("SELECT", db)
            read()
        send(*args)
        return read()


class RedisServer:
    """A redis-server on 127.0.0.1:port, without persistence, in `folder`."""

    def __init__(self, folder, port=None):
        self.folder = folder
        self.port = port or free_port()
        self.proc = None
        self.log = os.path.join(folder, "redis-%d.log" % self.port)

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", self.folder, "--daemonize", "no"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if redis_call(self.port, "PING", timeout=1.0) == "PONG":
                    return self
            except (OSError, RespError):
                pass
            time.sleep(0.05)
        self.stop()
        with open(self.log, errors="replace") as f:
            raise AssertionError("redis-server on port %d did not answer PING within 10 s:\n%s"
                                 % (self.port, f.read()[-2000:]))

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@unittest.skipUnless(os.access(REDIS_SERVER, os.X_OK), "%s is missing (apt-get install redis-server)"
                     % REDIS_SERVER)
class RedisTestCase(StoreTestCase):

    def setUp(self):
        super().setUp()
        self.redis = RedisServer(self.tmp)
        self.addCleanup(self.redis.stop)   # before the temp folder goes
        self.redis.start()

    def url(self, db=None):
        return "redis://127.0.0.1:%d%s" % (self.redis.port, "" if db is None else "/%d" % db)

    def hash(self, device_id, db=None):
        flat = redis_call(self.redis.port, "HGETALL", "opal:device:{%s}" % device_id, db=db)
        return dict(zip(flat[::2], flat[1::2]))

    def assert_hashes(self, expected, db=None, changes=None, timeout=0.0):
        """Redis holds {id: mode} (and, if given, {id: version}), waiting up
        to `timeout` for it."""
        deadline = time.monotonic() + timeout
        while True:
            got = {did: self.hash(did, db) for did in expected}
            wrong = {did: h for did, h in got.items()
                     if set(h) != {"mode", "version", "owner"} or int(h["mode"]) != expected[did]
                     or (changes and int(h["version"]) != changes[did])}
            if not wrong or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        self.assertEqual(wrong, {}, "db %s: hashes not {mode, version, owner} with mode %r, version %r"
                         % (db, expected, changes))
        return got

    def press_mode(self, c, srv, mode):
        """Mode, acked true, then a SET showing idle `mode`; a lost call fails
        with the server's state and log. Returns the ack's latency."""
        n, t = len(c.sets), time.monotonic()
        try:
            self.press_ok(c, MODE)
        except AssertionError as e:
            srv.proc.poll()
            self.fail("%s\nserver: %s\n%s" % (e, "running" if srv.alive() else srv.death_note(),
                                                srv.log_tail(40)))
        latency = time.monotonic() - t
        self.wait_state(c, "idle", mode, start=n)
        return latency

    def settle(self, c, mode):
        """Waits until c's last SET shows idle `mode`."""
        ok = c.wait_for(lambda: c.sets and pattern_state(c.sets[-1].leds) == ("idle", mode), 2.0 * SLOW)
        self.assertTrue(ok, "%s: last SET not idle mode %d: %r" % (c.device_id, mode, c.sets[-3:]))

    def set_modes(self, srv, tag, n=10):
        """n devices; device i presses Mode i+1 times (two wrap to 0).
        Returns ({id: mode}, {id: changes}, time of the last ack)."""
        clients = self.connect_all(srv, ["%s-%02d" % (tag, i) for i in range(n)])
        expected, changes = {}, {}
        for i, c in enumerate(clients):
            self.assert_state(c.sets[0].leds, "idle", 0, "%s, a new device" % c.device_id)
            for _ in range(i + 1):
                self.press_ok(c, MODE)
            expected[c.device_id], changes[c.device_id] = (i + 1) % NMODES, i + 1
        for c in clients:
            self.settle(c, expected[c.device_id])
        return expected, changes, max(c.last_press_acked for c in clients)


class RedisRestartTests(RedisTestCase):

    def test_restart_after_sigterm(self):
        srv = self.server(self.url())
        self.assert_store_logged(srv, self.url())
        expected, changes, _ = self.set_modes(srv, "term")
        self.sigterm(srv)   # at once: the last changes are still in the write-behind window
        got = self.assert_hashes(expected, changes=changes)
        print("HGETALL opal:device:{term-09}: %r" % got["term-09"])
        srv2 = self.server(self.url())
        self.assert_modes_after_restart(srv2, expected, "after SIGTERM, Redis")
        self.sigterm(srv2)
        self.assert_hashes(expected, changes=changes)   # reconnecting is no change

    def test_restart_after_kill_9(self):
        srv = self.server(self.url())
        expected, changes, t_last = self.set_modes(srv, "kill")
        time.sleep(max(0.0, t_last + AFTER_LAST_CHANGE - time.monotonic()))
        print("SIGKILL %.0f ms after the last ack" % ((time.monotonic() - t_last) * 1000))
        self.sigkill(srv)
        self.assert_hashes(expected, changes=changes)
        srv2 = self.server(self.url())
        self.assert_modes_after_restart(srv2, expected, "after kill -9, Redis")
        self.sigterm(srv2)

    def test_databases_are_separate(self):
        """/1 and /2 on one Redis keep their own modes; nothing goes to db 0."""
        for db, presses in ((1, 1), (2, 3)):
            srv = self.server(self.url(db))
            c = self.client(srv, "db-dev")
            self.assert_state(self.first_set(c, srv).leds, "idle", 0, "db-dev new in /%d" % db)
            for _ in range(presses):
                self.press_ok(c, MODE)
            self.settle(c, presses)
            self.sigterm(srv)
        for db, mode in ((1, 1), (2, 3)):
            self.assert_hashes({"db-dev": mode}, db=db, changes={"db-dev": mode})
            srv = self.server(self.url(db))
            self.assert_modes_after_restart(srv, {"db-dev": mode}, "/%d after a restart" % db)
            self.sigterm(srv)
        self.assertEqual(redis_call(self.redis.port, "DBSIZE", db=0), 0, "keys in db 0")


class RedisUnreachableTests(unittest.TestCase):

    def test_nothing_listening_exits_2(self):
        port = free_port()   # and nothing listens there
        url = "redis://127.0.0.1:%d" % port
        cmd = [SERVER, "--listen", "127.0.0.1:0", "--assets", ASSETS, "--store", url]
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT,
                               env=clean_env(), stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            self.fail("--store %s: still running after %.0f s; stderr: %r" % (url, START_TIMEOUT, e.stderr))
        print("--store %s: exit %d after %.0f ms" % (url, p.returncode, (time.monotonic() - t0) * 1000))
        all_lines = p.stderr.strip().splitlines()
        errors = [l for l in all_lines if not LOG_LINE.match(l) or " error " in l]
        self.assertEqual(p.returncode, 2, "exit code; stderr: %r" % p.stderr)
        self.assertEqual(len(errors), 1, "expected one error line on stderr, got: %r" % p.stderr)
        self.assertEqual(all_lines[-1], errors[0], "the error is not the last line: %r" % p.stderr)
        self.assertIn("redis 127.0.0.1:%d" % port, errors[0])
        print("stderr: %s" % errors[0])


class RedisOutageTests(RedisTestCase):

    def test_outage_while_devices_play_and_change(self):
        """Redis stopped (SIGTERM) for OUTAGE s, then started again, empty:
        meanwhile two devices play on at real time, Mode presses are acked
        with their patterns, a new device is served mode 0 at once; the
        changes made meanwhile reach Redis when it is back, and the server
        logs the outage's start and end once each."""
        srv = self.server(self.url())
        clients = self.connect_all(srv, ["out-%d" % i for i in range(5)])
        players, others = clients[:2], clients[2:]
        for c in players:
            for _ in range(LONG_MODE):
                self.press_ok(c, MODE)
            self.settle(c, LONG_MODE)
            n = len(c.sets)
            self.play(c)   # the long drone of mode 2
            self.wait_state(c, "playing", LONG_MODE, start=n)
        for c in others:
            self.press_ok(c, MODE)
            self.settle(c, 1)
        self.assert_hashes({c.device_id: 1 for c in others}, timeout=2.0)

        # Redis goes away (the operator restarts it) for OUTAGE seconds.
        marks = [len(c.packets) for c in players]
        self.redis.stop()
        t_down = time.monotonic()
        # other j presses Mode j+1 times (from mode 1 to 2 + j), the newcomer once.
        expected = {c.device_id: 2 + j for j, c in enumerate(others)}
        expected["out-new"] = 1
        slowest = 0.0
        newcomer = None
        for r in range(3):                      # three rounds of presses, spread over the outage
            time.sleep(max(0.0, t_down + 0.2 + (OUTAGE - 1.0) / 3 * r - time.monotonic()))
            for j, c in enumerate(others):
                if j >= r:
                    slowest = max(slowest, self.press_mode(c, srv, 2 + r))
            if r == 0:                          # a device new to the server
                t = time.monotonic()
                newcomer = self.client(srv, "out-new")
                s = self.first_set(newcomer, srv)
                print("a new device's first SET during the outage after %.0f ms" % ((s.t - t) * 1000))
                self.assertLess(s.t - t, 1.5 * SLOW, "a new device waited for the store")
                self.assert_state(s.leds, "idle", 0, "a new device during the outage")
                self.press_mode(newcomer, srv, 1)
        print("slowest Mode ack during the outage: %.0f ms" % (slowest * 1000))
        self.assertLess(slowest, 1.0 * SLOW, "a Mode ack waited for the store")
        time.sleep(max(0.0, t_down + OUTAGE - time.monotonic()))
        t_up = time.monotonic()

        # The players kept getting audio at real time all along.
        for c, m in zip(players, marks):
            pk = [p for p in c.packets_since(m) if t_down <= p.t <= t_up]
            got = audio_seconds(pk)
            times = [t_down] + [p.t for p in pk] + [t_up]
            gap = max(b - a for a, b in zip(times, times[1:]))
            print("%s: %.2f s of audio in %.2f s of outage, longest gap %.0f ms"
                  % (c.device_id, got, t_up - t_down, gap * 1000))
            self.assertLess(abs(got - (t_up - t_down)), 1.0, "%s: audio not at real time" % c.device_id)
            self.assertLess(gap, 1.0, "%s: audio stalled" % c.device_id)
            self.assertFalse(any(p.is_end for p in pk), "%s: the sound ended" % c.device_id)

        # Redis is back, empty: the changes made meanwhile are written.
        self.redis.start()
        t = time.monotonic()
        self.assert_hashes(expected, timeout=5.0 * SLOW)
        print("the outage's changes in Redis %.0f ms after it came back" % ((time.monotonic() - t) * 1000))
        deadline = time.monotonic() + 3.0
        while not any("writing again" in l for l in srv.lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        down = [l for l in srv.lines if "cannot write" in l]
        up = [l for l in srv.lines if "writing again" in l]
        for l in down + up:
            print("server: %s" % l)
        self.assertEqual(len(down), 1, "'cannot write' lines:\n%s" % srv.log_tail())
        self.assertEqual(len(up), 1, "'writing again' lines:\n%s" % srv.log_tail())
        self.assertIn("store %s: cannot write: " % self.url(), down[0])
        self.assertIn("retrying every second", down[0])
        self.assertIn("store %s: writing again" % self.url(), up[0])
        self.assertLess(srv.lines.index(down[0]), srv.lines.index(up[0]))
        self.sigterm(srv)


if __name__ == "__main__":
    unittest.main(verbosity=2)
