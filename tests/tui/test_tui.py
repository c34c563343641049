#!/usr/bin/python3
"""The terminal back end (--sim), checked the way a person sees it: real
programs in a private tmux server at 80x24, keys sent with send-keys, the
screen read back with capture-pane (-e to see the colour escapes).

DeviceTests: the real build/opal-device --sim against the real
build/opal-server. Connected, the LEDs follow Mode / Play / Stop
(docs/leds.md), the status line follows, Connect disconnects and
reconnects, q quits and the terminal is back as it was; without a terminal
on stdin it refuses to start. Skipped when build/opal-device is missing.

HarnessTests: tests/tui/term_demo.c (the back end with a fake server),
built by make: autorepeat gives HOLD, narrow and resized
terminals, and the terminal restored after q, Ctrl-C, SIGSEGV and abort().

Run:   /usr/bin/python3 tests/tui/test_tui.py [-v]
Environment: OPAL_DEVICE, OPAL_SERVER, OPAL_TERM_DEMO (default <repo>/build/...).
Needs tmux; every tmux server here has its own socket
(tmux -L opal-tui-test-<pid>-<n>) and is killed afterwards.
"""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVICE = os.environ.get("OPAL_DEVICE") or os.path.join(REPO, "build", "opal-device")
# Always the normal build: it crashes on purpose, which UBSan would catch first.
TERM_DEMO = os.environ.get("OPAL_TERM_DEMO") or os.path.join(REPO, "build", "tests", "tui", "term_demo")
SERVER = os.environ.get("OPAL_SERVER") or os.path.join(REPO, "build", "opal-server")
ASSETS = os.path.join(REPO, "assets")

ON, OFF = "\u25cf", "\u25cb"  # ● ○
# The mode colours of docs/leds.md as 24-bit foreground escapes.
AMBER = "\x1b[38;2;255;176;0m"
RED = "\x1b[38;2;255;48;48m"
# The program runs with a known colour and locale setting, whatever ours is.
TRUECOLOR_ENV = "env -u NO_COLOR -u LC_ALL -u LC_CTYPE COLORTERM=truecolor LANG=C.UTF-8"


class Tmux:
    """A private tmux server with one 80x24 window running a plain bash."""

    count = 0

    def __init__(self, width=80, height=24):
        Tmux.count += 1
        self.socket = "opal-tui-test-%d-%d" % (os.getpid(), Tmux.count)
        self.socket_path = ""
        try:
            self.run("new-session", "-d", "-x", str(width), "-y", str(height), "-s", "tui",
                     "env", "-u", "TMUX", "PS1=tui$ ", "TERM=screen",
                     "bash", "--norc", "--noprofile")
            self.socket_path = self.show("#{socket_path}")
            self.run("set-option", "-g", "status", "off")
            self.wait_for(lambda s: "tui$" in s, 10, "the shell prompt")
        except BaseException:
            self.close()
            raise

    def run(self, *args, check=True):
        p = subprocess.run(["tmux", "-u", "-L", self.socket, "-f", "/dev/null", *args],
                           capture_output=True, timeout=10)
        if check and p.returncode != 0:
            raise AssertionError("tmux %s: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
        return p.stdout.decode("utf-8", errors="replace")

    def type(self, line):
        """Types a command line into the shell and presses Enter."""
        self.run("send-keys", "-t", "tui", "-l", line)
        self.run("send-keys", "-t", "tui", "Enter")

    def keys(self, *keys):
        self.run("send-keys", "-t", "tui", *keys)

    def screen(self, escapes=False):
        return self.run("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "tui")

    def show(self, fmt):
        return self.run("display-message", "-p", "-t", "tui", fmt).strip()

    def resize(self, width, height):
        self.run("resize-window", "-t", "tui", "-x", str(width), "-y", str(height))

    def wait_for(self, check, timeout, what, escapes=False):
        """Polls the screen until check(screen) is true; returns that screen."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen(escapes)
            if check(s):
                return s
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s; the screen:\n%s" % (what, s))
            time.sleep(0.05)

    def close(self):
        self.run("kill-server", check=False)
        if self.socket_path:
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass


def leds(screen):
    """The six LEDs on the LED line as a string of 1 (lit) and 0, or ""."""
    for line in screen.splitlines():
        found = re.findall("(%s|%s) led_(\\d)" % (ON, OFF), line)
        if len(found) == 6:
            return "".join("1" if g == ON else "0" for g, _ in found)
    return ""


def status(screen):
    """(state, activity line) from the two status lines; "" for what is missing."""
    state = re.search(r"state: (\S+)", screen)
    activity = re.search(r"^ ((?:playing|idle)\b.*)$", screen, re.M)
    return (state.group(1) if state else "", activity.group(1) if activity else "")


def line_with(screen, text):
    return next((l for l in screen.splitlines() if text in l), "")


class TerminalChecks:
    """Runs a program in the shell of self.tmux, and checks that it gave the
    terminal back as it found it."""

    def run_in_shell(self, command):
        """Types `command` with the terminal's settings saved before and after."""
        self.stty_before = os.path.join(self.tmp, "stty-before-%s" % self._testMethodName)
        self.stty_after = os.path.join(self.tmp, "stty-after-%s" % self._testMethodName)
        self.tmux.type("clear; stty -g > %s; %s; echo EXIT=$?; stty -g > %s"
                       % (self.stty_before, command, self.stty_after))

    def assertTerminalRestored(self, exit_code):
        screen = self.tmux.wait_for(lambda s: "EXIT=" in s, 10, "the program to exit")
        self.assertIn("EXIT=%d" % exit_code, screen)
        self.assertEqual(self.tmux.show("#{alternate_on}"), "0", "still on the alternate screen")
        self.assertEqual(self.tmux.show("#{cursor_flag}"), "1", "the cursor is still hidden")
        # The shell is back on the main screen, where the command line was.
        self.tmux.wait_for(lambda s: re.search(r"EXIT=\d+\ntui\$", s), 10, "the prompt")
        self.assertNotIn("c connect/disconnect", screen)
        # termios exactly as before (echo, line editing, Ctrl-Z, flow control).
        deadline = time.monotonic() + 10
        while not (os.path.exists(self.stty_after) and os.path.getsize(self.stty_after)):
            self.assertLess(time.monotonic(), deadline, "stty -g did not run after the program")
            time.sleep(0.05)
        with open(self.stty_before) as f, open(self.stty_after) as g:
            self.assertEqual(f.read(), g.read(), "stty -g differs after the program")
        # And typed text is echoed again.
        self.tmux.keys("-l", "echo still-echoing")
        self.tmux.wait_for(lambda s: "echo still-echoing" in s, 5, "typed text to echo")
        self.tmux.keys("C-u")


class HarnessTests(TerminalChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("tmux"):
            raise unittest.SkipTest("tmux is not installed")
        # Built by the Makefile next to the device binary under test.
        cls.demo = TERM_DEMO
        if not os.access(cls.demo, os.X_OK):
            raise AssertionError("%s is not built (make all)" % cls.demo)
        cls.tmp = tempfile.mkdtemp(prefix="opal-tui-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def setUp(self):
        self.tmux = Tmux()
        self.addCleanup(self.tmux.close)
        self.log = os.path.join(self.tmp, "inputs-%s.log" % self._testMethodName)

    def start(self, *args, env=TRUECOLOR_ENV):
        self.run_in_shell("%s %s --log %s %s" % (env, self.demo, self.log, " ".join(args)))
        return self.tmux.wait_for(lambda s: "state: connected" in s, 10, "the demo's screen")

    def inputs(self):
        with open(self.log) as f:
            return [l.split(" held=")[0] for l in f.read().splitlines()]

    def wait_inputs(self, check, timeout, what):
        deadline = time.monotonic() + timeout
        while not check(self.inputs()):
            if time.monotonic() > deadline:
                self.fail("timed out waiting for %s; inputs: %r" % (what, self.inputs()))
            time.sleep(0.05)
        return self.inputs()

    def test_keys_leds_and_status(self):
        screen = self.start()
        self.assertEqual(self.tmux.show("#{alternate_on}"), "1")
        self.assertEqual(self.tmux.show("#{cursor_flag}"), "0")
        self.assertEqual(leds(screen), "110000")
        self.assertIn("c connect/disconnect  m mode  p play  s stop  q quit (hold a key for HOLD)",
                      screen)
        # Every line fits 80 columns, the layout is the one documented.
        for line in screen.splitlines():
            self.assertLessEqual(len(line), 80)
        self.tmux.keys("m")
        screen = self.tmux.wait_for(lambda s: leds(s) == "101000", 5, "mode 1")
        self.assertIn("last: mode PRESS", screen)
        self.tmux.keys("p")
        screen = self.tmux.wait_for(lambda s: leds(s) == "110111", 5, "mode 1 playing")
        self.assertTrue(status(screen)[1].startswith("playing"), screen)
        coloured = self.tmux.screen(escapes=True)
        self.assertIn(AMBER + ON, line_with(coloured, "led_0"))
        self.tmux.keys("s")
        screen = self.tmux.wait_for(lambda s: leds(s) == "101000", 5, "idle again")
        self.assertTrue(status(screen)[1].startswith("idle"), screen)
        self.tmux.keys("c")
        self.tmux.wait_for(lambda s: status(s)[0] == "offline" and leds(s) == "000000", 5,
                           "disconnected")
        inputs = self.wait_inputs(lambda i: "PRESS connect" in i, 5, "connect")
        self.assertEqual([i for i in inputs if i.startswith("PRESS")],
                         ["PRESS mode", "PRESS play", "PRESS stop", "PRESS connect"])
        self.tmux.keys("q")
        self.assertTerminalRestored(0)
        self.assertEqual(self.inputs()[-1], "QUIT")

    def test_autorepeat_gives_one_press_one_hold_one_release(self):
        self.start("--hold-ms", "400")
        end = time.monotonic() + 1.0
        while time.monotonic() < end:  # like a key held down: a byte every ~30 ms
            self.tmux.keys("p")
            time.sleep(0.02)
        screen = self.tmux.screen()
        self.assertIn("[play]", screen)  # shown held
        inputs = self.wait_inputs(lambda i: "RELEASE play" in i, 5, "the release")
        self.assertEqual(inputs, ["STARTED", "PRESS play", "HOLD play", "RELEASE play"])
        self.tmux.wait_for(lambda s: "[play]" not in s and "last: play RELEASE" in s, 5,
                           "the key shown up again")
        self.tmux.keys("C-d")  # Ctrl-D quits too
        self.assertTerminalRestored(0)

    def test_taps_of_one_key_each_press(self):
        self.start()
        for _ in range(3):
            self.tmux.keys("m")
            time.sleep(0.4)
        self.tmux.wait_for(lambda s: leds(s) == "100010", 5, "mode 3")
        inputs = self.wait_inputs(lambda i: i.count("RELEASE mode") == 3, 5, "three releases")
        self.assertEqual(inputs.count("PRESS mode"), 3)
        self.tmux.keys("q")
        self.assertTerminalRestored(0)

    def test_narrow_terminal_then_resize(self):
        self.tmux.resize(40, 8)
        screen = self.start()
        self.assertIn(ON + "0 " + ON + "1 " + OFF + "2", screen)  # compact LEDs
        self.assertIn("\u2026", screen)  # lines cut with …
        self.assertEqual(len(screen.splitlines()), 8)
        self.tmux.resize(80, 24)
        screen = self.tmux.wait_for(lambda s: leds(s) == "110000", 5, "the full layout")
        self.assertIn("state: connected  device: demo  server: fake", screen)
        self.assertNotIn(ON + "0 ", screen)  # no leftovers of the narrow layout
        self.tmux.keys("q")
        self.assertTerminalRestored(0)

    def test_no_colour(self):
        self.start(env="env NO_COLOR=1 COLORTERM=truecolor LANG=C.UTF-8")
        coloured = self.tmux.screen(escapes=True)
        self.assertNotIn("38;2;", coloured)
        self.assertEqual(leds(coloured), "110000")
        self.tmux.keys("q")
        self.assertTerminalRestored(0)

    def test_ctrl_c_restores_the_terminal(self):
        self.start()
        self.tmux.keys("C-c")
        self.assertTerminalRestored(0)
        self.assertEqual(self.inputs()[-1], "SIGNAL")

    def test_segfault_restores_the_terminal(self):
        self.start("--crash", "segv", "--after-ms", "500")
        self.assertTerminalRestored(128 + 11)

    def test_abort_restores_the_terminal(self):
        self.start("--crash", "abort", "--after-ms", "500")
        self.assertTerminalRestored(128 + 6)

    def test_not_a_terminal(self):
        p = subprocess.run([self.demo], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--sim needs a terminal on stdin and stdout; use --script for non-interactive runs",
                      p.stderr)
        self.assertEqual(p.stdout, "")  # nothing drawn


class LoggedProcess:
    """A child whose stderr a thread copies to a log file, line by line.
    Starting it waits until a line matches the regex `ready` (kept in
    self.ready), the child exits, or `timeout` passes; self.ready is None
    unless the line came, and the caller decides what that means."""

    def __init__(self, cmd, log_path, ready, timeout):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.ready = None
        found = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.log.write(line)
                self.log.flush()
                m = None if found.is_set() else re.search(ready, line)
                if m:
                    self.ready = m
                    found.set()

        self.thread = threading.Thread(target=drain, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05) and self.proc.poll() is None and time.monotonic() < deadline:
            pass

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(5)
        self.proc.stderr.close()
        self.log.close()


class Server(LoggedProcess):
    """The real opal-server on a free port; its log drained to a file."""

    def __init__(self, log_path):
        super().__init__([SERVER, "--listen", "127.0.0.1:0", "--assets", ASSETS, "--store", "memory"], log_path,
                         r"listening on 127\.0\.0\.1:(\d+)", 20)
        if not self.ready:
            self.stop()
            raise AssertionError("opal-server did not say where it listens (see %s)" % log_path)
        self.port = int(self.ready.group(1))


class DeviceScreen(TerminalChecks):
    """Checks of the real opal-device on screen: a wait that times out shows
    the device's log (self.device_log) under the screen."""

    def wait_for(self, check, timeout, what):
        try:
            return self.tmux.wait_for(check, timeout, what)
        except AssertionError as e:
            log = ""
            if os.path.exists(self.device_log):
                with open(self.device_log, errors="replace") as f:
                    log = f.read()[-3000:]
            raise AssertionError("%s\n--- device log:\n%s" % (e, log)) from None


@unittest.skipUnless(os.access(DEVICE, os.X_OK), "no %s yet" % DEVICE)
class DeviceTests(DeviceScreen, unittest.TestCase):
    count = 0

    @classmethod
    def setUpClass(cls):
        if not shutil.which("tmux"):
            raise unittest.SkipTest("tmux is not installed")
        cls.tmp = tempfile.mkdtemp(prefix="opal-tui-")
        cls.server = Server(os.path.join(cls.tmp, "server.log"))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp, True)

    def setUp(self):
        self.tmux = Tmux()
        self.addCleanup(self.tmux.close)
        self.device_log = os.path.join(self.tmp, "device-%s.log" % self._testMethodName)
        # A device id of its own: the server keeps a device's mode across runs.
        DeviceTests.count += 1
        self.device_id = "tui-%d-%d" % (os.getpid(), DeviceTests.count)

    def start_device(self):
        self.run_in_shell("%s %s --sim --server 127.0.0.1:%d --device-id %s --audio-out null "
                          "--log-file %s" % (TRUECOLOR_ENV, DEVICE, self.server.port,
                                             self.device_id, self.device_log))
        return self.wait_for(lambda s: status(s)[0] == "connected", 15, "connected")

    def test_mode_play_stop_quit(self):
        screen = self.start_device()
        self.assertEqual(self.tmux.show("#{alternate_on}"), "1")
        self.assertIn("device: %s" % self.device_id, screen)
        self.assertIn("server: 127.0.0.1:%d" % self.server.port, screen)
        self.assertIn("c connect/disconnect  m mode  p play  s stop  q quit (hold a key for HOLD)",
                      screen)
        # Connected: led_0 (power) on; mode 0 idle lights led_1 only.
        screen = self.wait_for(lambda s: leds(s) == "110000", 10, "mode 0 idle")
        state, activity = status(screen)
        self.assertRegex(activity, r"^idle  buffered \d+ ms  latency (-|\d+ ms)  underruns \d+  "
                                   r"reconnects \d+$")
        self.assertIn(RED + ON, line_with(self.tmux.screen(escapes=True), "led_0"))
        # The log file is written as it happens, not when the program ends.
        with open(self.device_log, errors="replace") as f:
            self.assertIn("connected to 127.0.0.1:%d as %s" % (self.server.port, self.device_id),
                          f.read())
        # Mode: mode 1 idle lights led_2 only, in amber.
        self.tmux.keys("m")
        self.wait_for(lambda s: leds(s) == "101000", 5, "mode 1 idle after m")
        self.assertIn(AMBER + ON, line_with(self.tmux.screen(escapes=True), "led_0"))
        # Play: mode 1 playing lights all but led_2 (its sound lasts 9 s).
        self.tmux.keys("p")
        screen = self.wait_for(lambda s: leds(s) == "110111" and status(s)[1].startswith("playing"),
                               5, "mode 1 playing after p")
        screen = self.wait_for(lambda s: re.search(r"latency \d+ ms", s), 5,
                               "a press-to-sound latency")
        # Stop: back to mode 1 idle.
        self.tmux.keys("s")
        self.wait_for(lambda s: leds(s) == "101000" and status(s)[1].startswith("idle"), 5,
                      "mode 1 idle after s")
        self.tmux.keys("q")
        self.assertTerminalRestored(0)

    def test_connect_key_disconnects_and_reconnects(self):
        self.start_device()
        self.tmux.keys("c")
        screen = self.wait_for(lambda s: status(s)[0] not in ("", "connected")
                               and leds(s)[:1] == "0", 5, "disconnected after c")
        self.tmux.keys("c")
        self.wait_for(lambda s: status(s)[0] == "connected" and leds(s)[:1] == "1", 10,
                      "connected again after c")
        self.tmux.keys("C-c")
        self.assertTerminalRestored(0)

    def test_not_a_terminal(self):
        p = subprocess.run([DEVICE, "--sim", "--server", "127.0.0.1:%d" % self.server.port,
                            "--device-id", self.device_id, "--audio-out", "null"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--sim needs a terminal on stdin and stdout; use --script for non-interactive runs",
                      p.stderr)
        self.assertNotIn("\x1b[", p.stdout)  # nothing drawn


if __name__ == "__main__":
    unittest.main()
