"""A private PulseAudio daemon with one null sink, standing in for a sound
card: its own XDG_RUNTIME_DIR and HOME in a temp folder, a unix socket only
(nothing on the network), and ALSA's default device pointed at it through
~/.asoundrc, so PortAudio's ALSA back end plays into the null sink. The
sink's monitor can be recorded with parec."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

RATE = 48000
SINK = "opal_null"


def stop(proc, sig=signal.SIGTERM, wait=3.0):
    """Ends one process we started, by its PID: `sig`, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PulseSandbox:
    """start() brings the daemon up; close() stops it and removes the folder.
    `env` is the environment a PortAudio program needs to play into it."""

    def __init__(self):
        for tool in ("pulseaudio", "parec", "pactl"):
            if not shutil.which(tool):
                raise RuntimeError("%s is not installed (Debian packages pulseaudio, "
                                   "pulseaudio-utils, libasound2-plugins)" % tool)
        self.tmp = tempfile.mkdtemp(prefix="opal-audio-")
        self.daemon = None
        self.log = None
        run = os.path.join(self.tmp, "run")
        home = os.path.join(self.tmp, "home")
        os.makedirs(run, mode=0o700)
        os.makedirs(home)
        with open(os.path.join(home, ".asoundrc"), "w") as f:
            f.write("pcm.!default { type pulse }\nctl.!default { type pulse }\n")
        self.socket = os.path.join(run, "pulse.sock")
        env = dict(os.environ)
        for k in ("PULSE_SERVER", "PULSE_SINK", "PULSE_SOURCE", "PULSE_COOKIE",
                  "ALSA_CONFIG_PATH", "DISPLAY", "DBUS_SESSION_BUS_ADDRESS"):
            env.pop(k, None)
        env.update(HOME=home, XDG_RUNTIME_DIR=run, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   PULSE_SERVER="unix:" + self.socket)
        self.env = env

    def start(self, timeout=10):
        self.log = open(os.path.join(self.tmp, "pulseaudio.log"), "w+")
        # -n: no default.pa; one null sink in the format the device plays,
        # so nothing is resampled.
        self.daemon = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
             "--use-pid-file=no", "--realtime=no", "--high-priority=no", "--disable-shm=yes",
             "--log-target=stderr", "--log-level=warning",
             "-L", "module-native-protocol-unix socket=%s auth-anonymous=1" % self.socket,
             "-L", "module-null-sink sink_name=%s rate=%d channels=1 channel_map=mono "
                   "format=s16le" % (SINK, RATE)],
            env=self.env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.daemon.poll() is not None:
                self.log.seek(0)
                raise RuntimeError("pulseaudio exited with %d:\n%s"
                                   % (self.daemon.returncode, self.log.read()))
            if os.path.exists(self.socket) and subprocess.run(
                    ["pactl", "list", "short", "sinks"], env=self.env, capture_output=True,
                    text=True, timeout=5).stdout.find(SINK) >= 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("pulseaudio did not come up within %d s" % timeout)
            time.sleep(0.05)

    def close(self):
        stop(self.daemon)
        if self.log:
            self.log.close()
        shutil.rmtree(self.tmp, True)
