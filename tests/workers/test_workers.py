#!/usr/bin/python3
"""opal-server --workers K: K loops, each with its own gRPC server, fed
connections in turn by one listening socket (server/net/listener.c), a
device handed over between workers when it reconnects on another one.

Each test has its own servers (--listen 127.0.0.1:0), temp folder and
`--store sqlite:<tmp>/state.db` (or memory), every process stopped at the end,
also on failure. Devices are tests/interop/opal_client.py; which worker
serves a connection is read from the log (connect/takeover/handover lines).

Run:   /usr/bin/python3 tests/workers/test_workers.py [-v] [TestClass[.test_name]]
Environment: as tests/store/test_store.py (OPAL_SERVER, OPAL_PY_GEN, ...).
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "store"))
sys.path.insert(0, os.path.join(TESTS, "interop"))

import grpc  # noqa: E402

from opal_client import MODE, PLAY, STOP, pattern_state, describe_pattern  # noqa: E402
from test_interop import ASSETS, SERVER, SLOW, START_TIMEOUT, STOP_TIMEOUT, ServerProcess  # noqa: E402
from test_store import LOG_LINE, NMODES, StoreTestCase, clean_env  # noqa: E402

CHILD = os.path.join(HERE, "stalled_child.py")
TRIES = 30      # connections tried until one lands on the other worker
LISTEN_LINE = re.compile(r"listening on 127\.0\.0\.1:(\d+) \(lead \d+ ms, \d+ modes(?:, (\d+) workers)?\)$")


def device_re(kind, did):
    return re.compile(r"(?<![\w-])%s device=%s(?![\w.\-])" % (kind, re.escape(did)))


def connect_worker(line):
    """The worker a connect or takeover line names: an int, None when the
    line names none, False when it is no such line."""
    m = re.search(r"(?<![\w-])(?:connect|takeover) device=\S+ peer=\S+ mode=\d+(?: worker=(\d+))?", line)
    return False if not m else (int(m.group(1)) if m.group(1) else None)


def handover_of(line):
    m = re.search(r"(?<![\w-])handover device=\S+ from worker=(\d+) to worker=(\d+) mode=(\d+)", line)
    return tuple(int(g) for g in m.groups()) if m else None


def wait_listening(port, k, timeout=5.0):
    """How many TCP sockets listen on port: (at once, after waiting up to
    timeout for k). gRPC binds 127.0.0.1 as ::ffff:127.0.0.1 (tcp6)."""
    def count():
        n = 0
        for name in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(name) as f:
                rows = [r.split() for r in f.readlines()[1:]]
            n += sum(1 for r in rows if r[3] == "0A" and r[1].endswith(":%04X" % port))
        return n
    first = n = count()
    deadline = time.monotonic() + timeout * SLOW
    while n < k and time.monotonic() < deadline:
        time.sleep(0.05)
        n = count()
    return first, n


class Child:
    """tests/workers/stalled_child.py as a process; its stdout lines kept."""

    def __init__(self, target, did, mode):
        self.proc = subprocess.Popen([sys.executable, CHILD, target, did, str(mode)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines, self.cond = [], threading.Condition()
        self.th = threading.Thread(target=self._drain, daemon=True)
        self.th.start()

    def _drain(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, prefix, timeout):
        with self.cond:
            self.cond.wait_for(lambda: any(l.startswith(prefix) for l in self.lines) or self.proc.poll() is not None,
                               timeout)
            return next((l for l in self.lines if l.startswith(prefix)), None)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.th.join(5)
        self.proc.stdout.close()


class WorkersTestCase(StoreTestCase):

    def server(self, store=None, workers=2, env=None):
        store = "sqlite:" + self.db if store is None else store
        srv = ServerProcess(extra_args=() if workers is None else ("--workers", str(workers)), store=store,
                            env=env or clean_env(HOME=self.home))
        self.addCleanup(srv.kill)
        srv.start()
        return srv

    def listen_line(self, srv):
        lines = [l for l in srv.lines if "listening on 127.0.0.1:" in l]
        self.assertTrue(lines, "no listening line:\n%s" % srv.log_tail())
        m = LISTEN_LINE.search(lines[0])
        self.assertIsNotNone(m, "listening line not as specified: %r" % lines[0])
        self.assertEqual(int(m.group(1)), srv.port)
        return lines[0], (int(m.group(2)) if m.group(2) else None)

    def landing(self, srv, did, mark, prev=None, timeout=5.0):
        """The worker that serves the connection opened after the device had
        `mark` log lines: from its connect or handover line, or, for a
        takeover line without a worker, `prev` (the worker it was on)."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            for line in srv.device_lines(did)[mark:]:
                h = handover_of(line)
                if h:
                    return h[1]
                w = connect_worker(line)
                if w is not False:
                    self.assertTrue(w is not None or "takeover" in line,
                                    "with --workers 2 a connect line names no worker: %r" % line)
                    return prev if w is None else w
            if time.monotonic() > deadline:
                self.fail("%s: no connect/takeover/handover line within %.0f s; its lines: %r"
                          % (did, timeout * SLOW, srv.device_lines(did)))
            time.sleep(0.02)

    def wait_handover(self, srv, did, mark, frm, to, mode):
        want = (frm, to, mode)
        deadline = time.monotonic() + 5 * SLOW
        while not any(handover_of(l) == want for l in srv.device_lines(did)[mark:]):
            if time.monotonic() > deadline:
                self.fail("%s: no 'handover device=%s from worker=%d to worker=%d mode=%d' line; its lines:\n  %s"
                          % (did, did, frm, to, mode, "\n  ".join(srv.device_lines(did)[mark:])))
            time.sleep(0.02)

    def drop(self, srv, c, timeout=3.0):
        """Disconnects c and waits (without asserting) for the server's
        disconnect line, so the next connect finds no open call."""
        pat = device_re("disconnect", c.device_id)
        count = lambda: sum(1 for l in srv.device_lines(c.device_id) if pat.search(l))  # noqa: E731
        n = count()
        c.disconnect()
        deadline = time.monotonic() + timeout * SLOW
        while count() <= n and time.monotonic() < deadline:
            time.sleep(0.01)

    def step(self, c, button, state, mode):
        n = len(c.sets)
        self.press_ok(c, button)
        return self.wait_state(c, state, mode, start=n, timeout=5.0)


class ManyDevicesTests(WorkersTestCase):

    def test_200_devices_on_two_workers(self):
        srv = self.server()
        line, k = self.listen_line(srv)
        print("server: %s" % line)
        self.assertEqual(k, 2, "the listening line does not say 2 workers")
        # One listener feeds both workers.
        self.assertEqual(wait_listening(srv.port, 1)[1], 1, "sockets listening on port %d" % srv.port)
        ids = ["many-%03d" % i for i in range(200)]
        t0 = time.monotonic()
        clients = [self.client(srv, did) for did in ids]
        deadline = time.monotonic() + 30 * SLOW
        for c in clients:
            c.wait_sets(1, max(0.0, deadline - time.monotonic()))
        missing = [c.device_id for c in clients if not c.sets]
        self.assertEqual(missing, [], "%d of 200 devices got no SET within 30 s\n%s"
                         % (len(missing), srv.log_tail()))
        print("200 devices connected in %.1f s" % (time.monotonic() - t0))

        def run(i, c):
            presses = 1 + i % 6   # modes 1, 2, 3, 4, 0 (wrapped), 1
            try:
                self.assert_state(c.sets[0].leds, "idle", 0, "%s, a new device" % c.device_id)
                for p in range(1, presses + 1):
                    self.step(c, MODE, "idle", p % NMODES)
                m = presses % NMODES
                n = len(c.packets)
                self.step(c, PLAY, "playing", m)
                _, pkt = c.wait_packet(n, lambda p: True, 5.0 * SLOW)
                self.assertTrue(pkt is not None and pkt.is_start, "%s: no is_start packet after Play" % c.device_id)
                self.step(c, STOP, "idle", m)
                self.assertTrue(all(a for _, a in c.acks), "%s: acks %r" % (c.device_id, c.acks))
                self.assertFalse(c.ended, "%s: calls ended: %r" % (c.device_id, c.ended))
            except AssertionError as e:
                return str(e).splitlines()[0]
            return None

        t0 = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            errors = [e for e in pool.map(run, range(len(clients)), clients) if e]
        print("200 devices: modes, Play and Stop in %.1f s" % (time.monotonic() - t0))
        self.assertFalse(errors, "%d devices failed:\n  %s\n%s"
                         % (len(errors), "\n  ".join(errors[:10]), srv.log_tail()))
        lines = {did: [l for l in srv.device_lines(did) if connect_worker(l) is not False] for did in ids}
        bad = ["%s: %r" % (did, ls) for did, ls in lines.items() if len(ls) != 1 or connect_worker(ls[0]) is None]
        self.assertFalse(bad, "devices without exactly one connect line naming a worker:\n  %s"
                         % "\n  ".join(bad[:10]))
        per_worker = Counter(connect_worker(ls[0]) for ls in lines.values())
        print("connections per worker: %r" % dict(per_worker))
        self.assertEqual(sorted(per_worker), [0, 1], "workers used by 200 connections: %r" % dict(per_worker))
        self.sigterm(srv)


class HandoverTests(WorkersTestCase):

    def hop(self, srv, c, prev, mode):
        """Disconnects c and reconnects (a new channel each time) until the
        device lands on a worker other than prev; every first SET must show
        `mode`. Returns (client, worker, tries, the device's log mark)."""
        did = c.device_id
        for tries in range(1, TRIES + 1):
            self.drop(srv, c)
            mark = len(srv.device_lines(did))
            c = self.client(srv, did)
            self.assert_state(self.first_set(c, srv).leds, "idle", mode, "%s, reconnect %d" % (did, tries))
            w = self.landing(srv, did, mark, prev)
            if w != prev:
                return c, w, tries, mark
        self.fail("%s: %d reconnects all landed on worker %d\n%s" % (did, TRIES, prev, srv.log_tail()))

    def check_reconnect_keeps_mode(self, store):
        srv = self.server(store=store)
        did = "hop-" + store.split(":")[0]
        c = self.client(srv, did)
        self.first_set(c, srv)
        w0 = self.landing(srv, did, 0)
        for m in (1, 2, 3):
            self.step(c, MODE, "idle", m)
        c, w1, tries, mark = self.hop(srv, c, w0, 3)
        print("%s: on worker %d after %d reconnects (from worker %d)" % (store, w1, tries, w0))
        self.wait_handover(srv, did, mark, w0, w1, 3)
        self.step(c, MODE, "idle", 4)
        # And back: the change made on the new worker travels too.
        c, w2, tries, mark = self.hop(srv, c, w1, 4)
        self.assertEqual(w2, w0)
        self.wait_handover(srv, did, mark, w1, w0, 4)
        print("%s: back on worker %d after %d reconnects; lines:\n  %s"
              % (store, w2, tries, "\n  ".join(srv.device_lines(did)[-4:])))
        self.step(c, MODE, "idle", 0)
        self.sigterm(srv)

    def test_reconnect_on_other_worker_keeps_mode_sqlite(self):
        self.check_reconnect_keeps_mode("sqlite:" + self.db)

    def test_reconnect_on_other_worker_keeps_mode_memory(self):
        self.check_reconnect_keeps_mode("memory")

    def test_half_dead_old_connection(self):
        """The old connection's process is stopped (SIGSTOP), mid-sound, its
        calls still open: a new connection of the same device_id on the other
        worker is served with its mode, the old calls end ABORTED."""
        srv = self.server()
        did = "stalled-0"
        prev, takeovers = None, 0
        for rnd in range(1, TRIES + 1):
            mark = len(srv.device_lines(did))
            child = Child(srv.target, did, 2)
            self.addCleanup(child.kill)
            ready = child.wait_line("READY", 15 * SLOW)
            self.assertIsNotNone(ready, "child device: %r\n%s" % (child.lines, srv.log_tail()))
            cw = self.landing(srv, did, mark, prev)
            os.kill(child.proc.pid, signal.SIGSTOP)
            mark = len(srv.device_lines(did))
            c = self.client(srv, did)
            s = self.first_set(c, srv)
            self.assertEqual((pattern_state(s.leds) or (None, None))[1], 2,
                             "first SET while the old connection is stopped: %s" % describe_pattern(s.leds))
            w = self.landing(srv, did, mark, cw)
            if w != cw:
                break
            # The same worker: an ordinary takeover. Again, with a new child.
            takeovers += 1
            self.assertTrue(any(device_re("takeover", did).search(l) for l in srv.device_lines(did)[mark:]),
                            "same-worker connect logged no takeover: %r" % srv.device_lines(did)[mark:])
            self.drop(srv, c)
            child.kill()
            prev = w
        else:
            self.fail("%d rounds: the new connection always landed on the child's worker" % TRIES)
        print("round %d (%d same-worker takeovers first): child on worker %d, new connection on worker %d; "
              "first SET %s" % (rnd, takeovers, cw, w, describe_pattern(s.leds)))
        self.wait_handover(srv, did, mark, cw, w, 2)
        print("server: %s" % "\n        ".join(srv.device_lines(did)[mark:]))
        self.press_ok(c, STOP)
        self.step(c, MODE, "idle", 3)
        # The child, resumed, finds its calls ended ABORTED (taken over).
        os.kill(child.proc.pid, signal.SIGCONT)
        ended = child.wait_line("ENDED", 10 * SLOW)
        print("old connection, resumed: %s" % ended)
        self.assertEqual(ended, "ENDED status=ABORTED event=ABORTED audio=ABORTED",
                         "the old connection's calls (child output %r)" % child.lines)
        child.kill()
        # The server is fine: the device still works, a new device connects.
        self.assertTrue(srv.alive(), srv.death_note())
        self.step(c, MODE, "idle", 4)
        self.assertFalse(c.ended, "the new connection's calls ended: %r" % c.ended)
        other = self.client(srv, "after-stalled")
        self.assert_state(self.first_set(other, srv).leds, "idle", 0, "a new device afterwards")
        self.step(other, MODE, "idle", 1)
        self.sigterm(srv)


class CommandLineTests(WorkersTestCase):

    def test_help_lists_workers(self):
        p = subprocess.run([SERVER, "--help"], capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--workers", p.stdout)

    def test_bad_values_exit_2(self):
        for args in (("0",), ("x",), ("257",), ("-1",), ("",), ()):
            cmd = [SERVER, "--listen", "127.0.0.1:0", "--assets", ASSETS, "--store", "memory", "--workers", *args]
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT,
                                   stdin=subprocess.DEVNULL, env=clean_env(HOME=self.home))
            except subprocess.TimeoutExpired as e:
                self.fail("--workers %r: still running after %.0f s; stderr %r" % (args, START_TIMEOUT, e.stderr))
            errs = [l for l in p.stderr.strip().splitlines() if not LOG_LINE.match(l)]
            print("--workers %r: exit %d, %r" % (args, p.returncode, errs))
            self.assertEqual(p.returncode, 2, "--workers %r: exit code; stderr %r" % (args, p.stderr))
            self.assertEqual(len(errs), 1, "--workers %r: expected one error line, got %r" % (args, p.stderr))
            self.assertIn("--workers", errs[0], "--workers %r: the line does not name --workers" % (args,))

    def test_auto_is_one_per_cpu_and_256_works(self):
        cpus = {os.cpu_count(), len(os.sched_getaffinity(0))}
        for workers, want in (("auto", cpus), (256, {256})):
            srv = self.server(workers=workers)
            line, k = self.listen_line(srv)
            print("--workers %s: %s (cpu_count %d, affinity %d)"
                  % (workers, line, os.cpu_count(), len(os.sched_getaffinity(0))))
            if want == {1}:
                self.assertIsNone(k, "one CPU: the line must be as with one worker: %r" % line)
            else:
                self.assertIn(k, want, "--workers %s: %r" % (workers, line))
            first, n = wait_listening(srv.port, 1)
            print("sockets listening on port %d: %d at the listening line, then %d" % (srv.port, first, n))
            self.assertEqual((first, n), (1, 1), "sockets listening on port %d" % srv.port)
            c = self.client(srv, "w%s-0" % workers)
            self.first_set(c, srv)
            self.step(c, MODE, "idle", 1)
            c.disconnect()
            self.sigterm(srv)

    def test_one_worker_logs_as_before(self):
        for workers in (None, 1):
            srv = self.server(workers=workers)
            line, k = self.listen_line(srv)
            self.assertIsNone(k, "--workers %s: the listening line names workers: %r" % (workers, line))
            self.assertEqual(wait_listening(srv.port, 1, 0)[1], 1)
            c = self.client(srv, "one-0")
            self.first_set(c, srv)
            srv.wait_device_lines("one-0", 1, 5 * SLOW)
            lines = [l for l in srv.device_lines("one-0") if connect_worker(l) is not False]
            self.assertEqual(len(lines), 1, srv.device_lines("one-0"))
            self.assertNotIn("worker", lines[0], "--workers %s: connect line %r" % (workers, lines[0]))
            c.disconnect()
            self.sigterm(srv)


class ShutdownTests(WorkersTestCase):

    def test_sigterm_ends_calls_on_both_workers(self):
        srv = self.server()
        ids = ["term-%02d" % i for i in range(24)]
        clients = self.connect_all(srv, ids)
        worker = {did: self.landing(srv, did, 0) for did in ids}
        self.assertEqual(sorted(set(worker.values())), [0, 1], "24 devices' workers: %r" % worker)
        expected = {}
        for i, c in enumerate(clients):
            for p in range(1, 2 + i % 5):
                self.step(c, MODE, "idle", p % NMODES)
            expected[c.device_id] = (1 + i % 5) % NMODES
        # One device on each worker is playing.
        for w in (0, 1):
            c = next(c for c in clients if worker[c.device_id] == w)
            n = len(c.packets)
            self.step(c, PLAY, "playing", expected[c.device_id])
            c.wait_packet(n, lambda p: True, 3 * SLOW)
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t0
        wrong = []
        for c in clients:
            ends = c.wait_ended(["status", "event", "audio"], 5 * SLOW)
            for name, end in ends.items():
                if not end or end.code != grpc.StatusCode.UNAVAILABLE or "shutting down" not in (end.details or ""):
                    wrong.append("%s (worker %d) %s: %r" % (c.device_id, worker[c.device_id], name, end))
        print("server exited with %s %.0f ms after SIGTERM; %s" % (rc, took * 1000, clients[0].ended))
        self.assertFalse(wrong, "calls not ended UNAVAILABLE 'server shutting down':\n  %s\n%s"
                         % ("\n  ".join(wrong), srv.log_tail()))
        self.assertIsNotNone(rc, "no exit within %.0f s of SIGTERM\n%s" % (STOP_TIMEOUT, srv.log_tail()))
        self.assertEqual(rc, 0, "exit code after SIGTERM\n%s" % srv.log_tail())
        self.assertLess(took, 5.0 * SLOW, "exit took %.1f s" % took)
        srv.kill()
        for c in clients:
            c.disconnect()
        srv2 = self.server()
        self.assert_modes_after_restart(srv2, expected, "after SIGTERM of 2 workers and a restart")
        self.sigterm(srv2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
