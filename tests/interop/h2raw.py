"""A minimal raw HTTP/2 gRPC caller, for what grpcio refuses to send.

grpcio (the client side of gRPC core) rejects metadata values with
non-printable bytes before they reach the wire ("metadata was invalid"), while
the server side of gRPC core accepts them.  To test how the server treats a
device_id such as "bad\\x01id" this module opens one plaintext HTTP/2
connection, sends one request whose headers are HPACK literals (no Huffman,
no indexing), optionally a gRPC message, and reads frames until the stream's
trailers (grpc-status) arrive, the stream is reset, or a timeout passes.

For framing and flood tests `Connection` is the same client one level down:
several streams on one connection, DATA frames with any bytes (a truncated
gRPC message, a 4 GiB length prefix, the compressed flag), any content-type,
PINGs, and raw bytes; `grpc_message` builds the 5-byte gRPC prefix.

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
SETTINGS_INITIAL_WINDOW_SIZE = 0x4

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


def frame(ftype, flags, sid, payload=b""):
    """One HTTP/2 frame's bytes (for tests that write frames themselves)."""
    return _frame(ftype, flags, sid, payload)


def grpc_message(message, *, compressed=False, length=None):
    """A gRPC length-prefixed message; `length` overrides the prefix's length
    (a lie: more than follows, or 0xFFFFFFFF)."""
    n = len(message) if length is None else length
    return bytes([1 if compressed else 0]) + struct.pack(">I", n) + message


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


class Stream:
    """What one stream received: `status` and `message` from grpc-status and
    grpc-message (None until trailers), the response `headers` (with
    ':status'), `trailers`, `messages` (the gRPC messages in DATA, without
    their prefix), `data_bytes` (all DATA payload), `rst` (an RST_STREAM's error code) and `ended`."""

    def __init__(self, sid):
        self.sid = sid
        self.status = None
        self.message = None
        self.headers = []
        self.trailers = []
        self.data_frames = 0
        self.data_bytes = 0
        self._pending = b""  # the start of a message still arriving
        self._messages = []
        self.rst = None
        self.ended = False
        self._block = b""
        self._block_end = False

    @property
    def messages(self):
        return self._messages

    def _add_data(self, payload):
        self.data_frames += 1
        self.data_bytes += len(payload)
        buf, at = self._pending + payload, 0
        while len(buf) - at >= 5:
            n = int.from_bytes(buf[at + 1:at + 5], "big")
            if len(buf) - at < 5 + n:
                break
            self._messages.append(buf[at + 5:at + 5 + n])
            at += 5 + n
        self._pending = buf[at:]

    def header(self, name):
        for k, v in self.headers + self.trailers:
            if k == name:
                return v
        return None

    def _headers_done(self, hdrs):
        if not self.headers and not self._block_end:
            self.headers = hdrs
        else:
            self.trailers = hdrs
        for k, v in hdrs:
            if k == "grpc-status":
                self.status = int(v)
            elif k == "grpc-message":
                self.message = urllib.parse.unquote(v)
        if self._block_end:
            self.ended = True

    def as_dict(self):
        return {"status": self.status, "message": self.message, "headers": self.headers,
                "trailers": self.trailers, "data_frames": self.data_frames, "rst": self.rst}


class Connection:
    """One plaintext HTTP/2 connection that a test drives frame by frame.
    Frames are read only inside `wait`/`result`/`pump`; SETTINGS and PINGs
    from the server are acknowledged there, and every DATA frame is given
    back as WINDOW_UPDATE unless `auto_window` is False (a stalled reader).
    `settings`: (id, value) pairs for the client's SETTINGS frame, e.g.
    ((SETTINGS_INITIAL_WINDOW_SIZE, 1024),) for a reader with a small window.
    Use as a context manager, or call close()."""

    def __init__(self, host, port, *, timeout=5.0, auto_window=True, preface=True, settings=()):
        self.host, self.port = host, port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.auto_window = auto_window
        self.dec = HpackDecoder()
        self.streams = {}
        self.goaway = None
        self.ping_acks = 0
        self.closed = False
        self._buf = b""
        self._consumed = {}  # stream id -> DATA bytes read, not yet given back
        self._next_sid = 1
        if preface:
            body = b"".join(struct.pack(">HI", k, v) for k, v in settings)
            self.send(PREFACE + _frame(SETTINGS, 0, 0, body))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        """Any bytes, as they are. False once the server has closed (or has
        not taken them within the connection's timeout)."""
        try:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(data)
            return True
        except OSError:
            self.closed = True
            return False

    def headers_block(self, path, metadata=(), *, content_type=b"application/grpc", method=b"POST",
                      te=b"trailers"):
        fields = [(b":method", method), (b":scheme", b"http"), (b":path", path.encode()),
                  (b":authority", ("%s:%d" % (self.host, self.port)).encode())]
        if content_type is not None:
            fields.append((b"content-type", content_type))
        if te is not None:
            fields.append((b"te", te))
        return b"".join(_literal(k, v) for k, v in fields + list(metadata))

    def open(self, path, metadata=(), *, end_stream=False, **kw):
        """A new stream's HEADERS; returns its Stream."""
        sid = self._next_sid
        self._next_sid += 2
        self.streams[sid] = Stream(sid)
        flags = END_HEADERS | (END_STREAM if end_stream else 0)
        self.send(_frame(HEADERS, flags, sid, self.headers_block(path, metadata, **kw)))
        return self.streams[sid]

    def data(self, stream, payload, *, end_stream=False):
        """A DATA frame (split at 16 KiB, the default SETTINGS_MAX_FRAME_SIZE)."""
        sid = stream.sid if isinstance(stream, Stream) else stream
        chunks = [payload[i:i + 16384] for i in range(0, len(payload), 16384)] or [b""]
        out = b"".join(_frame(DATA, END_STREAM if end_stream and i == len(chunks) - 1 else 0, sid, c)
                       for i, c in enumerate(chunks))
        return self.send(out)

    def ping(self, payload=b"opalping"):
        return self.send(_frame(PING, 0, 0, payload[:8].ljust(8, b"\0")))

    def window_update(self, sid, n):
        return self.send(_frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", n)))

    def pump(self, timeout):
        """Reads and handles whatever arrives within `timeout`; False once the
        server has closed the connection."""
        return self.wait(lambda: False, timeout)

    def wait(self, predicate, timeout):
        """Reads frames until predicate() is true, the connection closes or
        `timeout` passes; returns predicate()."""
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return predicate()
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                d = b""
            if not d:
                self.closed = True
                continue
            self._buf += d
            self._frames()
        return True

    def result(self, stream, timeout):
        """Waits for the stream's end (trailers or RST_STREAM); the Stream."""
        self.wait(lambda: stream.ended, timeout)
        return stream

    def _frames(self):
        buf, at = self._buf, 0
        while len(buf) - at >= 9:
            ln = int.from_bytes(buf[at:at + 3], "big")
            if len(buf) - at < 9 + ln:
                break
            ftype, flags = buf[at + 3], buf[at + 4]
            sid = int.from_bytes(buf[at + 5:at + 9], "big") & 0x7FFFFFFF
            self._frame(ftype, flags, sid, buf[at + 9:at + 9 + ln])
            at += 9 + ln
        self._buf = buf[at:]
        self._give_window()

    def _give_window(self):
        """One WINDOW_UPDATE per stream (and one for the connection) for all
        the DATA just read, rather than a write per frame."""
        if not self._consumed:
            return
        total = sum(self._consumed.values())
        out = _frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", total))
        for sid, n in self._consumed.items():
            out += _frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", n))
        self._consumed = {}
        self.send(out)

    def _frame(self, ftype, flags, sid, payload):
        st = self.streams.get(sid)
        if ftype == SETTINGS and not flags & 1:
            self.send(_frame(SETTINGS, 1, 0))
        elif ftype == PING:
            if flags & 1:
                self.ping_acks += 1
            else:
                self.send(_frame(PING, 1, 0, payload))
        elif ftype == GOAWAY:
            self.goaway = payload
        elif st is None:
            return
        elif ftype == RST_STREAM:
            st.rst = int.from_bytes(payload[:4], "big")
            st.ended = True
        elif ftype == DATA:
            st._add_data(payload)
            if payload and self.auto_window:
                self._consumed[sid] = self._consumed.get(sid, 0) + len(payload)
            if flags & END_STREAM:
                st.ended = True
        elif ftype in (HEADERS, CONTINUATION):
            self._header_frame(st, ftype, flags, payload)

    def _header_frame(self, st, ftype, flags, payload):
        if ftype == HEADERS:
            pad = 0
            if flags & PADDED:
                pad = payload[0]
                payload = payload[1:]
            if flags & PRIORITY:
                payload = payload[5:]
            if pad:
                payload = payload[:-pad]
            st._block = payload
            st._block_end = bool(flags & END_STREAM)
        else:
            st._block += payload
        if flags & END_HEADERS:
            st._headers_done(self.dec.decode(st._block))


def grpc_call(host, port, path, metadata, *, message=None, end_stream=True, timeout=5.0):
    """One gRPC call on a fresh connection.  metadata: list of (bytes, bytes).
    message: serialized request (sent with the 5-byte gRPC prefix) or None.
    end_stream: half-close after the message (server streaming); False keeps
    the request stream open (bidi).  Returns a dict with 'status' (int or
    None), 'message', 'headers', 'trailers', 'data_frames', 'rst', 'goaway',
    'timed_out' and 'error'."""
    result = {"status": None, "message": None, "headers": [], "trailers": [],
              "data_frames": 0, "rst": None, "goaway": None, "timed_out": False, "error": None}
    try:
        conn = Connection(host, port, timeout=timeout)
    except OSError as e:
        result["error"] = "connect: %s" % e
        return result
    with conn:
        st = conn.open(path, metadata, end_stream=message is None and end_stream)
        if message is not None:
            conn.data(st, grpc_message(message), end_stream=end_stream)
        conn.wait(lambda: st.ended, timeout)
        result.update(st.as_dict())
        result["goaway"] = conn.goaway
        result["timed_out"] = not st.ended and not conn.closed
    return result
