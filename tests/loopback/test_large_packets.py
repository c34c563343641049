#!/usr/bin/python3
"""Large Opus packets end to end: the real opal-server and one real
`opal-device --script` per mode, each recording what it plays with
--audio-out wav:FILE. For every mode: the digests of device and server
agree, the recording is not silent, and the device reported no underrun.

Four cases:
- LargePacketsFromFiles, LargestPacketsFromFiles: the bundled sounds
  re-encoded by opusenc with --framesize 60 into a temp folder, as they
  are (60 ms packets) or joined in pairs (120 ms, tests/loopback/
  ogg_opus_join.py); the server passes Ogg Opus packets through as they
  are, so any server sends them;
- NegotiatedPackets: the bundled sounds as they are, the device asking for
  120 ms packets (`opal-packet-ms: 120`): the server must grant 120 and send
  packets of 120 ms. It runs only against a server that negotiates (its
  --help names --packet-ms);
- PacketsNotAskedFor: the bundled sounds, `--packet-ms 20` on the device:
  it asks for nothing and gets the 20 ms packets of today.

Run:   /usr/bin/python3 tests/loopback/test_large_packets.py [-v]
Environment: OPAL_SERVER, OPAL_DEVICE (default <repo>/build/opal-server,
<repo>/build/opal-device).
"""

import array
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import wave

import ogg_opus_join
from test_loopback import ASSETS, DEVICE, SERVER, Server
MODES = 5
# Mode 0 (2.8 s) plays to its end; the others are stopped after this long.
PLAY_MS = 1500
# Quieter than this (int16 RMS, about -50 dBFS) is silence: the sounds are
# normalised to -3 dBFS peak and start with speech.
SILENT_RMS = 100


def server_negotiates():
    """True when the server takes --packet-ms, i.e. grants larger packets."""
    try:
        out = subprocess.run([SERVER, "--help"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return False
    return "--packet-ms" in out


def make_sounds(folder, packet_ms):
    """Each bundled sound as Ogg Opus in packets of `packet_ms` (60 or 120),
    named as the server wants them: opusenc --framesize 60, then for 120 its
    packets joined in pairs (ogg_opus_join)."""
    for name in sorted(os.listdir(ASSETS)):
        m = re.match(r"(\d+)-([^.]+)\.(opus|flac|wav)$", name)
        if not m:
            continue
        source = os.path.join(ASSETS, name)
        if m.group(3) == "opus":  # opusenc reads WAV and FLAC, not Opus: decode first
            pcm = os.path.join(folder, "%s.wav" % m.group(1))
            subprocess.run(["opusdec", "--quiet", "--rate", "48000", source, pcm], check=True)
            source = pcm
        target = os.path.join(folder, "%s-%s.opus" % (m.group(1), m.group(2)))
        encoded = target if packet_ms == 60 else os.path.join(folder, "%s.60ms" % m.group(1))
        subprocess.run(["opusenc", "--quiet", "--bitrate", "32", "--framesize", "60", "--downmix-mono",
                        "--serial", "1", source, encoded], check=True)
        if packet_ms == 120:
            ogg_opus_join.join_file(encoded, target)
            os.unlink(encoded)
        if source.startswith(folder):
            os.unlink(source)


def rms(path):
    with wave.open(path, "rb") as w:
        self_check = (w.getnchannels(), w.getsampwidth(), w.getframerate())
        samples = array.array("h", w.readframes(w.getnframes()))
    assert self_check == (1, 2, 48000), self_check
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def mode_script(mode):
    """Selects `mode` (the server starts a device in mode 0), plays it and,
    but for the short mode 0, stops it; then waits for the buffer to drain."""
    lines = ["connect", "wait-for connected 5000"]
    lines += ["press mode", "wait-for ack"] * mode
    lines += ["press play", "wait-for stream_start 3000"]
    if mode == 0:
        lines += ["wait-for stream_end 10000"]
    else:
        lines += ["wait %d" % PLAY_MS, "press stop", "wait-for stream_end 3000"]
    lines += ["wait 800", "quit"]
    return "\n".join(lines) + "\n"


class LargePacketsBase(unittest.TestCase):
    assets = ASSETS
    device_args = []

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="opal-large-packets-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.server = Server(assets=self.sounds_folder())
        self.addCleanup(self.server.kill)

    def sounds_folder(self):
        return self.assets

    def play_every_mode(self):
        """One device per mode, all at once; returns {mode: (events, wav path)}."""
        procs = {}
        for mode in range(MODES):
            script = os.path.join(self.tmp, "mode%d.script" % mode)
            with open(script, "w") as f:
                f.write(mode_script(mode))
            wav = os.path.join(self.tmp, "mode%d.wav" % mode)
            cmd = [DEVICE, "--script", script, "--server", "127.0.0.1:%d" % self.server.port,
                   "--device-id", "big-%d" % mode, "--audio-out", "wav:" + wav, "--log-level", "warn"]
            procs[mode] = (subprocess.Popen(cmd + self.device_args, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True), wav)
        results = {}
        for mode, (proc, wav) in procs.items():
            try:
                out, err = proc.communicate(timeout=40)
            except subprocess.TimeoutExpired:
                for p, _ in procs.values():
                    p.kill()
                    p.communicate()
                raise AssertionError("mode %d: the device did not finish its script" % mode)
            self.assertEqual(proc.returncode, 0, "mode %d: exit %s: %s\n%s" % (mode, proc.returncode, err, out))
            results[mode] = ([json.loads(line) for line in out.splitlines()], wav)
        return results

    def check_mode(self, mode, events, wav, packet_ms):
        of = lambda name: [e for e in events if e["event"] == name]
        names = [e["event"] for e in events]
        ends = of("stream_end")
        self.assertEqual(len(ends), 1, names)
        server_ends = self.server.stream_ends("big-%d" % mode)
        self.assertEqual(len(server_ends), 1, self.server.lines[-20:])
        _, smode, reason, sent, total, digest = server_ends[0]
        self.assertEqual(int(smode), mode)
        self.assertEqual(reason, "natural" if mode == 0 else "stop")
        self.assertEqual(ends[0]["packets"], int(sent), "packets of mode %d" % mode)
        self.assertEqual(ends[0]["digest"], digest, "digest of mode %d" % mode)
        self.assertTrue(ends[0]["complete"])
        self.assertEqual(ends[0]["max_packet_ms"], packet_ms, "the longest packet of mode %d" % mode)
        self.assertEqual(of("underrun"), [], "mode %d underran" % mode)
        self.assertEqual(of("decode_error"), [])
        self.assertEqual(len(of("first_sample")), 1, names)
        level = rms(wav)
        self.assertGreater(level, SILENT_RMS, "mode %d played silence" % mode)
        silence = of("silence")
        if mode != 0:
            self.assertEqual(len(silence), 1, names)
        print("  mode %d: %3s/%-4s packets of up to %d ms, digest %s agrees, RMS %5.0f, 0 underruns, "
              "press->first sample %.1f ms%s"
              % (mode, sent, total, packet_ms, digest, level, of("first_sample")[0]["press_to_first_sample_ms"],
                 ", Stop->silence %.0f ms" % silence[0]["stop_to_silence_ms"] if silence else ""))


@unittest.skipUnless(shutil.which("opusenc") and shutil.which("opusdec"), "needs opus-tools (opusenc, opusdec)")
class LargePacketsFromFiles(LargePacketsBase):
    """60 ms packets from the sound files themselves: any server. The
    device asks for that size, so a server that repacketizes (the `packets`
    of docs/protocol.md) sends the files' packets as they are."""

    packet_ms = 60

    @property
    def device_args(self):
        return ["--packet-ms", str(self.packet_ms)]

    def sounds_folder(self):
        folder = os.path.join(self.tmp, "sounds")
        os.mkdir(folder)
        make_sounds(folder, self.packet_ms)
        return folder

    def test_every_mode_in_large_packets(self):
        for mode, (events, wav) in sorted(self.play_every_mode().items()):
            self.check_mode(mode, events, wav, self.packet_ms)


class LargestPacketsFromFiles(LargePacketsFromFiles):
    """120 ms packets from the sound files themselves: any server."""

    packet_ms = 120


@unittest.skipUnless(server_negotiates(), "the server does not negotiate packet sizes yet (no --packet-ms)")
class NegotiatedPackets(LargePacketsBase):
    """The bundled sounds, 120 ms packets granted on the device's request."""

    def test_every_mode_in_120ms_packets(self):
        for mode, (events, wav) in sorted(self.play_every_mode().items()):
            granted = [e for e in events if e["event"] == "packet_size"]
            self.assertTrue(granted, "mode %d: no packet_size event" % mode)
            self.assertEqual((granted[0]["asked_ms"], granted[0]["granted_ms"]), (120, 120))
            self.check_mode(mode, events, wav, 120)


class PacketsNotAskedFor(LargePacketsBase):
    """--packet-ms 20: the device asks for nothing and gets 20 ms packets,
    from any server (the figures to compare the others with)."""

    device_args = ["--packet-ms", "20"]

    def test_every_mode_in_20ms_packets(self):
        for mode, (events, wav) in sorted(self.play_every_mode().items()):
            granted = [e for e in events if e["event"] == "packet_size"]
            self.assertEqual([(g["asked_ms"], g["granted_ms"]) for g in granted], [(20, 20)])
            self.check_mode(mode, events, wav, 20)


if __name__ == "__main__":
    unittest.main(verbosity=2)
