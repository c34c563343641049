"""A test device for the Opal interop test.

It behaves like the exercise's PyQt client on the wire contract
(proto/comms.proto; docs/protocol.md, "Per call"): one channel per device,
three calls started at connect with metadata ``device_id``; StatusStream
answers every request with exactly one response; EventStream sends one
DeviceEvent and blocks until its ack; ServerAudioStream decodes every packet
with libopus (48 kHz mono).  On top of that it records everything with
arrival times (time.monotonic()) so tests can assert on it.

Run only with Debian's /usr/bin/python3 (python3-grpcio, python3-protobuf).
"""

import array
import ctypes
import importlib
import math
import os
import queue
import sys
import threading
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SERVICE = "com.opalcamera.test.DeviceService"
PATH_STATUS = "/%s/StatusStream" % SERVICE
PATH_EVENT = "/%s/EventStream" % SERVICE
PATH_AUDIO = "/%s/ServerAudioStream" % SERVICE

SAMPLE_RATE = 48000
MAX_FRAME = 5760  # 120 ms at 48 kHz, the largest Opus frame

# Button ids and event types on the wire (comms.proto).
BUTTON_1, BUTTON_2, BUTTON_3, BUTTON_4 = 0, 1, 2, 3
CONNECT, MODE, STOP, PLAY = BUTTON_1, BUTTON_2, BUTTON_3, BUTTON_4
PRESS, HOLD, RELEASE = 0, 1, 2
BUTTON_NAMES = {0: "Connect", 1: "Mode", 2: "Stop", 3: "Play"}
EVENT_NAMES = {0: "PRESS", 1: "HOLD", 2: "RELEASE"}

_pb2 = None


def load_pb2():
    """Imports comms_pb2 from $OPAL_PY_GEN (default <repo>/build/gen/python)."""
    global _pb2
    if _pb2 is None:
        gen = os.environ.get("OPAL_PY_GEN") or os.path.join(REPO, "build", "gen", "python")
        if not os.path.isfile(os.path.join(gen, "comms_pb2.py")):
            raise RuntimeError("comms_pb2.py not found in %s (set OPAL_PY_GEN or run make)" % gen)
        if gen not in sys.path:
            sys.path.insert(0, gen)
        _pb2 = importlib.import_module("comms_pb2")
    return _pb2


def serialize(msg):
    """Request serializer: protobuf messages as usual, raw bytes as they are
    (so tests can put malformed or oversized messages on the wire)."""
    if isinstance(msg, (bytes, bytearray)):
        return bytes(msg)
    return msg.SerializeToString()


# --------------------------------------------------------------------------
# Opus decoding through ctypes
# --------------------------------------------------------------------------

_opus = None


def _libopus():
    global _opus
    if _opus is None:
        lib = ctypes.CDLL("libopus.so.0")
        lib.opus_decoder_create.restype = ctypes.c_void_p
        lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.opus_decode.restype = ctypes.c_int
        lib.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32,
                                    ctypes.POINTER(ctypes.c_int16), ctypes.c_int, ctypes.c_int]
        lib.opus_decoder_destroy.restype = None
        lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
        lib.opus_strerror.restype = ctypes.c_char_p
        lib.opus_strerror.argtypes = [ctypes.c_int]
        _opus = lib
    return _opus


class OpusDecoder:
    """One libopus decoder, 48 kHz mono."""

    def __init__(self):
        lib = _libopus()
        err = ctypes.c_int(0)
        self._dec = lib.opus_decoder_create(SAMPLE_RATE, 1, ctypes.byref(err))
        if err.value != 0 or not self._dec:
            raise RuntimeError("opus_decoder_create failed: %d" % err.value)
        self._buf = (ctypes.c_int16 * MAX_FRAME)()

    def decode(self, data):
        """Returns (ret, pcm): ret is opus_decode's return (samples, or a
        negative error); pcm an array('h') of the decoded samples (empty on
        error).  Empty data is reported as an error (-1000) rather than handed
        to the decoder, which would treat it as packet loss."""
        if not data:
            return -1000, array.array("h")
        ret = _libopus().opus_decode(self._dec, bytes(data), len(data), self._buf, MAX_FRAME, 0)
        if ret <= 0:
            return ret, array.array("h")
        pcm = array.array("h", bytes(memoryview(self._buf).cast("B")[: ret * 2]))
        return ret, pcm

    def close(self):
        if self._dec:
            _libopus().opus_decoder_destroy(self._dec)
            self._dec = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def opus_error_text(ret):
    if ret == -1000:
        return "empty data"
    try:
        return _libopus().opus_strerror(ret).decode()
    except Exception:
        return str(ret)


# --------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------

class Packet:
    __slots__ = ("t", "is_start", "is_end", "data", "ret", "pcm")

    def __init__(self, t, is_start, is_end, data, ret, pcm):
        self.t = t
        self.is_start = is_start
        self.is_end = is_end
        self.data = data
        self.ret = ret
        self.pcm = pcm

    @property
    def ok(self):
        return self.ret > 0

    @property
    def seconds(self):
        return max(self.ret, 0) / SAMPLE_RATE

    def __repr__(self):
        flags = ("S" if self.is_start else "") + ("E" if self.is_end else "")
        return "<Packet t=%.3f %s len=%d ret=%d>" % (self.t, flags or "-", len(self.data), self.ret)


class SetRecord:
    """One SET as the client applied it: leds = (led_1..led_5) rgba, an absent
    LED recorded as 0 (black), like the exercise client; present = which of
    led_1..led_5 the message carried."""
    __slots__ = ("t", "leds", "present", "msg")

    def __init__(self, t, leds, present, msg):
        self.t = t
        self.leds = leds
        self.present = present
        self.msg = msg

    @property
    def lit(self):
        return lit_pattern(self.leds)

    def __repr__(self):
        return "<SET t=%.3f %s %s>" % (self.t, " ".join("%08x" % v for v in self.leds), describe_pattern(self.leds))


def lit_pattern(leds):
    """On/off view of led_1..led_5 (lit = rgba non-zero)."""
    return tuple(v != 0 for v in leds)


def mode_marks():
    """docs/leds.md: the LEDs each mode owns, as on/off tuples. Modes 0-4 own
    led_(k+1); modes 5-14 own a pair, neighbours first, then wider gaps."""
    marks = [tuple(i == k for i in range(5)) for k in range(5)]
    for gap in range(1, 5):
        for first in range(5 - gap):
            marks.append(tuple(i in (first, first + gap) for i in range(5)))
    return marks


MODE_MARKS = mode_marks()


def pattern_state(leds):
    """Reads (state, mode) from the on/off pattern: idle lights only the
    mode's mark, playing lights everything but it. Returns None for a
    pattern that is neither."""
    lit = lit_pattern(leds)
    for mode, mark in enumerate(MODE_MARKS):
        if lit == mark:
            return ("idle", mode)
        if lit == tuple(not v for v in mark):
            return ("playing", mode)
    return None


def describe_pattern(leds):
    lit = "".join("#" if v else "." for v in lit_pattern(leds))
    st = pattern_state(leds)
    return "[%s]%s" % (lit, "" if st is None else " %s mode %d" % st)


def rms(samples):
    if not samples:
        return 0.0
    return math.sqrt(sum(x * x for x in samples) / len(samples))


def pcm_of(packets, max_seconds=None):
    out = array.array("h")
    limit = None if max_seconds is None else int(max_seconds * SAMPLE_RATE)
    for p in packets:
        out.extend(p.pcm)
        if limit is not None and len(out) >= limit:
            del out[limit:]
            break
    return out


def audio_seconds(packets):
    return sum(p.seconds for p in packets)


def framing_errors(packets):
    """Checks is_start/is_end framing over a packet log: a sound starts with
    is_start, ends with is_end, packets in between have both false, and
    nothing arrives between an is_end and the next is_start.  Returns a list
    of error strings (empty when fine)."""
    errors = []
    in_sound = False
    for i, p in enumerate(packets):
        if p.is_start:
            if in_sound:
                errors.append("packet %d: is_start inside a sound (previous sound had no is_end)" % i)
            in_sound = True
        elif not in_sound:
            errors.append("packet %d: outside a sound (no is_start before it)" % i)
        if p.is_end:
            in_sound = False
    return errors


def split_sounds(packets):
    """Splits a packet log into sounds (lists of packets), each starting at an
    is_start packet.  The last sound may still be open (no is_end)."""
    sounds = []
    for p in packets:
        if p.is_start or not sounds:
            sounds.append([])
        sounds[-1].append(p)
    return sounds


# --------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------

_CLOSE = object()


def _queue_iter(q):
    """Request generator fed from a queue; _CLOSE ends it (half-close)."""
    while True:
        item = q.get()
        if item is _CLOSE:
            return
        yield item


class CallEnd:
    __slots__ = ("code", "details", "t")

    def __init__(self, code, details, t):
        self.code = code
        self.details = details
        self.t = t

    def __repr__(self):
        return "%s(%r)" % (self.code.name if self.code is not None else None, self.details)


class OpalClient:
    """One device.  Like the exercise client: one channel, three calls with
    metadata device_id, AudioStreamRequest(start=True).

    separate_connection=True gives the channel its own subchannel pool, so each
    OpalClient has its own TCP connection like a separate client process.
    credentials (grpc.ssl_channel_credentials) makes it a TLS client;
    channel_options are added to the channel's (e.g. the TLS target name).
    """

    def __init__(self, target, device_id, *, audio=True, metadata=None,
                 separate_connection=True, event_timeout=5.0, connect=True,
                 set_reply="success", credentials=None, channel_options=()):
        self.pb2 = load_pb2()
        self.set_reply = set_reply  # what this device answers to every SET
        self.target = target
        self.device_id = device_id
        self.metadata = ((("device_id", device_id),) if metadata is None else metadata)
        self.want_audio = audio
        self.separate_connection = separate_connection
        self.event_timeout = event_timeout
        self.credentials = credentials
        self.channel_options = list(channel_options)

        self._cond = threading.Condition()
        self.requests = []        # (t, DeviceStatusRequest)
        self.responses = []       # (t, DeviceStatusResponse) we sent
        self.sets = []            # SetRecord
        self.leds = [0, 0, 0, 0, 0]   # led_1..led_5 as painted
        self.led0 = 0x00FF00FF    # power LED: on while connected (device-driven)
        self.packets = []         # Packet
        self.acks = []            # (t, bool) every DeviceEventResponse received
        self.events_sent = []     # (t, event-or-bytes)
        self.ended = {}           # "status"/"event"/"audio" -> CallEnd
        self.last_press_sent = None
        self.last_press_acked = None

        self.channel = None
        self._calls = {}
        self._threads = []
        self._press_lock = threading.Lock()
        self._ack_q = queue.Queue()
        self._status_q = None
        self._event_q = None
        self._decoder = None
        self.connected = False
        if connect:
            self.connect()

    # ---- connection -------------------------------------------------------

    def connect(self):
        assert not self.connected
        pb2 = self.pb2
        opts = [("grpc.use_local_subchannel_pool", 1)] if self.separate_connection else []
        opts += self.channel_options
        if self.credentials is not None:
            self.channel = grpc.secure_channel(self.target, self.credentials, options=opts)
        else:
            self.channel = grpc.insecure_channel(self.target, options=opts)
        self._status_q = queue.Queue()
        self._event_q = queue.Queue()
        self._ack_q = queue.Queue()
        with self._cond:
            self.ended = {}
        status = self.channel.stream_stream(
            PATH_STATUS, request_serializer=serialize,
            response_deserializer=pb2.DeviceStatusRequest.FromString)
        event = self.channel.stream_stream(
            PATH_EVENT, request_serializer=serialize,
            response_deserializer=pb2.DeviceEventResponse.FromString)
        self._calls = {}
        self._calls["status"] = status(_queue_iter(self._status_q), metadata=self.metadata)
        self._calls["event"] = event(_queue_iter(self._event_q), metadata=self.metadata)
        if self.want_audio:
            audio = self.channel.unary_stream(
                PATH_AUDIO, request_serializer=serialize,
                response_deserializer=pb2.AudioPacket.FromString)
            self._calls["audio"] = audio(pb2.AudioStreamRequest(start=True), metadata=self.metadata)
        self._threads = []
        for name, fn in (("status", self._status_loop), ("event", self._event_loop),
                         ("audio", self._audio_loop)):
            if name in self._calls:
                th = threading.Thread(target=fn, args=(self._calls[name],),
                                      name="%s-%s" % (self.device_id, name), daemon=True)
                th.start()
                self._threads.append(th)
        self.connected = True
        return self

    def disconnect(self, join_timeout=5.0):
        """Like pressing Connect again: cancel all three calls, close the channel."""
        if not self.connected:
            return
        self.connected = False
        for call in self._calls.values():
            try:
                call.cancel()
            except Exception:
                pass
        for q in (self._status_q, self._event_q):
            if q is not None:
                q.put(_CLOSE)
        self._ack_q.put(_CLOSE)
        try:
            self.channel.close()
        except Exception:
            pass
        for th in self._threads:
            th.join(join_timeout)
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None

    close = disconnect

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.disconnect()

    def _record_end(self, name, call, exc):
        t = time.monotonic()
        if exc is not None:
            end = CallEnd(exc.code(), exc.details(), t)
        else:
            try:
                end = CallEnd(call.code(), call.details(), t)
            except Exception as e:  # pragma: no cover
                end = CallEnd(None, repr(e), t)
        with self._cond:
            self.ended[name] = end
            self._cond.notify_all()

    # ---- StatusStream ----------------------------------------------------

    def _device_status(self):
        pb2 = self.pb2
        st = pb2.DeviceStatus()
        leds = [self.led0] + list(self.leds)
        for i, v in enumerate(leds):
            # The exercise client reports its painted colours as 0xRRGGBBFF.
            getattr(st, "led_%d" % i).rgba = ((v & 0xFFFFFF00) | 0xFF) & 0xFFFFFFFF
        for i in range(1, 5):
            setattr(st, "button_%d" % i, pb2.DeviceStatus.RELEASED)
        st.battery_level = 1.0
        return st

    def _status_loop(self, call):
        pb2 = self.pb2
        exc = None
        try:
            for req in call:
                t = time.monotonic()
                kind = req.WhichOneof("request")
                if kind == "get":
                    resp = pb2.DeviceStatusResponse(state=self._device_status())
                elif kind == "set":
                    s = getattr(req, "set")
                    present = tuple(s.HasField("led_%d" % i) for i in range(1, 6))
                    leds = tuple(getattr(s, "led_%d" % i).rgba if present[i - 1] else 0
                                 for i in range(1, 6))
                    with self._cond:
                        self.leds = list(leds)
                        self.sets.append(SetRecord(t, leds, present, req))
                    resp = pb2.DeviceStatusResponse(status=self.set_reply)
                else:
                    resp = pb2.DeviceStatusResponse(status="error: empty request")
                with self._cond:
                    self.requests.append((t, req))
                    self.responses.append((time.monotonic(), resp))
                    self._cond.notify_all()
                self._status_q.put(resp)
        except grpc.RpcError as e:
            exc = e
        self._record_end("status", call, exc)

    # ---- EventStream -----------------------------------------------------

    def _event_loop(self, call):
        exc = None
        try:
            for resp in call:
                t = time.monotonic()
                with self._cond:
                    self.acks.append((t, resp.ack))
                    self._cond.notify_all()
                self._ack_q.put((t, resp.ack))
        except grpc.RpcError as e:
            exc = e
        self._record_end("event", call, exc)
        self._ack_q.put(_CLOSE)

    def send_event(self, event):
        """Puts one DeviceEvent (or raw bytes) on the EventStream without
        waiting for its ack (only for malformed/oversized message tests)."""
        t = time.monotonic()
        with self._cond:
            self.events_sent.append((t, event))
        self._event_q.put(event)
        return t

    def press(self, button, event=PRESS, timeout=None):
        """Sends one ButtonEvent and blocks until its DeviceEventResponse,
        like the exercise client.  Returns the ack.  Raises AssertionError if
        no ack arrives within timeout or the call ends first."""
        pb2 = self.pb2
        timeout = self.event_timeout if timeout is None else timeout
        be = pb2.ButtonEvent()
        be.button_id = button   # raw ints accepted: proto3 enums are open
        be.event = event
        ev = pb2.DeviceEvent(button_event=be)
        what = "%s %s" % (BUTTON_NAMES.get(button, "button_id=%d" % button),
                          EVENT_NAMES.get(event, "event=%d" % event))
        with self._press_lock:
            self.last_press_sent = self.send_event(ev)
            try:
                item = self._ack_q.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError("%s: no DeviceEventResponse within %.1f s for %s"
                                     % (self.device_id, timeout, what))
            if item is _CLOSE:
                raise AssertionError("%s: EventStream ended (%r) before the ack for %s"
                                     % (self.device_id, self.ended.get("event"), what))
            self.last_press_acked = item[0]
            return item[1]

    # ---- ServerAudioStream -----------------------------------------------

    def _audio_loop(self, call):
        exc = None
        self._decoder = OpusDecoder()
        try:
            for pkt in call:
                t = time.monotonic()
                if pkt.is_start:
                    # The exercise client opens a new WAV file (a new sound);
                    # decode it from a fresh decoder state.
                    self._decoder.close()
                    self._decoder = OpusDecoder()
                ret, pcm = self._decoder.decode(pkt.data)
                rec = Packet(t, pkt.is_start, pkt.is_end, bytes(pkt.data), ret, pcm)
                with self._cond:
                    self.packets.append(rec)
                    self._cond.notify_all()
        except grpc.RpcError as e:
            exc = e
        self._record_end("audio", call, exc)

    # ---- waiting helpers -------------------------------------------------

    def wait_for(self, predicate, timeout):
        """Waits until predicate() (evaluated under the client's lock) is true."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def wait_sets(self, n, timeout):
        """Waits until at least n SETs have arrived; returns the SET list copy."""
        self.wait_for(lambda: len(self.sets) >= n, timeout)
        with self._cond:
            return list(self.sets)

    def wait_set_where(self, start, pred, timeout):
        """Waits for a SET with index >= start satisfying pred(SetRecord)."""
        found = []

        def check():
            for s in self.sets[start:]:
                if pred(s):
                    found.append(s)
                    return True
            return False
        self.wait_for(check, timeout)
        return found[0] if found else None

    def wait_packet(self, start, pred, timeout):
        """Waits for a packet with index >= start satisfying pred(Packet);
        returns (index, packet) or (None, None)."""
        found = []

        def check():
            for i in range(start, len(self.packets)):
                if pred(self.packets[i]):
                    found.append((i, self.packets[i]))
                    return True
            return False
        self.wait_for(check, timeout)
        return found[0] if found else (None, None)

    def wait_audio_seconds(self, start, seconds, timeout):
        """Waits until packets[start:] hold >= seconds of audio or end a sound
        (is_end)."""
        def check():
            pk = self.packets[start:]
            return audio_seconds(pk) >= seconds or any(p.is_end for p in pk)
        return self.wait_for(check, timeout)

    def wait_ended(self, names, timeout):
        names = [names] if isinstance(names, str) else list(names)
        self.wait_for(lambda: all(n in self.ended for n in names), timeout)
        with self._cond:
            return {n: self.ended.get(n) for n in names}

    def snapshot(self):
        with self._cond:
            return (len(self.requests), len(self.sets), len(self.packets), len(self.acks))

    def packets_since(self, start):
        with self._cond:
            return list(self.packets[start:])

    def sets_since(self, start):
        with self._cond:
            return list(self.sets[start:])


def open_raw_call(target, path, metadata, *, messages=(), timeout=5.0, separate_connection=True):
    """Starts one call outside OpalClient (for bad-metadata tests).  For the
    bidi methods the request stream stays open (like the exercise client's)
    after sending `messages`; for ServerAudioStream the request is
    AudioStreamRequest(start=True).  Returns a RawCall."""
    return RawCall(target, path, metadata, messages=messages, timeout=timeout,
                   separate_connection=separate_connection)


class RawCall:
    def __init__(self, target, path, metadata, *, messages=(), timeout=5.0, separate_connection=True):
        pb2 = load_pb2()
        opts = [("grpc.use_local_subchannel_pool", 1)] if separate_connection else []
        self.channel = grpc.insecure_channel(target, options=opts)
        self.q = queue.Queue()
        for m in messages:
            self.q.put(m)
        if path == PATH_AUDIO:
            mc = self.channel.unary_stream(path, request_serializer=serialize,
                                           response_deserializer=pb2.AudioPacket.FromString)
            self.call = mc(pb2.AudioStreamRequest(start=True), metadata=metadata, timeout=timeout)
        else:
            des = (pb2.DeviceStatusRequest.FromString if path == PATH_STATUS
                   else pb2.DeviceEventResponse.FromString)
            mc = self.channel.stream_stream(path, request_serializer=serialize, response_deserializer=des)
            self.call = mc(_queue_iter(self.q), metadata=metadata, timeout=timeout)

    def result(self):
        """Iterates the call to its end; returns (code, details, responses)."""
        responses = []
        try:
            for r in self.call:
                responses.append(r)
        except grpc.RpcError as e:
            return e.code(), e.details(), responses
        return self.call.code(), self.call.details(), responses

    def close(self):
        self.q.put(_CLOSE)
        try:
            self.call.cancel()
        except Exception:
            pass
        self.channel.close()
