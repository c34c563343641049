"""A minimal raw HTTP/2 gRPC caller, for what grpcio refuses to send.

grpcio (the client side of gRPC core) rejects metadata values with
non-printable bytes before they reach the wire ("metadata was invalid"), while
the server side of gRPC core accepts them.  To test how the server treats a
device_id such as "bad\\x01id" this module opens one plaintext HTTP/2
connection, sends one request whose headers are HPACK literals (no Huffman,
no indexing), optionally a gRPC message, and reads frames until the stream's
trailers (grpc-status) arrive, the stream is reset, or a timeout passes.

The HPACK decoder handles everything except Huffman-coded strings, which gRPC
core's encoder does not emit for non-binary headers.
"""

import socket
import struct
import time
import urllib.parse

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, PADDED, PRIORITY = 0x1, 0x4, 0x8, 0x20

STATIC_TABLE = [
    None,
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
    (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
    (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
    (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""),
    ("accept", ""), ("access-control-allow-origin", ""), ("age", ""), ("allow", ""),
    ("authorization", ""), ("cache-control", ""), ("content-disposition", ""),
    ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
    ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
    ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""),
    ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""),
    ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""),
    ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
    ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
]


class HpackError(Exception):
    pass


class HpackDecoder:
    def __init__(self):
        self.dynamic = []  # newest first

    def _int(self, buf, i, prefix):
        mask = (1 << prefix) - 1
        v = buf[i] & mask
        i += 1
        if v < mask:
            return v, i
        m = 0
        while True:
            b = buf[i]
            i += 1
            v += (b & 0x7F) << m
            m += 7
            if not b & 0x80:
                return v, i

    def _str(self, buf, i):
        huff = buf[i] & 0x80
        n, i = self._int(buf, i, 7)
        s = bytes(buf[i:i + n])
        if huff:
            raise HpackError("Huffman-coded header string (not supported by this test decoder)")
        return s.decode("latin-1"), i + n

    def _entry(self, idx):
        if idx == 0:
            raise HpackError("index 0")
        if idx < len(STATIC_TABLE):
            return STATIC_TABLE[idx]
        j = idx - len(STATIC_TABLE)
        if j >= len(self.dynamic):
            raise HpackError("dynamic index %d out of range" % idx)
        return self.dynamic[j]

    def decode(self, buf):
        out = []
        i = 0
        while i < len(buf):
            b = buf[i]
            if b & 0x80:                      # indexed
                idx, i = self._int(buf, i, 7)
                out.append(self._entry(idx))
            elif b & 0xC0 == 0x40:            # literal, incremental indexing
                idx, i = self._int(buf, i, 6)
                name = self._entry(idx)[0] if idx else None
                if name is None:
                    name, i = self._str(buf, i)
                value, i = self._str(buf, i)
                out.append((name, value))
                self.dynamic.insert(0, (name, value))
            elif b & 0xE0 == 0x20:            # dynamic table size update
                _, i = self._int(buf, i, 5)
            else:                             # literal without / never indexed
                idx, i = self._int(buf, i, 4)
                name = self._entry(idx)[0] if idx else None
                if name is None:
                    name, i = self._str(buf, i)
                value, i = self._str(buf, i)
                out.append((name, value))
        return out


def _frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def _hstr(b):
    n = len(b)
    if n < 127:
        return bytes([n]) + b
    out = bytearray([127])
    n -= 127
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + b


def _literal(name, value):
    return b"\x00" + _hstr(name) + _hstr(value)


def grpc_call(host, port, path, metadata, *, message=None, end_stream=True, timeout=5.0):
    """One gRPC call on a fresh connection.  metadata: list of (bytes, bytes).
    message: serialized request (sent with the 5-byte gRPC prefix) or None.
    end_stream: half-close after the message (server streaming); False keeps
    the request stream open (bidi).  Returns a dict with 'status' (int or
    None), 'message', 'headers', 'trailers', 'data_frames', 'rst', 'goaway'."""
    result = {"status": None, "message": None, "headers": [], "trailers": [],
              "data_frames": 0, "rst": None, "goaway": None, "timed_out": False}
    result["error"] = None
    try:
        s = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        result["error"] = "connect: %s" % e
        return result
    try:
        hdr = b"".join([
            _literal(b":method", b"POST"), _literal(b":scheme", b"http"),
            _literal(b":path", path.encode()), _literal(b":authority", ("%s:%d" % (host, port)).encode()),
            _literal(b"content-type", b"application/grpc"), _literal(b"te", b"trailers"),
        ] + [_literal(k, v) for k, v in metadata])
        out = PREFACE + _frame(SETTINGS, 0, 0)
        if message is None:
            out += _frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), 1, hdr)
        else:
            out += _frame(HEADERS, END_HEADERS, 1, hdr)
            out += _frame(DATA, END_STREAM if end_stream else 0, 1,
                          b"\x00" + struct.pack(">I", len(message)) + message)
        s.sendall(out)
        dec = HpackDecoder()
        buf = b""
        block = b""
        deadline = time.monotonic() + timeout
        seen_headers = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                result["timed_out"] = True
                return result
            s.settimeout(left)
            try:
                d = s.recv(65536)
            except socket.timeout:
                result["timed_out"] = True
                return result
            if not d:
                return result
            buf += d
            while len(buf) >= 9:
                ln = int.from_bytes(buf[0:3], "big")
                if len(buf) < 9 + ln:
                    break
                ftype, flags = buf[3], buf[4]
                sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                payload = buf[9:9 + ln]
                buf = buf[9 + ln:]
                if ftype == SETTINGS and not flags & 1:
                    s.sendall(_frame(SETTINGS, 1, 0))
                elif ftype == PING and not flags & 1:
                    s.sendall(_frame(PING, 1, 0, payload))
                elif ftype == GOAWAY:
                    result["goaway"] = payload
                elif ftype == RST_STREAM and sid == 1:
                    result["rst"] = int.from_bytes(payload[:4], "big")
                    return result
                elif ftype == DATA and sid == 1:
                    result["data_frames"] += 1
                    if payload:
                        s.sendall(_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(payload))) +
                                  _frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", len(payload))))
                    if flags & END_STREAM:
                        return result
                elif ftype in (HEADERS, CONTINUATION) and sid == 1:
                    if ftype == HEADERS:
                        pad = 0
                        if flags & PADDED:
                            pad = payload[0]
                            payload = payload[1:]
                        if flags & PRIORITY:
                            payload = payload[5:]
                        if pad:
                            payload = payload[:-pad]
                        block = payload
                        block_end_stream = bool(flags & END_STREAM)
                    else:
                        block += payload
                    if flags & END_HEADERS:
                        hdrs = dec.decode(block)
                        if not seen_headers and not block_end_stream:
                            result["headers"] = hdrs
                            seen_headers = True
                        else:
                            result["trailers"] = hdrs
                        for k, v in hdrs:
                            if k == "grpc-status":
                                result["status"] = int(v)
                            elif k == "grpc-message":
                                result["message"] = urllib.parse.unquote(v)
                        if block_end_stream:
                            return result
    except OSError as e:
        result["error"] = "socket: %s" % e
        return result
    finally:
        s.close()
