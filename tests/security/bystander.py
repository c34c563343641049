"""A bystander: one honest device that streams while a test attacks the server.

It is `opal-device --fleet N` (default 1) playing back to back for the whole
attack, so the fleet's own rule for a late packet (a packet that arrives
later than its due time by more than the jitter buffer) decides whether
the attack hurt it. `result()` waits for the fleet's final JSON summary.

    with Bystander(server.target, seconds=10) as b:
        attack()
    summary = b.result()   # {"late_packets": 0, "connected": 1, ...}
"""

import json
import os
import subprocess

DEVICE = os.environ.get("OPAL_DEVICE", os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "opal-device"))


class Bystander:
    def __init__(self, target, seconds=10, devices=1, prefix="bystander", extra=()):
        # 60 Plays a minute of 1.5 s each: always a stream on the way, and
        # every Play's first packet and every Stop's is_end on time too.
        self.cmd = [DEVICE, "--fleet", str(devices), "--id-prefix", prefix, "--server", target,
                    "--ramp", "1000", "--duration", str(seconds), "--play-rate", "60",
                    "--play-seconds", "1.5", "--mode-rate", "0", "--json", "--log-level", "warn",
                    *extra]
        self.seconds = seconds
        self.proc = None
        self.summary = None

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            self.stop()
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def result(self, timeout=None):
        """The fleet's final summary (a dict); raises AssertionError with the
        fleet's stderr when it failed."""
        if self.summary is not None:
            return self.summary
        try:
            out, err = self.proc.communicate(timeout=timeout or self.seconds + 60)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError("the bystander did not end within %s s" % (timeout or self.seconds + 60))
        lines = [l for l in out.splitlines() if l.strip()]
        if self.proc.returncode != 0 or not lines:
            raise AssertionError("bystander exit %s, stderr:\n%s" % (self.proc.returncode, err[-2000:]))
        self.summary = json.loads(lines[-1])
        self.summary["stderr"] = err
        return self.summary

    def assert_on_time(self, test, devices=1):
        """The bystander's devices stayed connected, streamed and had no late
        packet and no error."""
        s = self.result()
        test.assertTrue(s.get("final"), s)
        test.assertEqual(s["connected"], devices, "bystander connected; stderr:\n%s" % s["stderr"][-1500:])
        test.assertEqual(s["reconnects"], 0, "bystander reconnected")
        test.assertEqual(s["errors"], {}, "bystander calls ended with errors")
        test.assertGreater(s["streams_started"], 0, "the bystander never streamed")
        test.assertEqual(s["late_packets"], 0, "bystander late packets")
        return s
