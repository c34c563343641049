#!/usr/bin/python3
"""Overload degrades, never collapses (issue 10 item 5): past --max-streams,
or with pacing running later than --max-pacing-lag-ms, a Play that would
start a new stream is refused with ack=false, a log line and a count; the
streams already playing go on and no connection is lost.

  MaxStreamsTests   --max-streams 3: a fleet of 3 plays the long sound; 3
                    more devices press Play and get ack=false and no audio,
                    the log says why, the fleet's streams get every packet
                    with none late and nobody is disconnected; once the
                    fleet stops, Play is taken again
  PacingLagTests    the server pinned to one core, a fleet of 60 pressing
                    Play over and over; once streams play, the server goes
                    to nice 19 and two busy competitors the test starts
                    (and stops) take that core:
                    Plays are refused for pacing lag (--max-pacing-lag-ms 5)
                    and every device stays connected (the streams'
                    lateness is reported, not asserted: the server is
                    starved on purpose)

Run:   /usr/bin/python3 tests/overload/test_overload.py [-v] [Class[.test]]
Env:   OPAL_SERVER, OPAL_DEVICE (the binaries).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interop"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "security"))

from bystander import DEVICE  # noqa: E402
from opal_client import PLAY, OpalClient  # noqa: E402
from test_interop import SLOW, ServerProcess  # noqa: E402

LONG_MODE_SCRIPT = """# mode 2 (the 80 s sound), play {ms} ms, stop
connect
wait-for connected 20000
press mode
wait-for ack 20000
press mode
wait-for ack 20000
press play
wait-for stream_start 20000
wait {ms}
press stop
wait-for stream_end 20000
quit
"""


def run_fleet(test, args, timeout):
    """Starts `opal-device --fleet ...`; returns the process (killed at cleanup)."""
    proc = subprocess.Popen([DEVICE, "--json", "--log-level", "warn"] + args,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def end():
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    test.addCleanup(end)
    proc.timeout = timeout
    return proc


def fleet_summary(test, proc):
    out, err = proc.communicate(timeout=proc.timeout)
    lines = [l for l in out.splitlines() if l.strip()]
    test.assertTrue(lines, "fleet printed no summary (exit %s):\n%s" % (proc.returncode, err[-2000:]))
    s = json.loads(lines[-1])
    test.assertTrue(s.get("final"), s)
    s["stderr"] = err
    return s


def start_server(test, args, prefix=()):
    server = ServerProcess(extra_args=list(args))
    server.cmd = list(prefix) + server.cmd
    test.addCleanup(server.kill)
    server.start()
    return server


def wait_lines(server, pattern, n, timeout):
    """The server's log lines matching `pattern` once there are `n`, or
    what there is at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        with server._cond:
            found = [l for l in server.lines if re.search(pattern, l)]
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def scrape_metrics(server):
    """The server's /metrics page (--metrics 127.0.0.1:0: the port is logged)."""
    line = wait_lines(server, r"metrics on http://\S+/metrics", 1, 5 * SLOW)
    assert line, "no metrics line in the log:\n" + server.log_tail()
    url = re.search(r"(http://\S+/metrics)", line[0]).group(1)
    with urllib.request.urlopen(url, timeout=5 * SLOW) as page:
        return page.read().decode()


class MaxStreamsTests(unittest.TestCase):
    def test_plays_past_the_bound_are_refused_and_streams_stay_on_time(self):
        server = start_server(self, ["--max-streams", "3", "--max-pacing-lag-ms", "0",
                                     "--metrics", "127.0.0.1:0"])
        tmp = tempfile.mkdtemp(prefix="opal-overload-")
        self.addCleanup(shutil.rmtree, tmp, True)
        script = os.path.join(tmp, "long.script")
        with open(script, "w") as f:
            f.write(LONG_MODE_SCRIPT.format(ms=int(6000 * SLOW)))
        fleet = run_fleet(self, ["--fleet", "3", "--id-prefix", "player", "--server", server.target,
                                 "--script", script, "--ramp", "1000",
                                 "--duration", str(int(60 * SLOW))], 90 * SLOW)
        started = wait_lines(server, r"stream start device=player", 3, 20 * SLOW)
        self.assertEqual(len(started), 3, "the fleet's 3 streams did not start:\n" + server.log_tail())

        extras = []
        for i in range(3):
            c = OpalClient(server.target, "extra-%d" % i)
            self.addCleanup(c.disconnect)
            self.assertTrue(c.wait_sets(1, 5 * SLOW), "extra-%d got no SET" % i)
            extras.append(c)
        for c in extras:
            self.assertFalse(c.press(PLAY), "%s: Play acked past --max-streams 3" % c.device_id)
        refused = wait_lines(server, r"refused \d+ Play\(s\).*--max-streams 3", 1, 5 * SLOW)
        self.assertTrue(refused, "no log line says why Play was refused:\n" + server.log_tail())
        self.assertIn("3 streams playing", refused[0])
        for c in extras:
            lines = server.device_lines(c.device_id)
            self.assertTrue(any("ack=false" in l and "server at capacity" in l for l in lines), lines)
            self.assertEqual(c.packets, [], "%s got audio after a refused Play" % c.device_id)

        s = fleet_summary(self, fleet)
        self.assertEqual(fleet.returncode, 0, s["stderr"][-2000:])
        self.assertEqual((s["connected"], s["failed"], s["reconnects"]), (3, 0, 0), s)
        self.assertEqual((s["streams_started"], s["streams_ended"]), (3, 3), s)
        self.assertEqual(s["late_packets"], 0, "the streams playing were late: %s" % s)
        self.assertEqual(s["errors"], {}, s)
        ends = wait_lines(server, r"stream end device=player.*reason=stop", 3, 10 * SLOW)
        self.assertEqual(len(ends), 3, server.log_tail())
        for line in ends:  # every packet up to the Stop went out (packets=SENT/TOTAL)
            sent = int(re.search(r"packets=(\d+)/", line).group(1))
            size = re.search(r"packet_ms=(\d+)", line)
            ms = int(size.group(1)) if size else 20
            self.assertGreater(sent * ms, 5000, line)  # 6 s of audio and more, whatever the packet size

        # Capacity came back: the same refused device plays now, and none
        # of the refused devices lost a call.
        self.assertTrue(extras[0].press(PLAY), "Play refused with no stream playing")
        for c in extras:
            self.assertEqual(c.ended, {}, "%s lost a call: %r" % (c.device_id, c.ended))
        self.assertIn('opal_plays_refused_total{reason="max_streams"} 3\n', scrape_metrics(server))
        for c in extras:
            c.disconnect()
        code, why = server.stop()
        self.assertEqual(code, 0, why)
        counts = [l for l in server.lines if "Play refused" in l]
        self.assertTrue(counts and "refused 3 times at --max-streams" in counts[-1],
                        "shutdown counts: %r" % counts)


def renice(pid, nice):
    """Every thread of `pid` (nice is per thread) to `nice`."""
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            os.setpriority(os.PRIO_PROCESS, int(tid), nice)
        except ProcessLookupError:
            pass  # a thread that ended meanwhile


def busy_competitor(test, cpu):
    """A process spinning on `cpu` until the test ends."""
    proc = subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, "-c", "while True: pass"],
                            stdin=subprocess.DEVNULL)

    def end():
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    test.addCleanup(end)
    return proc


class PacingLagTests(unittest.TestCase):
    def test_a_starved_server_refuses_plays_and_keeps_every_connection(self):
        if not shutil.which("taskset"):
            self.skipTest("taskset is not installed")
        cpu = sorted(os.sched_getaffinity(0))[0]
        server = start_server(self, ["--max-pacing-lag-ms", "5"], prefix=["taskset", "-c", str(cpu)])
        n = 60
        seconds = int(12 * SLOW)
        fleet = run_fleet(self, ["--fleet", str(n), "--id-prefix", "starved", "--server", server.target,
                                 "--ramp", "1000", "--duration", str(seconds), "--play-rate", "60",
                                 "--play-seconds", "3", "--mode-rate", "0"], seconds + 90 * SLOW)
        started = wait_lines(server, r"stream start device=starved", 10, 20 * SLOW)
        self.assertGreaterEqual(len(started), 10, "streams did not start:\n" + server.log_tail())
        renice(server.pid, 19)
        competitors = [busy_competitor(self, cpu), busy_competitor(self, cpu)]
        refused = wait_lines(server, r"refused \d+ Play\(s\).*most packets went out more than 5 ms late",
                             1, seconds + 10)
        s = fleet_summary(self, fleet)
        self.assertTrue(refused, "no Play was refused for pacing lag:\n" + server.log_tail())
        self.assertEqual((s["connected"], s["failed"], s["reconnects"]), (n, 0, 0),
                         "devices lost to load: %s\n%s" % (s, s["stderr"][-1500:]))
        self.assertGreater(s["streams_started"], 0, s)
        self.assertNotIn("UNAVAILABLE", s["errors"], s)
        for proc in competitors:  # the server gets its core back to shut down in time
            proc.kill()
            proc.wait()
        renice(server.pid, 0)
        print("\n  starved server: %d streams started, %d late packets of %d; %s"
              % (s["streams_started"], s["late_packets"], s["packets"], refused[0].split(": ", 1)[-1]),
              file=sys.stderr)
        code, why = server.stop()
        self.assertEqual(code, 0, why)
        counts = [l for l in server.lines if "Play refused" in l]
        self.assertTrue(counts and not re.search(r" 0 times with pacing late", counts[-1]), counts)


if __name__ == "__main__":
    unittest.main()
