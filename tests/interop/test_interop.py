#!/usr/bin/python3
"""Interop test: the real opal-server against a Python grpcio client that
behaves like the exercise's PyQt client (the contract: proto/comms.proto and
docs/protocol.md).

Run:   /usr/bin/python3 tests/interop/test_interop.py [-v] [TestClass[.test_name]]

Environment:
  OPAL_SERVER          server binary        (default <repo>/build/opal-server)
  OPAL_ASSETS          assets directory     (default <repo>/assets)
  OPAL_PY_GEN          dir with comms_pb2   (default <repo>/build/gen/python)
  OPAL_LEAD_MS         if set, passed as --lead-ms and used as the expected lead
                       (otherwise the server's default, 150 ms, is assumed)
  OPAL_SERVER_WRAPPER  command words put before the server, e.g.
                       "valgrind --error-exitcode=9 --leak-check=full -q"
                       (start-up and shutdown timeouts become 30 s)

Only /usr/bin/python3 (Debian's python3-grpcio and python3-protobuf).
"""

import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import grpc  # noqa: E402

import h2raw  # noqa: E402
import opal_client as oc  # noqa: E402
from opal_client import (MODE, PLAY, STOP, CONNECT, PRESS, HOLD, RELEASE,  # noqa: E402
                         OpalClient, pattern_state, describe_pattern, lit_pattern,
                         audio_seconds, framing_errors, split_sounds, pcm_of, rms)

REPO = oc.REPO
SERVER = os.environ.get("OPAL_SERVER") or os.path.join(REPO, "build", "opal-server")
ASSETS = os.environ.get("OPAL_ASSETS") or os.path.join(REPO, "assets")
WRAPPER = shlex.split(os.environ.get("OPAL_SERVER_WRAPPER", ""))
LEAD_MS_ENV = os.environ.get("OPAL_LEAD_MS")
LEAD = (int(LEAD_MS_ENV) if LEAD_MS_ENV else 150) / 1000.0
START_TIMEOUT = 90.0 if WRAPPER else 15.0
STOP_TIMEOUT = 30.0 if WRAPPER else 10.0
# Waiting (not asserted latency bounds) gets more room under a wrapper.
SLOW = 3.0 if WRAPPER else 1.0

NMODES = 5
SHORT_MODE = 0   # < 5 s
LONG_MODE = 2    # >= 60 s
LISTEN_RE = re.compile(r"listening on [^ ]*:(\d+)")


def ms(seconds):
    return "%.1f ms" % (seconds * 1000.0)


# --------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------

class ServerProcess:
    """The real server binary on 127.0.0.1:<ephemeral>, stderr drained into
    self.lines by a background thread. `store` is its --store (None: no
    --store, the server's default state file); `env` its environment (None:
    this process's)."""

    def __init__(self, extra_args=(), assets=ASSETS, store="memory", env=None):
        self.cmd = WRAPPER + [SERVER, "--listen", "127.0.0.1:0", "--assets", assets,
                              "--log-level", "info"]
        if store is not None:
            self.cmd += ["--store", store]
        self.env = env
        if LEAD_MS_ENV:
            self.cmd += ["--lead-ms", LEAD_MS_ENV]
        self.cmd += list(extra_args)
        self.proc = None
        self.port = None
        self.lines = []
        self.stdout_lines = []
        self._cond = threading.Condition()
        self._threads = []
        self.exit_code = None
        self.signalled = False

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid

    def _drain(self, stream, sink):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                sink.append(line)
                self._cond.notify_all()
        stream.close()
        with self._cond:
            self._cond.notify_all()

    def start(self):
        if not os.path.exists(SERVER):
            raise AssertionError("server binary %s does not exist (build it, or set OPAL_SERVER)" % SERVER)
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=REPO, env=self.env)
        for stream, sink in ((self.proc.stderr, self.lines), (self.proc.stdout, self.stdout_lines)):
            th = threading.Thread(target=self._drain, args=(stream, sink), daemon=True)
            th.start()
            self._threads.append(th)
        deadline = time.monotonic() + START_TIMEOUT
        with self._cond:
            while True:
                for line in self.lines:
                    m = LISTEN_RE.search(line)
                    if m and "127.0.0.1" in line:
                        self.port = int(m.group(1))
                        return self
                if self.proc.poll() is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
        rc = self.proc.poll()
        self.kill()
        raise AssertionError(
            "server did not report 'listening on 127.0.0.1:<port>' on stderr within %.0f s "
            "(exit code %s)\ncommand: %s\nstderr:\n%s\nstdout:\n%s"
            % (START_TIMEOUT, rc, " ".join(self.cmd), "\n".join(self.lines[-40:]),
               "\n".join(self.stdout_lines[-20:])))

    def signal(self, sig):
        self.signalled = True
        self.proc.send_signal(sig)

    def death_note(self):
        """Explains an exit the test did not cause."""
        rc = self.proc.returncode
        note = "exit code %s" % rc
        if rc is not None and rc < 0:
            note += " (killed by signal %d)" % -rc
        elif rc == 0 and not self.signalled and any("shutting down" in l for l in self.lines):
            note += ("; the server logged an orderly shutdown although this test sent no signal: "
                     "it got SIGINT/SIGTERM from OUTSIDE the test (another process killing opal-server?)")
        return note

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM; returns (exit_code, error text or None)."""
        if self.proc is None:
            return None, None
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._join()
                return None, "server did not exit within %.0f s of SIGTERM (killed with SIGKILL)" % STOP_TIMEOUT
        self._join()
        self.exit_code = self.proc.returncode
        if self.exit_code != 0:
            return self.exit_code, "server exited with code %s after SIGTERM" % self.exit_code
        return 0, None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._join()

    def _join(self):
        for th in self._threads:
            th.join(5)

    def log_tail(self, n=30):
        with self._cond:
            return "\n".join(self.lines[-n:])

    def device_lines(self, device_id):
        pat = re.compile(r"device=" + re.escape(device_id) + r"(?![\w.\-])")
        with self._cond:
            return [line for line in self.lines if pat.search(line)]

    def wait_device_lines(self, device_id, n, timeout):
        deadline = time.monotonic() + timeout
        while True:
            lines = self.device_lines(device_id)
            if len(lines) >= n or time.monotonic() >= deadline:
                return lines
            with self._cond:
                self._cond.wait(0.05)

    def vmrss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None


# --------------------------------------------------------------------------
# Base class
# --------------------------------------------------------------------------

class OpalTestCase(unittest.TestCase):
    server = None
    server_must_survive = True
    assets = ASSETS  # the folder the class's server serves
    _ids = 0

    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(assets=cls.assets)
        cls.addClassCleanup(cls.server.kill)   # never leave a process behind
        cls.server.start()
        print("\n[%s] server pid %d on %s" % (cls.__name__, cls.server.pid, cls.server.target))

    @classmethod
    def tearDownClass(cls):
        if cls.server is None or cls.server.proc is None:
            return
        rc, err = cls.server.stop()
        if err:
            raise AssertionError("%s\nlast stderr lines:\n%s" % (err, cls.server.log_tail()))

    def setUp(self):
        self._clients = []

    def tearDown(self):
        # Invariants over every client of the test (clean-ups, i.e. client
        # disconnects, run after tearDown).
        problems = []
        for c in getattr(self, "_clients", []):
            with c._cond:
                sets, reqs, resps, packets = list(c.sets), len(c.requests), len(c.responses), list(c.packets)
            partial = [s for s in sets if s.present != (True,) * 5]
            if partial:
                problems.append("%s: %d SET(s) without all of led_1..led_5, first: %s"
                                % (c.device_id, len(partial), partial[0].msg))
            if reqs != resps:
                problems.append("%s: %d requests but %d responses" % (c.device_id, reqs, resps))
            bad = [p for p in packets if not p.ok]
            if bad:
                problems.append("%s: %d packets did not decode, first %r (%s)"
                                % (c.device_id, len(bad), bad[0], oc.opus_error_text(bad[0].ret)))
            errs = framing_errors(packets)
            if errs:
                problems.append("%s: framing: %s" % (c.device_id, errs[:3]))
        # Check liveness here too.
        srv = self.server
        if self.server_must_survive and srv is not None and srv.proc is not None and not srv.alive():
            self.fail("server process died during %s (%s)\nlast stderr lines:\n%s"
                      % (self.id(), self.server.death_note(), self.server.log_tail()))
        if problems:
            self.fail("invariants violated:\n  " + "\n  ".join(problems))

    # ---- helpers ---------------------------------------------------------

    def new_id(self, tag):
        OpalTestCase._ids += 1
        return "%s-%03d" % (tag, OpalTestCase._ids)

    def client(self, device_id=None, **kw):
        c = OpalClient(self.server.target, device_id or self.new_id("dev"), **kw)
        self.addCleanup(c.disconnect)
        self._clients.append(c)
        return c

    def connected_client(self, device_id=None, **kw):
        """A client that has received its first GET and first SET."""
        c = self.client(device_id, **kw)
        sets = c.wait_sets(1, 5 * SLOW)
        self.assertTrue(sets, "%s: no SET within %.0f s of connecting; requests=%r ended=%r"
                        % (c.device_id, 5 * SLOW, c.requests, c.ended))
        return c

    def press_ok(self, c, button, event=PRESS, expect=True):
        ack = c.press(button, event)
        self.assertEqual(ack, expect, "%s: %s %s acked %r, expected %r"
                         % (c.device_id, oc.BUTTON_NAMES.get(button, button),
                            oc.EVENT_NAMES.get(event, event), ack, expect))
        return ack

    def press_expect_set(self, c, button, timeout=1.0):
        """Press, expect ack=true and a new SET within timeout; returns it."""
        n = len(c.sets)
        self.press_ok(c, button)
        sets = c.wait_sets(n + 1, timeout * SLOW)
        self.assertGreater(len(sets), n, "%s: no SET within %.1f s after the ack of %s"
                           % (c.device_id, timeout * SLOW, oc.BUTTON_NAMES.get(button, button)))
        return sets[n]

    def assert_state(self, leds, state, mode, what=""):
        self.assertEqual(pattern_state(leds), (state, mode),
                         "%s: LED pattern %s is not '%s mode %d'" % (what, describe_pattern(leds), state, mode))

    def assert_all_five(self, s, what=""):
        self.assertEqual(s.present, (True,) * 5,
                         "%s: SET does not carry all of led_1..led_5 (present=%r): %s"
                         % (what, s.present, s.msg))

    def set_mode(self, c, mode):
        """From idle mode 0 (fresh device) to `mode` by Mode presses."""
        for _ in range(mode):
            self.press_ok(c, MODE)
        if mode:
            s = c.wait_set_where(0, lambda s: pattern_state(s.leds) == ("idle", mode), 1.0 * SLOW)
            self.assertIsNotNone(s, "%s: no SET showing idle mode %d after %d Mode presses; sets=%r"
                                 % (c.device_id, mode, mode, c.sets))

    def assert_packets_decode(self, c, packets=None):
        packets = c.packets_since(0) if packets is None else packets
        bad = [(i, p, oc.opus_error_text(p.ret)) for i, p in enumerate(packets) if not p.ok]
        self.assertFalse(bad, "%s: %d of %d packets did not decode, first: %r"
                         % (c.device_id, len(bad), len(packets), bad[:3]))

    def assert_framing(self, c, packets=None):
        packets = c.packets_since(0) if packets is None else packets
        errs = framing_errors(packets)
        self.assertFalse(errs, "%s: framing errors: %s" % (c.device_id, errs[:5]))

    def play(self, c):
        """Press Play, wait for the first is_start packet; returns
        (index of that packet, latency press->packet)."""
        n = len(c.packets)
        self.press_ok(c, PLAY)
        t_sent = c.last_press_sent
        i, p = c.wait_packet(n, lambda p: True, 3.0 * SLOW)
        self.assertIsNotNone(p, "%s: no audio packet within %.0f s after Play"
                             % (c.device_id, 3.0 * SLOW))
        self.assertTrue(p.is_start, "%s: first packet after Play is not is_start: %r" % (c.device_id, p))
        return i, p.t - t_sent

    def stop(self, c, timeout=1.0):
        """Press Stop while playing, wait for is_end; returns (index, latency)."""
        n = len(c.packets)
        self.press_ok(c, STOP)
        t_sent = c.last_press_sent
        i, p = c.wait_packet(n, lambda p: p.is_end, timeout * SLOW)
        if p is None:
            before = c.packets_since(0)[:n]
            sounds = split_sounds(before)
            note = ""
            if before and before[-1].is_end:
                note = ("; the sound had already ended before Stop (%d packets, %.2f s of audio, "
                        "delivered in %s)" % (len(sounds[-1]), audio_seconds(sounds[-1]),
                                              ms(sounds[-1][-1].t - sounds[-1][0].t)))
            self.fail("%s: no is_end packet within %.1f s after Stop (%d packets since Stop)%s"
                      % (c.device_id, timeout * SLOW, len(c.packets) - n, note))
        return i, p.t - t_sent


# --------------------------------------------------------------------------
# Protocol basics
# --------------------------------------------------------------------------

class ProtocolTests(OpalTestCase):

    def test_01_connect_get_then_full_set(self):
        c = self.client(self.new_id("t01"))
        c.wait_for(lambda: len(c.requests) >= 2, 5 * SLOW)
        reqs = [r for _, r in c.requests]
        self.assertGreaterEqual(len(reqs), 2, "expected GET then SET, got %r (ended=%r)" % (reqs, c.ended))
        self.assertEqual(reqs[0].WhichOneof("request"), "get", "first request is not GET: %s" % reqs[0])
        self.assertTrue(reqs[0].get, "first request is GET with get=false")
        self.assertEqual(reqs[1].WhichOneof("request"), "set", "second request is not SET: %s" % reqs[1])
        s = getattr(reqs[1], "set")
        for i in range(1, 6):
            self.assertTrue(s.HasField("led_%d" % i), "first SET lacks led_%d: %s" % (i, s))
        leds = c.sets[0].leds
        print("first SET: %s" % c.sets[0])
        self.assert_state(leds, "idle", 0, "first SET of a new device")
        # every response we sent was one per request
        self.assertEqual(len(c.responses), len(c.requests))
        self.assertFalse(c.ended, "a call ended unexpectedly: %r" % c.ended)

    def test_02_mode_cycles_five_patterns_and_wraps(self):
        c = self.connected_client(self.new_id("t02"))
        patterns = [c.sets[-1].leds]
        for k in range(1, NMODES + 1):
            s = self.press_expect_set(c, MODE)
            self.assert_all_five(s, "after Mode press %d" % k)
            patterns.append(s.leds)
            self.assert_state(s.leds, "idle", k % NMODES, "after %d Mode presses" % k)
        for k, p in enumerate(patterns):
            print("mode %d idle: %s" % (k % NMODES, describe_pattern(p)))
        self.assertEqual(len(set(patterns[:NMODES])), NMODES,
                         "the 5 idle patterns are not distinct: %r" % [describe_pattern(p) for p in patterns])
        self.assertEqual(len(set(lit_pattern(p) for p in patterns[:NMODES])), NMODES,
                         "the 5 idle patterns are not distinct on/off")
        self.assertEqual(patterns[NMODES], patterns[0], "after 5 Mode presses the pattern did not wrap to mode 0")

    def test_03_every_mode_plays(self):
        c = self.connected_client(self.new_id("t03"))
        playing_patterns = {}
        idle_patterns = {0: c.sets[-1].leds}
        for mode in range(NMODES):
            if mode:
                s = self.press_expect_set(c, MODE)
                self.assert_state(s.leds, "idle", mode, "after Mode")
                idle_patterns[mode] = s.leds
            nsets = len(c.sets)
            start, lat = self.play(c)
            s = c.wait_set_where(nsets, lambda s: pattern_state(s.leds) == ("playing", mode), 1.0 * SLOW)
            self.assertIsNotNone(s, "mode %d: no SET with the playing pattern after Play; sets since: %r"
                                 % (mode, c.sets_since(nsets)))
            self.assert_all_five(s, "playing mode %d" % mode)
            playing_patterns[mode] = s.leds
            c.wait_audio_seconds(start, 1.0, 5.0 * SLOW)
            pk = c.packets_since(start)
            self.assertGreater(len(pk), 0)
            self.assertTrue(pk[0].is_start)
            ended = any(p.is_end for p in pk)
            if not ended:
                self.assertGreaterEqual(audio_seconds(pk), 1.0 - 1e-6,
                                        "mode %d: less than 1 s of audio within 5 s of Play" % mode)
            self.assert_packets_decode(c, pk)
            level = rms(pcm_of(pk, 1.0))
            print("mode %d: press->first %s, %d packets so far (%.2f s), RMS of first second %.0f, playing %s"
                  % (mode, ms(lat), len(pk), audio_seconds(pk), level, describe_pattern(s.leds)))
            self.assertGreater(level, 100, "mode %d: the first second decodes to silence (RMS %.1f)" % (mode, level))
            nsets = len(c.sets)
            if mode == SHORT_MODE:
                # natural end: is_end within the sound's length (< 5 s), then idle SET
                i, p = c.wait_packet(start, lambda p: p.is_end, 6.0 * SLOW)
                self.assertIsNotNone(p, "mode %d (short): no is_end within 6 s of Play" % mode)
                whole = c.packets_since(start)[: i - start + 1]
                print("mode %d: natural end after %.2f s of audio, %d packets, delivered in %s"
                      % (mode, audio_seconds(whole), len(whole), ms(p.t - whole[0].t)))
                self.assertLess(audio_seconds(whole), 5.0, "mode 0's sound is not short")
            elif not ended:
                i, lat_stop = self.stop(c)
                print("mode %d: Stop->is_end %s" % (mode, ms(lat_stop)))
            else:
                i, p = c.wait_packet(start, lambda p: p.is_end, 0)
            s = c.wait_set_where(nsets, lambda s: pattern_state(s.leds) == ("idle", mode), 1.0 * SLOW)
            self.assertIsNotNone(s, "mode %d: no idle SET after the sound ended; sets since: %r"
                                 % (mode, c.sets_since(nsets)))
            self.assert_all_five(s, "idle after mode %d" % mode)
            time.sleep(0.1)
            self.assertEqual(len(c.packets), i + 1, "mode %d: packets after is_end: %r"
                             % (mode, c.packets_since(i + 1)[:3]))
        self.assert_framing(c)
        self.assert_packets_decode(c)
        allp = list(idle_patterns.values()) + list(playing_patterns.values())
        self.assertEqual(len(set(allp)), 2 * NMODES,
                         "the 10 (mode, state) patterns are not all distinct: %s"
                         % [describe_pattern(p) for p in allp])

    def test_12_ack_rules(self):
        c = self.connected_client(self.new_id("t12"))
        nsets, npk = len(c.sets), len(c.packets)
        sent = 0
        # unknown button id / event type values: ack=false, no effect
        self.press_ok(c, 7, PRESS, expect=False); sent += 1
        self.press_ok(c, MODE, 9, expect=False); sent += 1
        self.press_ok(c, PLAY, 9, expect=False); sent += 1
        self.press_ok(c, 250, 250, expect=False); sent += 1
        # HOLD and RELEASE of known buttons: ack=true, no effect
        for b in (CONNECT, MODE, STOP, PLAY):
            for e in (HOLD, RELEASE):
                self.press_ok(c, b, e, expect=True); sent += 1
        time.sleep(0.5)
        self.assertEqual(c.sets_since(nsets), [], "events without effect produced SETs")
        self.assertEqual(c.packets_since(npk), [], "events without effect produced audio")
        # the device still works normally
        s = self.press_expect_set(c, MODE); sent += 1
        self.assert_state(s.leds, "idle", 1, "after Mode")
        time.sleep(0.3)
        self.assertEqual(len(c.acks), sent, "expected exactly one ack per event (%d events, %d acks)"
                         % (sent, len(c.acks)))
        # Play with no ServerAudioStream open: ack=false, not playing
        n = self.connected_client(self.new_id("t12-noaudio"), audio=False)
        ns = len(n.sets)
        self.press_ok(n, PLAY, expect=False)
        time.sleep(0.3)
        playing = [s for s in n.sets_since(ns) if pattern_state(s.leds) and pattern_state(s.leds)[0] == "playing"]
        self.assertEqual(playing, [], "Play without an audio stream showed a playing pattern")
        print("acks: unknown button/event -> false, HOLD/RELEASE -> true, Play w/o audio stream -> false")

    def test_15_logs_name_the_device(self):
        did = self.new_id("t15")
        c = self.connected_client(did)
        lines = self.server.wait_device_lines(did, 1, 2 * SLOW)
        self.assertGreaterEqual(len(lines), 1, "no log line with device=%s after connect" % did)
        steps = []
        n = len(lines)
        self.press_ok(c, MODE)
        lines = self.server.wait_device_lines(did, n + 1, 2 * SLOW)
        steps.append(("event (Mode)", len(lines) - n)); n = len(lines)
        self.play(c)
        lines = self.server.wait_device_lines(did, n + 2, 2 * SLOW)
        steps.append(("event (Play) + stream start", len(lines) - n)); n = len(lines)
        self.stop(c)
        lines = self.server.wait_device_lines(did, n + 2, 2 * SLOW)
        steps.append(("event (Stop) + stream end", len(lines) - n)); n = len(lines)
        c.disconnect()
        lines = self.server.wait_device_lines(did, n + 1, 3 * SLOW)
        steps.append(("disconnect", len(lines) - n))
        print("log lines for device=%s:\n  %s" % (did, "\n  ".join(lines)))
        expect = {"event (Mode)": 1, "event (Play) + stream start": 2,
                  "event (Stop) + stream end": 2, "disconnect": 1}
        for what, got in steps:
            self.assertGreaterEqual(got, expect[what], "expected %d new log line(s) with device=%s for %s, got %d"
                                    % (expect[what], did, what, got))


    def test_16_failed_set_is_logged_with_the_device(self):
        did = self.new_id("t16")
        c = self.connected_client(did, set_reply="led driver fault")
        self.press_ok(c, MODE)
        deadline = time.monotonic() + 2 * SLOW
        while time.monotonic() < deadline:
            warns = [l for l in self.server.device_lines(did) if "led driver fault" in l]
            if len(warns) >= 2:
                break
            time.sleep(0.05)
        print("warnings: %r" % warns)
        self.assertGreaterEqual(len(warns), 2, "each non-success SET answer must be logged with device=%s" % did)
        self.assertTrue(all(" warn " in w for w in warns), warns)
        # The device is still served normally.
        self.press_ok(c, MODE)


# --------------------------------------------------------------------------
# Audio: stop, latency, pacing, preemption
# --------------------------------------------------------------------------

class AudioTests(OpalTestCase):

    def test_04_stop_long_sound_and_latency(self):
        c = self.connected_client(self.new_id("t04"))
        self.set_mode(c, LONG_MODE)
        start, lat_play = self.play(c)
        time.sleep(1.0)
        nsets = len(c.sets)
        i, lat_stop = self.stop(c)
        end = c.packets[i]
        print("Stop after ~1 s: Stop->is_end %s, is_end data %d bytes" % (ms(lat_stop), len(end.data)))
        self.assertLessEqual(lat_stop, 0.300, "is_end arrived %s after Stop (limit 300 ms)" % ms(lat_stop))
        self.assertTrue(end.data, "is_end packet has empty data")
        s = c.wait_set_where(nsets, lambda s: pattern_state(s.leds) == ("idle", LONG_MODE), 1.0 * SLOW)
        self.assertIsNotNone(s, "no idle SET after Stop; sets since: %r" % c.sets_since(nsets))
        time.sleep(1.0)
        after = c.packets_since(i + 1)
        self.assertEqual(after, [], "%d packets arrived after the is_end of a stopped sound: %r"
                         % (len(after), after[:3]))
        # latency figures over repetitions
        plays, stops = [lat_play], [lat_stop]
        for _ in range(9):
            _, lp = self.play(c)
            time.sleep(0.2)
            _, ls = self.stop(c)
            plays.append(lp)
            stops.append(ls)
        print("press->first packet: median %s, max %s (n=%d)"
              % (ms(statistics.median(plays)), ms(max(plays)), len(plays)))
        print("Stop->is_end:        median %s, max %s (n=%d)"
              % (ms(statistics.median(stops)), ms(max(stops)), len(stops)))
        self.assertLessEqual(max(stops), 0.300, "Stop->is_end max %s exceeds 300 ms" % ms(max(stops)))
        self.assertLessEqual(max(plays), 1.0, "press->first packet max %s exceeds 1 s" % ms(max(plays)))
        time.sleep(0.2)
        self.assert_framing(c)
        self.assert_packets_decode(c)
        sounds = split_sounds(c.packets_since(0))
        self.assertEqual(len(sounds), 10, "expected 10 sounds, got %d" % len(sounds))

    def test_05_pacing(self):
        c = self.connected_client(self.new_id("t05"))
        self.set_mode(c, LONG_MODE)
        n = len(c.packets)
        self.press_ok(c, PLAY)
        t0 = c.last_press_sent
        time.sleep(2.0)
        pk = [p for p in c.packets_since(n) if p.t <= t0 + 2.0]
        got = audio_seconds(pk)
        # how far ahead of real time the stream ran (audio received minus time since first packet)
        ahead = 0.0
        acc = 0.0
        for p in pk:
            acc += p.seconds
            ahead = max(ahead, acc - (p.t - pk[0].t))
        sizes = sorted(set(round(p.seconds * 1000, 1) for p in pk))
        print("pacing: %.3f s of audio in %d packets within 2 s of Play (expected about 2 s + lead %s); "
              "max ahead of real time %s; packet durations %s ms"
              % (got, len(pk), ms(LEAD), ms(ahead), sizes))
        self.assertTrue(pk and pk[0].is_start, "no is_start within 2 s of Play")
        self.assertLess(got, 2.0 + LEAD + 0.5, "%.3f s of audio arrived within 2 s: not paced at real time" % got)
        self.assertFalse(any(p.is_end for p in pk), "the long sound ended within 2 s")
        self.assertGreater(got, 1.5, "only %.3f s of audio arrived within 2 s: slower than real time" % got)
        self.assert_packets_decode(c)
        self.stop(c)

    def test_06_preemption(self):
        c = self.connected_client(self.new_id("t06"))
        self.set_mode(c, LONG_MODE)
        start, _ = self.play(c)
        c.wait_audio_seconds(start, 1.0, 3.0 * SLOW)
        nsets = len(c.sets)
        s = self.press_expect_set(c, MODE)
        self.assert_state(s.leds, "playing", LONG_MODE + 1, "Mode while playing")
        self.assert_all_five(s, "Mode while playing")
        # the old sound continues
        n = len(c.packets)
        i, p = c.wait_packet(n, lambda p: True, 1.0 * SLOW)
        self.assertIsNotNone(p, "audio stopped after Mode while playing")
        self.assertFalse(any(p.is_end or p.is_start for p in c.packets_since(n)),
                         "Mode while playing ended or restarted the sound")
        time.sleep(0.3)
        n = len(c.packets)
        self.press_ok(c, PLAY)
        t_play = c.last_press_sent
        i_end, p_end = c.wait_packet(n, lambda p: p.is_end, 1.0 * SLOW)
        self.assertIsNotNone(p_end, "no is_end for the old sound after Play while playing")
        i_new, p_new = c.wait_packet(n, lambda p: p.is_start, 1.0 * SLOW)
        self.assertIsNotNone(p_new, "no is_start for the new sound after Play while playing")
        self.assertGreater(i_new, i_end, "is_start of the new sound came before is_end of the old")
        self.assertEqual(i_new, i_end + 1, "packets between old is_end and new is_start: %r"
                         % c.packets_since(i_end + 1)[: i_new - i_end])
        print("preemption: Play->old is_end %s, Play->new is_start %s"
              % (ms(p_end.t - t_play), ms(p_new.t - t_play)))
        c.wait_audio_seconds(i_new, 1.0, 3.0 * SLOW)
        sounds = split_sounds(c.packets_since(start))
        self.assertEqual(len(sounds), 2)
        old, new = sounds
        self.assert_framing(c)
        self.assert_packets_decode(c)
        secs = min(1.0, audio_seconds(old), audio_seconds(new))
        a, b = pcm_of(old, secs), pcm_of(new, secs)
        self.assertGreater(len(a), 0)
        self.assertNotEqual(a[: len(b)], b[: len(a)],
                            "mode %d's sound decodes to the same audio as mode %d's" % (LONG_MODE + 1, LONG_MODE))
        print("old sound RMS %.0f, new sound RMS %.0f (first %.2f s)" % (rms(a), rms(b), secs))
        s = c.wait_set_where(nsets, lambda s: pattern_state(s.leds) == ("playing", LONG_MODE + 1), 0)
        self.assertIsNotNone(s)
        if not new[-1].is_end:
            self.stop(c)


# --------------------------------------------------------------------------
# Several devices, reconnect, takeover, load
# --------------------------------------------------------------------------

class ManyModesTests(OpalTestCase):
    """An assets folder with seven sounds: Mode cycles through seven distinct
    patterns (modes 5 and 6 own a pair of LEDs, docs/leds.md) and wraps, and
    mode 6 plays its own sound."""

    NMODES = 7

    @classmethod
    def setUpClass(cls):
        cls.assets = tempfile.mkdtemp(prefix="opal-modes-")
        cls.addClassCleanup(shutil.rmtree, cls.assets, True)
        bundled = sorted(f for f in os.listdir(ASSETS) if re.match(r"\d+-", f))
        for f in bundled:
            shutil.copy(os.path.join(ASSETS, f), cls.assets)
        shutil.copy(os.path.join(ASSETS, "1-pluck.opus"), os.path.join(cls.assets, "5-pluck-again.opus"))
        shutil.copy(os.path.join(ASSETS, "0-chime.opus"), os.path.join(cls.assets, "6-chime-again.opus"))
        super().setUpClass()

    def test_seven_modes_cycle_wrap_and_play(self):
        self.assertTrue(any("7 modes" in line for line in self.server.lines),
                        "the server did not say it has 7 modes")
        c = self.connected_client(self.new_id("modes"))
        patterns = [c.sets[-1].leds]
        for k in range(1, self.NMODES + 1):
            s = self.press_expect_set(c, MODE)
            self.assert_all_five(s, "after Mode press %d" % k)
            self.assert_state(s.leds, "idle", k % self.NMODES, "after %d Mode presses" % k)
            patterns.append(s.leds)
        print("idle: %s" % ", ".join(describe_pattern(p) for p in patterns))
        self.assertEqual(len(set(lit_pattern(p) for p in patterns[:self.NMODES])), self.NMODES,
                         "the 7 idle patterns are not distinct on/off")
        self.assertEqual(patterns[self.NMODES], patterns[0], "7 Mode presses did not wrap to mode 0")
        for _ in range(6):
            self.press_expect_set(c, MODE)
        nsets = len(c.sets)
        start, _ = self.play(c)
        s = c.wait_set_where(nsets, lambda s: pattern_state(s.leds) == ("playing", 6), 1.0 * SLOW)
        self.assertIsNotNone(s, "no SET showing mode 6 playing; sets since Play: %r" % c.sets_since(nsets))
        self.assertEqual(sum(lit_pattern(s.leds)), 3, "playing mode 6 should light 3 LEDs: %s"
                         % describe_pattern(s.leds))
        i, p = c.wait_packet(start, lambda p: p.is_end, 6.0 * SLOW)
        self.assertIsNotNone(p, "mode 6 (a copy of the chime): no natural end within 6 s")
        whole = c.packets_since(start)[: i - start + 1]
        self.assert_packets_decode(c, whole)
        self.assert_framing(c, whole)
        self.assertGreater(rms(pcm_of(whole, 1.0)), 100, "mode 6 decodes to silence")
        back = c.wait_set_where(nsets, lambda s: pattern_state(s.leds) == ("idle", 6), 2.0 * SLOW)
        self.assertIsNotNone(back, "no SET back to idle mode 6 after the natural end")


class MultiDeviceTests(OpalTestCase):

    def test_07_two_devices_are_independent(self):
        a = self.connected_client(self.new_id("t07-a"))
        b = self.connected_client(self.new_id("t07-b"))
        na = a.snapshot()
        s = self.press_expect_set(b, MODE)
        self.assert_state(s.leds, "idle", 1, "B after Mode")
        time.sleep(0.3)
        self.assertEqual(a.snapshot(), na, "B's Mode press reached A (requests/sets/packets/acks changed)")
        self.assert_state(a.sets[-1].leds, "idle", 0, "A after B's Mode")
        bstart, _ = self.play(b)
        time.sleep(1.0)
        self.assertEqual(a.snapshot(), na, "B's Play reached A")
        # A plays mode 0 while B plays mode 1
        astart, _ = self.play(a)
        a.wait_audio_seconds(astart, 1.0, 3.0 * SLOW)
        self.assert_state(a.sets[-1].leds, "playing", 0, "A playing")
        self.assert_state(b.sets[-1].leds, "playing", 1, "B playing")
        i, lat = self.stop(b)
        time.sleep(0.3)
        apk = a.packets_since(astart)
        if not any(p.is_end for p in apk):
            self.assertTrue([p for p in apk if p.t > b.packets[i].t],
                            "A's sound stopped when B pressed Stop")
            self.stop(a)
        for c in (a, b):
            self.assert_framing(c)
            self.assert_packets_decode(c)
            self.assertEqual(len(split_sounds(c.packets_since(0))), 1,
                             "%s got more than its own one sound" % c.device_id)
        secs = min(1.0, audio_seconds(a.packets), audio_seconds(b.packets))
        self.assertNotEqual(pcm_of(a.packets, secs), pcm_of(b.packets, secs),
                            "mode 0 and mode 1 decode to the same audio")
        print("A: %d packets, B: %d packets; A %s, B %s"
              % (len(a.packets), len(b.packets), a.sets[-1], b.sets[-1]))

    def test_08a_reconnect_keeps_mode(self):
        did = self.new_id("t08a")
        c = self.connected_client(did)
        self.set_mode(c, 3)
        c.disconnect()
        time.sleep(0.3)
        c2 = self.connected_client(did)
        print("after reconnect: first SET %s" % c2.sets[0])
        self.assert_state(c2.sets[0].leds, "idle", 3, "first SET after reconnect")
        s = self.press_expect_set(c2, MODE)
        self.assert_state(s.leds, "idle", 4, "Mode after reconnect")

    def test_08b_takeover(self):
        did = self.new_id("t08b")
        c1 = self.connected_client(did)
        self.set_mode(c1, 1)
        c2 = self.client(did)
        ends = c1.wait_ended(["status", "event", "audio"], 3.0 * SLOW)
        print("old connection's calls after takeover: %r" % ends)
        for name, end in ends.items():
            self.assertIsNotNone(end, "old connection's %s call still open 3 s after takeover" % name)
            self.assertEqual(end.code, grpc.StatusCode.ABORTED,
                             "old connection's %s call ended with %r, expected ABORTED" % (name, end))
        c2.wait_sets(1, 5 * SLOW)
        self.assertTrue(c2.sets, "new connection got no SET")
        self.assertEqual(c2.requests[0][1].WhichOneof("request"), "get")
        self.assert_state(c2.sets[0].leds, "idle", 1, "first SET of the taking-over connection")
        self.assertFalse(c2.ended, "new connection's calls ended: %r" % c2.ended)
        start, _ = self.play(c2)
        c2.wait_audio_seconds(start, 0.5, 3 * SLOW)
        self.assert_packets_decode(c2)
        self.assertEqual(c1.packets, [], "old connection received audio after takeover")
        if not any(p.is_end for p in c2.packets):
            self.stop(c2)

    def test_13_load_50_devices(self):
        first = self.connected_client(self.new_id("t13"))
        time.sleep(0.3)
        rss1 = self.server.vmrss_kb()
        clients = [first] + [self.client(self.new_id("t13")) for _ in range(49)]
        deadline = time.monotonic() + 20 * SLOW
        for c in clients:
            c.wait_sets(1, max(0.0, deadline - time.monotonic()))
        missing = [c.device_id for c in clients if not c.sets]
        time.sleep(0.3)
        rss50 = self.server.vmrss_kb()
        print("server VmRSS: %d kB with 1 device, %d kB with 50 devices (%.1f kB per extra device)"
              % (rss1, rss50, (rss50 - rss1) / 49.0))
        self.assertEqual(missing, [], "%d of 50 devices got no SET" % len(missing))
        for c in clients:
            self.assert_state(c.sets[0].leds, "idle", 0, c.device_id)
            self.assertFalse(c.ended, "%s: calls ended: %r" % (c.device_id, c.ended))
        # one of them still works normally under this load
        s = self.press_expect_set(clients[-1], MODE)
        self.assert_state(s.leds, "idle", 1, "device 50 after Mode")


# --------------------------------------------------------------------------
# Robustness: bad ids, bad messages, killed clients
# --------------------------------------------------------------------------

class RobustnessTests(OpalTestCase):

    def _expect_invalid(self, metadata, what):
        """Opens each of the three methods with `metadata`; every one must end
        with INVALID_ARGUMENT mentioning device_id.  All three are tried before
        asserting, so a failure lists what each method did."""
        results = {}
        pb2 = oc.load_pb2()
        calls = []
        t0 = time.monotonic()
        try:
            for path in (oc.PATH_STATUS, oc.PATH_EVENT, oc.PATH_AUDIO):
                msgs = ()
                if path == oc.PATH_EVENT:
                    msgs = (pb2.DeviceEvent(button_event=pb2.ButtonEvent(button_id=MODE, event=PRESS)),)
                calls.append((path, oc.open_raw_call(self.server.target, path, metadata, messages=msgs,
                                                     timeout=2 * SLOW)))
            for path, rc in calls:   # the three run concurrently; each has its own deadline
                code, details, responses = rc.result()
                results[path.rsplit("/", 1)[1]] = (code, details, len(responses), time.monotonic() - t0)
        finally:
            for _, rc in calls:
                rc.close()
        bad = {k: v for k, v in results.items()
               if v[0] != grpc.StatusCode.INVALID_ARGUMENT or "device_id" not in (v[1] or "").lower()}
        if bad:
            self.fail("device_id %s: expected INVALID_ARGUMENT mentioning device_id on every method; got %s"
                      % (what, "; ".join("%s -> %s %r after %d responses, %s"
                                         % (k, v[0].name if v[0] else v[0], v[1], v[2], ms(v[3]))
                                         for k, v in results.items())))
        return results

    def _expect_invalid_raw(self, value, what):
        """For values grpcio refuses to send: a hand-made HTTP/2 request."""
        pb2 = oc.load_pb2()
        host, port = "127.0.0.1", self.server.port
        results = {}
        def one(path, msg, end):
            results[path.rsplit("/", 1)[1]] = h2raw.grpc_call(
                host, port, path, [(b"device_id", value)], message=msg, end_stream=end, timeout=2 * SLOW)
        threads = [threading.Thread(target=one, args=a, daemon=True) for a in (
            (oc.PATH_STATUS, None, False),
            (oc.PATH_EVENT, None, False),
            (oc.PATH_AUDIO, pb2.AudioStreamRequest(start=True).SerializeToString(), True))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(10 * SLOW)
        bad = {k: r for k, r in results.items()
               if r["status"] != grpc.StatusCode.INVALID_ARGUMENT.value[0]
               or "device_id" not in (r["message"] or "").lower()}
        if bad:
            got = "; ".join("%s -> status %r message %r%s%s" % (
                k, r["status"], r["message"],
                " (no status within %.0f s)" % (2 * SLOW) if r["timed_out"] else "",
                " (%s)" % r["error"] if r["error"] else "") for k, r in sorted(results.items()))
            self.fail("device_id %s (raw HTTP/2): expected grpc-status 3 mentioning device_id on every "
                      "method; got %s" % (what, got))
        return results

    def test_09_bad_device_id(self):
        cases = [
            ("missing", ()),
            ("empty", (("device_id", ""),)),
            ("65 bytes", (("device_id", "x" * 65),)),
        ]
        for what, md in cases:
            with self.subTest(case=what):
                res = self._expect_invalid(md, what)
                print("device_id %s: %s" % (what, ", ".join("%s %s in %s" % (k, v[0].name, ms(v[3]))
                                                           for k, v in res.items())))
        # grpcio refuses to send non-printable metadata values itself ("metadata
        # was invalid"), so these go through a hand-made HTTP/2 request.
        for what, value in (("contains \\x01", b"bad\x01id"), ("contains \\x7f", b"bad\x7fid")):
            with self.subTest(case=what):
                self._expect_invalid_raw(value, what)
                print("device_id %s: INVALID_ARGUMENT on all three (raw HTTP/2)" % what)
        # boundary: 64 bytes is valid
        c = self.connected_client("y" * 64)
        self.assertFalse(c.ended, "64-byte device_id was refused: %r" % c.ended)
        self.press_ok(c, MODE)
        self.assertTrue(self.server.alive())

    def test_10_malformed_and_oversized_messages(self):
        other = self.connected_client(self.new_id("t10-other"))
        m = self.connected_client(self.new_id("t10-malformed"))
        m.send_event(b"\xff\xff\xff\xff")
        ends = m.wait_ended("event", 3 * SLOW)
        print("malformed DeviceEvent: EventStream ended with %r" % ends["event"])
        self.assertIsNotNone(ends["event"], "EventStream still open 3 s after a malformed message")
        self.assertEqual(ends["event"].code, grpc.StatusCode.INVALID_ARGUMENT,
                         "malformed message: EventStream ended with %r" % ends["event"])
        time.sleep(0.5)
        self.assertNotIn("status", m.ended, "the malformed EventStream also ended StatusStream: %r" % m.ended)
        self.assertNotIn("audio", m.ended, "the malformed EventStream also ended ServerAudioStream: %r" % m.ended)
        # the other device is unaffected
        self.assertFalse(other.ended, "other device's calls ended: %r" % other.ended)
        s = self.press_expect_set(other, MODE)
        self.assert_state(s.leds, "idle", 1, "other device after Mode")
        # oversized: a valid DeviceEvent with a 70 000-byte unknown field 15
        o = self.connected_client(self.new_id("t10-oversized"))
        payload = b"x" * 70000
        n = len(payload)
        varint = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            varint.append(b | (0x80 if n else 0))
            if not n:
                break
        big = b"\x7a" + bytes(varint) + payload
        o.send_event(big)
        ends = o.wait_ended("event", 3 * SLOW)
        print("oversized DeviceEvent (%d bytes): EventStream ended with %r" % (len(big), ends["event"]))
        self.assertIsNotNone(ends["event"], "EventStream still open 3 s after a %d-byte message" % len(big))
        self.assertEqual(ends["event"].code, grpc.StatusCode.RESOURCE_EXHAUSTED,
                         "oversized message: EventStream ended with %r" % ends["event"])
        time.sleep(0.3)
        self.assertFalse(other.ended, "other device's calls ended: %r" % other.ended)
        start, _ = self.play(other)
        other.wait_audio_seconds(start, 0.5, 3 * SLOW)
        self.assert_packets_decode(other)
        self.assertGreaterEqual(audio_seconds(other.packets_since(start)), 0.5)
        if not any(p.is_end for p in other.packets):
            self.stop(other)
        self.assertTrue(self.server.alive())

    def test_11_killed_client(self):
        did = self.new_id("t11-child")
        env = dict(os.environ)
        env.setdefault("OPAL_PY_GEN", os.path.dirname(oc.load_pb2().__file__))
        child = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "device_child.py"),
                                  self.server.target, did, str(LONG_MODE)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        def reap():
            if child.poll() is None:
                child.kill()
            child.wait()
            child.stdout.close()
            child.stderr.close()
        self.addCleanup(reap)
        line = [None]
        rd = threading.Thread(target=lambda: line.__setitem__(0, child.stdout.readline()), daemon=True)
        rd.start()
        rd.join(15 * SLOW)
        if not line[0] or b"STREAMING" not in line[0]:
            child.kill()
            child.wait()
            self.fail("child device did not start streaming: stdout=%r stderr=%r"
                      % (line[0], child.stderr.read().decode(errors="replace")[-2000:]))
        before = len(self.server.device_lines(did))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        t_kill = time.monotonic()
        print("child %s: %s; killed with SIGKILL" % (did, line[0].decode().strip()))
        lines = self.server.wait_device_lines(did, before + 1, 3 * SLOW)
        print("server log lines for the killed device after the kill: %r" % lines[before:])
        self.assertGreater(len(lines), before, "server logged nothing (no disconnect) for device=%s "
                           "within 3 s of its client being killed" % did)
        self.assertTrue(self.server.alive(), "server died after a client was killed")
        c = self.connected_client(self.new_id("t11-next"))
        s = self.press_expect_set(c, MODE)
        self.assert_state(s.leds, "idle", 1, "new device after the kill")
        start, lat = self.play(c)
        c.wait_audio_seconds(start, 0.5, 3 * SLOW)
        self.assert_packets_decode(c)
        if not any(p.is_end for p in c.packets):
            self.stop(c)
        # the killed device's state survives: reconnecting finds mode 2
        r = self.connected_client(did)
        print("reconnected killed device after %.1f s: first SET %s" % (time.monotonic() - t_kill, r.sets[0]))
        st = pattern_state(r.sets[0].leds)
        self.assertIsNotNone(st, "unreadable pattern after reconnect")
        self.assertEqual(st[1], LONG_MODE, "the killed device's mode was lost: %s" % describe_pattern(r.sets[0].leds))
        self.assertTrue(self.server.alive())


# --------------------------------------------------------------------------
# SIGTERM
# --------------------------------------------------------------------------

class ShutdownTests(OpalTestCase):

    def test_14_sigterm_ends_calls_with_unavailable(self):
        a = self.connected_client(self.new_id("t14-a"))
        b = self.connected_client(self.new_id("t14-b"))
        self.set_mode(b, LONG_MODE)
        self.play(b)
        time.sleep(0.3)
        t0 = time.monotonic()
        self.server.signal(signal.SIGTERM)
        try:
            rc = self.server.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
        t_exit = time.monotonic() - t0
        for c in (a, b):
            ends = c.wait_ended(["status", "event", "audio"], 5 * SLOW)
            print("%s after SIGTERM: %r" % (c.device_id, ends))
            for name, end in ends.items():
                self.assertIsNotNone(end, "%s: %s call still open after SIGTERM" % (c.device_id, name))
                self.assertEqual(end.code, grpc.StatusCode.UNAVAILABLE,
                                 "%s: %s ended with %r after SIGTERM, expected UNAVAILABLE"
                                 % (c.device_id, name, end))
        self.assertIsNotNone(rc, "server did not exit within %.0f s of SIGTERM" % STOP_TIMEOUT)
        print("server exited with %s, %s after SIGTERM" % (rc, ms(t_exit)))
        self.assertEqual(rc, 0, "server exit code after SIGTERM\n%s" % self.server.log_tail())

    server_must_survive = False  # this test stops the server itself


if __name__ == "__main__":
    unittest.main(verbosity=2)
