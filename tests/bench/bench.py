#!/usr/bin/python3
"""Opal server benchmark: the real server and a fleet of simulated devices
(`opal-device --fleet N`) on this machine, over loopback.

Scenarios (docs/performance.md describes them and the method):
  single     1 device, 100 Play/Stop cycles: press -> first packet, Stop -> is_end
  load       1,000 connected, ~10 % playing: latencies under load, CPU, RSS
  idle       10,000 connected, idle: connect time, server RSS per device
  store      the load mix against --store sqlite:FILE, then --store redis://
             (a private redis-server): the store's write figures from the
             server's log, latencies beside the load scenario's (memory)
  nginx      300 streaming, directly and through nginx (deploy/nginx/opal.conf,
             addresses changed), back to back: CPU per stream-second, latencies
  workers    1,000 streaming against --workers 1 and 2 back to back (CPU per
             stream-second), then the largest N for --workers 2, beside the
             streaming scenario's
  packets    300 streaming with --packet-ms 20 and with negotiated packets
             (the default, 120 ms) back to back: server and fleet CPU per
             stream-second and RSS; then the largest N with 20 ms packets,
             beside the streaming scenario's (negotiated)
  streaming  N streaming the 80 s sound at once, N raised until late packets
             or errors appear: the largest N with none over 60 s

Every scenario gets a fresh server (and, for store and nginx, its own
redis-server or nginx, stopped at its end, also on an error or Ctrl-C).
Both processes' CPU (utime+stime from /proc/PID/stat, as % of one core) and
RSS (VmRSS) are sampled throughout and reported over the measured window
(nginx's and redis-server's too, where they run). Prints a markdown table; --json FILE
dumps the raw figures, --markdown FILE writes the table for
docs/performance.md. A scenario that cannot be measured (fleet exit code,
no summary, server death, timeout) shows its error in its row; the harness
goes on and exits 1 at the end. A target missed is shown, never hidden, but
does not change the exit code.

A full run takes 19-22 minutes (each streaming search has its own bounded
share of it, FULL_*_SHARE_S); --quick about 3 minutes.

Run:   /usr/bin/python3 tests/bench/bench.py [--quick] [--only store,nginx,...]
       (make bench, make bench-quick)
Env:   OPAL_SERVER, OPAL_DEVICE override the binaries (default build/...).
"""

import argparse
import calendar
import json
import math
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_services import Nginx, RedisServer, ServiceError  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.environ.get("OPAL_SERVER") or os.path.join(REPO, "build", "opal-server")
DEVICE = os.environ.get("OPAL_DEVICE") or os.path.join(REPO, "build", "opal-device")
ASSETS = os.path.join(REPO, "assets")
CLK_TCK = os.sysconf("SC_CLK_TCK")
SAMPLE_S = 0.25          # CPU/RSS sampling period
# Time budgets (s). Each streaming search (1 worker; 2 workers) gets its own
# share, counted from its start: a step is not started when it would end past
# it, nor past the whole run's budget (counted from the start of the run).
FULL_BUDGET_S = 1320     # the whole full run should end within ~22 minutes
FULL_STREAM_SHARE_S = 340    # ~4 steps of 60 s streaming, ~80 s each
FULL_WORKERS_SHARE_S = 260   # ~3 more steps for --workers 2
FULL_PACKETS_SHARE_S = 240   # ~3 more steps for --packet-ms 20
QUICK_BUDGET_S = 300
QUICK_STREAM_SHARE_S = 60    # 2 steps of 10 s, ~25 s each
QUICK_WORKERS_SHARE_S = 60
QUICK_PACKETS_SHARE_S = 60
SCENARIOS = ("single", "load", "idle", "store", "nginx", "workers", "packets", "streaming")
DISTURBED_PCT = 25       # other processes' CPU (% of one core) that spoils a window


# ---------------------------------------------------------------- /proc

def proc_sample(pid):
    """(cpu seconds, RSS kB, threads) of a live process, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            return None
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        rss = threads = 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        return cpu, rss, threads
    except (OSError, ValueError, IndexError):
        return None


def box_busy():
    """(busy seconds, total seconds) over all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    total = sum(v[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


class Sampler(threading.Thread):
    """Samples the server's and the fleet's CPU and RSS, the box's CPU and,
    if extra_pids is given (a function returning the pids of another
    service, such as nginx's master and workers), those processes' summed,
    every SAMPLE_S seconds: a list of (t, server, fleet, box, extra)."""

    def __init__(self, server_pid, extra_pids=None):
        super().__init__(daemon=True)
        self.server_pid = server_pid
        self.fleet_pid = None
        self.extra_pids = extra_pids
        self.samples = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            self.take()
            self.stopping.wait(SAMPLE_S)

    def take_extra(self):
        """(cpu seconds, RSS kB, threads, pids) summed over extra_pids()."""
        if not self.extra_pids:
            return None
        pids = self.extra_pids()
        got = [(pid, proc_sample(pid)) for pid in pids]
        got = [(pid, x) for pid, x in got if x]
        if not got:
            return None
        return (sum(x[0] for _, x in got), sum(x[1] for _, x in got), sum(x[2] for _, x in got),
                frozenset(pid for pid, _ in got))

    def take(self):
        s = (time.monotonic(), proc_sample(self.server_pid),
             proc_sample(self.fleet_pid) if self.fleet_pid else None, box_busy(), self.take_extra())
        with self.lock:
            self.samples.append(s)
        return s

    def stop(self):
        self.stopping.set()
        self.join(5)

    def at(self, t, who):
        """The last sample at or before t with a figure for who (1 server,
        2 fleet, 4 extra); the first one after t if none."""
        with self.lock:
            good = [s for s in self.samples if s[who] is not None]
        before = [s for s in good if s[0] <= t]
        if before:
            return before[-1]
        return good[0] if good else None

    def window(self, t0, t1, who):
        """CPU % of one core, RSS at the end, peak RSS and threads of one
        process (or, for 4, the extra processes summed) over [t0, t1]."""
        a, b = self.at(t0, who), self.at(t1, who)
        if not a or not b or b[0] - a[0] < 0.2:
            return None
        with self.lock:
            inside = [s[who][1] for s in self.samples if s[who] and t0 <= s[0] <= t1]
        w = {"cpu_pct": round(100.0 * (b[who][0] - a[who][0]) / (b[0] - a[0]), 1),
             "rss_kb": b[who][1], "rss_peak_kb": max(inside + [b[who][1]]),
             "threads": b[who][2], "window_s": round(b[0] - a[0], 1)}
        if who == 4:
            w["processes"] = len(b[4][3])
            if a[4][3] != b[4][3]:
                # a process that ended inside the window takes its CPU with it
                w["processes_changed"] = True
        return w

    def box_window(self, t0, t1):
        a, b = self.at(t0, 3), self.at(t1, 3)
        if not a or not b or b[3][1] - a[3][1] <= 0:
            return None
        ncpu = os.cpu_count() or 1
        return round(100.0 * ncpu * (b[3][0] - a[3][0]) / (b[3][1] - a[3][1]), 1)


# ---------------------------------------------------------------- processes

class ScenarioError(Exception):
    pass


def describe_exit(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit code %d" % rc


def tail(path, n=5):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return lines[-n:]


def kill(proc, grace=5.0):
    """SIGTERM, then SIGKILL, the one process we started. Returns its code."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


STORE_LINE = re.compile(
    r"store (\S+): (\d+) changes written in (\d+) batches over (\d+) s; change handed to written "
    r"p50 ([\d.]+) ms p99 ([\d.]+) ms max ([\d.]+) ms; queue max (\d+)")


class Server:
    """A fresh opal-server on a free loopback port; store is its --store URL
    (memory: nothing kept)."""

    def __init__(self, tmpdir, tag, extra_args=(), store="memory"):
        self.log_path = os.path.join(tmpdir, "server-%s.log" % tag)
        self.extra_args = list(extra_args)
        self.store = store
        self.proc = None
        self.port = None

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [SERVER, "--listen", "127.0.0.1:0", "--assets", ASSETS, "--log-level", "info",
             "--store", self.store] + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(self.log_path, errors="replace") as f:
                m = re.search(r"listening on [^ ]*:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                raise ScenarioError("server did not start (%s): %s" % (
                    describe_exit(self.proc.returncode), " | ".join(tail(self.log_path, 3))))
            time.sleep(0.05)
        raise ScenarioError("server did not log its port within 20 s")

    def died(self):
        return self.proc is not None and self.proc.poll() is not None

    def stop(self):
        """Stops the server; returns (exit description or None when it
        stopped cleanly, log figures)."""
        rc = kill(self.proc, grace=15)
        self.log.close()
        lines = warn = 0
        problems = []
        counts, reasons = {}, {}
        lead_ms, starts, lags = 150.0, {}, []
        stores = []
        with open(self.log_path, errors="replace") as f:
            for line in f:
                m = STORE_LINE.search(line)
                if m:
                    stores.append({"store": m.group(1), "changes": int(m.group(2)), "batches": int(m.group(3)),
                                   "over_s": int(m.group(4)), "p50": float(m.group(5)),
                                   "p99": float(m.group(6)), "max": float(m.group(7)),
                                   "queue_max": int(m.group(8)), "at": line.split(None, 1)[0]})
                m = re.match(r"(\S+Z) \w+\s+stream (start|end) device=(\S+) (.*)", line)
                if m:
                    pacing_lag(m, starts, lags, lead_ms)
                m = re.search(r"listening on .*\(lead (\d+) ms", line)
                if m:
                    lead_ms = float(m.group(1))
                lines += 1
                parts = line.split(None, 2)
                if len(parts) >= 2 and parts[1] in ("warn", "error"):
                    warn += 1
                    if len(problems) < 5:
                        problems.append(line.rstrip()[:200])
                if len(parts) == 3:
                    word = parts[2].split(" ", 1)[0]
                    if word in ("connect", "takeover", "disconnect", "event"):
                        counts[word] = counts.get(word, 0) + 1
                    m = re.match(r"stream end .*reason=(\S+)", parts[2])
                    if m:
                        reasons[m.group(1)] = reasons.get(m.group(1), 0) + 1
        bad = None if rc == 0 else describe_exit(rc)
        return bad, {"log_lines": lines, "log_warn_error": warn, "log_problems": problems,
                     "log_counts": counts, "stream_end_reasons": reasons,
                     "pacing_lag_ms": percentiles(lags), "store_lines": stores}


def log_time(stamp):
    """Seconds (since the epoch, UTC) of a log line's 2026-11-25T01:47:07.063Z."""
    return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) + float(stamp[19:-1] or 0)


def pacing_lag(m, starts, lags, lead_ms):
    """The server's own lateness, from its log: packet i of a stream is due
    at start + position(i) - lead. When a stream ends, how far past its due
    time the last regular packet went out, to within a packet (20 ms): by
    Stop or a new Play (the is_end packet goes out at once, after the last
    regular one), by the sound's natural end (the last packet goes out when
    due), or cut off by a disconnect (the packets sent so far)."""
    stamp, what, dev, rest = m.groups()
    t = log_time(stamp)
    if what == "start":
        dur = re.search(r"packets=(\d+) duration_ms=(\d+)", rest)
        if dur and int(dur.group(1)):
            starts[dev] = (t, float(dur.group(2)) / int(dur.group(1)))
        return
    st = starts.pop(dev, None)
    end = re.search(r"reason=(\S+) .*packets=(\d+)/", rest)
    if not st or not end:
        return
    sent = int(end.group(2)) - (2 if end.group(1) in ("stop", "preempted") else 1)
    # The start line counts the sound's 20 ms packets; the end line what the
    # device was sent, in packets of packet_ms (a few may be shorter where
    # the coding changes: to within a packet, as above).
    size = re.search(r"packet_ms=(\d+)", rest)
    per_ms = float(size.group(1)) if size else st[1]
    due_ms = per_ms * sent - lead_ms
    if due_ms > 0:
        lags.append(max(0.0, (t - st[0]) * 1000.0 - due_ms))


def percentiles(xs):
    """Nearest-rank p50/p99/max, like the fleet's."""
    if not xs:
        return None
    xs = sorted(xs)
    rank = lambda p: xs[max(0, min(len(xs) - 1, int(math.ceil(p / 100.0 * len(xs))) - 1))]
    return {"n": len(xs), "p50": rank(50), "p99": rank(99), "max": xs[-1]}


def run_fleet(server, sampler, tmpdir, tag, args, timeout_s, via=None):
    """Runs the fleet to its end, against the server or, if given, against
    `via` (a proxy in front of it: an object with .port, .died() and
    .name); returns (summaries with their arrival time, start time, other
    stdout lines). Raises ScenarioError."""
    out_path = os.path.join(tmpdir, "fleet-%s.err" % tag)
    port = via.port if via else server.port
    cmd = [DEVICE, "--server", "127.0.0.1:%d" % port, "--json", "--progress", "1"] + args
    summaries, other = [], []
    with open(out_path, "w") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=err, text=True, errors="replace")
    sampler.fleet_pid = proc.pid

    def read():
        with open(os.path.join(tmpdir, "fleet-%s.out" % tag), "w") as keep:
            for line in proc.stdout:
                keep.write(line)
                take(line, time.monotonic())

    def take(line, now):
        if True:
            try:
                obj = json.loads(line)
            except ValueError:
                other.append(line.rstrip()[:200])
                return
            if isinstance(obj, dict) and obj.get("event") == "summary":
                summaries.append((now, obj))
            else:
                other.append(line.rstrip()[:200])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = t0 + timeout_s
        while proc.poll() is None:
            if server.died():
                sampler.take()
                raise ScenarioError("server died during the run (%s): %s" % (
                    describe_exit(server.proc.returncode), " | ".join(tail(server.log_path, 2))))
            if via and via.died():
                sampler.take()
                raise ScenarioError("%s died during the run (%s)" % (via.name, describe_exit(via.proc.returncode)))
            if time.monotonic() > deadline:
                raise ScenarioError("fleet still running after %d s; killed" % timeout_s)
            time.sleep(0.1)
        reader.join(10)
    finally:
        sampler.take()
        kill(proc)
        sampler.fleet_pid = None
    rc = proc.returncode
    if rc != 0:
        raise ScenarioError("fleet %s: %s" % (describe_exit(rc), " | ".join(tail(out_path, 3)) or "(no stderr)"))
    finals = [s for t, s in summaries if s.get("final")]
    if not finals:
        raise ScenarioError("fleet exited 0 without a final summary (%d progress summaries, "
                            "%d other lines%s)" % (len(summaries), len(other),
                                                   ": " + other[-1] if other else ""))
    if server.died():
        raise ScenarioError("server died during the run (%s)" % describe_exit(server.proc.returncode))
    return summaries, t0, other, out_path


# ---------------------------------------------------------------- scenarios

def lat(d):
    """A latency dict from the summary, or None."""
    if not isinstance(d, dict) or not d.get("n"):
        return None
    return d


def fmt_ms(v):
    return "%.2f" % v if v < 10 else "%.1f" % v if v < 100 else "%.0f" % v


def fmt_lat(d, keys=("p50", "p95", "p99", "max")):
    if not d:
        return "no samples"
    return ", ".join("%s %s" % (k, fmt_ms(d[k])) for k in keys if k in d) + " ms (n=%d)" % d["n"]


def fmt_kb(kb):
    return "%.1f MB" % (kb / 1024.0) if kb >= 10240 else "%d kB" % kb


def fmt_proc(w):
    if not w:
        return "not sampled"
    return "CPU %.1f %% of one core, RSS %s (peak %s), %d threads" % (
        w["cpu_pct"], fmt_kb(w["rss_kb"]), fmt_kb(w["rss_peak_kb"]), w["threads"])


def anomalies(final, expect_streams=True):
    """What in a final summary says something went wrong."""
    out = []
    n = final.get("devices")
    if final.get("failed"):
        out.append("%d devices never connected" % final["failed"])
    if final.get("reconnects"):
        out.append("%d reconnects" % final["reconnects"])
    errs = {k: v for k, v in (final.get("errors") or {}).items() if v}
    if errs:
        out.append("errors " + ", ".join("%s %d" % kv for kv in sorted(errs.items())))
    if final.get("late_packets"):
        out.append("%d late packets" % final["late_packets"])
    for k in ("decode_errors", "script_timeouts"):
        if final.get(k):
            out.append("%s %d" % (k.replace("_", " "), final[k]))
    if expect_streams and final.get("streams_started") != final.get("streams_ended"):
        out.append("streams started %s, ended %s" % (final.get("streams_started"), final.get("streams_ended")))
    for k in ("connected",):
        if k in final and n is not None and final[k] not in (n, 0):
            out.append("%d of %d connected at the end" % (final[k], n))
    return out


def measure(tag, args, timeout_s, tmpdir, expect_streams=True, server_args=(), store="memory", proxy=None,
            service=None):
    """One fleet run against a fresh server (with --store `store`): the
    final summary and CPU/RSS of both processes over the measured window
    (from the first progress summary with every device connected to the
    final one). With proxy (a function (server port, tag) -> a service such
    as bench_services.Nginx, not started), the fleet connects through that
    service, started after the server and stopped before it, and its
    processes' CPU/RSS are sampled too ("service", summed over its
    processes). With service (a running one, such as the store's
    redis-server: .name, .pids()), its CPU/RSS are sampled the same way."""
    res = {"tag": tag, "fleet_args": args, "server_args": list(server_args), "store": store}
    server = Server(tmpdir, tag, server_args, store)
    sampler = via = None
    try:
        server.start()
        if proxy:
            via = proxy(server.port, tag)
            try:
                via.start()
            except ServiceError as e:
                raise ScenarioError(str(e))
        sampled = via or service
        if sampled:
            res["service_name"] = sampled.name
        sampler = Sampler(server.proc.pid, sampled.pids if sampled else None)
        sampler.start()
        time.sleep(1.0)  # settle: the "before" RSS
        before = sampler.take()[1]
        if before is None:
            raise ScenarioError("server gone before the fleet started")
        res["server_rss_before_kb"] = before[1]
        summaries, t0, other, fleet_err = run_fleet(server, sampler, tmpdir, tag, args, timeout_s, via)
        res["other_stdout_lines"] = len(other)
        res["max_connected"] = max(int(s.get("connected") or 0) for t, s in summaries)
        final = [s for t, s in summaries if s.get("final")][-1]
        res["final"] = final
        # Times come from elapsed_s (fleet start ~ t0), which holds even if
        # stdout was block-buffered; arrival times say whether it was.
        progress = [(t, s) for t, s in summaries if not s.get("final")]
        n = final.get("devices") or 0
        everyone = [s for t, s in summaries if n and s.get("connected") == n]
        t_end = t0 + float(final.get("elapsed_s") or (summaries[-1][0] - t0))
        if everyone:
            t_start = t0 + float(everyone[0].get("elapsed_s", 0))
            t_last_all = t0 + float(everyone[-1].get("elapsed_s", 0))
            res["all_connected_by_s"] = everyone[0].get("elapsed_s")
        else:
            after_ramp = [s for t, s in progress if s.get("ramp_s") is not None]
            t_start = t0 + float((after_ramp or [s for t, s in progress] or [final])[0].get("elapsed_s", 0))
            t_last_all = t_end
            res["all_connected_by_s"] = None
        if t_end - t_start < 0.5:  # a run too short for a window: use all of it
            t_start = t0
        res["window_s"] = round(t_end - t_start, 1)
        res["server"] = sampler.window(t_start, t_end, 1)
        res["fleet"] = sampler.window(t_start, t_end, 2)
        res["box_cpu_pct"] = sampler.box_window(t_start, t_end)
        if sampled:
            res["service"] = sampler.window(t_start, t_end, 4)
            if res["service"] and res["service"].get("processes_changed"):
                res.setdefault("notes", []).append(
                    "%s's processes changed during the window: its CPU is a lower bound" % sampled.name)
        with_fleet = sampler.at(t_last_all, 1)
        if with_fleet and n:
            res["server_rss_with_fleet_kb"] = with_fleet[1][1]
            res["server_rss_per_device_kb"] = round((with_fleet[1][1] - before[1]) / n, 1)
        if res["fleet"] and n:
            res["fleet_rss_per_device_kb"] = round(res["fleet"]["rss_kb"] / n, 1)
        if len(progress) >= 3 and progress[-1][0] - progress[0][0] < 0.3 * (
                float(progress[-1][1].get("elapsed_s", 0)) - float(progress[0][1].get("elapsed_s", 0))):
            res.setdefault("notes", []).append(
                "progress summaries arrived in bursts: the fleet's stdout is not flushed per line")
        res["anomalies"] = anomalies(final, expect_streams)
        other = other_cpu(res)
        if other is not None and other > DISTURBED_PCT:
            res["disturbed"] = True
            res.setdefault("notes", []).append(
                "DISTURBED: other processes used %.0f %% CPU during the window; rerun on a quiet machine" % other)
        fleet_lines = tail(fleet_err, 10 ** 7)
        warned = [l for l in fleet_lines if re.match(r"\S+ (warn|error) ", l)]
        if warned:
            res.setdefault("notes", []).append("fleet logged %d warn/error lines, first: %s" % (
                len(warned), warned[0][:200]))
        lost = {}
        for l in fleet_lines:
            m = re.search(r"connection lost: (.*?)(; next attempt.*)?$", l)
            if m:
                why = re.sub(r"\d+", "N", m.group(1))
                lost[why] = lost.get(why, 0) + 1
        res["fleet_connections_lost"] = lost
        if lost:
            res.setdefault("notes", []).append("fleet connections lost: " + ", ".join(
                "%d × %s" % (v, k) for k, v in sorted(lost.items(), key=lambda kv: -kv[1])[:3]))
        keys = ("elapsed_s", "connected", "failed", "reconnects", "streams_started", "streams_ended",
                "packets", "late_packets", "errors")
        res["progress"] = [dict((k, s.get(k)) for k in keys) for t, s in summaries]
        first_late = next((s for t, s in summaries if s.get("late_packets")), None)
        if first_late:
            res["first_late_at_s"] = first_late.get("elapsed_s")
        res["status"] = "ok"
    except ScenarioError as e:
        res["status"] = "error"
        res["error"] = str(e)
    finally:
        if sampler:
            sampler.stop()
        if via:
            rc = via.stop()
            lines, kinds = via.problems()
            res["service_log"] = {"error_lines": len(lines), "first": lines[:3], "kinds": kinds}
            if lines:
                res.setdefault("notes", []).append("%s logged %d error lines: %s" % (
                    via.name, len(lines), ", ".join("%d × %s" % (v, k) for k, v in
                                                    sorted(kinds.items(), key=lambda kv: -kv[1])[:3])))
            if rc not in (0, None) and res.get("status") == "ok":
                res["status"] = "error"
                res["error"] = "%s did not stop cleanly (%s)" % (via.name, describe_exit(rc))
        if server.proc:
            bad, logs = server.stop()
            res["server_log"] = logs
            if bad and res.get("status") == "ok":
                res["status"] = "error"
                res["error"] = "server did not stop cleanly on SIGTERM (%s)" % bad
    return res


def script_file(tmpdir, name, lines):
    path = os.path.join(tmpdir, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def cycles_script(n):
    lines = ["# %d Play/Stop cycles (tests/bench/bench.py)" % n,
             "connect", "wait-for connected 10000"]
    for _ in range(n):
        lines += ["press play", "wait-for stream_start 5000", "wait 200",
                  "press stop", "wait-for stream_end 5000"]
    return lines + ["quit"]


def streaming_script(seconds):
    return ["# mode 2 (the 80 s sound), play %d s, stop (tests/bench/bench.py)" % seconds,
            "connect", "wait-for connected 60000",
            "press mode", "wait-for ack 20000",
            "press mode", "wait-for ack 20000",
            "press play", "wait-for stream_start 20000",
            "wait %d" % (seconds * 1000),
            "press stop", "wait-for stream_end 20000", "quit"]


def check(value, ok, text):
    """A target cell: the target and whether the figure meets it."""
    if value is None:
        return "%s: not measured" % text
    return "%s: %s" % (text, "met" if ok else "**MISSED**")


def scenario_single(cfg, tmpdir):
    n = cfg["cycles"]
    path = script_file(tmpdir, "cycles.script", cycles_script(n))
    r = measure("single", ["--fleet", "1", "--id-prefix", "single", "--script", path,
                           "--duration", str(int(n * 1.0 + 30))], n * 1.0 + 90, tmpdir)
    r["name"] = "1 device, %d Play/Stop cycles" % n
    if r["status"] == "ok":
        f = r["final"]
        p, s = lat(f.get("press_to_first_packet_ms")), lat(f.get("stop_to_end_ms"))
        r["rows"] = [
            ("press → first packet", fmt_lat(p), ""),
            ("Stop → is_end", fmt_lat(s), check(s and s["p99"], s and s["p99"] < 10, "p99 < 10 ms")),
        ]
        if f.get("streams_ended", 0) < n:
            r["anomalies"].append("%s of %d cycles completed" % (f.get("streams_ended"), n))
    return r


def load_mix(cfg, prefix):
    """The fleet args of the 1,000-connected mix, and the run's time limit:
    Play twice a minute for 3 s (~10 % playing), Mode twice a minute."""
    n, dur = cfg["load_n"], cfg["load_s"]
    return (["--fleet", str(n), "--id-prefix", prefix, "--play-rate", "2", "--play-seconds", "3",
             "--mode-rate", "2", "--duration", str(dur)], dur + n / 1000.0 + 60)


def scenario_load(cfg, tmpdir):
    n, dur = cfg["load_n"], cfg["load_s"]
    args, timeout_s = load_mix(cfg, "load")
    r = measure("load", args, timeout_s, tmpdir, expect_streams=False)
    r["name"] = "%s connected, ~10 %% playing, %d s" % (format(n, ","), dur)
    if r["status"] == "ok":
        f = r["final"]
        p, s, a = lat(f.get("press_to_first_packet_ms")), lat(f.get("stop_to_end_ms")), lat(f.get("ack_ms"))
        loaded = n >= 1000
        r["rows"] = [
            ("press → first packet", fmt_lat(p),
             check(p and p["p99"], p and p["p99"] < 10, "p99 < 10 ms with 1,000 connected")
             if loaded else "(target is for 1,000 connected)"),
            ("Stop → is_end", fmt_lat(s, ("p50", "p99", "max")),
             check(s and s["p99"], s and s["p99"] < 10, "p99 < 10 ms")),
            ("event → ack", fmt_lat(a, ("p50", "p99", "max")), ""),
            ("streams", "%s started, %s ended, %s packets, %s late" % (
                f.get("streams_started"), f.get("streams_ended"), f.get("packets"), f.get("late_packets")), ""),
            ("server pacing lag at stream end", fmt_lat(lag_of(r), ("p50", "p99", "max")), ""),
            ("RSS per device", "server %s kB, fleet %s kB" % (
                r.get("server_rss_per_device_kb"), r.get("fleet_rss_per_device_kb")), ""),
        ]
    return r


def scenario_idle(cfg, tmpdir):
    n = cfg["idle_n"]
    r = measure("idle", ["--fleet", str(n), "--id-prefix", "idle", "--play-rate", "0",
                         "--mode-rate", "0", "--duration", str(cfg["idle_s"])],
                cfg["idle_s"] + n / 1000.0 + 90, tmpdir, expect_streams=False)
    r["name"] = "%s connected, idle" % format(n, ",")
    if r["status"] == "ok":
        f = r["final"]
        connected = f.get("connected")
        per = r.get("server_rss_per_device_kb")
        by = r.get("all_connected_by_s")
        r["rows"] = [
            ("connect time", "ramp_s %s s at --ramp 1000/s; all %s connected by %s" % (
                f.get("ramp_s"), format(n, ","),
                "%s s (1 s resolution)" % by if by is not None
                else "never (at most %s)" % format(r.get("max_connected", 0), ",")),
             check(connected, by is not None and not f.get("failed"), "10,000 connected at once")
             if n >= 10000 else "(target is 10,000)"),
            ("server RSS per idle device", "%s kB ((%s − %s) / %d)" % (
                per, fmt_kb(r.get("server_rss_with_fleet_kb", 0)), fmt_kb(r["server_rss_before_kb"]), n),
             check(per, per is not None and per <= 100, "≤ 100 kB")),
            ("fleet RSS per device", "%s kB" % r.get("fleet_rss_per_device_kb"), ""),
        ]
    return r


def streaming_step(n, cfg, tmpdir, server_args=(), tag="", secs=None, proxy=None):
    """N devices streaming the 80 s sound for secs (cfg["stream_s"]) s at
    once, against a fresh server (or through proxy, see measure); "good"
    when nothing went wrong."""
    secs = secs or cfg["stream_s"]
    path = script_file(tmpdir, "stream-%d-%ds.script" % (n, secs), streaming_script(secs))
    ramp = 1000
    r = measure("stream-%d%s" % (n, tag), ["--fleet", str(n), "--id-prefix", "s%d" % n, "--script", path,
                                           "--ramp", str(ramp), "--duration", str(secs + 60)],
                secs + n / float(ramp) + 120, tmpdir, server_args=server_args, proxy=proxy)
    r["n"] = n
    r["stream_s"] = secs
    if r["status"] == "ok":
        f = r["final"]
        bad = []
        if f.get("late_packets"):
            bad.append("%d late packets" % f["late_packets"])
        errs = {k: v for k, v in (f.get("errors") or {}).items() if v}
        if errs:
            bad.append("errors " + ", ".join("%s %d" % kv for kv in sorted(errs.items())))
        if f.get("failed"):
            bad.append("%d never connected" % f["failed"])
        if f.get("reconnects"):
            bad.append("%d reconnects" % f["reconnects"])
        if f.get("streams_started", 0) < n:
            bad.append("only %s of %d streams started" % (f.get("streams_started"), n))
        if f.get("streams_ended", 0) < f.get("streams_started", 0):
            bad.append("%s streams not ended" % (f.get("streams_started", 0) - f.get("streams_ended", 0)))
        r["good"] = not bad
        r["why"] = bad
    else:
        r["good"] = False
        r["why"] = [r["error"]]
    return r


def cpu_ms_per_stream_s(step, who=("server",)):
    """CPU per second of audio per stream, in ms: the server's, or the sum
    over who (e.g. ("server", "service"): the server and nginx)."""
    if step.get("status") != "ok" or not step.get("n"):
        return None
    ws = [step.get(k) for k in who]
    if not all(ws):
        return None
    return sum(w["cpu_pct"] for w in ws) * 10.0 / step["n"]


def fmt_opt(v):
    return fmt_ms(v) if v is not None else "?"


def fmt_per(v):
    return "%.3f" % v if v is not None else "?"


def ratio(a, b, fmt="%.2f×"):
    """b / a as text, or None when either is missing or a is 0."""
    if a is None or b is None or not a:
        return None
    return fmt % (float(b) / a)


def p99_of(final, key):
    d = lat((final or {}).get(key))
    return d["p99"] if d else None


def add_search(r, search, cfg, prefix, title):
    """A scenario's streaming search: its rows (named with prefix), its
    steps' table (titled title) and its largest good N, into result r."""
    rows, extra = search_rows(search, cfg, prefix)
    r["rows"] += rows
    r["anomalies"] += extra
    r["steps"], r["stream_s"], r["budget_note"] = search["steps"], cfg["stream_s"], search["note"]
    r["search_title"] = title
    r["last_good_n"] = search["good"]["n"] if search["good"] else None
    r["search_grain"] = cfg["stream_grain"]


def scenario_workers(cfg, tmpdir, share_s, deadline):
    """The same streaming fleet against --workers 1 and --workers 2, one
    right after the other, so the ratio is measured side by side; then the
    largest N with zero late packets for --workers 2, searched like the
    streaming scenario (the 2-worker run just made is its first step)."""
    n = cfg["workers_n"]
    runs = [streaming_step(n, cfg, tmpdir, ["--workers", str(k)], "-w%d" % k) for k in (1, 2)]
    r = {"name": "%s streaming, 1 vs 2 workers, %d s each" % (format(n, ","), cfg["stream_s"]),
         "tag": "workers", "status": "ok", "rows": [], "anomalies": [], "workers_runs": runs}
    for k, st in zip((1, 2), runs):
        if st["status"] != "ok":
            r["rows"].append(("%d worker%s" % (k, "s" if k > 1 else ""), "ERROR " + st["error"], ""))
            r["anomalies"].append("the %d-worker run could not be measured: %s" % (k, st["error"]))
            continue
        s, fl = st.get("server") or {}, st.get("fleet") or {}
        per = cpu_ms_per_stream_s(st)
        r["rows"].append(("%d worker%s" % (k, "s" if k > 1 else ""),
                          "server CPU %s %% (%s ms per stream-second), fleet CPU %s %%, box %s; "
                          "%s; pacing lag %s" % (
                              s.get("cpu_pct"), fmt_per(per), fl.get("cpu_pct"), box_text(st),
                              "0 late packets, good" if st["good"] else "; ".join(st["why"]),
                              fmt_lat(lag_of(st), ("p50", "p99", "max")) if lag_of(st) else "?"), ""))
    a, b = (cpu_ms_per_stream_s(st) for st in runs)
    if a and b:
        r["rows"].append(("ratio, 2 workers / 1 worker", "%.2f× the server CPU per stream-second" % (b / a),
                          "same fleet, same minute; fleet and server share this box"))
    print("  workers: largest N for --workers 2 ...", file=sys.stderr, flush=True)
    seed = [runs[1]] if runs[1]["status"] == "ok" else []
    search = streaming_search(cfg, tmpdir, share_s, deadline, ["--workers", "2"], "-w2", seed)
    add_search(r, search, cfg, "2 workers: ", "Streaming search with --workers 2")
    return r


def packets_row(label, st):
    """One row of the packets scenario: both processes' CPU per
    stream-second and RSS, and whether the run was good."""
    if st["status"] != "ok":
        return (label, "ERROR " + st["error"], "")
    s, fl, f = st.get("server") or {}, st.get("fleet") or {}, st["final"]
    return (label, "server %s ms, fleet %s ms CPU per stream-second; server RSS %s, fleet RSS %s; %s; "
            "press → first packet p99 %s, Stop → is_end p99 %s" % (
                fmt_per(cpu_ms_per_stream_s(st)), fmt_per(cpu_ms_per_stream_s(st, ("fleet",))),
                fmt_kb(s["rss_kb"]) if s else "?", fmt_kb(fl["rss_kb"]) if fl else "?",
                "0 late packets, good" if st["good"] else "; ".join(st["why"]),
                fmt_opt(p99_of(f, "press_to_first_packet_ms")), fmt_opt(p99_of(f, "stop_to_end_ms"))), "")


def scenario_packets(cfg, tmpdir, share_s, deadline):
    """The same streaming fleet against --packet-ms 20 and against the
    default (the fleet asks for 120 ms packets, the server grants them),
    one right after the other, so the ratios are measured side by side;
    then the largest N with zero late packets for --packet-ms 20, searched
    like the streaming scenario (whose server negotiates)."""
    n = cfg["packets_n"]
    kinds = (("20 ms packets (--packet-ms 20)", ["--packet-ms", "20"], "-p20"),
             ("negotiated packets (120 ms)", [], "-p120"))
    runs = [streaming_step(n, cfg, tmpdir, args, tag) for _, args, tag in kinds]
    r = {"name": "%s streaming, 20 ms vs negotiated packets, %d s each" % (format(n, ","), cfg["stream_s"]),
         "tag": "packets", "status": "ok", "rows": [], "anomalies": [], "packets_runs": runs}
    for (label, _, _), st in zip(kinds, runs):
        r["rows"].append(packets_row(label, st))
        if st["status"] != "ok":
            r["anomalies"].append("the %s run could not be measured: %s" % (label, st["error"]))
    small, large = (cpu_ms_per_stream_s(st) for st in runs)
    if small and large:
        r["rows"].append(("server CPU per stream-second, negotiated / 20 ms", "%.2f×" % (large / small),
                          check(large / small, large / small <= 0.2, "at most 0.20× (1/5)")))
    fleet_large = cpu_ms_per_stream_s(runs[1], ("fleet",))
    if large and fleet_large:
        r["rows"].append(("fleet / server CPU per stream-second, negotiated", "%.2f×" % (fleet_large / large),
                          check(fleet_large / large, fleet_large <= large, "at most 1.00×")))
    print("  packets: largest N for --packet-ms 20 ...", file=sys.stderr, flush=True)
    small_cfg = dict(cfg, stream_steps=cfg["packets_steps"], stream_down=cfg["packets_down"])
    seed = [runs[0]] if runs[0]["status"] == "ok" else []
    search = streaming_search(small_cfg, tmpdir, share_s, deadline, ["--packet-ms", "20"], "-p20", seed)
    add_search(r, search, small_cfg, "20 ms packets: ", "Streaming search with --packet-ms 20")
    return r


def compare_packets(results):
    """The packets scenario's row of the largest N with 20 ms packets beside
    the streaming scenario's (negotiated packets) of the same run."""
    p = next((r for r in results if r.get("tag") == "packets" and r["status"] == "ok"), None)
    big = next((r for r in results if r.get("tag") == "streaming" and r["status"] == "ok"), None)
    if not p:
        return
    if not big:
        p["rows"].append(("largest N, 20 ms vs negotiated", "(the streaming scenario did not run)", ""))
        return
    a, b = p.get("last_good_n"), big.get("last_good_n")
    rt = (float(b) / a) if a and b else None
    p["rows"].append(("largest N, 20 ms vs negotiated packets", "20 ms %s, negotiated %s (streaming scenario)%s" % (
        format(a, ",") if a else "none", format(b, ",") if b else "none",
        "; ratio %.2f×" % rt if rt else ""),
        check(rt, rt is not None and rt >= 8, "at least 8× (same run)")))


def store_figures(lines):
    """The server's store lines of one run, combined: changes and batches
    summed, max and queue max the largest; p50 and p99 cannot be combined,
    so they are kept per line."""
    if not lines:
        return None
    return {"lines": len(lines), "store": lines[0]["store"],
            "changes": sum(l["changes"] for l in lines), "batches": sum(l["batches"] for l in lines),
            "p50": [l["p50"] for l in lines], "p99": [l["p99"] for l in lines],
            "max": max(l["max"] for l in lines), "queue_max": max(l["queue_max"] for l in lines),
            "over_s": max(l["over_s"] for l in lines)}


def fmt_store(sf):
    if not sf:
        return "no store line in the server log (no change written?)"
    per = lambda xs: "/".join(fmt_ms(x) for x in xs)
    return ("%d changes written in %d batches; change handed → written p50 %s, p99 %s, max %s ms; "
            "queue max %d%s" % (
                sf["changes"], sf["batches"], per(sf["p50"]), per(sf["p99"]), fmt_ms(sf["max"]), sf["queue_max"],
                "" if sf["lines"] == 1 else " (%d log lines, p50 and p99 per line)" % sf["lines"]))


def sub_notes(label, run):
    """A sub-run's notes and server warn/error lines, labelled."""
    out = ["%s: %s" % (label, a) for a in run.get("notes") or []]
    logs = run.get("server_log")
    if logs and logs["log_warn_error"]:
        out.append("%s: server logged %d warn/error lines, first: %s" % (
            label, logs["log_warn_error"], logs["log_problems"][0]))
    return out


def scenario_store(cfg, tmpdir, done):
    """The 1,000-connected mix of the load scenario against a server with
    --store sqlite:FILE and then with --store redis://... (a private
    redis-server), beside the load scenario's memory-store figures when
    that ran in this run (done["load"])."""
    n, dur = cfg["load_n"], cfg["load_s"]
    r = {"name": "%s connected mix, sqlite and redis stores, %d s each" % (format(n, ","), dur),
         "tag": "store", "status": "ok", "rows": [], "anomalies": [], "notes": [], "store_runs": {}}
    mem = done.get("load")
    mem = mem if mem and mem.get("status") == "ok" else None
    mf = mem["final"] if mem else None
    keys = (("press → first packet", "press_to_first_packet_ms"), ("event → ack", "ack_ms"))
    if mem:
        r["rows"].append(("memory (the load scenario above)", "; ".join(
            "%s p99 %s ms" % (label, fmt_opt(p99_of(mf, key))) for label, key in keys) +
            "; server CPU %s %%" % (mem.get("server") or {}).get("cpu_pct"), "same mix, same run, --store memory"))
    db = os.path.join(tmpdir, "bench-store.db")
    redis = RedisServer(os.path.join(tmpdir, "redis"))
    try:
        for engine in ("sqlite", "redis"):
            try:
                if engine == "sqlite":
                    url, service = "sqlite:" + db, None
                else:
                    url, service = redis.start().url, redis
            except ServiceError as e:
                r["rows"].append((engine, "ERROR " + str(e), ""))
                r["anomalies"].append("%s: %s" % (engine, e))
                continue
            print("  store %s ..." % url, file=sys.stderr, flush=True)
            args, timeout_s = load_mix(cfg, "store-" + engine)
            run = measure("store-" + engine, args, timeout_s, tmpdir, expect_streams=False, store=url,
                          service=service)
            if service and service.died() and run["status"] == "ok":
                run["status"], run["error"] = "error", "redis-server died during the run (%s)" % describe_exit(
                    service.proc.returncode)
            r["store_runs"][engine] = run
            if run["status"] != "ok":
                r["rows"].append((engine, "ERROR " + run["error"], ""))
                r["anomalies"].append("%s run could not be measured: %s" % (engine, run["error"]))
                continue
            sf = store_figures((run.get("server_log") or {}).get("store_lines"))
            run["store_figures"] = sf
            if not sf:
                r["anomalies"].append("%s: the server logged no store line" % engine)
            f = run["final"]
            r["rows"].append(("%s: store writes" % engine, fmt_store(sf),
                              "handed → written excludes the 50 ms write-behind window"))
            lat_text = []
            for label, key in keys:
                v, base = p99_of(f, key), p99_of(mf, key)
                lat_text.append("%s p99 %s ms%s" % (
                    label, fmt_opt(v),
                    " (%s the memory store's)" % ratio(base, v) if ratio(base, v) else ""))
            s, svc = run.get("server") or {}, run.get("service")
            r["rows"].append(("%s: fleet latencies, CPU" % engine, "; ".join(lat_text) + "; server CPU %s %%%s%s; "
                              "%s late packets" % (
                                  s.get("cpu_pct"), " (%s the memory store's)" % ratio(
                                      (mem.get("server") or {}).get("cpu_pct"), s.get("cpu_pct")) if mem else "",
                                  ", redis-server CPU %s %%" % svc["cpu_pct"] if svc else "",
                                  f.get("late_packets")),
                              "ratio to the load scenario of this run" if mem
                              else "(the load scenario did not run: no ratio to the memory store)"))
            r["anomalies"] += ["%s: %s" % (engine, a) for a in run.get("anomalies") or []]
            r["notes"] += sub_notes(engine, run)
    finally:
        redis.stop()
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
    return r


def fmt_run_row(st, who):
    """The figures of one streaming run of the nginx scenario."""
    if st["status"] != "ok":
        return "ERROR " + st["error"]
    f, s, fl, svc = st["final"], st.get("server") or {}, st.get("fleet") or {}, st.get("service")
    per = cpu_ms_per_stream_s(st)
    parts = ["server CPU %s %%" % s.get("cpu_pct")]
    if who == "nginx":
        parts.append("nginx CPU %s %% (%s processes)" % (svc["cpu_pct"], svc.get("processes")) if svc
                     else "nginx CPU not sampled")
    parts.append("fleet CPU %s %%; box %s" % (fl.get("cpu_pct"), box_text(st)))
    cpu = "ms CPU per stream-second: server %s" % fmt_per(per)
    if who == "nginx":
        cpu += ", server+nginx %s" % fmt_per(cpu_ms_per_stream_s(st, ("server", "service")))
    return "%s; %s; %s late packets; press → first packet %s; Stop → is_end %s; %s" % (
        ", ".join(parts), cpu, f.get("late_packets"),
        fmt_lat(lat(f.get("press_to_first_packet_ms")), ("p50", "p99", "max")),
        fmt_lat(lat(f.get("stop_to_end_ms")), ("p50", "p99", "max")),
        "good" if st["good"] else "**" + "; ".join(st["why"]) + "**")


def scenario_nginx(cfg, tmpdir):
    """The same streaming fleet against the server directly and through
    nginx (deploy/nginx/opal.conf, addresses changed), back to back."""
    n, secs = cfg["nginx_n"], cfg["nginx_s"]

    def proxy(port, tag):
        return Nginx(os.path.join(tmpdir, "nginx-%d" % n), port)
    print("  nginx: N=%d direct ..." % n, file=sys.stderr, flush=True)
    direct = streaming_step(n, cfg, tmpdir, (), "-direct", secs)
    print("  nginx: N=%d via nginx ..." % n, file=sys.stderr, flush=True)
    via = streaming_step(n, cfg, tmpdir, (), "-nginx", secs, proxy)
    r = {"name": "%s streaming, direct vs through nginx, %d s each" % (format(n, ","), secs),
         "tag": "nginx", "status": "ok", "rows": [], "anomalies": [], "notes": [],
         "nginx_runs": {"direct": direct, "via nginx": via}}
    for label, who, st in (("direct", "direct", direct), ("via nginx", "nginx", via)):
        r["rows"].append((label, fmt_run_row(st, who), "" if who == "direct" else
                          "nginx holds 4 connections per device (%s): the device's and one per call" % format(4 * n, ",")))
        if st["status"] != "ok":
            r["anomalies"].append("%s run could not be measured: %s" % (label, st["error"]))
        elif not st["good"]:
            r["anomalies"].append("%s: %s" % (label, "; ".join(st["why"])))
        r["notes"] += sub_notes(label, st)
    a, b = cpu_ms_per_stream_s(direct), cpu_ms_per_stream_s(via, ("server", "service"))
    figs = []
    if ratio(a, b):
        figs.append("(server+nginx) / server direct: %s the CPU per stream-second" % ratio(a, b))
    for label, key in (("press → first packet", "press_to_first_packet_ms"), ("Stop → is_end", "stop_to_end_ms")):
        x = ratio(p99_of(direct.get("final"), key), p99_of(via.get("final"), key))
        if x:
            figs.append("%s p99 %s" % (label, x))
    r["rows"].append(("ratio, via nginx / direct", "; ".join(figs) or "-",
                      "same fleet, back to back; server, nginx and fleet share this box"))
    return r


def limiter(step):
    """What the figures say limited a failed streaming step."""
    if step["status"] != "ok":
        return step["error"]
    parts = list(step["why"])
    s, fl, box = step.get("server"), step.get("fleet"), step.get("box_cpu_pct")
    cpu = []
    if s:
        cpu.append("server %.0f %%" % s["cpu_pct"])
    if fl:
        cpu.append("fleet %.0f %%" % fl["cpu_pct"])
    if box is not None:
        cpu.append("box %.0f %% of %d00 %%" % (box, os.cpu_count() or 1))
    parts.append("CPU " + ", ".join(cpu))
    ncpu = os.cpu_count() or 1
    full = [who for who, w in (("server", s), ("fleet", fl)) if w and w["cpu_pct"] >= 90]
    if full:
        parts.append(" and ".join(full) + (" each" if len(full) > 1 else "") + " near one full core")
    if box is not None and box >= 90 * ncpu:
        use = {"the server": s["cpu_pct"] if s else 0, "the fleet": fl["cpu_pct"] if fl else 0}
        use["other processes"] = box - use["the server"] - use["the fleet"]
        parts.append("both cores saturated (most: %s)" % max(use, key=use.get))
    if step.get("disturbed"):
        parts.append("DISTURBED: other processes used %.0f %% CPU" % other_cpu(step))
    lag = lag_of(step)
    if lag:
        parts.append("server pacing lag p99 %s ms (%s)" % (
            fmt_ms(lag["p99"]), "the server kept pace: the lateness is the fleet's" if lag["p99"] < 60
            else "the server fell behind too, or was held back by the fleet's reading"))
    if step.get("first_late_at_s") is not None:
        parts.append("first late packets by t=%s s" % step["first_late_at_s"])
    lost = step.get("fleet_connections_lost") or {}
    if lost:
        parts.append("connections lost: " + ", ".join(
            "%d × %s" % (v, k) for k, v in sorted(lost.items(), key=lambda kv: -kv[1])[:2]))
    return "; ".join(parts)


def streaming_search(cfg, tmpdir, share_s, deadline, server_args=(), tag="", seed=()):
    """The largest N streaming with no late packets or errors. Raises N
    through cfg["stream_steps"] until a step fails; if the first step fails,
    walks down cfg["stream_down"] instead; then, while time allows, bisects
    between the last good and the first failing N (down to
    cfg["stream_grain"], at most cfg["stream_refine"] steps). Seed steps
    (already measured, with the same server_args) count as steps of the
    search. A step is not started when it would end past share_s seconds
    from the search's start or past `deadline` (time.monotonic()); the first
    step of a search without seed steps always runs."""
    t_begin = time.monotonic()
    steps = list(seed)
    state = {"good": None, "bad": None, "note": None}

    def note(st):
        if st["good"]:
            if not state["good"] or st["n"] > state["good"]["n"]:
                state["good"] = st
        elif not state["bad"] or st["n"] < state["bad"]["n"]:
            state["bad"] = st

    for st in steps:
        note(st)

    def run(n):
        estimate = cfg["stream_s"] + n / 1000.0 + 20
        now = time.monotonic()
        if steps and now - t_begin + estimate > share_s:
            state["note"] = "time budget of the search (%d s) reached before N=%d" % (share_s, n)
            return None
        if steps and now + estimate > deadline:
            state["note"] = "time budget of the whole run reached before N=%d" % n
            return None
        print("  streaming%s N=%d ..." % (" " + " ".join(server_args) if server_args else "", n),
              file=sys.stderr, flush=True)
        st = streaming_step(n, cfg, tmpdir, server_args, tag)
        steps.append(st)
        note(st)
        print("    %s" % ("good" if st["good"] else "limit: " + limiter(st)), file=sys.stderr, flush=True)
        return st

    def measured(n):
        return any(st["n"] == n for st in steps)

    if not (state["bad"] and not state["good"]):
        for n in cfg["stream_steps"]:
            if measured(n) or (state["good"] and n <= state["good"]["n"]):
                continue
            if state["bad"] and n >= state["bad"]["n"]:
                break
            st = run(n)
            if st is None or not st["good"]:
                break
    if state["good"] is None and state["bad"] is not None:
        for n in cfg["stream_down"]:
            if measured(n) or n >= state["bad"]["n"]:
                continue
            st = run(n)
            if st is None or st["good"]:
                break
    refine = cfg["stream_refine"]
    while (refine > 0 and state["good"] and state["bad"] and state["bad"]["status"] == "ok"
           and state["bad"]["n"] - state["good"]["n"] > cfg["stream_grain"]):
        refine -= 1
        n = int(round((state["good"]["n"] + state["bad"]["n"]) / 100.0)) * 50
        if measured(n) or run(n) is None:
            break
    return {"steps": steps, "good": state["good"], "bad": state["bad"], "note": state["note"]}


def search_rows(search, cfg, prefix=""):
    """The rows of a streaming search, and the anomalies (steps that could
    not be measured)."""
    good, failed, note, steps = search["good"], search["bad"], search["note"], search["steps"]
    extra = ["step N=%d could not be measured: %s" % (st["n"], st["error"]) for st in steps if st["status"] != "ok"]
    last = good["n"] if good else 0
    rows = [
        (prefix + "largest N, zero late packets",
         ("%s" % format(last, ",")) if good else "none of %s" % [s["n"] for s in steps],
         check(last if steps else None, last >= 2000, "2,000 streaming with zero late packets")
         if max(cfg["stream_steps"]) >= 2000 else "(quick: N stops at %d; target is 2,000)" % max(cfg["stream_steps"])),
        (prefix + "latencies at the largest good N", (
            "press → first packet %s; Stop → is_end %s; event → ack %s; server pacing lag %s" % tuple(
                fmt_lat(x, ("p50", "p99", "max")) for x in (
                    lat(good["final"].get("press_to_first_packet_ms")), lat(good["final"].get("stop_to_end_ms")),
                    lat(good["final"].get("ack_ms")), lag_of(good)))) if good else "-",
         "(for reference: the p99 < 10 ms targets are for the 1,000-connected mix)" if good else ""),
        (prefix + "what limited the first failing N", ("N=%d: %s" % (failed["n"], limiter(failed))) if failed
         else "no step failed (%s)" % (note or "sequence exhausted"), ""),
    ]
    return rows, extra


def scenario_streaming(cfg, tmpdir, share_s, deadline):
    """The largest N streaming at once with one worker (the default)."""
    search = streaming_search(cfg, tmpdir, share_s, deadline)
    good, failed = search["good"], search["bad"]
    r = {"name": "N streaming at once (%d s, mode 2)" % cfg["stream_s"], "tag": "streaming",
         "stream_s": cfg["stream_s"], "steps": search["steps"], "status": "ok",
         "budget_note": search["note"], "search_title": "Streaming search"}
    r["last_good_n"] = good["n"] if good else None
    r["limit"] = limiter(failed) if failed else None
    r["search_grain"] = cfg["stream_grain"]
    r["rows"], r["anomalies"] = search_rows(search, cfg)
    if good:
        r["server"], r["fleet"], r["box_cpu_pct"] = good.get("server"), good.get("fleet"), good.get("box_cpu_pct")
    return r


# ---------------------------------------------------------------- output

def machine():
    m = {"nproc": os.cpu_count(), "kernel": platform.release()}
    try:
        with open("/proc/cpuinfo") as f:
            m["cpu"] = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        m["cpu"] = "?"
    try:
        with open("/proc/meminfo") as f:
            m["mem_gib"] = round(int(f.readline().split()[1]) / 1024.0 / 1024.0, 1)
    except OSError:
        pass
    return m


def lag_of(r):
    return (r.get("server_log") or {}).get("pacing_lag_ms")


def other_cpu(r):
    """CPU % that neither the server nor the fleet (nor a service sampled
    with them: nginx, redis-server) used over a window."""
    box = r.get("box_cpu_pct")
    if box is None:
        return None
    return max(0.0, box - sum((r.get(k) or {}).get("cpu_pct", 0) for k in ("server", "fleet", "service")))


def box_text(r):
    """The box's CPU over the window, and how much of it was neither the
    server nor the fleet (the harness, or anything else running)."""
    box = r.get("box_cpu_pct")
    if box is None:
        return "not sampled"
    ncpu = os.cpu_count() or 1
    other = other_cpu(r)
    return "CPU %.0f %% of %d00 %% (other processes %.0f %%%s)" % (
        box, ncpu, other, ", DISTURBED" if other > DISTURBED_PCT else "")


def esc(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(results, quick, mach, started, total_s):
    out = []
    label = "QUICK run (smaller scenarios, 10 s windows: not the real figures)" if quick else "full run"
    out.append("Opal benchmark, %s, %s; %s CPUs (%s), %s GiB, kernel %s; took %.0f s." % (
        label, started, mach["nproc"], mach.get("cpu"), mach.get("mem_gib"), mach["kernel"], total_s))
    out.append("")
    out.append("| scenario | measure | figure | target |")
    out.append("|---|---|---|---|")
    q = " (quick)" if quick else ""
    for r in results:
        name = r["name"] + q
        if r["status"] != "ok":
            out.append("| %s | **ERROR** | %s | |" % (esc(name), esc(r["error"])))
            continue
        first = True
        for measure_, figure, target in r["rows"]:
            out.append("| %s | %s | %s | %s |" % (esc(name) if first else "", esc(measure_), esc(figure), esc(target)))
            first = False
        if r.get("server") or r.get("fleet"):
            w = r.get("server") or r.get("fleet")
            out.append("| | server, over %s s%s | %s | |" % (
                w.get("window_s"), " (last good N)" if r.get("steps") else "", esc(fmt_proc(r.get("server")))))
            out.append("| | fleet, same window | %s | |" % esc(fmt_proc(r.get("fleet"))))
            out.append("| | whole box | %s | |" % box_text(r))
        extra = list(r.get("anomalies") or []) + list(r.get("notes") or [])
        logs = r.get("server_log")
        if logs and logs["log_warn_error"]:
            extra.append("server logged %d warn/error lines, first: %s" % (
                logs["log_warn_error"], logs["log_problems"][0]))
        if extra:
            out.append("| | anomalies | %s | |" % esc("; ".join(extra)))
    for r in results:
        if r.get("steps"):
            out.append("")
            out.append("%s%s: every device selects mode 2 (the 80 s sound), plays %d s, stops; "
                       "N is raised until a step has late packets or errors, then bisected while time allows." % (
                           r.get("search_title", "Streaming search"), q, r["stream_s"]))
            out.append("")
            out.append("| N | result | streams started/ended | packets | late | errors | server pacing lag p50/p99/max | server CPU | fleet CPU | box CPU of %d00 %% | server RSS | fleet RSS |" % mach["nproc"])
            out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
            for st in sorted(r["steps"], key=lambda x: x["n"]):
                if st["status"] != "ok":
                    out.append("| %s | **ERROR** %s | | | | | | | | | | |" % (format(st["n"], ","), esc(st["error"])))
                    continue
                f = st["final"]
                errs = {k: v for k, v in (f.get("errors") or {}).items() if v}
                s, fl = st.get("server") or {}, st.get("fleet") or {}
                out.append("| %s | %s | %s/%s | %s | %s | %s | %s | %s %% | %s %% | %s | %s | %s |" % (
                    format(st["n"], ","), "good" if st["good"] else "**" + esc("; ".join(st["why"])) + "**",
                    f.get("streams_started"), f.get("streams_ended"), f.get("packets"), f.get("late_packets"),
                    esc(", ".join("%s %d" % kv for kv in sorted(errs.items())) or "none"),
                    fmt_lat(lag_of(st), ("p50", "p99", "max")).replace(" ms (n=", " ms (").replace(")", " streams)")
                    if lag_of(st) else "?",
                    s.get("cpu_pct"), fl.get("cpu_pct"), box_text(st).replace("CPU ", "").replace(" of %d00 %%" % mach["nproc"], ""),
                    fmt_kb(s["rss_kb"]) if s else "?", fmt_kb(fl["rss_kb"]) if fl else "?"))
            if r.get("budget_note"):
                out.append("")
                out.append("(%s.)" % r["budget_note"])
    return "\n".join(out) + "\n"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (65536, hard):
        if want == resource.RLIM_INFINITY or want < soft:
            continue
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard) if hard != resource.RLIM_INFINITY else hard))
            break
        except (ValueError, OSError):
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
                break
            except (ValueError, OSError):
                continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def compare_workers(results):
    """The workers scenario's row of the largest N for 1 worker (the
    streaming scenario of this run) beside the one for 2 workers."""
    w = next((r for r in results if r.get("tag") == "workers" and r["status"] == "ok"), None)
    one = next((r for r in results if r.get("tag") == "streaming" and r["status"] == "ok"), None)
    if not w:
        return
    if not one:
        w["rows"].append(("largest N, 1 worker vs 2 workers", "(the streaming scenario did not run: no 1-worker figure)", ""))
        return
    a, b = one.get("last_good_n"), w.get("last_good_n")
    w["rows"].append(("largest N, 1 worker vs 2 workers", "1 worker %s (streaming scenario), 2 workers %s%s" % (
        format(a, ",") if a else "none", format(b, ",") if b else "none",
        "; ratio 2/1 %s" % ratio(a, b) if ratio(a, b) else ""),
        "same run, searched one after the other, each to within %s" % format(w.get("search_grain") or 0, ",")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller scenarios, about 3 minutes")
    ap.add_argument("--json", metavar="FILE", help="write the raw figures as JSON")
    ap.add_argument("--markdown", metavar="FILE", help="write the tables for docs/performance.md")
    ap.add_argument("--only", metavar="LIST", help="comma-separated: " + ",".join(SCENARIOS))
    ap.add_argument("--stream-steps", metavar="N,N,...", help="streaming N sequence to try upwards")
    a = ap.parse_args()

    if a.quick:
        cfg = {"cycles": 20, "load_n": 200, "load_s": 10, "idle_n": 1000, "idle_s": 5, "workers_n": 200,
               "nginx_n": 100, "nginx_s": 10,
               "stream_s": 10, "stream_steps": [200, 500], "stream_down": [100, 50],
               "stream_refine": 0, "stream_grain": 100,
               "packets_n": 100, "packets_steps": [200], "packets_down": [50]}
        budget, stream_share, workers_share = QUICK_BUDGET_S, QUICK_STREAM_SHARE_S, QUICK_WORKERS_SHARE_S
        packets_share = QUICK_PACKETS_SHARE_S
    else:
        cfg = {"cycles": 100, "load_n": 1000, "load_s": 30, "idle_n": 10000, "idle_s": 10, "workers_n": 1000,
               "nginx_n": 300, "nginx_s": 30,
               "stream_s": 60, "stream_steps": [1000, 2000, 4000, 6000, 8000, 10000],
               "stream_down": [500, 250], "stream_refine": 2, "stream_grain": 250,
               "packets_n": 300, "packets_steps": [500, 1000, 2000], "packets_down": [150]}
        budget, stream_share, workers_share = FULL_BUDGET_S, FULL_STREAM_SHARE_S, FULL_WORKERS_SHARE_S
        packets_share = FULL_PACKETS_SHARE_S
    if a.stream_steps:
        cfg["stream_steps"] = [int(x) for x in a.stream_steps.split(",")]
    only = set(a.only.split(",")) if a.only else set(SCENARIOS)
    unknown = only - set(SCENARIOS)
    if unknown:
        print("bench: unknown scenario %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(SCENARIOS)),
              file=sys.stderr)
        return 2

    for b in (SERVER, DEVICE):
        if not os.access(b, os.X_OK):
            print("bench: %s is missing: run make first" % b, file=sys.stderr)
            return 2
    helptext = subprocess.run([DEVICE, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace").stdout
    if "--fleet" not in helptext:
        print("bench: %s has no --fleet option" % DEVICE, file=sys.stderr)
        return 2
    soft, hard = raise_nofile()
    need = max(cfg["idle_n"], max(cfg["stream_steps"]), 4 * cfg["nginx_n"]) + 200
    mach = machine()
    mach["nofile"] = soft
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    t_begin = time.monotonic()
    results = []
    tmpdir = tempfile.mkdtemp(prefix="opal-bench-")
    # The programs read /etc/opal/*.conf when it exists: an empty folder of
    # their own keeps what is measured to the flags given here.
    os.environ["OPAL_CONFIG_DIR"] = os.path.join(tmpdir, "config")
    os.makedirs(os.environ["OPAL_CONFIG_DIR"])
    print("bench: %s; logs in %s; RLIMIT_NOFILE %d%s" % (
        "quick" if a.quick else "full (19-22 minutes)", tmpdir, soft,
        " (< %d needed!)" % need if soft < need else ""), file=sys.stderr, flush=True)
    deadline = t_begin + budget
    done = {}
    runners = {
        "single": lambda: scenario_single(cfg, tmpdir),
        "load": lambda: scenario_load(cfg, tmpdir),
        "idle": lambda: scenario_idle(cfg, tmpdir),
        "store": lambda: scenario_store(cfg, tmpdir, done),
        "nginx": lambda: scenario_nginx(cfg, tmpdir),
        "workers": lambda: scenario_workers(cfg, tmpdir, workers_share, deadline),
        "packets": lambda: scenario_packets(cfg, tmpdir, packets_share, deadline),
        "streaming": lambda: scenario_streaming(cfg, tmpdir, stream_share, deadline),
    }
    try:
        for key in SCENARIOS:
            if key not in only:
                continue
            print("  %s ..." % key, file=sys.stderr, flush=True)
            r = runners[key]()
            r.setdefault("tag", key)
            print("    %s: %s" % (key, "ERROR: " + r["error"] if r["status"] != "ok" else
                                  "ok, with anomalies" if r.get("anomalies") else "ok"), file=sys.stderr, flush=True)
            results.append(r)
            done[key] = r
        compare_workers(results)
        compare_packets(results)
    except KeyboardInterrupt:
        print("bench: interrupted; every process it started is stopped; logs in %s" % tmpdir, file=sys.stderr)
        return 130
    total = time.monotonic() - t_begin
    table = render(results, a.quick, mach, started, total)
    print(table)
    disturbed = [r["name"] for r in results if r.get("disturbed")] + [
        "%s N=%d" % (r.get("tag", "streaming"), st["n"]) for r in results for st in r.get("steps") or []
        if st.get("disturbed")] + [
        "%s %s" % (r.get("tag"), k) for r in results for key in ("store_runs", "nginx_runs")
        for k, st in (r.get(key) or {}).items() if st.get("disturbed")] + [
        "%s %s" % (r.get("tag"), st.get("tag")) for r in results for key in ("workers_runs", "packets_runs")
        for st in r.get(key) or [] if st.get("disturbed")]
    if disturbed:
        print("bench: WARNING: other processes used the CPU during: %s; those figures are not "
              "the server's" % ", ".join(disturbed), file=sys.stderr)
    failed = []
    for r in results:
        if r["status"] != "ok":
            failed.append("%s: %s" % (r["name"], r["error"]))
        elif r.get("anomalies"):
            failed.append("%s: %s" % (r["name"], "; ".join(r["anomalies"])))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"quick": a.quick, "started": started, "duration_s": round(total, 1),
                       "machine": mach, "config": cfg, "scenarios": results}, f, indent=1, default=str)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(table)
    if failed:
        print("bench: FAILED (a scenario could not be measured, or the fleet saw failures):", file=sys.stderr)
        for line in failed:
            print("  " + line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
