#!/usr/bin/python3
"""--metrics: the Prometheus endpoint of opal-server.

  SessionTests     a real server and a Python device client (connect, mode,
                   play, stop, a takeover, a disconnect while playing); the
                   endpoint scraped before and after, every scrape checked by
                   `promtool check metrics`, every counter moved exactly as
                   the session did.
  StoreAndWorkersTests  --workers 2 and a SQLite store: devices on both
                   workers and their writes add up on one page.
  PrometheusTests  a real Prometheus server, started here with its own
                   config and data folder on a free loopback port, scrapes
                   the endpoint every second; its HTTP API says up == 1 and
                   has the server's own value of a counter.
  CommandLineTests a bad --metrics value (exit 2), a port in use, off by
                   default.

Run:   /usr/bin/python3 tests/metrics/test_metrics.py [-v]
Environment: OPAL_SERVER (default <repo>/build/opal-server), and
OPAL_SERVER_WRAPPER as in tests/interop/test_interop.py.
Needs Debian's prometheus package (/usr/bin/promtool, /usr/bin/prometheus).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interop"))

import test_interop as ti  # noqa: E402
from opal_client import MODE, PLAY, STOP, OpalClient  # noqa: E402

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
METRICS_RE = re.compile(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, method="GET", timeout=5.0):
    """(status, headers, body text); HTTP errors are answers too."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def parse(text):
    """{(name, frozenset of (label, value)): float} for every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError("not a sample line: %r" % line)
        labels = frozenset(LABEL_RE.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **labels):
    """The sum over every series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


class MetricsServer(ti.ServerProcess):
    """The real server with --metrics on a free loopback port."""

    def __init__(self, extra_args=(), store="memory"):
        super().__init__(extra_args=["--metrics", "127.0.0.1:0", *extra_args], store=store)
        self.metrics_port = None

    def start(self):
        super().start()
        with self._cond:
            for line in self.lines:
                m = METRICS_RE.search(line)
                if m:
                    self.metrics_port = int(m.group(1))
        if self.metrics_port is None:
            self.kill()
            raise AssertionError("no 'metrics on http://127.0.0.1:PORT/metrics' line:\n%s"
                                 % self.log_tail())
        return self

    @property
    def metrics_url(self):
        return "http://127.0.0.1:%d/metrics" % self.metrics_port


class MetricsTestCase(unittest.TestCase):
    server_args = ()
    store = "memory"

    @classmethod
    def setUpClass(cls):
        cls.server = MetricsServer(cls.server_args, cls.store)
        cls.addClassCleanup(cls.server.kill)
        cls.server.start()
        print("\n[%s] server pid %d on %s, metrics on %s"
              % (cls.__name__, cls.server.pid, cls.server.target, cls.server.metrics_url))

    @classmethod
    def tearDownClass(cls):
        rc, err = cls.server.stop()
        if err:
            raise AssertionError("%s\n%s" % (err, cls.server.log_tail()))

    def client(self, device_id):
        c = OpalClient(self.server.target, device_id)
        self.addCleanup(c.disconnect)
        self.assertTrue(c.wait_sets(1, 5 * ti.SLOW), "%s: no SET after connecting" % device_id)
        return c

    def scrape(self):
        """The page, checked by promtool; returns its samples."""
        status, headers, body = http_get(self.server.metrics_url)
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"),
                        headers["Content-Type"])
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                               text=True, timeout=30)
        self.assertEqual(check.returncode, 0, "promtool check metrics:\n%s%s\npage:\n%s"
                         % (check.stdout, check.stderr, body))
        return parse(body)

    def wait_for(self, what, predicate, timeout=5.0):
        """Scrapes until predicate(samples) holds; returns the samples."""
        deadline = time.monotonic() + timeout * ti.SLOW
        while True:
            samples = self.scrape()
            if predicate(samples):
                return samples
            if time.monotonic() > deadline:
                self.fail("%s: not seen within %.0f s" % (what, timeout * ti.SLOW))
            time.sleep(0.05)


@unittest.skipUnless(os.access(PROMTOOL, os.X_OK), "needs promtool (Debian's prometheus package)")
class SessionTests(MetricsTestCase):
    def test_page_has_every_family_and_build_info(self):
        status, headers, body = http_get(self.server.metrics_url)
        self.assertEqual(status, 200)
        for name in ("opal_devices_known", "opal_devices_connected", "opal_streams_playing",
                     "opal_events_total", "opal_stream_starts_total", "opal_stream_ends_total",
                     "opal_takeovers_total", "opal_calls_ended_total",
                     "opal_audio_packets_sent_total", "opal_audio_sent_bytes_total",
                     "opal_pacing_lag_seconds", "opal_play_to_first_packet_seconds",
                     "opal_store_loads_total", "opal_store_write_errors_total",
                     "opal_store_queue_depth", "opal_devices_refused_total",
                     "opal_connections_refused_total", "opal_build_info",
                     "process_resident_memory_bytes", "process_cpu_seconds_total",
                     "process_open_fds"):
            self.assertIn("# TYPE %s " % name, body)
        samples = parse(body)
        info = [ls for (n, ls) in samples if n == "opal_build_info"]
        self.assertEqual(len(info), 1)
        labels = dict(info[0])
        self.assertRegex(labels["version"], r"^\d+\.\d+\.\d+$")
        self.assertRegex(labels["grpc"], r"^\d+\.\d+")
        self.assertGreater(value(samples, "process_resident_memory_bytes"), 1e6)
        self.assertGreater(value(samples, "process_open_fds"), 3)

    def test_other_paths_404_and_head(self):
        status, _, _ = http_get(self.server.metrics_url.replace("/metrics", "/"))
        self.assertEqual(status, 404)
        status, _, _ = http_get(self.server.metrics_url + "/more")
        self.assertEqual(status, 404)
        status, headers, body = http_get(self.server.metrics_url, method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(body, "")
        status, headers, _ = http_get(self.server.metrics_url, method="DELETE")
        self.assertEqual(status, 405)

    def test_counters_follow_a_session(self):
        before = self.scrape()
        c = self.client("metrics-session")
        during = self.scrape()
        self.assertEqual(value(during, "opal_devices_known") - value(before, "opal_devices_known"), 1)
        self.assertEqual(value(during, "opal_devices_connected")
                         - value(before, "opal_devices_connected"), 1)
        self.assertTrue(c.press(MODE))
        self.assertTrue(c.press(PLAY))
        self.assertIsNotNone(c.wait_packet(0, lambda p: True, 3 * ti.SLOW)[1], "no packet after Play")
        playing = self.scrape()
        self.assertEqual(value(playing, "opal_streams_playing")
                         - value(before, "opal_streams_playing"), 1)
        self.assertTrue(c.press(STOP))
        self.assertIsNotNone(c.wait_packet(0, lambda p: p.is_end, 3 * ti.SLOW)[1],
                             "no is_end packet after Stop")
        after = self.scrape()
        packets = len(c.packets)

        def delta(name, **labels):
            return total(after, name, **labels) - total(before, name, **labels)

        self.assertEqual(delta("opal_events_total", button="mode", type="press"), 1)
        self.assertEqual(delta("opal_events_total", button="play", type="press"), 1)
        self.assertEqual(delta("opal_events_total", button="stop", type="press"), 1)
        self.assertEqual(delta("opal_events_total"), 3)
        self.assertEqual(delta("opal_stream_starts_total"), 1)
        self.assertEqual(delta("opal_stream_ends_total", reason="stop"), 1)
        self.assertEqual(delta("opal_stream_ends_total"), 1)
        self.assertEqual(delta("opal_streams_playing"), 0)
        # Every packet sent reached the client before its is_end did.
        self.assertGreater(packets, 0)
        self.assertEqual(delta("opal_audio_packets_sent_total"), packets)
        self.assertGreater(delta("opal_audio_sent_bytes_total"), packets * 10)
        self.assertEqual(delta("opal_play_to_first_packet_seconds_count"), 1)
        lag = delta("opal_pacing_lag_seconds_count")
        self.assertTrue(0 < lag <= packets, "pacing lag observed %d times for %d packets"
                        % (lag, packets))
        self.assertEqual(delta("opal_takeovers_total"), 0)
        print("session: %d packets, %d bytes, play to first packet %.0f us"
              % (packets, delta("opal_audio_sent_bytes_total"),
                 1e6 * delta("opal_play_to_first_packet_seconds_sum")))

        c.disconnect()
        # Figures are independent atomics: each is waited for on its own.
        gone = self.wait_for("the device's three calls ended, the device disconnected",
                             lambda s: total(s, "opal_calls_ended_total")
                             - total(before, "opal_calls_ended_total") >= 3
                             and value(s, "opal_devices_connected")
                             == value(before, "opal_devices_connected"))
        for method in ("StatusStream", "EventStream", "ServerAudioStream"):
            self.assertEqual(total(gone, "opal_calls_ended_total", method=method)
                             - total(before, "opal_calls_ended_total", method=method), 1, method)
        self.assertEqual(value(gone, "opal_devices_connected"),
                         value(before, "opal_devices_connected"))

    def test_takeover_and_disconnect_while_playing(self):
        before = self.scrape()
        old = self.client("metrics-takeover")
        self.assertTrue(old.press(PLAY))
        self.assertIsNotNone(old.wait_packet(0, lambda p: True, 3 * ti.SLOW)[1])
        new = self.client("metrics-takeover")   # the same id: a takeover
        after = self.wait_for("the takeover counted, the old connection's sound ended",
                              lambda s: total(s, "opal_stream_ends_total")
                              > total(before, "opal_stream_ends_total")
                              and total(s, "opal_takeovers_total")
                              > total(before, "opal_takeovers_total"))
        self.assertEqual(total(after, "opal_takeovers_total")
                         - total(before, "opal_takeovers_total"), 1)
        self.assertEqual(total(after, "opal_stream_ends_total", reason="disconnect")
                         - total(before, "opal_stream_ends_total", reason="disconnect"), 1)
        ended = self.wait_for("the old calls' ABORTED",
                              lambda s: total(s, "opal_calls_ended_total", code="ABORTED")
                              - total(before, "opal_calls_ended_total", code="ABORTED") >= 3)
        self.assertEqual(total(ended, "opal_calls_ended_total", code="ABORTED")
                         - total(before, "opal_calls_ended_total", code="ABORTED"), 3)
        self.assertEqual(value(ended, "opal_devices_known") - value(before, "opal_devices_known"), 1)
        new.disconnect()
        old.disconnect()


@unittest.skipUnless(os.access(PROMTOOL, os.X_OK), "needs promtool (Debian's prometheus package)")
class StoreAndWorkersTests(MetricsTestCase):
    """Two workers and a SQLite store: figures from both workers' threads
    and the store's add up on one page."""
    server_args = ("--workers", "2")

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="opal-metrics-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.store = "sqlite:" + os.path.join(cls.tmp, "opal.db")
        super().setUpClass()

    def test_devices_on_both_workers_and_their_writes(self):
        before = self.scrape()
        clients = [self.client("metrics-worker-%d" % i) for i in range(4)]
        for c in clients:
            self.assertTrue(c.press(MODE))
        after = self.wait_for("4 devices' mode changes written",
                              lambda s: value(s, "opal_store_changes_written_total")
                              - value(before, "opal_store_changes_written_total") >= 4
                              and value(s, "opal_store_queue_depth") == 0)
        self.assertEqual(value(after, "opal_devices_connected")
                         - value(before, "opal_devices_connected"), 4)
        self.assertEqual(value(after, "opal_store_loads_total")
                         - value(before, "opal_store_loads_total"), 4)
        self.assertEqual(value(after, "opal_store_changes_written_total")
                         - value(before, "opal_store_changes_written_total"), 4)
        self.assertGreaterEqual(value(after, "opal_store_batches_written_total")
                                - value(before, "opal_store_batches_written_total"), 1)
        self.assertEqual(value(after, "opal_store_write_errors_total"), 0)
        self.assertEqual(value(after, "opal_store_load_errors_total"), 0)
        self.assertEqual(value(after, "opal_events_total", button="mode", type="press")
                         - value(before, "opal_events_total", button="mode", type="press"), 4)
        self.assertEqual(value(after, "opal_connections_accepted_total")
                         - value(before, "opal_connections_accepted_total"), 4)
        for c in clients:
            c.disconnect()


    def test_takeover_counted_once_whichever_worker_the_new_connection_reaches(self):
        # Consecutive connections go to the workers in turn: the second
        # connection of one id lands on the other worker (a hand-over), or,
        # if another connection came between, on the same one.
        before = self.scrape()
        old = self.client("metrics-handover")
        new = self.client("metrics-handover")
        after = self.wait_for("the takeover", lambda s: total(s, "opal_takeovers_total")
                              > total(before, "opal_takeovers_total"))
        time.sleep(0.3 * ti.SLOW)
        after = self.scrape()
        self.assertEqual(total(after, "opal_takeovers_total")
                         - total(before, "opal_takeovers_total"), 1)
        handed = any("handover" in l for l in self.server.device_lines("metrics-handover"))
        print("takeover %s" % ("by a hand-over between workers" if handed else "on one worker"))
        self.assertTrue(new.press(MODE))
        new.disconnect()
        old.disconnect()


class Prometheus:
    """A real Prometheus server on a free loopback port, with its own
    config and data folder, scraping `target` every second."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="opal-prometheus-")
        self.port = free_port()
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: opal\n    static_configs:\n"
                    "      - targets: ['%s']\n" % target)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file", self.config,
             "--storage.tsdb.path", os.path.join(self.dir, "data"),
             "--web.listen-address", "127.0.0.1:%d" % self.port],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)

    def query(self, expr):
        """The instant vector's values, [] when empty or not ready."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (self.port, urllib.parse.urlencode({"query": expr}))
        try:
            status, _, body = http_get(url, timeout=3)
        except (urllib.error.URLError, ConnectionError, OSError):
            return []
        if status != 200:
            return []
        data = json.loads(body)
        if data.get("status") != "success":
            return []
        return [float(r["value"][1]) for r in data["data"]["result"]]

    def wait_value(self, expr, want, timeout):
        deadline = time.monotonic() + timeout
        got = []
        while time.monotonic() < deadline:
            got = self.query(expr)
            if got == [want]:
                return got
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        return got

    def log_tail(self):
        self.log.flush()
        with open(self.log.name) as f:
            return "".join(f.readlines()[-20:])

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, True)


@unittest.skipUnless(os.access(PROMETHEUS, os.X_OK), "needs /usr/bin/prometheus (Debian's prometheus)")
class PrometheusTests(MetricsTestCase):
    def test_prometheus_scrapes_the_endpoint(self):
        c = self.client("metrics-prometheus")
        self.assertTrue(c.press(PLAY))
        self.assertIsNotNone(c.wait_packet(0, lambda p: True, 3 * ti.SLOW)[1])
        self.assertTrue(c.press(STOP))
        self.assertIsNotNone(c.wait_packet(0, lambda p: p.is_end, 3 * ti.SLOW)[1])
        ours = parse(http_get(self.server.metrics_url)[2])
        starts = value(ours, "opal_stream_starts_total")
        packets = value(ours, "opal_audio_packets_sent_total")
        self.assertEqual(starts, 1)

        prom = Prometheus("127.0.0.1:%d" % self.server.metrics_port)
        self.addCleanup(prom.close)
        up = prom.wait_value('up{job="opal"}', 1.0, 60)
        self.assertEqual(up, [1.0], "Prometheus never saw up == 1\n%s" % prom.log_tail())
        got = prom.wait_value("opal_audio_packets_sent_total", packets, 30)
        self.assertEqual(got, [packets], "Prometheus's opal_audio_packets_sent_total\n%s"
                         % prom.log_tail())
        got = prom.wait_value("opal_stream_starts_total", starts, 30)
        self.assertEqual(got, [starts])
        print("Prometheus on port %d: up 1, opal_audio_packets_sent_total %d"
              % (prom.port, packets))


class CommandLineTests(unittest.TestCase):
    def run_server(self, *args, timeout=30):
        p = subprocess.run([ti.SERVER, "--listen", "127.0.0.1:0", "--store", "memory",
                            "--log-level", "error", *args],
                           capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stderr

    def test_bad_values_exit_2_naming_the_flag(self):
        for bad in ("nonsense", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:http", ":", "::1:9100"):
            rc, err = self.run_server("--metrics", bad)
            self.assertEqual(rc, 2, "--metrics %s: %r" % (bad, err))
            lines = err.strip().splitlines()
            self.assertEqual(len(lines), 1, err)
            self.assertTrue(lines[0].startswith("opal-server: --metrics: "), lines[0])
            self.assertIn(bad, lines[0])
        print(lines[0])

    def test_port_in_use_is_one_clear_line(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            rc, err = self.run_server("--metrics", "127.0.0.1:%d" % port)
        self.assertNotEqual(rc, 0)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertIn("--metrics 127.0.0.1:%d" % port, lines[0])
        self.assertIn("in use", lines[0])
        print(lines[0])

    def test_off_by_default(self):
        srv = ti.ServerProcess()
        self.addCleanup(srv.kill)
        srv.start()
        self.assertFalse([l for l in srv.lines if "metrics on" in l])
        rc, err = srv.stop()
        self.assertIsNone(err)
        out = subprocess.run([ti.SERVER, "--help"], capture_output=True, text=True).stdout
        self.assertIn("--metrics HOST:PORT", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
