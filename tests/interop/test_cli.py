#!/usr/bin/python3
"""The server's command line: --help, --version, and one clear line for each
way start-up can fail (bad flag, port in use, assets folder missing or
empty, a sound file that does not decode).

Run:   /usr/bin/python3 tests/interop/test_cli.py
Environment: OPAL_SERVER (default <repo>/build/opal-server).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.environ.get("OPAL_SERVER") or os.path.join(REPO, "build", "opal-server")


def run(*args, timeout=20):
    """Runs the server to completion; returns (exit code, stdout, stderr)."""
    p = subprocess.run([SERVER, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class CommandLineTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="opal-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def assertOneLineError(self, rc, err, expected_rc, *fragments):
        """Exit code as expected, stderr one line starting 'opal-server: '."""
        lines = err.strip().splitlines()
        self.assertEqual(rc, expected_rc, "exit code; stderr: %r" % err)
        self.assertEqual(len(lines), 1, "expected one line, got: %r" % err)
        self.assertTrue(lines[0].startswith("opal-server: "), lines[0])
        for f in fragments:
            self.assertIn(f, lines[0])
        print(lines[0])

    def test_help_lists_every_flag(self):
        rc, out, err = run("--help")
        self.assertEqual(rc, 0)
        self.assertEqual(err, "")
        for flag in ("--listen", "--assets", "--lead-ms", "--log-level", "--help", "--version",
                     "--max-connections", "--max-connections-per-ip", "--max-calls-per-connection",
                     "--idle-timeout", "--max-resets"):
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
