#!/usr/bin/python3
"""Opal server benchmark: the real server and a fleet of simulated devices
(`opal-device --fleet N`) on this machine, over loopback.

Scenarios (docs/performance.md describes them and the method):
  single     1 device, 100 Play/Stop cycles: press -> first packet, Stop -> is_end
  load       1,000 connected, ~10 % playing: latencies under load, CPU, RSS
  idle       10,000 connected, idle: connect time, server RSS per device
  streaming  N streaming the 80 s sound at once, N raised until late packets
             or errors appear: the largest N with none over 60 s

Every scenario gets a fresh server. Both processes' CPU (utime+stime from
/proc/PID/stat, as % of one core) and RSS (VmRSS) are sampled throughout and
reported over the measured window. Prints a markdown table; --json FILE
dumps the raw figures, --markdown FILE writes the table for
docs/performance.md. A scenario that cannot be measured (fleet exit code,
no summary, server death, timeout) shows its error in its row; the harness
goes on and exits 1 at the end. A target missed is shown, never hidden, but
does not change the exit code.

Run:   /usr/bin/python3 tests/bench/bench.py [--quick]   (make bench, make bench-quick)
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

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.environ.get("OPAL_SERVER") or os.path.join(REPO, "build", "opal-server")
DEVICE = os.environ.get("OPAL_DEVICE") or os.path.join(REPO, "build", "opal-device")
ASSETS = os.path.join(REPO, "assets")
CLK_TCK = os.sysconf("SC_CLK_TCK")
SAMPLE_S = 0.25          # CPU/RSS sampling period
FULL_BUDGET_S = 570      # the whole full run should end within ~10 minutes
QUICK_BUDGET_S = 90
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
    """Samples the server's and the fleet's CPU and RSS, and the box's CPU,
    every SAMPLE_S seconds: a list of (t, server, fleet, box)."""

    def __init__(self, server_pid):
        super().__init__(daemon=True)
        self.server_pid = server_pid
        self.fleet_pid = None
        self.samples = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            self.take()
            self.stopping.wait(SAMPLE_S)

    def take(self):
        s = (time.monotonic(), proc_sample(self.server_pid),
             proc_sample(self.fleet_pid) if self.fleet_pid else None, box_busy())
        with self.lock:
            self.samples.append(s)
        return s

    def stop(self):
        self.stopping.set()
        self.join(5)

    def at(self, t, who):
        """The last sample at or before t with a figure for who (1 server,
        2 fleet); the first one after t if none."""
        with self.lock:
            good = [s for s in self.samples if s[who] is not None]
        before = [s for s in good if s[0] <= t]
        if before:
            return before[-1]
        return good[0] if good else None

    def window(self, t0, t1, who):
        """CPU % of one core, RSS at the end, peak RSS and threads of one
        process over [t0, t1]."""
        a, b = self.at(t0, who), self.at(t1, who)
        if not a or not b or b[0] - a[0] < 0.2:
            return None
        with self.lock:
            inside = [s[who][1] for s in self.samples if s[who] and t0 <= s[0] <= t1]
        return {"cpu_pct": round(100.0 * (b[who][0] - a[who][0]) / (b[0] - a[0]), 1),
                "rss_kb": b[who][1], "rss_peak_kb": max(inside + [b[who][1]]),
                "threads": b[who][2], "window_s": round(b[0] - a[0], 1)}

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


class Server:
    def __init__(self, tmpdir, tag, extra_args=()):
        self.log_path = os.path.join(tmpdir, "server-%s.log" % tag)
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [SERVER, "--listen", "127.0.0.1:0", "--assets", ASSETS, "--log-level", "info",
             "--store", "memory"] + self.extra_args,
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
        with open(self.log_path, errors="replace") as f:
            for line in f:
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
                     "pacing_lag_ms": percentiles(lags)}


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
    due_ms = st[1] * sent - lead_ms
    if due_ms > 0:
        lags.append(max(0.0, (t - st[0]) * 1000.0 - due_ms))


def percentiles(xs):
    """Nearest-rank p50/p99/max, like the fleet's."""
    if not xs:
        return None
    xs = sorted(xs)
    rank = lambda p: xs[max(0, min(len(xs) - 1, int(math.ceil(p / 100.0 * len(xs))) - 1))]
    return {"n": len(xs), "p50": rank(50), "p99": rank(99), "max": xs[-1]}


def run_fleet(server, sampler, tmpdir, tag, args, timeout_s):
    """Runs the fleet to its end; returns (summaries with their arrival
    time, start time, other stdout lines). Raises ScenarioError."""
    out_path = os.path.join(tmpdir, "fleet-%s.err" % tag)
    cmd = [DEVICE, "--server", "127.0.0.1:%d" % server.port, "--json", "--progress", "1"] + args
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


def measure(tag, args, timeout_s, tmpdir, expect_streams=True, server_args=()):
    """One fleet run against a fresh server: the final summary and CPU/RSS
    of both processes over the measured window (from the first progress
    summary with every device connected to the final one)."""
    res = {"tag": tag, "fleet_args": args, "server_args": list(server_args)}
    server = Server(tmpdir, tag, server_args)
    sampler = None
    try:
        server.start()
        sampler = Sampler(server.proc.pid)
        sampler.start()
        time.sleep(1.0)  # settle: the "before" RSS
        before = sampler.take()[1]
        if before is None:
            raise ScenarioError("server gone before the fleet started")
        res["server_rss_before_kb"] = before[1]
        summaries, t0, other, fleet_err = run_fleet(server, sampler, tmpdir, tag, args, timeout_s)
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


def scenario_load(cfg, tmpdir):
    n, dur = cfg["load_n"], cfg["load_s"]
    r = measure("load", ["--fleet", str(n), "--id-prefix", "load", "--play-rate", "2",
                         "--play-seconds", "3", "--duration", str(dur)],
                dur + n / 1000.0 + 60, tmpdir, expect_streams=False)
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


def streaming_step(n, cfg, tmpdir, server_args=(), tag=""):
    secs = cfg["stream_s"]
    path = script_file(tmpdir, "stream-%d.script" % n, streaming_script(secs))
    ramp = 1000
    r = measure("stream-%d%s" % (n, tag), ["--fleet", str(n), "--id-prefix", "s%d" % n, "--script", path,
                                           "--ramp", str(ramp), "--duration", str(secs + 60)],
                secs + n / float(ramp) + 120, tmpdir, server_args=server_args)
    r["n"] = n
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


def cpu_ms_per_stream_s(step):
    """The server's CPU per second of audio per stream, in ms."""
    s = step.get("server")
    if step.get("status") != "ok" or not s or not step.get("n"):
        return None
    return s["cpu_pct"] * 10.0 / step["n"]


def scenario_workers(cfg, tmpdir):
    """The same streaming fleet against --workers 1 and --workers 2, one
    right after the other, so the ratio is measured side by side."""
    n = cfg["workers_n"]
    runs = [streaming_step(n, cfg, tmpdir, ["--workers", str(k)], "-w%d" % k) for k in (1, 2)]
    r = {"name": "%s streaming, 1 vs 2 workers, %d s each" % (format(n, ","), cfg["stream_s"]),
         "status": "ok", "rows": [], "workers_runs": runs}
    for k, st in zip((1, 2), runs):
        if st["status"] != "ok":
            r["rows"].append(("%d worker%s" % (k, "s" if k > 1 else ""), "ERROR " + st["error"], ""))
            continue
        f, s, fl = st["final"], st.get("server") or {}, st.get("fleet") or {}
        per = cpu_ms_per_stream_s(st)
        r["rows"].append(("%d worker%s" % (k, "s" if k > 1 else ""),
                          "server CPU %s %% (%s ms per stream-second), fleet CPU %s %%, box %s; "
                          "%s late packets, %s; pacing lag %s" % (
                              s.get("cpu_pct"), "%.3f" % per if per is not None else "?", fl.get("cpu_pct"),
                              box_text(st), f.get("late_packets"), "good" if st["good"] else "; ".join(st["why"]),
                              fmt_lat(lag_of(st), ("p50", "p99", "max")) if lag_of(st) else "?"), ""))
    a, b = (cpu_ms_per_stream_s(st) for st in runs)
    if a and b:
        r["rows"].append(("ratio, 2 workers / 1 worker", "%.2f× the server CPU per stream-second" % (b / a),
                          "same fleet, same minute; fleet and server share this box"))
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


def scenario_streaming(cfg, tmpdir, t_begin, budget):
    """Raises N until a step fails; if the first step fails, walks down
    instead; then, while the time budget allows, bisects between the last
    good and the first failing N (down to cfg["stream_grain"])."""
    steps = []
    state = {"good": None, "bad": None, "note": None}

    def run(n):
        estimate = cfg["stream_s"] + n / 1000.0 + 20
        if steps and time.monotonic() - t_begin + estimate > budget:
            state["note"] = "time budget reached before N=%d" % n
            return None
        print("  streaming N=%d ..." % n, file=sys.stderr, flush=True)
        st = streaming_step(n, cfg, tmpdir)
        steps.append(st)
        print("    %s" % ("good" if st["good"] else "limit: " + limiter(st)), file=sys.stderr, flush=True)
        if st["good"]:
            if not state["good"] or n > state["good"]["n"]:
                state["good"] = st
        elif not state["bad"] or n < state["bad"]["n"]:
            state["bad"] = st
        return st

    for n in cfg["stream_steps"]:
        st = run(n)
        if st is None or not st["good"]:
            break
    if state["good"] is None and state["bad"] is not None:
        for n in cfg["stream_down"]:
            st = run(n)
            if st is None or st["good"]:
                break
    refine = cfg["stream_refine"]
    while (refine > 0 and state["good"] and state["bad"] and state["bad"]["status"] == "ok"
           and state["bad"]["n"] - state["good"]["n"] > cfg["stream_grain"]):
        refine -= 1
        n = int(round((state["good"]["n"] + state["bad"]["n"]) / 100.0)) * 50
        if run(n) is None:
            break
    good, failed, note = state["good"], state["bad"], state["note"]
    r = {"name": "N streaming at once (%d s, mode 2)" % cfg["stream_s"], "tag": "streaming",
         "stream_s": cfg["stream_s"],
         "steps": steps, "status": "ok", "anomalies": [], "budget_note": note}
    r["last_good_n"] = good["n"] if good else None
    r["limit"] = limiter(failed) if failed else None
    for st in steps:
        if st["status"] != "ok":
            r["anomalies"].append("step N=%d could not be measured: %s" % (st["n"], st["error"]))
    last = good["n"] if good else 0
    r["rows"] = [
        ("largest N, zero late packets", ("%s" % format(last, ",")) if good else "none of %s" % [s["n"] for s in steps],
         check(last if steps else None, last >= 2000, "2,000 streaming with zero late packets")
         if max(cfg["stream_steps"]) >= 2000 else "(quick: N stops at %d; target is 2,000)" % max(cfg["stream_steps"])),
        ("latencies at the largest good N", (
            "press → first packet %s; Stop → is_end %s; event → ack %s; server pacing lag %s" % tuple(
                fmt_lat(x, ("p50", "p99", "max")) for x in (
                    lat(good["final"].get("press_to_first_packet_ms")), lat(good["final"].get("stop_to_end_ms")),
                    lat(good["final"].get("ack_ms")), lag_of(good)))) if good else "-",
         "(for reference: the p99 < 10 ms targets are for the 1,000-connected mix)" if good else ""),
        ("what limited the first failing N", ("N=%d: %s" % (failed["n"], r["limit"])) if failed
         else "no step failed (%s)" % (note or "sequence exhausted"), ""),
    ]
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
    """CPU % that neither the server nor the fleet used over a window."""
    box = r.get("box_cpu_pct")
    if box is None:
        return None
    return max(0.0, box - sum((r.get(k) or {}).get("cpu_pct", 0) for k in ("server", "fleet")))


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
            out.append("Streaming search%s: every device selects mode 2 (the 80 s sound), plays %d s, stops; "
                       "N is raised until a step has late packets or errors, then bisected while time allows." % (q, r["stream_s"]))
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller scenarios, about a minute")
    ap.add_argument("--json", metavar="FILE", help="write the raw figures as JSON")
    ap.add_argument("--markdown", metavar="FILE", help="write the tables for docs/performance.md")
    ap.add_argument("--only", metavar="LIST", help="comma-separated: single,load,idle,workers,streaming")
    ap.add_argument("--stream-steps", metavar="N,N,...", help="streaming N sequence to try upwards")
    a = ap.parse_args()

    if a.quick:
        cfg = {"cycles": 20, "load_n": 200, "load_s": 10, "idle_n": 1000, "idle_s": 5, "workers_n": 200,
               "stream_s": 10, "stream_steps": [200, 500], "stream_down": [100, 50],
               "stream_refine": 0, "stream_grain": 100}
        budget = QUICK_BUDGET_S
    else:
        cfg = {"cycles": 100, "load_n": 1000, "load_s": 30, "idle_n": 10000, "idle_s": 10, "workers_n": 1000,
               "stream_s": 60, "stream_steps": [1000, 2000, 3000, 4000, 6000, 8000, 10000],
               "stream_down": [500, 250], "stream_refine": 2, "stream_grain": 250}
        budget = FULL_BUDGET_S
    if a.stream_steps:
        cfg["stream_steps"] = [int(x) for x in a.stream_steps.split(",")]
    only = set(a.only.split(",")) if a.only else {"single", "load", "idle", "workers", "streaming"}

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
    need = max(cfg["idle_n"], max(cfg["stream_steps"])) + 200
    mach = machine()
    mach["nofile"] = soft
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    t_begin = time.monotonic()
    results = []
    tmpdir = tempfile.mkdtemp(prefix="opal-bench-")
    print("bench: %s; logs in %s; RLIMIT_NOFILE %d%s" % (
        "quick" if a.quick else "full (9-11 minutes)", tmpdir, soft,
        " (< %d needed!)" % need if soft < need else ""), file=sys.stderr, flush=True)
    try:
        for key, fn in (("single", scenario_single), ("load", scenario_load), ("idle", scenario_idle),
                        ("workers", scenario_workers)):
            if key in only:
                print("  %s ..." % key, file=sys.stderr, flush=True)
                r = fn(cfg, tmpdir)
                print("    %s" % (r["status"] if r["status"] == "ok" else "ERROR: " + r["error"]),
                      file=sys.stderr, flush=True)
                results.append(r)
        if "streaming" in only:
            results.append(scenario_streaming(cfg, tmpdir, t_begin, budget))
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    total = time.monotonic() - t_begin
    table = render(results, a.quick, mach, started, total)
    print(table)
    disturbed = [r["name"] for r in results if r.get("disturbed")] + [
        "streaming N=%d" % st["n"] for r in results for st in r.get("steps") or [] if st.get("disturbed")]
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
