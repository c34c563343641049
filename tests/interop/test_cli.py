#!/usr/bin/python3
"""The server's command line: --help, --version, and one clear line for each
way start-up can fail (bad flag, port in use, assets folder missing or
empty, a sound file that does not decode); and the config files
(server.conf, --config FILE; the device's device.conf is read by the same
code, shared/config_file.c, and checked in tests/unit/device/).

Run:   /usr/bin/python3 tests/interop/test_cli.py
Environment: OPAL_SERVER (default <repo>/build/opal-server), OPAL_DEVICE
(default <repo>/build/opal-device, for its --help against its example file).
"""

import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.environ.get("OPAL_SERVER") or os.path.join(REPO, "build", "opal-server")
DEVICE = os.environ.get("OPAL_DEVICE") or os.path.join(REPO, "build", "opal-device")
ASSETS = os.path.join(REPO, "assets")
EXAMPLES = os.path.join(REPO, "deploy", "config")
NO_CONFIG_DIR = None


def setUpModule():
    """The default file is read from an empty folder: nothing in /etc/opal
    on this machine reaches these tests."""
    global NO_CONFIG_DIR
    NO_CONFIG_DIR = tempfile.mkdtemp(prefix="opal-no-config-")
    os.environ["OPAL_CONFIG_DIR"] = NO_CONFIG_DIR


def tearDownModule():
    shutil.rmtree(NO_CONFIG_DIR, True)


def run(*args, timeout=20):
    """Runs the server to completion; returns (exit code, stdout, stderr)."""
    p = subprocess.run([SERVER, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class OneLineErrors:
    def assertOneLineError(self, rc, err, expected_rc, *fragments):
        """Exit code as expected, stderr one line starting 'opal-server: '."""
        lines = err.strip().splitlines()
        self.assertEqual(rc, expected_rc, "exit code; stderr: %r" % err)
        self.assertEqual(len(lines), 1, "expected one line, got: %r" % err)
        self.assertTrue(lines[0].startswith("opal-server: "), lines[0])
        for f in fragments:
            self.assertIn(f, lines[0])
        print(lines[0])


class CommandLineTests(OneLineErrors, unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="opal-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_help_lists_every_flag(self):
        rc, out, err = run("--help")
        self.assertEqual(rc, 0)
        self.assertEqual(err, "")
        for flag in ("--listen", "--assets", "--lead-ms", "--log-level", "--help", "--version",
                     "--max-connections", "--max-connections-per-ip", "--max-calls-per-connection",
                     "--idle-timeout", "--max-resets", "--packet-ms"):
            self.assertIn(flag, out)

    def test_version(self):
        rc, out, _ = run("--version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^opal-server \d+\.\d+\.\d+\n$")

    def test_bad_flags_name_the_flag(self):
        cases = [
            (("--nonsense",), "--nonsense"),
            (("--lead-ms", "soon"), "--lead-ms"),
            (("--lead-ms", "-5"), "--lead-ms"),
            (("--listen", "no-port"), "--listen"),
            (("--listen", "host:99999"), "--listen"),
            (("--log-level", "chatty"), "--log-level"),
            (("--assets",), "--assets"),
            (("--replica-name", "two words"), "--replica-name"),
            (("--max-connections", "0"), "--max-connections"),
            (("--max-connections-per-ip", "many"), "--max-connections-per-ip"),
            (("--max-calls-per-connection", "2"), "--max-calls-per-connection"),
            (("--idle-timeout", "-1"), "--idle-timeout"),
            (("--max-resets", "1e3"), "--max-resets"),
            (("--packet-ms", "0"), "--packet-ms"),
            (("--packet-ms", "10"), "--packet-ms"),
            (("--packet-ms", "50"), "--packet-ms"),
            (("--packet-ms", "140"), "--packet-ms"),
            (("--packet-ms", "-20"), "--packet-ms"),
            (("--packet-ms", "big"), "--packet-ms"),
            (("--packet-ms", ""), "--packet-ms"),
        ]
        for args, flag in cases:
            rc, _, err = run(*args)
            self.assertOneLineError(rc, err, 2, flag)

    def test_max_connections_above_the_open_file_limit(self):
        p = subprocess.run(["prlimit", "--nofile=1000:1000", "--", SERVER, "--listen", "127.0.0.1:0",
                            "--store", "memory", "--max-connections", "5000"],
                           capture_output=True, text=True, timeout=20)
        self.assertOneLineError(p.returncode, p.stderr, 2, "--max-connections 5000",
                                "open-file limit (1000)", "928")

    def test_port_in_use(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            rc, _, err = run("--listen", "127.0.0.1:%d" % port, "--store", "memory")
        self.assertOneLineError(rc, err, 1, "port %d is already in use" % port)

    def test_missing_assets_folder(self):
        missing = os.path.join(self.tmp, "nowhere")
        rc, _, err = run("--listen", "127.0.0.1:0", "--assets", missing, "--store", "memory")
        self.assertOneLineError(rc, err, 1, missing, "No such file or directory")

    def test_assets_folder_without_sounds(self):
        rc, _, err = run("--listen", "127.0.0.1:0", "--assets", self.tmp, "--store", "memory")
        self.assertOneLineError(rc, err, 1, "no mode sounds")

    def test_sound_that_does_not_decode(self):
        with open(os.path.join(self.tmp, "0-noise.wav"), "wb") as f:
            f.write(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
        rc, _, err = run("--listen", "127.0.0.1:0", "--assets", self.tmp, "--store", "memory")
        self.assertOneLineError(rc, err, 1, "0-noise.wav")

    def test_broken_ogg_opus(self):
        shutil.copy(os.path.join(REPO, "assets", "0-chime.opus"), os.path.join(self.tmp, "0-chime.opus"))
        with open(os.path.join(self.tmp, "0-chime.opus"), "r+b") as f:
            f.truncate(5000)
        rc, _, err = run("--listen", "127.0.0.1:0", "--assets", self.tmp, "--store", "memory")
        self.assertOneLineError(rc, err, 1, "0-chime.opus", "truncated")

    def test_overload_flags(self):
        """--max-streams and --max-pacing-lag-ms: listed, their bounds taken
        (--help after them ends the run once they parsed), bad values named."""
        rc, out, _ = run("--help")
        self.assertIn("--max-streams", out)
        self.assertIn("--max-pacing-lag-ms", out)
        for args in (("--max-streams", "0"), ("--max-streams", "10000000"),
                     ("--max-pacing-lag-ms", "0"), ("--max-pacing-lag-ms", "60000")):
            rc, out, err = run(*args, "--help")
            self.assertEqual((rc, err), (0, ""), args)
        for args in (("--max-streams", "-1"), ("--max-streams", "lots"),
                     ("--max-streams", "10000001"), ("--max-pacing-lag-ms", "60001"),
                     ("--max-pacing-lag-ms", "1.5"), ("--max-pacing-lag-ms", "")):
            rc, _, err = run(*args)
            self.assertOneLineError(rc, err, 2, args[0])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def long_flags(program):
    """The long flags its --help lists, but --help, --version and --config."""
    out = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=20).stdout
    flags = set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", out))
    return flags - {"help", "version", "config"}


class ConfigFileTests(OneLineErrors, unittest.TestCase):
    """server.conf and --config FILE: INI whose keys are the long flags."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="opal-conf-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assertConfigError(self, args, *fragments, env=None):
        p = subprocess.run([SERVER, *args], capture_output=True, text=True, timeout=20, env=env)
        self.assertOneLineError(p.returncode, p.stderr, 2, *fragments)

    def start_until_listening(self, *args, env=None):
        """Starts the server; returns its "listening on ..." log line. The
        server is stopped (and waited for) when the test ends."""
        p = subprocess.Popen([SERVER, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, env=env)

        def stop():
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            p.stderr.close()
        self.addCleanup(stop)
        # Raw reads: select() does not see what a buffered reader holds.
        seen = b""
        deadline = time.monotonic() + 60  # ASan and a loaded machine start slowly
        while time.monotonic() < deadline:
            ready, _, _ = select.select([p.stderr], [], [], 1)
            if not ready:
                continue
            chunk = os.read(p.stderr.fileno(), 65536)
            if not chunk:
                self.fail("the server ended before listening: %r" % seen)
            seen += chunk
            for line in seen.decode("utf-8", "replace").splitlines(keepends=True):
                if "listening on" in line and line.endswith("\n"):
                    return line
        self.fail("no 'listening on' line: %r" % seen)

    def test_values_from_the_file_apply(self):
        port = free_port()
        conf = self.write("server.conf", "# a comment\n\nlisten = 127.0.0.1:%d\n"
                          "lead-ms = 321   ; an inline comment\nstore = memory\n"
                          "assets = %s\n" % (port, ASSETS))
        line = self.start_until_listening("--config", conf)
        self.assertIn("listening on 127.0.0.1:%d (lead 321 ms" % port, line)
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass  # the port from the file is where the server listens

    def test_default_file_in_the_config_dir(self):
        port = free_port()
        self.write("server.conf", "listen = 127.0.0.1:%d\nstore = memory\n" % port)
        env = dict(os.environ, OPAL_CONFIG_DIR=self.tmp)
        line = self.start_until_listening("--assets", ASSETS, env=env)
        self.assertIn("listening on 127.0.0.1:%d " % port, line)

    def test_flags_win_over_the_file(self):
        port = free_port()
        conf = self.write("s.conf", "listen = 127.0.0.1:1\nlead-ms = 321\nstore = memory\n")
        line = self.start_until_listening("--listen", "127.0.0.1:%d" % port, "--config", conf,
                                          "--lead-ms", "222", "--assets", ASSETS)
        self.assertIn("listening on 127.0.0.1:%d (lead 222 ms" % port, line)

    def test_unknown_key(self):
        conf = self.write("s.conf", "lead-ms = 100\n\n# next: a typo\nlistn = 0.0.0.0:1\n")
        self.assertConfigError(["--config", conf], "%s:4: unknown key 'listn'" % conf)

    def test_bad_value_names_file_line_and_key(self):
        conf = self.write("s.conf", "store = memory\n\nlead-ms = -5\n")
        self.assertConfigError(["--config", conf],
                               "%s:3: key 'lead-ms': expected milliseconds from 0 to 5000 (got '-5')"
                               % conf)
        conf = self.write("t.conf", "max-connections-per-ip = many\n")
        self.assertConfigError(["--config", conf], "%s:1: key 'max-connections-per-ip': " % conf,
                               "(got 'many')")

    def test_bad_value_in_the_default_file(self):
        self.write("server.conf", "workers = 0\n")
        env = dict(os.environ, OPAL_CONFIG_DIR=self.tmp)
        self.assertConfigError([], "%s/server.conf:1: key 'workers': " % self.tmp, env=env)

    def test_other_mistakes(self):
        cases = [
            ("lead-ms = 1\nlead-ms = 2\n", ":2: key 'lead-ms' given twice (first on line 1)"),
            ("[gpio]\n", ":1: unknown section [gpio]"),
            ("just words\n", ":1: expected 'key = value'"),
            ("help = true\n", ":1: key 'help': a command-line flag only"),
            ("config = other.conf\n", ":1: key 'config': a command-line flag only"),
        ]
        for text, fragment in cases:
            conf = self.write("s.conf", text)
            self.assertConfigError(["--config", conf], conf + fragment)

    def test_missing_config_file(self):
        missing = os.path.join(self.tmp, "nowhere.conf")
        self.assertConfigError(["--config", missing], missing, "No such file or directory")
        self.assertConfigError(["--config", self.tmp], self.tmp, "Is a directory")

    def test_help_and_version_read_no_file(self):
        self.write("server.conf", "nonsense = 1\n")
        env = dict(os.environ, OPAL_CONFIG_DIR=self.tmp)
        for flag in ("--help", "--version"):
            p = subprocess.run([SERVER, flag], capture_output=True, text=True, timeout=20, env=env)
            self.assertEqual((p.returncode, p.stderr), (0, ""))

    def test_example_file_lists_every_flag(self):
        """deploy/config/server.conf has a commented-out line for each long
        flag of --help, and no key that is not one."""
        with open(os.path.join(EXAMPLES, "server.conf")) as f:
            keys = set(re.findall(r"^#([a-z][a-z0-9-]*) =", f.read(), re.M))
        flags = long_flags(SERVER)
        self.assertTrue(flags, "no flags found in --help")
        self.assertEqual(sorted(flags - keys), [], "flags missing from deploy/config/server.conf")
        self.assertEqual(sorted(keys - flags), [], "keys in the example that are no flags")

    def test_device_example_file_lists_every_flag(self):
        """deploy/config/device.conf names each long flag of the device's
        --help: as a key, or (the pin map's flags) in the text that sends
        them to [gpio]."""
        with open(os.path.join(EXAMPLES, "device.conf")) as f:
            text = f.read()
        keys = set(re.findall(r"^#([a-z][a-z0-9-]*) =", text, re.M))
        flags = long_flags(DEVICE)
        self.assertTrue(flags, "no flags found in --help")
        missing = [f for f in sorted(flags) if f not in keys and "--" + f not in text]
        self.assertEqual(missing, [], "flags missing from deploy/config/device.conf")
        top_level = set(re.findall(r"^#([a-z][a-z0-9-]*) =", text.split("[gpio]")[0], re.M))
        self.assertEqual(sorted(top_level - flags), [], "keys in the example that are no flags")


class DeviceConfigFileTests(unittest.TestCase):
    """The real opal-device reads device.conf's top-level keys and its [gpio]
    section (its options are checked in full by
    tests/unit/device/test_device_options.c). No gpio chip of that name
    exists, so the device stops at the pin map, saying which chip it used."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="opal-device-conf-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        with open(os.path.join(self.tmp, "device.conf"), "w") as f:
            f.write("server = 127.0.0.1:1\naudio-out = null\n[gpio]\nchip = opal-test-chip\n"
                    "hold_ms = 900\n")

    def run_device(self, *args):
        env = dict(os.environ, OPAL_CONFIG_DIR=self.tmp)
        return subprocess.run([DEVICE, *args], capture_output=True, text=True, timeout=30, env=env)

    def test_gpio_section_of_device_conf(self):
        p = self.run_device()
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("gpio chip opal-test-chip:", p.stderr)
        self.assertIn("hold 900 ms", p.stderr)
        self.assertIn("opal-device: gpio chip 'opal-test-chip' not found", p.stderr)

    def test_flag_wins_over_gpio_section(self):
        p = self.run_device("--gpio-chip", "opal-other-chip")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("opal-device: gpio chip 'opal-other-chip' not found", p.stderr)
        self.assertIn("hold 900 ms", p.stderr)

    def test_bad_gpio_value(self):
        with open(os.path.join(self.tmp, "device.conf"), "a") as f:
            f.write("led_lines = 1,2\n")
        p = self.run_device()
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr.strip().splitlines(), [
            "opal-device: %s/device.conf:6: [gpio] key 'led_lines': expected 6 line numbers "
            "separated by commas, as in 5,6,12,13,16,26 (got 2)" % self.tmp])


if __name__ == "__main__":
    unittest.main(verbosity=2)
