#!/usr/bin/python3
"""Larger packets, negotiated (docs/protocol.md, "Larger packets"): the real
opal-server and grpcio clients that ask for packets with call metadata
`opal-packet-ms: N` on ServerAudioStream, or do not ask. Each packet's
duration is read from its Opus TOC byte (RFC 6716, 3.1), not trusted from
the decoder.

Run:   /usr/bin/python3 tests/interop/test_packet_size.py [-v]
Environment: as tests/interop/test_interop.py (OPAL_SERVER, OPAL_ASSETS, ...).
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_interop as ti  # noqa: E402
from opal_client import MODE, audio_seconds  # noqa: E402

HEADER = "opal-packet-ms"
SHORT_MODE = ti.SHORT_MODE  # 2.8 s: plays to its natural end
LONG_MODE = ti.LONG_MODE    # 80 s: stopped mid-stream

# Frame duration in 1/48000 s by TOC configuration (RFC 6716, table 2).
_SILK = [480, 960, 1920, 2880]
_HYBRID = [480, 960]
_CELT = [120, 240, 480, 960]


def toc_config(data):
    return data[0] >> 3


def frame_samples(data):
    config = toc_config(data)
    if config < 12:
        return _SILK[config % 4]
    if config < 16:
        return _HYBRID[config % 2]
    return _CELT[config % 4]


def frame_count(data):
    code = data[0] & 3
    if code == 0:
        return 1
    if code in (1, 2):
        return 2
    if len(data) < 2:
        raise AssertionError("code 3 packet without its frame count byte")
    return data[1] & 0x3F


def packet_ms(data):
    """Duration of one Opus packet from its TOC, in milliseconds."""
    return frame_count(data) * frame_samples(data) / 48.0


class PacketSizeCase(ti.OpalTestCase):
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = ti.ServerProcess(extra_args=cls.server_args, assets=cls.assets)
        cls.addClassCleanup(cls.server.kill)
        cls.server.start()
        print("\n[%s] server pid %d on %s, args %s"
              % (cls.__name__, cls.server.pid, cls.server.target, list(cls.server_args)))

    def asking(self, value, tag):
        """A connected client whose calls carry opal-packet-ms: value (None: no header)."""
        device_id = self.new_id(tag)
        md = (("device_id", device_id),)
        if value is not None:
            md += ((HEADER, value),)
        return self.connected_client(device_id, metadata=md)

    def granted(self, c):
        """The opal-packet-ms of the audio call's initial metadata, or None."""
        md = c._calls["audio"].initial_metadata()
        values = [v for k, v in md if k == HEADER]
        self.assertLessEqual(len(values), 1, "%r" % (md,))
        return values[0] if values else None

    def play_to_end(self, c, mode):
        """Plays `mode` (the device is idle in mode 0) to its natural end; its packets."""
        self.set_mode(c, mode)
        start, _ = self.play(c)
        i, p = c.wait_packet(start, lambda p: p.is_end, 10.0 * ti.SLOW)
        self.assertIsNotNone(p, "%s: no is_end within 10 s of Play" % c.device_id)
        return c.packets_since(start)[: i - start + 1]

    def stream_ends(self, device_id):
        """The device's `stream end` log lines, once there is one (the server
        writes it after the send it logs: the client may see the packet first)."""
        deadline = time.monotonic() + 5.0 * ti.SLOW
        while True:
            ends = [l for l in self.server.device_lines(device_id) if "stream end" in l]
            if ends or time.monotonic() >= deadline:
                self.assertTrue(ends, "%s: no stream end line in the log" % device_id)
                return ends
            time.sleep(0.05)

    def assert_sized(self, packets, ms, what):
        """Every packet `ms` long, but the last and one before a change of
        coding (the repacketizer joins only frames coded alike)."""
        sizes = [packet_ms(p.data) for p in packets]
        self.assertTrue(packets[0].is_start and packets[-1].is_end, what)
        self.assertEqual([p.is_start for p in packets].count(True), 1, what)
        self.assertEqual([p.is_end for p in packets].count(True), 1, what)
        for i, p in enumerate(packets):
            self.assertLessEqual(sizes[i], ms, "%s: packet %d lasts %.1f ms" % (what, i, sizes[i]))
            self.assertEqual(sizes[i] * 48, p.ret, "%s: packet %d: TOC and decoder disagree" % (what, i))
            if i + 1 < len(packets) and sizes[i] != ms:
                self.assertNotEqual(toc_config(p.data), toc_config(packets[i + 1].data),
                                    "%s: packet %d lasts %.1f ms, not %d, with more alike after it"
                                    % (what, i, sizes[i], ms))
        full = sum(1 for s in sizes if s == ms)
        print("%s: %d packets, %d of them %d ms, %.2f s of audio"
              % (what, len(packets), full, ms, audio_seconds(packets)))
        self.assertGreater(full, len(packets) // 2, what)


class NegotiatedTests(PacketSizeCase):
    def test_no_header_is_20ms_and_no_grant(self):
        c = self.asking(None, "p20")
        packets = self.play_to_end(c, SHORT_MODE)
        self.assertIsNone(self.granted(c), "a client that did not ask was told a packet size")
        self.assertEqual({packet_ms(p.data) for p in packets}, {20.0})

    def test_120_same_samples_as_20(self):
        plain, big = self.asking(None, "p20"), self.asking("120", "p120")
        self.assertEqual(self.granted(big), "120")
        small_packets = self.play_to_end(plain, SHORT_MODE)
        big_packets = self.play_to_end(big, SHORT_MODE)
        self.assert_sized(big_packets, 120, "120 ms packets")
        self.assertLess(len(big_packets) * 5, len(small_packets))
        pcm_small = b"".join(p.pcm.tobytes() for p in small_packets)
        pcm_big = b"".join(p.pcm.tobytes() for p in big_packets)
        self.assertEqual(len(pcm_big), len(pcm_small))
        self.assertTrue(pcm_big == pcm_small, "120 ms packets decode to other samples than 20 ms ones")
        self.assertGreater(ti.rms(big_packets[0].pcm), 0)
        # The log's count and digest are of the packets the device was sent.
        ends = self.stream_ends(big.device_id)
        self.assertIn("packets=%d/%d" % (len(big_packets), len(big_packets)), ends[-1])
        self.assertIn("packet_ms=120", ends[-1])

    def test_60(self):
        c = self.asking("60", "p60")
        self.assertEqual(self.granted(c), "60")
        self.assert_sized(self.play_to_end(c, SHORT_MODE), 60, "60 ms packets")

    def test_between_steps_and_above_the_most(self):
        for asked, want in (("70", "60"), ("10", "20"), ("5000", "120")):
            c = self.asking(asked, "pstep")
            self.assertEqual(self.granted(c), want, "asked %s" % asked)
            c.disconnect()

    def test_garbage_header_is_20ms(self):
        for value in ("fast", "0", "-120", "", "120ms"):
            c = self.asking(value, "pbad")
            self.assertEqual(self.granted(c), "20", "header %r" % value)
            packets = self.play_to_end(c, SHORT_MODE) if value == "fast" else None
            if packets:
                self.assertEqual({packet_ms(p.data) for p in packets}, {20.0})
            c.disconnect()

    def test_stop_mid_stream_with_120ms_packets(self):
        c = self.asking("120", "pstop")
        self.set_mode(c, LONG_MODE)
        start, lat_play = self.play(c)
        c.wait_audio_seconds(start, 1.0, 5.0 * ti.SLOW)
        i, lat_stop = self.stop(c)
        time.sleep(0.3)
        packets = c.packets_since(start)
        self.assertEqual(len(packets), i - start + 1, "packets after is_end: %r" % packets[i - start + 1:])
        self.assertEqual([p.is_start for p in packets].count(True), 1)
        self.assertTrue(packets[0].is_start)
        self.assert_sized(packets, 120, "stopped sound")
        print("120 ms packets: Play->first %s, Stop->is_end %s, %d packets"
              % (ti.ms(lat_play), ti.ms(lat_stop), len(packets)))
        # A new sound after it: is_start again, still 120 ms.
        self.press_ok(c, MODE)
        n = len(c.packets)
        self.play(c)
        self.stop(c)
        later = c.packets_since(n)
        self.assert_sized(later, 120, "the next sound, stopped")


class CappedTests(PacketSizeCase):
    server_args = ("--packet-ms", "20")

    def test_cap_20_gives_20_to_those_who_ask(self):
        c = self.asking("120", "pcap")
        self.assertEqual(self.granted(c), "20")
        packets = self.play_to_end(c, SHORT_MODE)
        self.assertEqual({packet_ms(p.data) for p in packets}, {20.0})


class CapBetweenTests(PacketSizeCase):
    server_args = ("--packet-ms", "80")

    def test_cap_80(self):
        c = self.asking("120", "pcap80")
        self.assertEqual(self.granted(c), "80")
        self.assert_sized(self.play_to_end(c, SHORT_MODE), 80, "80 ms packets under --packet-ms 80")


if __name__ == "__main__":
    unittest.main(verbosity=2)
