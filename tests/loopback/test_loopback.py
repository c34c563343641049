#!/usr/bin/python3
"""Loopback tests: the real opal-server and real `opal-device --sim --script`
processes on a free loopback port. Each device prints one JSON line per
event; the server logs a digest of every stream it sent. They must agree.

Run:   /usr/bin/python3 tests/loopback/test_loopback.py [-v]
Environment: OPAL_SERVER, OPAL_DEVICE (default <repo>/build/opal-server,
<repo>/build/opal-device); OPAL_DEVICE_WRAPPER, command words put before
each device (e.g. "valgrind --error-exitcode=99 -q"), whose exit code then
also counts; OPAL_SERVER_WRAPPER, the same before the server. Server and
Device also take their command words as an argument (tests/arm64/ runs
them under qemu-aarch64).
"""

import json
import os
import re
import shlex
import signal
import subprocess
import tempfile
import threading
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.environ.get("OPAL_SERVER") or os.path.join(REPO, "build", "opal-server")
DEVICE = os.environ.get("OPAL_DEVICE") or os.path.join(REPO, "build", "opal-device")
ASSETS = os.path.join(REPO, "assets")
DEVICE_WRAPPER = shlex.split(os.environ.get("OPAL_DEVICE_WRAPPER", ""))
SERVER_WRAPPER = shlex.split(os.environ.get("OPAL_SERVER_WRAPPER", ""))
STREAM_END = re.compile(r"stream end device=(\S+) mode=(\d+) reason=(\S+) packets=(\d+)/(\d+) digest=([0-9a-f]+)")


class Server:
    """The real server on 127.0.0.1; `port` 0 picks a free one. `command`,
    the words that start it (default OPAL_SERVER_WRAPPER + OPAL_SERVER), and
    `args`, more flags; a wrapped server (an emulator, valgrind) is given
    longer to start and stop."""

    def __init__(self, port=0, command=None, args=(), assets=ASSETS):
        command = command or SERVER_WRAPPER + [SERVER]
        self.slow = len(command) > 1
        self.lines = []
        self.proc = subprocess.Popen(command + ["--listen", "127.0.0.1:%d" % port, "--assets", assets,
                                                "--store", "memory", *args],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self._ready = threading.Event()
        self.port = None
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(180 if self.slow else 15):
            self.kill()
            raise AssertionError("server did not start: %s" % "".join(self.lines))

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"listening on [^ ]*:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                self._ready.set()

    def stream_ends(self, device_id):
        return [m.groups() for m in map(STREAM_END.search, list(self.lines)) if m and m.group(1) == device_id]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(60 if self.slow else 10)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()


class Device:
    """A real opal-device running `script` in script mode; `command`, the
    words that start it (default OPAL_DEVICE_WRAPPER + OPAL_DEVICE)."""

    def __init__(self, port, device_id, script, command=None):
        self.device_id = device_id
        self.script = tempfile.NamedTemporaryFile("w", suffix=".script", delete=False)
        self.script.write(script)
        self.script.close()
        self.events = []
        self.proc = subprocess.Popen(
            (command or DEVICE_WRAPPER + [DEVICE])
            + ["--sim", "--script", self.script.name, "--server", "127.0.0.1:%d" % port,
               "--device-id", device_id, "--audio-out", "null", "--log-level", "warn"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._cond = threading.Condition()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.proc.stdout:
            event = json.loads(line)
            with self._cond:
                self.events.append(event)
                self._cond.notify_all()

    def wait_event(self, name, count=1, timeout=10):
        """Waits until `count` events called `name` have been printed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.of(name)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%s: no %d x %r within %.0f s; events: %s"
                                         % (self.device_id, count, name, timeout, self.names()))
                self._cond.wait(min(left, 0.1))
        return self.of(name)

    def of(self, name):
        return [e for e in self.events if e["event"] == name]

    def names(self):
        return [e["event"] for e in self.events]

    def finish(self, timeout=90 if DEVICE_WRAPPER else 30):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("%s did not finish its script" % self.device_id)
        err = self.proc.stderr.read()
        self.reader.join(5)  # every line printed has been taken
        return rc, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()
        if os.path.exists(self.script.name):
            os.unlink(self.script.name)


def lit(leds):
    """led_1..led_5 as a string of '#' (lit) and '.' (off)."""
    return "".join("#" if int(x, 16) & 0xFF else "." for x in leds[1:])


class LoopbackTests(unittest.TestCase):
    def setUp(self):
        self.server = Server()
        self.addCleanup(self.server.kill)
        self.devices = []

    def device(self, device_id, script):
        d = Device(self.server.port, device_id, script)
        self.devices.append(d)
        self.addCleanup(d.kill)
        return d

    def finish_all(self):
        for d in self.devices:
            rc, err = d.finish()
            self.assertEqual(rc, 0, "%s exited %s: %s\nevents: %s" % (d.device_id, rc, err, d.names()))

    def assert_digests_match(self, d):
        """Every stream the device saw equals what the server sent it."""
        ends = d.of("stream_end")
        server_ends = self.server.stream_ends(d.device_id)
        self.assertEqual(len(ends), len(server_ends), "streams: device %s, server %s" % (ends, server_ends))
        for dev, srv in zip(ends, server_ends):
            _, mode, reason, sent, total, digest = srv
            self.assertEqual(dev["packets"], int(sent), "packets of mode %s (%s)" % (mode, reason))
            self.assertEqual(dev["digest"], digest, "digest of mode %s (%s)" % (mode, reason))
            if reason == "natural":
                self.assertEqual(sent, total)
            print("  %s mode %s %-9s %4s/%-4s packets digest %s: device and server agree"
                  % (d.device_id, mode, reason, sent, total, digest))

    def test_mode_play_stop_preempt_natural_end(self):
        d = self.device("loop-a", """
            connect
            wait-for connected 5000
            press mode          # mode 1
            wait-for ack
            press play
            wait-for stream_start 2000
            wait 700
            press stop
            wait-for stream_end 2000
            press mode          # mode 2 (the long sound)
            wait-for ack
            press play
            wait-for stream_start 2000
            wait 500
            press mode          # mode 3 while playing: LEDs change, sound goes on
            wait-for ack
            press play          # preempt: mode 3's sound replaces mode 2's
            wait-for stream_start 2000
            wait 300
            press stop
            wait-for stream_end 2000
            press mode          # mode 4
            wait-for ack
            press mode          # mode 0, the short sound
            wait-for ack
            press play
            wait-for stream_start 2000
            wait-for stream_end 8000
            wait 300            # the idle SET follows the natural end
            quit
        """)
        self.finish_all()
        starts, ends, acks = d.of("stream_start"), d.of("stream_end"), d.of("ack")
        self.assertEqual(len(starts), 4, d.names())
        self.assertEqual(len(ends), 4, d.names())
        self.assertTrue(all(d.of("first_sample")), "the null output played every sound")
        self.assertTrue(all(a["ack"] for a in acks), acks)
        self.assertTrue(all(e["complete"] for e in ends), ends)
        latencies = [s["press_to_first_packet_ms"] for s in starts]
        print("  press->first packet (ms): %s" % latencies)
        # The LED story: idle mode 1, playing mode 1, idle mode 1, ... idle mode 0 at the end.
        patterns = [lit(e["leds"]) for e in d.of("leds")]
        # idle/playing in mode 1, idle/playing in mode 2, playing in mode 3
        # (Mode while playing), idle in 3, 4 and 0, playing in 0.
        for p in (".#...", "#.###", "..#..", "##.##", "###.#", "...#.", "....#", "#....", ".####"):
            self.assertIn(p, patterns)
        self.assertEqual(patterns[-1], ".....")  # after quit: disconnected, all dark
        self.assertEqual(patterns[-2], "#....")  # idle in mode 0 after the natural end
        self.assert_digests_match(d)
        reasons = [(int(mode), reason) for _, mode, reason, *_ in self.server.stream_ends("loop-a")]
        self.assertEqual(reasons, [(1, "stop"), (2, "preempted"), (3, "stop"), (0, "natural")])

    def test_two_devices_are_independent(self):
        a = self.device("loop-b1", """
            connect
            wait-for connected 5000
            press mode
            wait-for ack
            press mode
            wait-for ack        # mode 2, long
            press play
            wait-for stream_start 2000
            wait 1500
            press stop
            wait-for stream_end 2000
            quit
        """)
        b = self.device("loop-b2", """
            connect
            wait-for connected 5000
            wait 300
            press mode
            wait-for ack
            wait 1500
            quit
        """)
        self.finish_all()
        self.assertEqual(len(a.of("stream_start")), 1)
        self.assertEqual(b.of("stream_start"), [], "b got audio it never asked for")
        b_patterns = [lit(e["leds"]) for e in b.of("leds")]
        self.assertEqual([p for p in b_patterns if p != "....."], ["#....", ".#..."],
                         "b's LEDs followed only its own state")
        self.assert_digests_match(a)

    def test_server_restart_device_reconnects_and_plays(self):
        port = self.server.port
        d = self.device("loop-c", """
            connect
            wait-for connected 5000
            press mode
            wait-for ack
            wait-for disconnected 15000
            wait-for connected 20000
            press play
            wait-for stream_start 3000
            wait 300
            press stop
            wait-for stream_end 3000
            quit
        """)
        d.wait_event("ack")
        self.server.kill()  # SIGKILL: no goodbye
        d.wait_event("disconnected", timeout=10)
        time.sleep(0.5)
        self.server = Server(port)
        self.addCleanup(self.server.kill)
        self.finish_all()
        connected = d.of("connected")
        self.assertEqual(len(connected), 2)
        self.assertEqual(connected[1]["reconnects"], 1)
        gone = d.of("disconnected")[0]
        self.assertTrue(gone["retrying"], gone)
        t_lost, t_back = gone["t_ms"], connected[1]["t_ms"]
        print("  reconnected %.0f ms after the loss (server down ~%.0f ms)" % (t_back - t_lost, 500))
        # The new server knows nothing of mode 1: it starts the device in mode 0.
        self.assertEqual(len(d.of("stream_end")), 1)
        self.assert_digests_match(d)


if __name__ == "__main__":
    unittest.main(verbosity=2)
