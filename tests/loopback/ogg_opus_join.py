"""Joins the Opus packets of an Ogg Opus file two by two (RFC 6716 section
3.2, code 3: up to 48 frames, at most 120 ms, in one packet), the way
libopus's repacketizer does, with no second encode: an opusenc file of
60 ms packets becomes one of 120 ms packets (opusenc stops at 60 ms).
Packets of different TOC configurations are left as they are. For tests:
only what opusenc writes (every page's packets whole, one logical stream).
"""

import struct

MAX_PACKET_SAMPLES = 5760  # 120 ms at 48 kHz


def frame_samples(toc):
    """Samples (48 kHz) of each frame of a packet with this TOC byte."""
    config = toc >> 3
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        return (480, 960, 1920, 2880)[config % 4]
    if config < 16:  # Hybrid: 10, 20 ms
        return (480, 960)[config % 2]
    return (120, 240, 480, 960)[config % 4]  # CELT: 2.5, 5, 10, 20 ms


def _crc_table():
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def _ogg_crc(data):
    c = 0
    for b in data:
        c = ((c << 8) & 0xFFFFFFFF) ^ _CRC[((c >> 24) & 0xFF) ^ b]
    return c


def _packets(data):
    """[(packet, granule of its page)], and the stream's serial number."""
    i, pending, out, serial = 0, b"", [], 0
    while i < len(data):
        if data[i:i + 4] != b"OggS":
            raise ValueError("not an Ogg page at byte %d" % i)
        granule, serial = struct.unpack_from("<qI", data, i + 6)
        nseg = data[i + 26]
        p = i + 27 + nseg
        for size in data[i + 27:i + 27 + nseg]:
            pending += data[p:p + size]
            p += size
            if size < 255:
                out.append((pending, granule))
                pending = b""
        i = p
    return out, serial


def _frame_length(b, i):
    if b[i] < 252:
        return b[i], i + 1
    return b[i] + 4 * b[i + 1], i + 2


def frames(packet):
    """The compressed frames of one Opus packet."""
    code, body = packet[0] & 3, packet[1:]
    if code == 0:
        return [body]
    if code == 1:
        half = len(body) // 2
        return [body[:half], body[half:]]
    if code == 2:
        n, i = _frame_length(body, 0)
        return [body[i:i + n], body[i + n:]]
    count, vbr, i, padding = body[0] & 0x3F, body[0] & 0x80, 1, 0
    if body[0] & 0x40:
        while True:
            b = body[i]
            i += 1
            padding += 254 if b == 255 else b
            if b != 255:
                break
    end = len(body) - padding
    if vbr:
        lengths = []
        for _ in range(count - 1):
            n, i = _frame_length(body, i)
            lengths.append(n)
        lengths.append(end - i - sum(lengths))
    else:
        lengths = [(end - i) // count] * count
    out = []
    for n in lengths:
        out.append(body[i:i + n])
        i += n
    return out


def _length_bytes(n):
    if n < 252:
        return bytes([n])
    first = 252 + (n & 3)
    return bytes([first, (n - first) >> 2])


def join(a, b):
    """Packets a and b as one code 3 VBR packet, or None when they cannot be."""
    if a[0] >> 2 != b[0] >> 2:
        return None
    fs = frames(a) + frames(b)
    if len(fs) * frame_samples(a[0]) > MAX_PACKET_SAMPLES:
        return None
    head = bytes([(a[0] & 0xFC) | 3, 0x80 | len(fs)]) + b"".join(_length_bytes(len(f)) for f in fs[:-1])
    return head + b"".join(fs)


def _page(serial, seq, granule, packet, flags):
    sizes = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = (b"OggS" + bytes([0, flags]) + struct.pack("<qII", granule, serial, seq) + b"\0\0\0\0"
              + bytes([len(sizes)]) + bytes(sizes))
    crc = _ogg_crc(header + packet)
    return header[:22] + struct.pack("<I", crc) + header[26:] + packet


def join_file(source, target):
    """Writes `source` (Ogg Opus) to `target` with its audio packets joined in pairs."""
    with open(source, "rb") as f:
        packets, serial = _packets(f.read())
    (head, _), (tags, _), audio = packets[0], packets[1], packets[2:]
    pre_skip = struct.unpack_from("<H", head, 10)[0]
    final_granule = audio[-1][1]
    joined, i = [], 0
    while i < len(audio):
        pair = join(audio[i][0], audio[i + 1][0]) if i + 1 < len(audio) else None
        joined.append(pair if pair is not None else audio[i][0])
        i += 2 if pair is not None else 1
    pages = [_page(serial, 0, 0, head, 2), _page(serial, 1, 0, tags, 0)]
    granule = pre_skip
    for n, packet in enumerate(joined):
        granule += len(frames(packet)) * frame_samples(packet[0])
        last = n == len(joined) - 1
        pages.append(_page(serial, n + 2, final_granule if last else min(granule, final_granule), packet,
                           4 if last else 0))
    with open(target, "wb") as f:
        f.write(b"".join(pages))
