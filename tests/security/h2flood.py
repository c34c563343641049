"""Raw HTTP/2 connections that misbehave on purpose, for tests/security/.

grpcio obeys the server's SETTINGS, so the attacks are sent by hand: many
streams before the server's SETTINGS are acknowledged, and streams opened
and reset at once ("rapid reset"). Frames and HPACK come from
tests/interop/h2raw.py.

    conn = RawConnection(port, ack_settings=False)
    conn.send(conn.open_stream(sid, "/pkg.Service/Method", [(b"device_id", b"x")]))
    outcome = conn.read_until_closed(timeout=10)  # statuses per stream, closed?
"""

import os
import socket
import struct
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "interop"))

from h2raw import (CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PING,  # noqa: E402
                   PREFACE, RST_STREAM, SETTINGS, WINDOW_UPDATE, HpackDecoder, _frame, _literal)

EVENT_PATH = "/com.opalcamera.test.DeviceService/EventStream"
STATUS_PATH = "/com.opalcamera.test.DeviceService/GetDeviceStatus"
CANCEL = 8  # RST_STREAM error code


class Outcome:
    def __init__(self):
        self.statuses = {}   # stream id -> (grpc-status, grpc-message)
        self.resets = {}     # stream id -> RST_STREAM code from the server
        self.goaway = None
        self.closed = False  # the server closed the connection
        self.timed_out = False


class RawConnection:
    def __init__(self, port, *, ack_settings=True, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.host, self.port = host, port
        self.ack_settings = ack_settings
        self.decoder = HpackDecoder()
        self.buf = b""
        # What the server lets us send (HTTP/2 flow control): the
        # connection's window, and each stream's.
        self.conn_window = 65535
        self.initial_window = 65535
        self.windows = {}
        self.send(PREFACE + _frame(SETTINGS, 0, 0))

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        """False once the server has closed the connection."""
        try:
            self.sock.settimeout(self.timeout)  # reads leave short timeouts behind
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def headers_block(self, path, metadata):
        return b"".join([
            _literal(b":method", b"POST"), _literal(b":scheme", b"http"),
            _literal(b":path", path.encode()),
            _literal(b":authority", ("%s:%d" % (self.host, self.port)).encode()),
            _literal(b"content-type", b"application/grpc"), _literal(b"te", b"trailers"),
        ] + [_literal(k, v) for k, v in metadata])

    def open_stream(self, sid, path, metadata, *, end_stream=False):
        """The bytes of a HEADERS frame opening stream `sid`."""
        flags = END_HEADERS | (END_STREAM if end_stream else 0)
        return _frame(HEADERS, flags, sid, self.headers_block(path, metadata))

    @staticmethod
    def data(sid, payload, end_stream=False):
        return _frame(DATA, END_STREAM if end_stream else 0, sid, payload)

    @staticmethod
    def reset_stream(sid, code=CANCEL):
        return _frame(RST_STREAM, 0, sid, struct.pack(">I", code))

    def read_until_closed(self, timeout, outcome=None, stop=None):
        """Reads frames until the server closes the connection, `timeout`
        passes, or stop(outcome) is true; answers pings (and SETTINGS when
        ack_settings)."""
        out = outcome or Outcome()
        deadline = time.monotonic() + timeout
        while not (stop and stop(out)):
            left = deadline - time.monotonic()
            if left <= 0:
                out.timed_out = True
                return out
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                out.timed_out = True
                return out
            except OSError:
                data = b""
            if not data:
                out.closed = True
                return out
            self.buf += data
            self._frames(out)
        return out

    def _frames(self, out):
        while len(self.buf) >= 9:
            ln = int.from_bytes(self.buf[0:3], "big")
            if len(self.buf) < 9 + ln:
                return
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload = self.buf[9:9 + ln]
            self.buf = self.buf[9 + ln:]
            if ftype == SETTINGS and not flags & 1:
                self._settings(payload)
                if self.ack_settings:
                    self.send(_frame(SETTINGS, 1, 0))
            elif ftype == WINDOW_UPDATE:
                n = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
                if sid == 0:
                    self.conn_window += n
                else:
                    self.windows[sid] = self.windows.get(sid, self.initial_window) + n
            elif ftype == PING and not flags & 1:
                self.send(_frame(PING, 1, 0, payload))
            elif ftype == GOAWAY:
                out.goaway = payload
            elif ftype == RST_STREAM:
                out.resets[sid] = int.from_bytes(payload[:4], "big")
            elif ftype in (HEADERS, CONTINUATION):
                # gRPC core sends a whole header block in one frame here.
                self._status(sid, self.decoder.decode(payload), out)
            elif ftype == DATA and payload:
                # A reader that keeps up: the server may send on.
                self.send(_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(payload))) +
                          _frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", len(payload))))

    def _settings(self, payload):
        for i in range(0, len(payload) - 5, 6):
            key, value = struct.unpack(">HI", payload[i:i + 6])
            if key == 4:  # SETTINGS_INITIAL_WINDOW_SIZE
                for sid in self.windows:
                    self.windows[sid] += value - self.initial_window
                self.initial_window = value

    def feed(self, sids, seconds, chunk=16384):
        """Sends DATA on `sids` as fast as the server's windows allow, for
        `seconds` or until the server closes the connection. Returns
        (bytes sent, Outcome)."""
        out = Outcome()
        sent = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not out.closed:
            progressed = False
            for sid in sids:
                room = min(self.conn_window, self.windows.get(sid, self.initial_window), chunk)
                if room <= 0:
                    continue
                if not self.send(_frame(DATA, 0, sid, b"\0" * room)):
                    out.closed = True
                    break
                self.conn_window -= room
                self.windows[sid] = self.windows.get(sid, self.initial_window) - room
                sent += room
                progressed = True
            self.read_until_closed(0.001 if progressed else 0.05, out)
            out.timed_out = False
        return sent, out

    @staticmethod
    def _status(sid, headers, out):
        status = message = None
        for k, v in headers:
            if k == "grpc-status":
                status = int(v)
            elif k == "grpc-message":
                message = urllib.parse.unquote(v)
        if status is not None:
            out.statuses[sid] = (status, message)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))
