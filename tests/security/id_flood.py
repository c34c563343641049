"""A flood of device ids over raw HTTP/2, for tests of the device registry.

Each id holds one ServerAudioStream open (a device needs only one call to be
in the registry), as many on one connection as the server's SETTINGS allow
(MAX_CONCURRENT_STREAMS), the connections spread over source addresses
127.0.0.2, 127.0.0.3, ... (Linux answers all of 127/8 on lo) so that a bound
on connections per address does not cut the flood short. No thread per call:
one selector reads every connection.

    flood = H2Flood(port, ["flood-%d" % i for i in range(2000)])
    flood.open()                      # sends every call
    flood.settle()                    # waits for each call's answer
    flood.admitted(), flood.refused() # ids, and (id, grpc-status, message)
    flood.close()                     # the connections go: the calls end
"""

import os
import selectors
import socket
import struct
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interop"))

import h2raw  # noqa: E402
import opal_client as oc  # noqa: E402
from h2raw import (CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PADDED, PING,  # noqa: E402
                   PREFACE, PRIORITY, RST_STREAM, SETTINGS, _frame, _literal)

SETTINGS_MAX_CONCURRENT_STREAMS = 3


class _Conn:
    def __init__(self, port, source):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((source, 0))
        self.sock.settimeout(5.0)
        self.sock.connect(("127.0.0.1", port))
        self.authority = ("127.0.0.1:%d" % port).encode()
        self.sock.sendall(PREFACE + _frame(SETTINGS, 0, 0))
        self.buf = b""
        self.block = b""
        self.block_sid = 0
        self.block_end = False
        self.dec = h2raw.HpackDecoder()
        self.max_streams = None  # the server's, once its SETTINGS came
        self.streams = {}  # sid -> dict(id, headers, status, message)
        self.next_sid = 1
        self.closed = False

    def read_settings(self, timeout=5.0):
        """Reads until the server's first SETTINGS: its stream bound."""
        deadline = time.monotonic() + timeout
        while self.max_streams is None and time.monotonic() < deadline and not self.closed:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                self.feed(self.sock.recv(65536))
            except socket.timeout:
                pass
        if self.max_streams is None:
            self.max_streams = 100  # gRPC's default when the server names none

    def room(self):
        return 0 if self.closed else self.max_streams - len(self.streams)

    def call(self, device_id, message):
        sid = self.next_sid
        self.next_sid += 2
        hdr = b"".join([
            _literal(b":method", b"POST"), _literal(b":scheme", b"http"),
            _literal(b":path", oc.PATH_AUDIO.encode()), _literal(b":authority", self.authority),
            _literal(b"content-type", b"application/grpc"), _literal(b"te", b"trailers"),
            _literal(b"device_id", device_id.encode()),
        ])
        body = b"\x00" + struct.pack(">I", len(message)) + message
        self.sock.sendall(_frame(HEADERS, END_HEADERS, sid, hdr) + _frame(DATA, END_STREAM, sid, body))
        self.streams[sid] = {"id": device_id, "headers": False, "status": None, "message": None}

    def feed(self, data):
        if not data:
            self.closed = True
            return
        self.buf += data
        while len(self.buf) >= 9:
            ln = int.from_bytes(self.buf[0:3], "big")
            if len(self.buf) < 9 + ln:
                return
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload = self.buf[9:9 + ln]
            self.buf = self.buf[9 + ln:]
            self.frame(ftype, flags, sid, payload)

    def frame(self, ftype, flags, sid, payload):
        if ftype == SETTINGS and not flags & 1:
            for i in range(0, len(payload) - 5, 6):
                key, value = struct.unpack(">HI", payload[i:i + 6])
                if key == SETTINGS_MAX_CONCURRENT_STREAMS:
                    self.max_streams = value
            if self.max_streams is None:
                self.max_streams = 100
            self.sock.sendall(_frame(SETTINGS, 1, 0))
        elif ftype == PING and not flags & 1:
            self.sock.sendall(_frame(PING, 1, 0, payload))
        elif ftype == GOAWAY:
            self.closed = True
        elif ftype == RST_STREAM and sid in self.streams:
            self.streams[sid]["status"] = "rst %d" % int.from_bytes(payload[:4], "big")
        elif ftype in (HEADERS, CONTINUATION):
            self.headers(ftype, flags, sid, payload)

    def headers(self, ftype, flags, sid, payload):
        if ftype == HEADERS:
            pad = payload[0] if flags & PADDED else 0
            payload = payload[1:] if flags & PADDED else payload
            payload = payload[5:] if flags & PRIORITY else payload
            self.block = payload[:len(payload) - pad]
            self.block_sid, self.block_end = sid, bool(flags & END_STREAM)
        else:
            self.block += payload
        if not flags & END_HEADERS:
            return
        fields = self.dec.decode(self.block)  # every block, in order: HPACK's table
        st = self.streams.get(self.block_sid)
        if st is None:
            return
        st["headers"] = True
        for k, v in fields:
            if k == "grpc-status":
                st["status"] = int(v)
            elif k == "grpc-message":
                st["message"] = urllib.parse.unquote(v)


class H2Flood:
    def __init__(self, port, ids, *, connections_per_source=50, first_source=2):
        self.port = port
        self.ids = list(ids)
        self.connections_per_source = connections_per_source
        self.first_source = first_source
        self.conns = []
        self.sel = selectors.DefaultSelector()
        self.message = oc.load_pb2().AudioStreamRequest(start=True).SerializeToString()

    def _source(self):
        n = self.first_source + len(self.conns) // self.connections_per_source
        return "127.0.%d.%d" % (n // 250, 2 + n % 250)

    def _connection(self):
        if self.conns and self.conns[-1].room() > 0:
            return self.conns[-1]
        c = _Conn(self.port, self._source())
        c.read_settings()
        c.sock.setblocking(False)
        self.sel.register(c.sock, selectors.EVENT_READ, c)
        self.conns.append(c)
        return c

    def open(self, ids=None, per_second=None):
        """Sends a call for each id (all of them by default), at most
        `per_second` a second when given."""
        start = time.monotonic()
        for n, device_id in enumerate(self.ids if ids is None else ids):
            if per_second:
                ahead = start + n / per_second - time.monotonic()
                if ahead > 0:
                    self.pump(ahead)
            c = self._connection()
            c.sock.setblocking(True)
            c.call(device_id, self.message)
            c.sock.setblocking(False)
        return self

    def pump(self, seconds):
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for key, _ in self.sel.select(timeout=left):
                c = key.data
                try:
                    c.feed(c.sock.recv(65536))
                except BlockingIOError:
                    pass
                except OSError:
                    c.closed = True
                if c.closed:
                    self.sel.unregister(c.sock)

    def streams(self):
        return [s for c in self.conns for s in c.streams.values()]

    def settle(self, timeout=20.0, quiet=0.5):
        """Reads until every call has its answer (headers; a refused one its
        trailers too) and nothing came for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            state = [(s["headers"], s["status"]) for s in self.streams()]
            if state == last and all(h for h, _ in state):
                return self
            last = state
            self.pump(quiet)
        raise AssertionError("the flood's calls were not all answered within %s s" % timeout)

    def admitted(self):
        return [s["id"] for s in self.streams() if s["headers"] and s["status"] is None]

    def refused(self):
        return [(s["id"], s["status"], s["message"]) for s in self.streams() if s["status"] is not None]

    def close(self):
        for c in self.conns:
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
        self.conns = []
