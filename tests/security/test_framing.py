#!/usr/bin/python3
"""Wrong gRPC framing from a hostile client (issue 9), repeated with a raw
HTTP/2 client (tests/interop/h2raw.py) while a bystander device streams on
its own connection.

What gRPC core 1.51 hands the server in each case is in docs/security.md,
"Framing and floods": a stream that ends inside a message reaches our code
as no message at all. For ServerAudioStream, whose one request is the
call's payload, that is a missing request, answered with INTERNAL; on the
bidi methods it is indistinguishable from a clean half-close, which
test_truncated_event_is_not_applied pins. A compressed flag without
grpc-encoding and a wrong content-type never reach our code (no test: there
is nothing of ours to check).

Run: OPAL_SERVER=build/opal-server OPAL_DEVICE=build/opal-device \\
     /usr/bin/python3 -m unittest discover -s tests/security -p test_framing.py -v
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interop"))
sys.path.insert(0, HERE)

import h2raw  # noqa: E402
import opal_client as oc  # noqa: E402
from bystander import Bystander  # noqa: E402
from opal_client import MODE, PRESS  # noqa: E402
from test_interop import SLOW, OpalTestCase  # noqa: E402

INTERNAL = 13
OK = 0


def event_bytes(button=MODE):
    pb2 = oc.load_pb2()
    return pb2.DeviceEvent(button_event=pb2.ButtonEvent(button_id=button, event=PRESS)).SerializeToString()


def audio_request_bytes():
    return oc.load_pb2().AudioStreamRequest(start=True).SerializeToString()


def device_md(device_id):
    return [(b"device_id", device_id.encode())]


class FramingTests(OpalTestCase):

    def raw(self):
        conn = h2raw.Connection("127.0.0.1", self.server.port, timeout=5 * SLOW)
        self.addCleanup(conn.close)
        return conn

    def assert_serves_new_device(self):
        c = self.connected_client(self.new_id("after-framing"))
        s = self.press_expect_set(c, MODE)
        self.assert_state(s.leds, "idle", 1, "a new device after the framing attack")

    def test_audio_request_cut_short_is_internal(self):
        """ServerAudioStream whose request ends early: INTERNAL for that call
        only; a StatusStream on the same connection and a bystander on
        another one carry on."""
        req = audio_request_bytes()
        cases = [
            ("truncated message", h2raw.grpc_message(req, length=len(req) + 100)),
            ("4 GiB length prefix", h2raw.grpc_message(req, length=0xFFFFFFFF)),
            ("only 3 bytes of the prefix", b"\x00\x00\x00"),
            ("no message at all", b""),
        ]
        with Bystander(self.server.target, seconds=6) as b:
            conn = self.raw()
            keeper_id = self.new_id("same-conn")
            keeper = conn.open(oc.PATH_STATUS, device_md(keeper_id))
            conn.wait(lambda: len(keeper.messages) >= 2, 5 * SLOW)
            self.assertEqual(len(keeper.messages), 2, "StatusStream on the raw connection got no GET and SET")
            for what, body in cases:
                with self.subTest(case=what):
                    st = conn.open(oc.PATH_AUDIO, device_md(self.new_id("cut")))
                    conn.data(st, body, end_stream=True)
                    conn.result(st, 5 * SLOW)
                    print("ServerAudioStream, %s: grpc-status %s %r" % (what, st.status, st.message))
                    self.assertEqual(st.status, INTERNAL, "%s: %r" % (what, st.as_dict()))
                    self.assertIn("AudioStreamRequest", st.message or "")
            conn.pump(0.3)
            self.assertFalse(keeper.ended or conn.closed,
                             "the StatusStream on the same connection ended: %r" % keeper.as_dict())
            self.assert_serves_new_device()
        b.assert_on_time(self)

    def test_truncated_event_is_not_applied(self):
        """EventStream whose stream ends inside a message. gRPC core 1.51
        drops the partial message and reports the end as a clean half-close
        (chttp2_transport.cc, grpc_chttp2_maybe_complete_recv_message), so
        the call ends with OK, as after any half-close; what this pins is
        that nothing of the cut message is applied or acked, and that a
        second call on the same connection is unharmed."""
        ev = event_bytes(MODE)
        conn = self.raw()
        keeper = conn.open(oc.PATH_STATUS, device_md(self.new_id("same-conn")))
        for what, body in (("truncated", h2raw.grpc_message(ev, length=len(ev) + 50)),
                           ("4 GiB length prefix", h2raw.grpc_message(ev, length=0xFFFFFFFF))):
            with self.subTest(case=what):
                did = self.new_id("cut-event")
                st = conn.open(oc.PATH_EVENT, device_md(did))
                conn.data(st, body, end_stream=True)
                conn.result(st, 5 * SLOW)
                print("EventStream, %s: grpc-status %s, %d acks" % (what, st.status, len(st.messages)))
                self.assertTrue(st.ended, "%s: EventStream still open: %r" % (what, st.as_dict()))
                self.assertEqual(st.status, OK, "%s: gRPC 1.51 reports a half-close; got %r "
                                 "(if gRPC now says INTERNAL, update docs/security.md)" % (what, st.as_dict()))
                self.assertEqual(st.messages, [], "%s: the cut event was acked" % what)
                c = self.connected_client(did)
                self.assert_state(c.sets[0].leds, "idle", 0, "%s: the device after its cut Mode press" % what)
        conn.pump(0.3)
        self.assertFalse(keeper.ended or conn.closed, "the StatusStream on the same connection ended")
        self.assert_serves_new_device()


if __name__ == "__main__":
    unittest.main()
