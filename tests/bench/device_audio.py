#!/usr/bin/python3
"""Benchmark: the device playing through PortAudio into a PulseAudio null
sink, against the real server on loopback. Prints press -> first sample
latency over 20 Play presses (median and worst: from the press to the first
sample handed to PortAudio), press -> first packet, PortAudio's own reported
output latency (what the sound card adds after that), and the device's RSS
and CPU while it plays the long sound.

Run:   /usr/bin/python3 tests/bench/device_audio.py   (or: make bench-device)
"""

import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "audio"))
from pulse_sandbox import PulseSandbox, stop  # noqa: E402

SERVER = os.environ.get("OPAL_SERVER") or os.path.join(REPO, "build", "opal-server")
DEVICE = os.environ.get("OPAL_DEVICE") or os.path.join(REPO, "build", "opal-device")
PRESSES = 20
CLK_TCK = os.sysconf("SC_CLK_TCK")


def script():
    lines = ["connect", "wait-for connected 5000",
             "wait 2500"]  # PulseAudio's null sink starts pulling a new stream late
    for _ in range(PRESSES):
        lines += ["press play", "wait-for stream_start 3000", "wait 500",
                  "press stop", "wait-for stream_end 3000", "wait 300"]
    lines += ["press mode", "wait-for ack", "press mode", "wait-for ack",  # mode 2: 80 s
              "press play", "wait-for stream_start 3000", "wait 11000",
              "press stop", "wait-for stream_end 3000", "quit"]
    return "\n".join(lines) + "\n"


def proc_figures(pid):
    """(RSS in kB, CPU seconds so far) of a process."""
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / CLK_TCK


def main():
    pulse = PulseSandbox()
    server = device = None
    try:
        pulse.start()
        server_log = []
        port_found = threading.Event()

        def drain():
            for line in server.stderr:
                server_log.append(line)
                if "listening on" in line:
                    port_found.set()
        server = subprocess.Popen([SERVER, "--listen", "127.0.0.1:0", "--store", "memory"],
                                  stderr=subprocess.PIPE, text=True)
        threading.Thread(target=drain, daemon=True).start()
        if not port_found.wait(15):
            raise RuntimeError("server did not start")
        port = int(re.search(r"listening on [^ ]*:(\d+)", "".join(server_log)).group(1))
        device = subprocess.Popen(
            [DEVICE, "--script", "-", "--server", "127.0.0.1:%d" % port, "--device-id", "bench",
             "--audio-out", "portaudio", "--log-level", "info"],
            env=pulse.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        device_log = []
        threading.Thread(target=lambda: device_log.extend(device.stderr), daemon=True).start()
        device.stdin.write(script())
        device.stdin.close()
        events, samples = [], []
        playing_long = threading.Event()

        def read():
            for line in device.stdout:
                e = json.loads(line)
                events.append(e)
                if e["event"] == "stream_start" and len([x for x in events if x["event"] == "stream_start"]) > PRESSES:
                    playing_long.set()
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if not playing_long.wait(120):
            raise RuntimeError("the device did not reach the long sound; events: %s"
                               % [e["event"] for e in events][-10:])
        time.sleep(1.0)  # the first second holds the start-up burst
        start_rss, start_cpu = proc_figures(device.pid)
        t0 = time.monotonic()
        for _ in range(8):
            time.sleep(1.0)
            samples.append(proc_figures(device.pid)[0])
        end_rss, end_cpu = proc_figures(device.pid)
        cpu_pct = 100.0 * (end_cpu - start_cpu) / (time.monotonic() - t0)
        device.wait(60)
        reader.join(5)
    finally:
        stop(device)
        stop(server)
        pulse.close()

    first_sample = [e["press_to_first_sample_ms"] for e in events if e["event"] == "first_sample"][:PRESSES]
    first_packet = [e["press_to_first_packet_ms"] for e in events if e["event"] == "stream_start"][:PRESSES]
    underruns = [e["total"] for e in events if e["event"] == "underrun"]
    if len(first_sample) < PRESSES:
        raise RuntimeError("only %d first_sample events" % len(first_sample))
    print("device audio through PortAudio -> PulseAudio null sink (buffer 60 ms), %d presses" % PRESSES)
    print("  press -> first sample:  median %.1f ms, worst %.1f ms" % (statistics.median(first_sample), max(first_sample)))
    print("  press -> first packet:  median %.2f ms, worst %.2f ms" % (statistics.median(first_packet), max(first_packet)))
    print("  underruns: %d" % (underruns[-1] if underruns else 0))
    print("  while playing: RSS %d kB (max %d kB), CPU %.1f %% of one core" % (end_rss, max(samples), cpu_pct))
    reported = [m.group(1) for m in (re.search(r"output latency (\d+) ms", l) for l in device_log) if m]
    if reported:
        print("  PortAudio's reported output latency, sample handed over -> sound out: %s ms" % reported[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
