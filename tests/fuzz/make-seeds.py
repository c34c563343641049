#!/usr/bin/python3
"""Writes the seed corpus, tests/fuzz/corpus/<harness>/seed-*: real
messages, files and step programs, small. Run it again after changing
proto/comms.proto or a harness's input format (after `make`, which builds
build/gen/python/comms_pb2.py):

    /usr/bin/python3 tests/fuzz/make-seeds.py

Regression seeds (crash-*) are kept: this writes only seed-* files."""
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "build", "gen", "python"))
import comms_pb2 as pb  # noqa: E402

CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def write(harness, name, data):
    folder = os.path.join(CORPUS, harness)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def messages():
    for button in range(4):
        for event in range(3):
            ev = pb.DeviceEvent(button_event=pb.ButtonEvent(button_id=button, event=event))
            write("server_device_event", "button%d-event%d" % (button, event), ev.SerializeToString())
    write("server_device_event", "empty", b"")
    state = pb.DeviceStatus(led_0=pb.RGBAColor(rgba=0xFF0000FF), led_3=pb.RGBAColor(rgba=0x30E030FF),
                            button_2=pb.DeviceStatus.PRESSED, battery_level=0.5)
    write("server_status_response", "state", pb.DeviceStatusResponse(state=state).SerializeToString())
    write("server_status_response", "success", pb.DeviceStatusResponse(status="success").SerializeToString())
    write("server_status_response", "error", pb.DeviceStatusResponse(status="error: no").SerializeToString())
    write("server_audio_request", "start", pb.AudioStreamRequest(start=True).SerializeToString())
    write("server_audio_request", "no-start", pb.AudioStreamRequest(start=False).SerializeToString())
    write("device_status_request", "get", pb.DeviceStatusRequest(get=True).SerializeToString())
    leds = {"led_%d" % i: pb.RGBAColor(rgba=0xFFB000FF) for i in range(1, 6)}
    write("device_status_request", "set-all", pb.DeviceStatusRequest(set=pb.DeviceStatusSet(**leds)).SerializeToString())
    some = pb.DeviceStatusSet(led_2=pb.RGBAColor(rgba=0x20C0FFFF))
    write("device_status_request", "set-one", pb.DeviceStatusRequest(set=some).SerializeToString())
    write("device_status_request", "neither", b"")
    write("device_event_response", "ack", pb.DeviceEventResponse(ack=True).SerializeToString())
    write("device_event_response", "nack", pb.DeviceEventResponse(ack=False).SerializeToString())


def audio_packets():
    """Real Opus packets of a bundled sound, framed as a sound is sent."""
    packets = page_packets(ogg_pages(open(os.path.join(ROOT, "assets", "0-chime.opus"), "rb").read())[2])
    write("device_audio_packet", "first", pb.AudioPacket(is_start=True, data=packets[0]).SerializeToString())
    write("device_audio_packet", "middle", pb.AudioPacket(data=packets[1]).SerializeToString())
    write("device_audio_packet", "last", pb.AudioPacket(is_end=True, data=packets[2]).SerializeToString())
    write("device_audio_packet", "whole", pb.AudioPacket(is_start=True, is_end=True, data=packets[3]).SerializeToString())
    write("device_audio_packet", "not-opus", pb.AudioPacket(is_start=True, data=b"\xff\xfe\xfd").SerializeToString())


def ogg_pages(data):
    pages, at = [], 0
    while at < len(data):
        segments = data[at + 26]
        lacing = data[at + 27:at + 27 + segments]
        size = 27 + segments + sum(lacing)
        pages.append(data[at:at + size])
        at += size
    return pages


def ogg_crc(data):
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def page_packets(page):
    segments = page[26]
    lacing = page[27:27 + segments]
    body, packets, current, at = page[27 + segments:], [], b"", 0
    for n in lacing:
        current += body[at:at + n]
        at += n
        if n < 255:
            packets.append(current)
            current = b""
    return packets


def make_page(template, packets, granule, eos):
    lacing = b""
    for p in packets:
        lacing += b"\xff" * (len(p) // 255) + bytes([len(p) % 255])
    flags = (template[5] & ~0x04) | (0x04 if eos else 0)
    header = template[:5] + bytes([flags]) + struct.pack("<q", granule) + template[14:22]
    page = header + b"\0\0\0\0" + bytes([len(lacing)]) + lacing + b"".join(packets)
    return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


def ogg_files():
    """The bundled sounds cut to their headers and a few packets."""
    for name, keep in (("0-chime.opus", 3), ("1-pluck.opus", 1)):
        pages = ogg_pages(open(os.path.join(ROOT, "assets", name), "rb").read())
        audio = page_packets(pages[2])[:keep]
        short = pages[0] + pages[1] + make_page(pages[2], audio, 960 * keep, True)
        stem = name.split(".")[0]
        write("server_ogg_opus", stem + "-cut", short)
        write("server_ogg_opus", stem + "-no-eos", pages[0] + pages[1] + make_page(pages[2], audio, 960 * keep, False))
    write("server_ogg_opus", "not-ogg", b"RIFF\0\0\0\0WAVEfmt ")


def metadata():
    def entries(*pairs):
        out = b""
        for k, v in pairs:
            out += bytes([len(k)]) + k + bytes([len(v)]) + v
        return out
    write("server_metadata", "device-id", entries((b"device_id", b"kitchen-1")))
    write("server_metadata", "with-via", entries((b"user-agent", b"grpc-c/28.0.0"), (b"device_id", b"pi-7"),
                                                 (b"opal-client-connection", b"1234")))
    write("server_metadata", "bad-id", entries((b"device_id", b"a\nb"), (b"device_id", b"x" * 65)))
    write("server_metadata", "via-peer", entries((b"opal-client-connection", b"ipv6:[::1]:5000")))


def config_files():
    doc = open(os.path.join(ROOT, "docs", "raspberry-pi.md")).read()
    start = doc.index("```ini\n") + len("```ini\n")
    write("device_gpio_config", "docs-example", doc[start:doc.index("```", start)])
    write("device_gpio_config", "minimal", "[gpio]\nled_lines = 1,2,3,4,5,6\nhold_ms = 100\n")
    write("device_gpio_config", "errors", "; comment\nchip = x\n[other]\nkey = 1\n[gpio]\nhold_ms = 5\nhold_ms = 9\n")


def scripts():
    write("device_script", "docs-device", "connect\nwait-for connected\npress mode\nwait-for ack\npress play\n"
          "wait-for stream_start\nwait 1000\npress stop\nwait-for stream_end\nquit\n")
    write("device_script", "unit-demo", "# a demo\nconnect\n\npress mode   # next mode\nhold play\nrelease stop\n"
          "press connect\nwait 250\nwait-for stream_end\nwait-for ack 500\ndisconnect\nquit\n")
    write("device_script", "bad", "connect\njump\n")


def machine_programs():
    """Step programs for server_device_machine (its step() says the bytes):
    modes, limit, then steps."""
    OPEN, EVENT, SEND, CLOSE, TIME, BREAK, SETTLE, ANSWER, DROP = range(9)
    PRESS, MODE, PLAY, STOP = 0, 1, 3, 2

    def connect(device, client):
        return bytes([OPEN, device, 0, client, OPEN, device, 1, client, OPEN, device, 2, client])

    def press(button):  # the harness's values run from -1: add one
        return bytes([EVENT, 0, button + 1, PRESS + 1, SEND, 0])

    sends = bytes([SEND, 0]) * 8
    play = connect(0, 0) + sends + press(MODE) + press(PLAY) + bytes([TIME, 40]) + sends + bytes([TIME, 200]) + sends
    write("server_device_machine", "play", bytes([3, 0]) + play)
    takeover = connect(0, 0) + sends + press(PLAY) + connect(0, 2) + bytes([SETTLE]) + sends + press(PLAY) + sends
    write("server_device_machine", "takeover", bytes([3, 0]) + takeover)
    proxy = connect(1, 3) + connect(1, 4) + sends + press(PLAY) + bytes([DROP, 3]) + connect(1, 5) + sends
    write("server_device_machine", "proxy", bytes([2, 2]) + proxy)
    stop = connect(2, 1) + sends + press(PLAY) + bytes([TIME, 10]) + press(STOP) + sends + bytes([CLOSE, 0, BREAK, 0, 1])
    write("server_device_machine", "stop-close", bytes([3, 1]) + stop)


if __name__ == "__main__":
    messages()
    audio_packets()
    ogg_files()
    metadata()
    config_files()
    scripts()
    machine_programs()
