#!/usr/bin/python3
"""The device's audio path through a real PortAudio stream.

A private PulseAudio daemon (its own XDG_RUNTIME_DIR and HOME in a temp
folder, a unix socket only, one null sink at 48 kHz mono) stands in for a
sound card; ALSA's default device is pointed at it (~/.asoundrc in the temp
HOME), so PortAudio's ALSA back end plays into the null sink. parec records
the sink's monitor while tests/audio/play_file plays assets/0-chime.opus
through audio_player with AUDIO_OUT_PORTAUDIO, fed the way the server feeds
a device. The recording must be the chime: loud, about as long, and matching
the same packets decoded by the WAV output sample for sample (correlation).

Run:   /usr/bin/python3 tests/audio/test_portaudio.py
Environment: OPAL_PLAY_FILE (default <repo>/build/tests/audio/play_file).
Needs the Debian packages pulseaudio, pulseaudio-utils, libasound2-plugins.
"""

import array
import json
import math
import os
import signal
import subprocess
import sys
import time
import unittest
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pulse_sandbox import RATE, SINK, PulseSandbox, stop  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAY = os.environ.get("OPAL_PLAY_FILE") or os.path.join(REPO, "build", "tests", "audio", "play_file")
CHIME = os.path.join(REPO, "assets", "0-chime.opus")
NO_DEVICE_HINT = "use --audio-out null or --audio-out wav:FILE"


def rms_dbfs(samples):
    if not samples:
        return -math.inf
    acc = math.fsum(float(s) * s for s in samples)
    rms = math.sqrt(acc / len(samples))
    return 20 * math.log10(rms / 32768) if rms > 0 else -math.inf


def active_span(samples, window=480, threshold_dbfs=-50.0):
    """(first, last) sample index of the 10 ms windows louder than the threshold."""
    first = last = None
    for i in range(0, len(samples) - window + 1, window):
        if rms_dbfs(samples[i:i + window]) > threshold_dbfs:
            if first is None:
                first = i
            last = i + window
    return first, last


def onset(samples, level=300):
    for i, s in enumerate(samples):
        if abs(s) >= level:
            return i
    return None


def correlation(a, b):
    n = min(len(a), len(b))
    if n == 0:
        return 0.0
    sab = math.fsum(float(a[i]) * b[i] for i in range(n))
    saa = math.fsum(float(a[i]) * a[i] for i in range(n))
    sbb = math.fsum(float(b[i]) * b[i] for i in range(n))
    return sab / math.sqrt(saa * sbb) if saa > 0 and sbb > 0 else 0.0


def best_alignment(rec, ref):
    """Correlation of ref with rec, aligned on their onsets (+-4 samples)."""
    r0, f0 = onset(rec), onset(ref)
    if r0 is None or f0 is None:
        return 0.0, 0
    best = (-1.0, 0)
    for d in range(-4, 5):
        start = r0 - f0 + d
        if start < 0:
            continue
        c = correlation(rec[start:start + len(ref)], ref)
        best = max(best, (c, start))
    return best


class PortAudioTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(PLAY):
            raise RuntimeError("%s is not built" % PLAY)
        cls.pulse = PulseSandbox()
        cls.addClassCleanup(cls.pulse.close)
        cls.pulse.start()
        cls.env = cls.pulse.env
        cls.tmp = cls.pulse.tmp

    def play(self, *args, env=None, timeout=25):
        p = subprocess.run([PLAY, *args], env=env or self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def test_list_devices(self):
        rc, out, err = self.play("--list")
        print(out.rstrip())
        self.assertEqual(rc, 0, err)
        self.assertIn("default", out)
        self.assertNotIn("ALSA lib", err, "ALSA's probing noise reached stderr")
        self.assertNotIn("jack server", err, "JACK's probing noise reached stderr")

    def test_unknown_device_is_one_clear_line(self):
        rc, out, err = self.play("--device", "no-such-opal-device", CHIME)
        lines = err.strip().splitlines()
        print(lines[-1] if lines else "")
        self.assertEqual(rc, 2, err)
        self.assertEqual(len(lines), 1, "expected one line, got: %r" % err)
        self.assertIn("no-such-opal-device", lines[0])

    def test_chime_is_heard_through_portaudio(self):
        raw = os.path.join(self.tmp, "recorded.raw")
        ref = os.path.join(self.tmp, "reference.wav")
        recorder_log = os.path.join(self.tmp, "parec.log")
        recorder = None
        reference = None
        try:
            with open(raw, "wb") as out, open(recorder_log, "wb") as log:
                recorder = subprocess.Popen(
                    ["parec", "-d", SINK + ".monitor", "--rate=%d" % RATE, "--channels=1",
                     "--format=s16le", "--latency-msec=20"],
                    env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=log)
            deadline = time.monotonic() + 5
            while not subprocess.run(["pactl", "list", "short", "source-outputs"], env=self.env,
                                     capture_output=True, text=True, timeout=5).stdout.strip():
                if recorder.poll() is not None:
                    with open(recorder_log) as f:
                        self.fail("parec exited with %d: %s" % (recorder.returncode, f.read()))
                self.assertLess(time.monotonic(), deadline, "parec never connected")
                time.sleep(0.05)
            # The same packets through the WAV output: what should be heard.
            # It paces itself like a sound card, so it runs alongside.
            reference = subprocess.Popen([PLAY, "--out", "wav:" + ref, CHIME], env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
            rc, out, err = self.play(CHIME)
            ref_out, ref_err = reference.communicate(timeout=20)
            time.sleep(0.2)  # the sink's last block reaches the monitor
        finally:
            stop(recorder, signal.SIGINT)
            stop(reference)
        self.assertEqual(rc, 0, "play_file failed: %s%s" % (out, err))
        self.assertEqual(reference.returncode, 0, "WAV reference failed: %s" % ref_err)
        self.assertNotIn("ALSA lib", err, "ALSA's probing noise reached stderr")
        result = json.loads(out.strip().splitlines()[-1])

        with open(raw, "rb") as f:
            rec = array.array("h")
            rec.frombytes(f.read()[: (os.path.getsize(raw) // 2) * 2])
        if sys.byteorder != "little":
            rec.byteswap()
        with wave.open(ref) as w:
            self.assertEqual((w.getnchannels(), w.getframerate(), w.getsampwidth()), (1, RATE, 2))
            expected = array.array("h")
            expected.frombytes(w.readframes(w.getnframes()))

        first, last = active_span(rec)
        self.assertIsNotNone(first, "the recording is silent: nothing was played")
        heard = rec[first:last]
        span_ms = (last - first) * 1000 / RATE
        ref_first, ref_last = active_span(expected)
        ref_span_ms = (ref_last - ref_first) * 1000 / RATE
        corr, _ = best_alignment(rec, expected)
        print()
        print("  sound            %.0f ms in %d packets" % (result["sound_ms"], result["packets"]))
        print("  recorded         %.2f s in all, audible for %.0f ms (WAV output: %.0f ms)"
              % (len(rec) / RATE, span_ms, ref_span_ms))
        print("  recorded RMS     %.1f dBFS (WAV output: %.1f dBFS)"
              % (rms_dbfs(heard), rms_dbfs(expected[ref_first:ref_last])))
        print("  match            correlation %.4f with the WAV output" % corr)
        print("  PortAudio pulled %.0f ms between first sample and drain, wall clock %.0f ms"
              % (result["output_frames_ms"], result["first_sample_to_drain_ms"]))
        print("  latency          first packet -> first sample handed to PortAudio: %.1f ms"
              % result["first_packet_to_first_sample_ms"])
        print("  underruns        %d, dropped %d, stream settled after %.0f ms"
              % (result["underruns"], result["dropped"], result["output_settled_ms"]))

        self.assertTrue(result["complete"])
        self.assertEqual(result["played_samples"], result["total_samples"])
        self.assertEqual(result["decode_errors"], 0)
        self.assertEqual(result["dropped"], 0)
        # The device pulled the sound at real time: its own clock advanced by
        # the sound's length while it played.
        self.assertAlmostEqual(result["output_frames_ms"], result["sound_ms"], delta=100)
        self.assertAlmostEqual(result["first_sample_to_drain_ms"], result["sound_ms"], delta=150)
        # The server sends 150 ms ahead and the buffer starts at 60 ms, so the
        # first sample goes out at the stream's next callback.
        self.assertGreaterEqual(result["first_packet_to_first_sample_ms"], 0)
        self.assertLess(result["first_packet_to_first_sample_ms"], 100)
        self.assertLessEqual(result["underruns"], 1)
        # What was heard is the chime.
        self.assertGreater(rms_dbfs(heard), -35.0)
        self.assertAlmostEqual(span_ms, ref_span_ms, delta=100)
        self.assertGreater(corr, 0.95)

    @unittest.skipIf(os.path.exists("/proc/asound/cards")
                     and "no soundcards" not in open("/proc/asound/cards").read(),
                     "this machine has a sound card")
    def test_no_sound_device_is_one_clear_line(self):
        env = dict(self.env)
        env["PULSE_SERVER"] = "unix:" + os.path.join(self.tmp, "no-such.sock")
        rc, out, err = self.play(CHIME, env=env)
        lines = err.strip().splitlines()
        print(lines[-1] if lines else "")
        self.assertEqual(rc, 2, err)
        self.assertEqual(len(lines), 1, "expected one line, got: %r" % err)
        self.assertIn("no usable sound device", lines[0])
        self.assertIn(NO_DEVICE_HINT, lines[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
