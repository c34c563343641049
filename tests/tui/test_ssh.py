#!/usr/bin/python3
"""opal-device --sim over a real SSH session, as a person on a laptop runs
it on a board: a private sshd on a free loopback port (its own host key,
authorized key and config, nothing of the system's), the ssh client typed
into a private tmux at 80x24, the screen read back with capture-pane.

What SSH changes against the local TUI test (test_tui.py): the program's
terminal is the pty sshd allocates, COLORTERM does not travel (colour comes
from TERM alone), and a dropped connection hangs the terminal up under the
running program.

- test_keys_over_ssh: LEDs and status line follow m / p / s, 256 colours
  from TERM=xterm-256color, q quits and both ends of the terminal are back
  as they were.
- test_hangup_stops_the_device: the ssh client killed mid-session: the
  device, leading the session on its pty, gets the hangup's SIGHUP, stops
  cleanly (its log ends "stopped on SIGHUP (exit 0)"; no process is left
  spinning on a dead terminal) and the server sees it disconnect.

Needs root (sshd's privilege separation), /usr/sbin/sshd, ssh, ssh-keygen
and tmux; skipped otherwise, with the reason.

Run:   /usr/bin/python3 tests/tui/test_ssh.py [-v]
Environment: OPAL_DEVICE, OPAL_SERVER (default <repo>/build/...).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from test_tui import DEVICE, ON, DeviceScreen, LoggedProcess, Server, Tmux, leds, line_with, status

SSHD = "/usr/sbin/sshd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_with(*texts, exe=None):
    """Pids whose command line contains every one of `texts` (and whose
    program is called `exe`, if given)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmdline = f.read()
            if exe and os.path.basename(os.readlink("/proc/%s/exe" % pid)) != exe:
                continue
        except OSError:
            continue
        if all(t.encode() in cmdline for t in texts):
            found.append(int(pid))
    return found


class Sshd:
    """A private sshd in the foreground on 127.0.0.1, key login only."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "ssh")
        os.mkdir(self.dir, 0o700)
        host_key = os.path.join(self.dir, "host_key")
        self.client_key = os.path.join(self.dir, "client_key")
        for key in (host_key, self.client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        shutil.copy(self.client_key + ".pub", os.path.join(self.dir, "authorized_keys"))
        # Privilege separation chroots into this; the ssh service would create it.
        os.makedirs("/run/sshd", 0o755, exist_ok=True)
        self.process = None
        for _ in range(5):  # a free port may be taken between the probe and sshd's bind
            self.port = free_port()
            config = os.path.join(self.dir, "sshd_config")
            with open(config, "w") as f:
                f.write("\n".join([
                    "ListenAddress 127.0.0.1:%d" % self.port,
                    "HostKey %s" % host_key,
                    "AuthorizedKeysFile %s" % os.path.join(self.dir, "authorized_keys"),
                    "PidFile none",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "",
                ]))
            self.process = LoggedProcess([SSHD, "-D", "-e", "-f", config],
                                         os.path.join(self.dir, "sshd.log"), "Server listening on", 10)
            if self.process.ready:
                return
            self.stop()
        raise AssertionError("sshd did not start (see %s)" % os.path.join(self.dir, "sshd.log"))

    def client_args(self):
        """ssh's arguments for our port and key, quiet about the unknown host."""
        return ["-p", str(self.port), "-i", self.client_key, "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "127.0.0.1"]

    def command(self, remote, term):
        """The ssh command line a user would type, with a terminal."""
        return "TERM=%s ssh -tt %s %s" % (term, " ".join(self.client_args()), remote)

    def check_login(self):
        """A plain `ssh … true` first, so that a login problem (a locked
        account, say) fails here with sshd's own words, not as a blank pane."""
        p = subprocess.run(["ssh", *self.client_args(), "true"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            with open(os.path.join(self.dir, "sshd.log"), errors="replace") as f:
                raise AssertionError("ssh to the test's sshd failed (exit %d): %s\n--- sshd log:\n%s"
                                     % (p.returncode, p.stderr.strip(), f.read()[-2000:]))

    def stop(self):
        if self.process:
            self.process.stop()
            self.process = None


@unittest.skipUnless(os.access(DEVICE, os.X_OK), "no %s yet" % DEVICE)
class SshTests(DeviceScreen, unittest.TestCase):
    count = 0

    @classmethod
    def setUpClass(cls):
        for tool in ("tmux", "ssh", "ssh-keygen"):
            if not shutil.which(tool):
                raise unittest.SkipTest("%s is not installed" % tool)
        if not os.access(SSHD, os.X_OK):
            raise unittest.SkipTest("%s is not installed (openssh-server)" % SSHD)
        if os.geteuid() != 0:
            raise unittest.SkipTest("a private sshd needs root for its privilege separation")
        cls.tmp = tempfile.mkdtemp(prefix="opal-ssh-")
        cls.server = None
        cls.sshd = None
        try:
            cls.server = Server(os.path.join(cls.tmp, "server.log"))
            cls.sshd = Sshd(cls.tmp)
            cls.sshd.check_login()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.sshd:
            cls.sshd.stop()
        if cls.server:
            cls.server.stop()
        shutil.rmtree(cls.tmp, True)

    def setUp(self):
        self.tmux = Tmux()
        self.addCleanup(self.tmux.close)
        SshTests.count += 1
        self.device_id = "ssh-%d-%d" % (os.getpid(), SshTests.count)
        self.device_log = os.path.join(self.tmp, "device-%s.log" % self._testMethodName)
        self.addCleanup(self.kill_leftovers)

    def kill_leftovers(self):
        for pid in processes_with(self.device_id):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def device_command(self):
        # What a login shell on the board would have: a UTF-8 locale. The
        # client's COLORTERM is not sent over SSH, so none here either.
        return ("LANG=C.UTF-8 %s --sim --server 127.0.0.1:%d --device-id %s --audio-out null "
                "--log-file %s" % (DEVICE, self.server.port, self.device_id, self.device_log))

    def wait_server_disconnect(self):
        line = "disconnect device=%s mode" % self.device_id
        deadline = time.monotonic() + 10
        while True:
            with open(os.path.join(self.tmp, "server.log"), errors="replace") as f:
                if line in f.read():
                    return
            self.assertLess(time.monotonic(), deadline, "the server did not see the device go")
            time.sleep(0.05)

    def test_keys_over_ssh(self):
        self.run_in_shell(self.sshd.command("'%s'" % self.device_command(), "xterm-256color"))
        screen = self.wait_for(lambda s: status(s)[0] == "connected" and leds(s) == "110000", 20,
                               "the device connected over ssh, mode 0 idle")
        self.assertEqual(self.tmux.show("#{alternate_on}"), "1")
        self.assertIn("device: %s" % self.device_id, screen)
        for line in screen.splitlines():
            self.assertLessEqual(len(line), 80)
        # No COLORTERM over SSH: TERM=xterm-256color gives the 256-colour palette.
        coloured = self.tmux.screen(escapes=True)
        self.assertRegex(line_with(coloured, "led_0"), "\x1b\\[38;5;\\d+m" + ON)
        self.assertNotIn("38;2;", coloured)
        self.tmux.keys("m")
        self.wait_for(lambda s: leds(s) == "101000", 5, "mode 1 idle after m")
        self.tmux.keys("p")
        self.wait_for(lambda s: leds(s) == "110111" and status(s)[1].startswith("playing"), 5,
                      "mode 1 playing after p")
        self.tmux.keys("s")
        self.wait_for(lambda s: leds(s) == "101000" and status(s)[1].startswith("idle"), 5,
                      "mode 1 idle after s")
        self.tmux.keys("q")
        # ssh passes the remote exit code on; the terminal is back on both ends.
        self.assertTerminalRestored(0)
        self.wait_server_disconnect()

    def test_hangup_stops_the_device(self):
        # As a user runs it: sshd's shell execs the one command, so the
        # device leads the session and gets the hangup's SIGHUP itself.
        self.run_in_shell(self.sshd.command("'%s'" % self.device_command(), "screen"))
        self.wait_for(lambda s: status(s)[0] == "connected" and leds(s) == "110000", 20,
                      "the device connected over ssh")
        self.tmux.keys("p")
        self.wait_for(lambda s: status(s)[1].startswith("playing"), 5, "playing after p")
        clients = processes_with("-p\0%d\0" % self.sshd.port, self.device_id, exe="ssh")
        self.assertEqual(len(clients), 1, "one ssh client for this session")
        os.kill(clients[0], signal.SIGKILL)  # the laptop's lid shut, the Wi-Fi gone
        deadline = time.monotonic() + 15
        while processes_with("--device-id\0%s\0" % self.device_id):
            self.assertLess(time.monotonic(), deadline, "the device still runs after the hangup")
            time.sleep(0.05)
        with open(self.device_log, errors="replace") as f:
            last = f.read().splitlines()[-1]
        self.assertRegex(last, r"info  stopped on SIGHUP \(exit 0\)$")
        self.wait_server_disconnect()
        # The local shell got its terminal back from the killed client.
        self.tmux.wait_for(lambda s: re.search(r"EXIT=\d+", s), 10, "the local shell")


if __name__ == "__main__":
    unittest.main()
