#!/usr/bin/python3
"""The real opal-device against a different server: a small Python grpcio
server honouring the wire contract in its own way (SET before GET, a SET
leaving LEDs out, an empty and a malformed request, its own Opus packets).
It checks what the device answers and what it reports.

Run:   /usr/bin/python3 tests/loopback/test_foreign_server.py
Environment: OPAL_DEVICE (default <repo>/build/opal-device), OPAL_PY_GEN.
"""

import ctypes
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import unittest
from concurrent import futures

import grpc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVICE = os.environ.get("OPAL_DEVICE") or os.path.join(REPO, "build", "opal-device")
sys.path.insert(0, os.environ.get("OPAL_PY_GEN") or os.path.join(REPO, "build", "gen", "python"))
import comms_pb2 as pb  # noqa: E402

SERVICE = "com.opalcamera.test.DeviceService"
PACKETS = 25  # 0.5 s of 20 ms Opus packets


def encode_tone(n):
    """n standalone 20 ms Opus packets of a 440 Hz tone, made with libopus."""
    opus = ctypes.CDLL("libopus.so.0")
    opus.opus_encoder_create.restype = ctypes.c_void_p
    err = ctypes.c_int()
    enc = opus.opus_encoder_create(48000, 1, 2049, ctypes.byref(err))  # OPUS_APPLICATION_AUDIO
    assert err.value == 0
    frame = (ctypes.c_int16 * 960)()
    out = (ctypes.c_ubyte * 1275)()
    packets = []
    for i in range(n):
        for j in range(960):
            frame[j] = int(8000 * math.sin(2 * math.pi * 440 * (i * 960 + j) / 48000))
        size = opus.opus_encode(ctypes.c_void_p(enc), frame, 960, out, 1275)
        assert size > 0
        packets.append(bytes(out[:size]))
    opus.opus_encoder_destroy(ctypes.c_void_p(enc))
    return packets


def fnv_digest(packets):
    """The device's digest: FNV-1a 64 over each packet's 4-byte LE length and bytes."""
    h = 1469598103934665603
    for p in packets:
        for b in len(p).to_bytes(4, "little") + p:
            h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def raw_or_message(x):
    return x if isinstance(x, bytes) else x.SerializeToString()


class ForeignServer:
    """Speaks the contract: what it sent and what the device answered are kept."""

    def __init__(self, packets):
        self.packets = packets
        self.answers = []  # (what we asked, DeviceStatusResponse)
        self.events = []
        self.metadata = []
        self.done = threading.Event()
        self.play = threading.Event()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self.server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {
            "StatusStream": grpc.stream_stream_rpc_method_handler(
                self.status, request_deserializer=pb.DeviceStatusResponse.FromString,
                response_serializer=raw_or_message),
            "EventStream": grpc.stream_stream_rpc_method_handler(
                self.event, request_deserializer=pb.DeviceEvent.FromString,
                response_serializer=pb.DeviceEventResponse.SerializeToString),
            "ServerAudioStream": grpc.unary_stream_rpc_method_handler(
                self.audio, request_deserializer=pb.AudioStreamRequest.FromString,
                response_serializer=pb.AudioPacket.SerializeToString),
        })])
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def status(self, responses, context):
        self.metadata.append(dict(context.invocation_metadata()).get("device_id"))
        asks = [
            ("set", pb.DeviceStatusRequest(set=pb.DeviceStatusSet(
                led_0=pb.RGBAColor(rgba=0xFF0000FF),  # not ours: the device must ignore it
                led_1=pb.RGBAColor(rgba=0x11223344), led_2=pb.RGBAColor(rgba=0x556677FF),
                led_3=pb.RGBAColor(rgba=0xFFFFFFFF)))),
            ("get", pb.DeviceStatusRequest(get=True)),
            ("empty", pb.DeviceStatusRequest()),
            ("malformed", b"\xff\xff\xff\xff"),
        ]
        for name, ask in asks:
            yield ask
            self.answers.append((name, next(responses)))
        self.done.set()
        for _ in responses:  # keep the stream open until the device leaves
            pass

    def event(self, requests, context):
        for ev in requests:
            self.events.append(ev)
            if ev.button_event.button_id == pb.ButtonEvent.BUTTON_4:
                self.play.set()
            yield pb.DeviceEventResponse(ack=True)

    def audio(self, request, context):
        if not request.start:
            return
        while context.is_active():
            if self.play.wait(0.1):
                break
        for i, data in enumerate(self.packets):
            yield pb.AudioPacket(is_start=i == 0, is_end=i == len(self.packets) - 1, data=data)
        while context.is_active():
            threading.Event().wait(0.1)

    def stop(self):
        self.server.stop(0)


class ForeignServerTests(unittest.TestCase):
    def test_device_against_another_server(self):
        packets = encode_tone(PACKETS)
        server = ForeignServer(packets)
        self.addCleanup(server.stop)
        with tempfile.NamedTemporaryFile("w", suffix=".script") as script:
            script.write("connect\nwait-for connected 5000\nwait 500\n"
                         "press play\nwait-for stream_end 5000\nwait 200\nquit\n")
            script.flush()
            p = subprocess.run(
                [DEVICE, "--script", script.name, "--server", "127.0.0.1:%d" % server.port,
                 "--device-id", "foreign-1", "--audio-out", "null", "--log-level", "warn"],
                capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        events = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertTrue(server.done.wait(5), "the device did not answer all four requests")
        self.assertEqual(server.metadata, ["foreign-1"])

        answers = dict(server.answers)
        print("answers: %s" % {k: str(v).replace("\n", " ") for k, v in answers.items()})
        self.assertEqual(answers["set"].status, "success")
        state = answers["get"].state
        # Its real LEDs: led_0 its own (green, connected), led_1..3 as SET,
        # led_4 and led_5 dark because the SET left them out.
        self.assertEqual([getattr(state, "led_%d" % i).rgba for i in range(6)],
                         [0x00FF00FF, 0x11223344, 0x556677FF, 0xFFFFFFFF, 0, 0])
        self.assertEqual([getattr(state, "button_%d" % i) for i in range(1, 5)],
                         [pb.DeviceStatus.RELEASED] * 4)
        self.assertTrue(answers["empty"].status.startswith("error: "), answers["empty"])
        self.assertTrue(answers["malformed"].status.startswith("error: malformed"), answers["malformed"])

        leds = [e["leds"] for e in events if e["event"] == "leds"]
        self.assertIn(["00ff00ff", "11223344", "556677ff", "ffffffff", "00000000", "00000000"], leds)
        self.assertEqual([e.button_event.button_id for e in server.events], [pb.ButtonEvent.BUTTON_4])
        end = [e for e in events if e["event"] == "stream_end"]
        self.assertEqual(len(end), 1, events)
        self.assertEqual(end[0]["packets"], PACKETS)
        self.assertTrue(end[0]["complete"])
        self.assertEqual(end[0]["digest"], fnv_digest(packets))
        self.assertTrue([e for e in events if e["event"] == "first_sample"], "the sound was played")
        print("device reported stream_end %s, digest matches the server's %d packets" % (end[0], PACKETS))


class GrantingServer(ForeignServer):
    """Negotiates the packet size as docs/protocol.md says: grants what the
    device asks in `opal-packet-ms`, up to `cap`, in its initial metadata."""

    def __init__(self, packets, cap):
        self.cap = cap
        self.asked = []
        super().__init__(packets)

    def audio(self, request, context):
        asked = dict(context.invocation_metadata()).get("opal-packet-ms")
        self.asked.append(asked)
        if asked is not None:
            context.send_initial_metadata((("opal-packet-ms", str(min(int(asked), self.cap))),))
        yield from super().audio(request, context)


class PacketSizeTests(unittest.TestCase):
    """The device's side of the packet-size negotiation, against a server of
    another make: what it asks, and what it reports granted."""

    def run_device(self, server, *flags):
        with tempfile.NamedTemporaryFile("w", suffix=".script") as script:
            # A server that sends no initial metadata of its own sends it with
            # the first packet: the script plays one sound to hear it.
            script.write("connect\nwait-for connected 5000\nwait 300\npress play\n"
                         "wait-for stream_end 5000\nquit\n")
            script.flush()
            p = subprocess.run(
                [DEVICE, "--script", script.name, "--server", "127.0.0.1:%d" % server.port,
                 "--device-id", "foreign-2", "--audio-out", "null", "--log-level", "warn", *flags],
                capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        return [json.loads(l) for l in p.stdout.splitlines() if '"packet_size"' in l]

    def test_asks_for_120_and_reports_the_grant(self):
        server = GrantingServer(encode_tone(3), cap=60)
        self.addCleanup(server.stop)
        granted = self.run_device(server)
        self.assertEqual(server.asked, ["120"])
        self.assertEqual([(g["asked_ms"], g["granted_ms"]) for g in granted], [(120, 60)])

    def test_packet_ms_20_asks_for_nothing(self):
        server = GrantingServer(encode_tone(3), cap=60)
        self.addCleanup(server.stop)
        granted = self.run_device(server, "--packet-ms", "20")
        self.assertEqual(server.asked, [None])
        self.assertEqual([(g["asked_ms"], g["granted_ms"]) for g in granted], [(20, 20)])

    def test_a_server_that_does_not_negotiate_sends_20(self):
        server = ForeignServer(encode_tone(3))
        self.addCleanup(server.stop)
        granted = self.run_device(server, "--packet-ms", "80")
        self.assertEqual([(g["asked_ms"], g["granted_ms"]) for g in granted], [(80, 20)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
