#!/usr/bin/python3
"""A short fleet run against the real server: 50 devices, each playing two
sounds (one stopped, one preempted then stopped). Every device must connect,
every Play must produce an is_start ... is_end stream, with no late packet
and no error.

Run:   /usr/bin/python3 tests/loopback/test_fleet.py
Environment: OPAL_SERVER, OPAL_DEVICE.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_loopback import DEVICE, Server  # noqa: E402

DEVICES = 50
SCRIPT = """
connect
wait-for connected 10000
press play
wait-for stream_start 3000
wait 400
press stop
wait-for stream_end 3000
press mode
wait-for ack
press play
wait-for stream_start 3000
wait 300
press play
wait-for stream_start 3000
wait 300
press stop
wait-for stream_end 3000
quit
"""


class FleetTests(unittest.TestCase):
    def test_fifty_devices(self):
        server = Server()
        self.addCleanup(server.kill)
        with tempfile.NamedTemporaryFile("w", suffix=".script") as script:
            script.write(SCRIPT)
            script.flush()
            p = subprocess.run(
                [DEVICE, "--fleet", str(DEVICES), "--id-prefix", "fleet-test", "--script", script.name,
                 "--server", "127.0.0.1:%d" % server.port, "--ramp", "200", "--duration", "30",
                 "--json", "--log-level", "warn"],
                capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        summary = json.loads(p.stdout.splitlines()[-1])
        print(json.dumps(summary, indent=1))
        self.assertTrue(summary["final"])
        self.assertLess(summary["elapsed_s"], 25, "every script should have ended early")
        self.assertEqual(summary["connected"], DEVICES)
        self.assertEqual(summary["failed"], 0)
        self.assertEqual(summary["script_timeouts"], 0)
        self.assertEqual(summary["errors"], {})
        # Three Plays per device, three streams, each closed by is_end
        # (Stop, preemption, Stop).
        self.assertEqual(summary["streams_started"], 3 * DEVICES)
        self.assertEqual(summary["streams_ended"], 3 * DEVICES)
        self.assertEqual(summary["press_to_first_packet_ms"]["n"], 3 * DEVICES)
        self.assertEqual(summary["stop_to_end_ms"]["n"], 2 * DEVICES)
        self.assertEqual(summary["ack_ms"]["n"], 6 * DEVICES)
        self.assertEqual(summary["late_packets"], 0)
        self.assertEqual(summary["decode_errors"], 0)
        # Audio flowed: at least 160 ms a stream, whatever the packet size.
        self.assertGreater(summary["audio_s"], DEVICES * 3 * 0.16)
        # The server agrees: one stream end per stream, per device.
        ends = [l for l in server.lines if "stream end device=fleet-test-" in l]
        self.assertEqual(len(ends), 3 * DEVICES)


    def test_script_timeouts_are_counted(self):
        server = Server()
        self.addCleanup(server.kill)
        with tempfile.NamedTemporaryFile("w", suffix=".script") as script:
            script.write("connect\nwait-for connected 5000\nwait-for stream_start 200\nquit\n")
            script.flush()
            p = subprocess.run(
                [DEVICE, "--fleet", "3", "--script", script.name, "--server",
                 "127.0.0.1:%d" % server.port, "--json", "--log-level", "warn"],
                capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        summary = json.loads(p.stdout.splitlines()[-1])
        self.assertEqual(summary["script_timeouts"], 3)  # nobody pressed Play


if __name__ == "__main__":
    unittest.main(verbosity=2)
