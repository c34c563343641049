#!/usr/bin/python3
"""The arm64 cross build (make ARCH=arm64, build/arm64/) under qemu-aarch64
on loopback: the arm64 server with the arm64 device, and the arm64 device
with this machine's server. Each device runs a script (connect, modes, play,
stop, preempt, a natural end) and its digests must equal the server's, as in
tests/loopback/test_loopback.py, whose Server and Device run here with
qemu's command words in front.

qemu-aarch64 is called directly, so the kernel need not have binfmt_misc
handlers. `-L /` makes it load the programs' libraries as a Raspberry Pi
does: /lib/ld-linux-aarch64.so.1 and /usr/lib/aarch64-linux-gnu/, from the
:arm64 multiarch packages (scripts/install-deps.sh --cross arm64).

Run:   /usr/bin/python3 tests/arm64/test_arm64.py [-v]
Environment: OPAL_ARM64_BUILD (default <repo>/build/arm64), OPAL_SERVER
(this machine's server, default <repo>/build/opal-server), QEMU_AARCH64
(default qemu-aarch64).
"""

import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "loopback"))
import test_loopback  # noqa: E402
from test_loopback import REPO, Device, Server, lit  # noqa: E402

ARM64_BUILD = os.environ.get("OPAL_ARM64_BUILD") or os.path.join(REPO, "build", "arm64")
ARM_SERVER = os.path.join(ARM64_BUILD, "opal-server")
ARM_DEVICE = os.path.join(ARM64_BUILD, "opal-device")
NATIVE_SERVER = test_loopback.SERVER
QEMU = [os.environ.get("QEMU_AARCH64") or "qemu-aarch64", "-L", "/"]
# Emulated code runs 5-20 times slower (more on a busy machine): each wait
# is long, and a device's whole script may take minutes.
WAIT_MS = 30000
FINISH_S = 240

# Mode 1 played and stopped, mode 2 preempted by mode 3 (a FLAC the server
# encoded at start), mode 3 stopped, mode 0 (the short chime) to its end.
SESSION = """
    connect
    wait-for connected {w}
    press mode          # mode 1
    wait-for ack {w}
    press play
    wait-for stream_start {w}
    wait 700
    press stop
    wait-for stream_end {w}
    press mode          # mode 2
    wait-for ack {w}
    press play
    wait-for stream_start {w}
    wait 500
    press mode          # mode 3 while playing
    wait-for ack {w}
    press play          # preempt
    wait-for stream_start {w}
    wait 300
    press stop
    wait-for stream_end {w}
    press mode          # mode 4
    wait-for ack {w}
    press mode          # mode 0
    wait-for ack {w}
    press play
    wait-for stream_start {w}
    wait-for stream_end {w}
    wait 500
    quit
""".format(w=WAIT_MS)
REASONS = [(1, "stop"), (2, "preempted"), (3, "stop"), (0, "natural")]


def missing_tools():
    """What the suite needs and does not have, as one sentence (or "")."""
    for path in (ARM_SERVER, ARM_DEVICE):
        if not os.access(path, os.X_OK):
            return "%s is missing (make ARCH=arm64)" % path
    if shutil.which(QEMU[0]) is None:
        return "%s is not installed (scripts/install-deps.sh --cross arm64)" % QEMU[0]
    return ""


class Arm64Tests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        reason = missing_tools()
        if reason:
            raise AssertionError(reason)

    def test_binaries_are_aarch64(self):
        for path in (ARM_SERVER, ARM_DEVICE):
            kind = subprocess.run(["file", "-b", path], capture_output=True, text=True, check=True).stdout
            print("  %s: %s" % (os.path.relpath(path, REPO), kind.split(",")[:2]))
            self.assertIn("ARM aarch64", kind)

    def test_arm64_device_with_arm64_server(self):
        started = time.monotonic()
        server = Server(command=QEMU + [ARM_SERVER])
        self.addCleanup(server.kill)
        print("  arm64 server listening after %.1f s under qemu" % (time.monotonic() - started))
        self.play_session(server, "arm64-on-arm64")
        self.assertEqual(server.stop(), 0, "the arm64 server's exit status after SIGTERM")

    def test_arm64_device_with_native_server(self):
        self.assertTrue(os.access(NATIVE_SERVER, os.X_OK), "%s is missing (make)" % NATIVE_SERVER)
        server = Server(command=[NATIVE_SERVER])
        self.addCleanup(server.kill)
        self.play_session(server, "arm64-on-native")
        self.assertEqual(server.stop(), 0)

    def play_session(self, server, device_id):
        """The arm64 device runs SESSION against `server`; both must agree."""
        started = time.monotonic()
        d = Device(server.port, device_id, SESSION, command=QEMU + [ARM_DEVICE])
        self.addCleanup(d.kill)
        rc, err = d.finish(FINISH_S)
        self.assertEqual(rc, 0, "%s exited %s: %s\nevents: %s" % (device_id, rc, err, d.names()))
        print("  %s: script done in %.1f s; press->first packet (ms) %s; underruns %d"
              % (device_id, time.monotonic() - started,
                 [s.get("press_to_first_packet_ms") for s in d.of("stream_start")], len(d.of("underrun"))))
        self.assertEqual(len(d.of("stream_start")), 4, d.names())
        self.assertTrue(all(a["ack"] for a in d.of("ack")), d.of("ack"))
        self.assertTrue(all(e["complete"] for e in d.of("stream_end")), d.of("stream_end"))
        self.assertEqual(lit(d.of("leds")[-2]["leds"]), "#....", "idle in mode 0 after the natural end")
        # The loopback suite's own check (it reads self.server), so both
        # suites compare digests the same way.
        self.server = server
        test_loopback.LoopbackTests.assert_digests_match(self, d)
        reasons = [(int(mode), reason) for _, mode, reason, *_ in server.stream_ends(device_id)]
        self.assertEqual(reasons, REASONS)


if __name__ == "__main__":
    unittest.main(verbosity=2)
