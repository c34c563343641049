#!/usr/bin/python3
"""An event flood: one raw EventStream (tests/interop/h2raw.py) that sends
RATE events a second for SECONDS without waiting for acks; the server still
acks each one, in order. At most MAX_AHEAD events are unacked at a time: a
client cannot get further ahead than the stream's window anyway, and past
it both sides would wait on each other's full socket.

In a test:  f = EventFlood(port, "dev-1", 5000, 3.0).run(); ...; f.close()
As a child process, so the flood does not share the test's interpreter
(and its lock) with a client whose latency is being measured:

    flooder.py PORT DEVICE_ID RATE SECONDS

prints {"started": true} once its stream is open, {"sent": N, "acked": M,
"elapsed": S} once every ack is in, then holds the stream open until its
stdin closes.
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interop"))

import h2raw  # noqa: E402
import opal_client as oc  # noqa: E402

MAX_AHEAD = 2000  # 18 kB of events, within the server's 64 KiB window


def event_message(button=oc.MODE, kind=oc.PRESS):
    pb2 = oc.load_pb2()
    ev = pb2.DeviceEvent(button_event=pb2.ButtonEvent(button_id=button, event=kind))
    return h2raw.grpc_message(ev.SerializeToString())


class EventFlood:
    """run() returns once every ack is in (or `ack_timeout` passed); the
    stream stays open until close(), so the device is quiet but connected
    in between."""

    def __init__(self, port, device_id, rate, seconds, ack_timeout=20.0):
        self.conn = h2raw.Connection("127.0.0.1", port, timeout=ack_timeout)
        self.stream = self.conn.open(oc.PATH_EVENT, [(b"device_id", device_id.encode())])
        self.rate, self.seconds, self.ack_timeout = rate, seconds, ack_timeout
        self.sent = 0
        self.elapsed = None

    @property
    def acked(self):
        return len(self.stream.messages)

    def run(self):
        msg = event_message()
        t0 = time.monotonic()
        while time.monotonic() - t0 < self.seconds and not self.stream.ended:
            due = min(int(self.rate * (time.monotonic() - t0)) + 1, self.acked + MAX_AHEAD)
            if due > self.sent:
                self.conn.data(self.stream, msg * (due - self.sent))
                self.sent = due
            self.conn.pump(0.002)
        self.conn.wait(lambda: self.acked >= self.sent or self.stream.ended, self.ack_timeout)
        self.elapsed = time.monotonic() - t0
        return self

    def close(self):
        self.conn.close()


def main(argv):
    port, device_id, rate, seconds = int(argv[1]), argv[2], int(argv[3]), float(argv[4])
    f = EventFlood(port, device_id, rate, seconds)
    print(json.dumps({"started": True}), flush=True)
    f.run()
    print(json.dumps({"sent": f.sent, "acked": f.acked, "elapsed": f.elapsed}), flush=True)
    sys.stdin.read()
    f.close()


if __name__ == "__main__":
    main(sys.argv)
