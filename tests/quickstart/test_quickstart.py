#!/usr/bin/python3
"""The README's quick start on a fresh clone, as a newcomer follows it.

The commands come from the clone's README.md itself (the `make run` line
and the `build/opal-device` line of its "Two commands" section), so this
test breaks when they stop working there:

1. `git clone` of this checkout's HEAD into a temp folder: the committed
   state only, with no build/ (uncommitted changes are not in the clone).
2. In the clone, the README's `make run` with LISTEN=127.0.0.1:0 (a free
   loopback port, which the server logs), so it never takes 50051 from
   anyone. `make run` installs what is missing (quick when nothing is),
   builds the project once (a minute or two) and serves the bundled sounds.
3. In "a second terminal" (a private tmux at 80x24), the README's
   `build/opal-device --sim` from the clone's folder, with --server for
   that port, its own --device-id, --audio-out null (no sound card here)
   and a log file. It must connect, show mode 0 idle, play mode 0's sound to
   its natural end on `p` (the server logs the stream), and quit on `q`.
4. Ctrl-C for `make run` (SIGINT to its process group): the server stops
   cleanly. Everything started is stopped and the clone removed, also when
   a step fails.

Run:   /usr/bin/python3 tests/quickstart/test_quickstart.py [-v]
Needs git, make and tmux (skipped otherwise, or outside a git checkout).
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "tui"))
from test_tui import TRUECOLOR_ENV, Tmux, leds, status  # noqa: E402

BUILD_TIMEOUT_S = 900  # clone, install check and a full build on a busy machine
# Make's own variables must not reach the clone's make from a `make test`
# that runs this (jobserver, command-line variables such as SUITE).
MAKE_ENV_DROP = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "LISTEN", "BUILD", "SANITIZE")


def readme_commands(readme):
    """(make run command, device command) from the README's "Two commands"
    section: the first `make run` line of its sh blocks and the first
    `build/opal-device` line, each without its comment."""
    with open(readme) as f:
        text = f.read()
    parts = re.split(r"^## Two commands\s*$", text, maxsplit=1, flags=re.M)
    if len(parts) != 2:
        raise AssertionError("README.md has no '## Two commands' section")
    section = re.split(r"^## ", parts[1], maxsplit=1, flags=re.M)[0]
    lines = [line.split("#", 1)[0].strip()
             for block in re.findall(r"^```sh\n(.*?)^```", section, re.S | re.M)
             for line in block.splitlines()]
    run = next((l for l in lines if l.split()[:2] == ["make", "run"]), None)
    device = next((l for l in lines if l.startswith("build/opal-device")), None)
    if not run or not device:
        raise AssertionError("README.md's 'Two commands' section lacks a `make run` or a "
                             "`build/opal-device` command line: %r" % lines)
    return run, device


class MakeRun:
    """`make run` in its own process group (as a terminal's foreground job),
    its stdout and stderr copied line by line to a log file."""

    def __init__(self, cmd, cwd, log_path, env):
        self.lines = []
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace", start_new_session=True)
        self.pgid = self.proc.pid
        self.listening = threading.Event()
        self.port = None
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        for line in self.proc.stdout:
            self.log.write(line)
            self.log.flush()
            self.lines.append(line.rstrip("\n"))
            m = None if self.listening.is_set() else re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                self.listening.set()

    def wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.listening.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.thread.join(5)
                raise AssertionError("make run %s before the server said where it listens; "
                                     "the last lines:\n%s"
                                     % ("exited %d" % self.proc.returncode if self.proc.poll() is not None
                                        else "took over %d s" % timeout, "\n".join(self.lines[-40:])))
        return self.port

    def _group_alive(self):
        try:
            os.killpg(self.pgid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True

    def interrupt(self, timeout=20):
        """Ctrl-C: SIGINT to the group (make and the server); then, for
        whatever is left after `timeout`, SIGKILL. Returns make's exit code."""
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGKILL, 10)):
            if not self._group_alive():
                break
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while self._group_alive() and time.monotonic() < deadline:
                if self.proc.poll() is None:
                    try:
                        self.proc.wait(0.1)
                    except subprocess.TimeoutExpired:
                        pass
                else:
                    time.sleep(0.1)
        rc = self.proc.wait()
        self.thread.join(5)
        return rc

    def close(self):
        self.interrupt()
        self.proc.stdout.close()
        self.log.close()


class QuickStartTest(unittest.TestCase):
    def setUp(self):
        for tool in ("git", "make", "tmux"):
            if not shutil.which(tool):
                self.skipTest("%s is not installed" % tool)
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode != 0:
            self.skipTest("%s is not a git checkout" % REPO)
        self.head = head.stdout.strip()
        self.tmp = tempfile.mkdtemp(prefix="opal-quickstart-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_make_run_then_device_sim_on_a_fresh_clone(self):
        t0 = time.monotonic()
        clone = os.path.join(self.tmp, "opal")
        subprocess.run(["git", "clone", "-q", "--no-checkout", REPO, clone], check=True, timeout=120)
        subprocess.run(["git", "-C", clone, "checkout", "-q", "--detach", self.head], check=True, timeout=120)
        self.assertFalse(os.path.exists(os.path.join(clone, "build")), "a fresh clone has no build/")
        print("cloned %s at %s" % (REPO, self.head[:12]))
        run_cmd, device_cmd = readme_commands(os.path.join(clone, "README.md"))
        print("README: %r, then %r" % (run_cmd, device_cmd))

        env = {k: v for k, v in os.environ.items() if k not in MAKE_ENV_DROP}
        # The server's default state file goes under $XDG_STATE_HOME (else
        # $HOME/.local/state): both in the temp folder, removed with it, so
        # the run neither reads nor leaves modes in the user's own state.
        env.pop("STATE_DIRECTORY", None)
        env["HOME"] = os.path.join(self.tmp, "home")
        env["XDG_STATE_HOME"] = os.path.join(self.tmp, "state")
        os.makedirs(env["HOME"])
        server = MakeRun(shlex.split(run_cmd) + ["LISTEN=127.0.0.1:0"], clone,
                         os.path.join(self.tmp, "make-run.log"), env)
        self.addCleanup(server.close)
        port = server.wait_listening(BUILD_TIMEOUT_S)
        print("make run: serving on 127.0.0.1:%d after %.0f s (clone, install check, build)"
              % (port, time.monotonic() - t0))
        self.assertTrue(any(re.search(r"listening on 127\.0\.0\.1:%d \(lead \d+ ms, 5 modes\)" % port, l)
                            for l in server.lines), "the bundled sounds: 5 modes")
        store = [l for l in server.lines if re.search(r"\bstore \S", l)]
        if store:
            print("make run: %s" % store[0].split("  ", 1)[-1])
        self.assertTrue(os.access(os.path.join(clone, "build", "opal-device"), os.X_OK),
                        "make run did not build build/opal-device, the README's next step")

        # The second terminal, in the clone's folder.
        tmux = Tmux()
        self.addCleanup(tmux.close)
        device_id = "quickstart-%d" % os.getpid()
        device_log = os.path.join(self.tmp, "device.log")
        tmux.type("cd %s && clear" % shlex.quote(clone))
        tmux.type("%s %s --server 127.0.0.1:%d --device-id %s --audio-out null --log-file %s; echo EXIT=$?"
                  % (TRUECOLOR_ENV, device_cmd, port, device_id, shlex.quote(device_log)))

        def wait_for(check, timeout, what):
            try:
                return tmux.wait_for(check, timeout, what)
            except AssertionError as e:
                log = ""
                if os.path.exists(device_log):
                    with open(device_log, errors="replace") as f:
                        log = f.read()[-3000:]
                raise AssertionError("%s\n--- device log:\n%s\n--- make run, last lines:\n%s"
                                     % (e, log, "\n".join(server.lines[-20:]))) from None

        # Connected: led_0 on, mode 0 idle lights led_1.
        wait_for(lambda s: status(s)[0] == "connected" and leds(s) == "110000", 15,
                 "the device connected, mode 0 idle")
        print("device %s connected" % device_id)
        # Play: mode 0's sound (2.8 s) plays, then ends by itself.
        tmux.keys("p")
        wait_for(lambda s: status(s)[1].startswith("playing") and leds(s) == "101111", 5,
                 "mode 0 playing after p")
        wait_for(lambda s: status(s)[1].startswith("idle") and leds(s) == "110000", 15,
                 "mode 0 idle again at the end of its sound")
        ends = [l for l in server.lines if re.search(r"stream end device=%s mode=0 reason=natural" % device_id, l)]
        self.assertEqual(len(ends), 1, "the server's log of the stream:\n%s" % "\n".join(server.lines[-20:]))
        print("played: %s" % ends[0].split("stream end ", 1)[1])
        tmux.keys("q")
        screen = wait_for(lambda s: re.search(r"EXIT=\d+", s), 10, "the device to quit")
        self.assertIn("EXIT=0", screen)

        # Ctrl-C for make run: the server stops cleanly.
        server.interrupt()
        self.assertTrue(any(re.search(r"\sstopped$", l) for l in server.lines),
                        "the server's last lines after Ctrl-C:\n%s" % "\n".join(server.lines[-10:]))
        print("make run stopped on Ctrl-C; %.0f s in all" % (time.monotonic() - t0))


if __name__ == "__main__":
    unittest.main()
