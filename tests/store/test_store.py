#!/usr/bin/python3
"""The server's device store: every device's mode outlives the server.

Each test has its own temp folder (the state file inside) and starts its own
servers on free loopback ports with `--store sqlite:<tmp>/state.db` (or
memory, or no --store and a chosen environment for the default path), then
stops them: SIGTERM (or SIGINT), which must flush every change, or SIGKILL,
which may lose only the last ~100 ms (the write-behind window). Devices are
the exercise-like Python client of tests/interop (opal_client.py); their
first SET after reconnecting to a new server must show the mode they had.

Run:   /usr/bin/python3 tests/store/test_store.py [-v] [TestClass[.test_name]]
Environment: OPAL_SERVER (default <repo>/build/opal-server), OPAL_ASSETS,
OPAL_PY_GEN, OPAL_SERVER_WRAPPER (as tests/interop/test_interop.py).

Only /usr/bin/python3 (Debian's python3-grpcio and python3-protobuf).
"""

import fcntl
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interop"))

import opal_client as oc  # noqa: E402
from opal_client import MODE, PLAY, OpalClient, describe_pattern, pattern_state  # noqa: E402
from test_interop import ASSETS, SERVER, SLOW, START_TIMEOUT, STOP_TIMEOUT, ServerProcess  # noqa: E402

NMODES = 5
LONG_MODE = 2          # the bundled sound of mode 2 lasts >= 60 s
DEVICES = 20
AFTER_LAST_CHANGE = 0.3  # > the ~100 ms write-behind window: what kill -9 may not lose
# Environment variables that choose the default state file.
STATE_ENV = ("STATE_DIRECTORY", "XDG_STATE_HOME", "HOME")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\S+ +(debug|info|warn|error) ")


def clean_env(**kw):
    """This process's environment without the variables that choose the
    default state file, plus kw."""
    env = {k: v for k, v in os.environ.items() if k not in STATE_ENV}
    env.update(kw)
    return env


class StoreTestCase(unittest.TestCase):
    """Per test: a temp folder (removed at the end, also on failure), and
    helpers that start servers and clients and always stop them."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="opal-store-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.db = os.path.join(self.tmp, "state.db")
        # Whatever a server does with its default path stays in the temp folder.
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home)

    # ---- processes -------------------------------------------------------

    def server(self, store=None, env=None):
        """A started server. store: the --store value (default
        sqlite:<tmp>/state.db; "" for no --store at all)."""
        if store is None:
            store = "sqlite:" + self.db
        if env is None:
            env = clean_env(HOME=self.home)
        srv = ServerProcess(store=store or None, env=env)
        self.addCleanup(srv.kill)   # never leave a process behind
        srv.start()
        return srv

    def sigterm(self, srv, sig=signal.SIGTERM):
        """SIGTERM (or sig) and wait; the server must exit 0."""
        srv.signal(sig)
        try:
            rc = srv.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            srv.kill()
            self.fail("server did not exit within %.0f s of signal %d\n%s" % (STOP_TIMEOUT, sig, srv.log_tail()))
        srv.kill()  # joins the drain threads
        self.assertEqual(rc, 0, "server exit code after signal %d\n%s" % (sig, srv.log_tail()))

    def sigkill(self, srv):
        srv.signal(signal.SIGKILL)
        srv.proc.wait(STOP_TIMEOUT)
        srv.kill()
        self.assertEqual(srv.proc.returncode, -signal.SIGKILL)

    def client(self, srv, device_id, **kw):
        c = OpalClient(srv.target, device_id, **kw)
        self.addCleanup(c.disconnect)
        return c

    def first_set(self, c, srv, timeout=5.0):
        sets = c.wait_sets(1, timeout * SLOW)
        self.assertTrue(sets, "%s: no SET within %.0f s of connecting; requests=%r ended=%r\n%s"
                        % (c.device_id, timeout * SLOW, c.requests, c.ended, srv.log_tail()))
        return sets[0]

    def connect_all(self, srv, ids):
        """Connects every id at once; returns the clients, each with its first SET."""
        clients = [self.client(srv, did) for did in ids]
        deadline = time.monotonic() + 10 * SLOW
        for c in clients:
            c.wait_sets(1, max(0.0, deadline - time.monotonic()))
        missing = [c.device_id for c in clients if not c.sets]
        self.assertEqual(missing, [], "no first SET within 10 s\n%s" % srv.log_tail())
        return clients

    # ---- presses and patterns -------------------------------------------

    def press_ok(self, c, button):
        ack = c.press(button)
        self.assertTrue(ack, "%s: %s acked %r" % (c.device_id, oc.BUTTON_NAMES[button], ack))

    def wait_state(self, c, state, mode, start=0, timeout=2.0):
        s = c.wait_set_where(start, lambda s: pattern_state(s.leds) == (state, mode), timeout * SLOW)
        self.assertIsNotNone(s, "%s: no SET showing %s mode %d; SETs: %r"
                             % (c.device_id, state, mode, c.sets_since(start)))
        return s

    def assert_state(self, leds, state, mode, what):
        self.assertEqual(pattern_state(leds), (state, mode), "%s: LED pattern %s is not '%s mode %d'"
                         % (what, describe_pattern(leds), state, mode))

    def assert_modes_after_restart(self, srv, expected, what):
        """expected: {device id: mode}. Every device connects (all at once);
        its first SET is idle in its mode. Returns the clients."""
        ids = sorted(expected)
        clients = self.connect_all(srv, ids)
        wrong = ["%s: %s, expected idle mode %d" % (c.device_id, describe_pattern(c.sets[0].leds),
                                                      expected[c.device_id])
                 for c in clients if pattern_state(c.sets[0].leds) != ("idle", expected[c.device_id])]
        self.assertEqual(wrong, [], "%s: %d of %d devices' first SET is not their mode:\n  %s\n%s"
                         % (what, len(wrong), len(ids), "\n  ".join(wrong), srv.log_tail()))
        return clients

    def set_modes(self, srv, tag, disconnect_even=True):
        """DEVICES devices; device i presses Mode i+1 times (mode (i+1) % 5,
        some wrapped): i presses first, then, after a pause longer than the
        write-behind window, one last press each in a quick round, so most
        last changes are still inside the window at the end. The even ones
        then disconnect. Returns ({id: mode}, clients)."""
        ids = ["%s-%02d" % (tag, i) for i in range(DEVICES)]
        clients = self.connect_all(srv, ids)
        for c in clients:
            self.assert_state(c.sets[0].leds, "idle", 0, "%s, a new device" % c.device_id)
        for i, c in enumerate(clients):
            for _ in range(i):
                self.press_ok(c, MODE)
        time.sleep(AFTER_LAST_CHANGE)
        marks = [len(c.sets) for c in clients]
        t0 = time.monotonic()
        for i, c in enumerate(clients):
            self.press_ok(c, MODE)   # acked: the change is made
            if disconnect_even and i % 2 == 0:
                c.disconnect()
        expected = {}
        for i, c in enumerate(clients):
            mode = (i + 1) % NMODES
            expected[c.device_id] = mode
            if c.connected:
                self.wait_state(c, "idle", mode, start=marks[i])
        print("the last round of changes took %.0f ms" % ((time.monotonic() - t0) * 1000))
        return expected, clients

    def next_modes(self, clients, expected):
        """Each client presses Mode once more; returns the new {id: mode}."""
        after = {}
        for c in clients:
            n = len(c.sets)
            self.press_ok(c, MODE)
            mode = (expected[c.device_id] + 1) % NMODES
            self.wait_state(c, "idle", mode, start=n)
            after[c.device_id] = mode
        return after

    def play(self, c, seconds=0.3):
        n = len(c.packets)
        self.press_ok(c, PLAY)
        i, p = c.wait_packet(n, lambda p: True, 3.0 * SLOW)
        self.assertIsNotNone(p, "%s: no audio within 3 s of Play" % c.device_id)
        self.assertTrue(p.is_start, "%s: first packet after Play is not is_start" % c.device_id)
        c.wait_audio_seconds(i, seconds, 3.0 * SLOW)
        self.assertFalse(any(q.is_end for q in c.packets_since(i)), "%s: the sound ended" % c.device_id)
        return i

    # ---- the file --------------------------------------------------------

    def rows(self, path):
        """{id: (mode, version)} of the devices table."""
        con = sqlite3.connect(path, timeout=5)
        try:
            return {r[0]: (r[1], r[2]) for r in con.execute("SELECT id, mode, version FROM devices")}
        finally:
            con.close()

    def assert_store_logged(self, srv, path):
        line = [l for l in srv.lines if "store" in l and path in l]
        self.assertTrue(line, "no start-up line naming the store %s; first lines:\n%s"
                        % (path, "\n".join(srv.lines[:15])))
        print("server: %s" % line[0])


class RestartTests(StoreTestCase):

    def test_restart_after_sigterm(self):
        srv = self.server()
        self.assert_store_logged(srv, "sqlite:" + self.db)
        expected, _ = self.set_modes(srv, "term")
        # SIGTERM at once: the last changes are still in the write-behind window.
        self.sigterm(srv)
        srv2 = self.server()
        clients = self.assert_modes_after_restart(srv2, expected, "after SIGTERM")
        print("after SIGTERM and restart: %d devices found their modes" % len(clients))
        # Pressing Mode goes on from there, and that change is kept too (its
        # version beats the stored one).
        after = self.next_modes(clients, expected)
        self.sigterm(srv2)
        srv3 = self.server()
        self.assert_modes_after_restart(srv3, after, "after a second SIGTERM")
        self.sigterm(srv3)

    def test_restart_after_sigint(self):
        srv = self.server()
        c = self.client(srv, "int-0")
        self.first_set(c, srv)
        for _ in range(3):
            self.press_ok(c, MODE)
        self.wait_state(c, "idle", 3)
        self.sigterm(srv, signal.SIGINT)
        srv2 = self.server()
        self.assert_modes_after_restart(srv2, {"int-0": 3}, "after SIGINT")
        self.sigterm(srv2)

    def test_restart_after_kill_9(self):
        srv = self.server()
        expected, clients = self.set_modes(srv, "kill", disconnect_even=False)
        # One of them is playing when the server is killed.
        player = clients[1]
        self.play(player)
        t_last = time.monotonic()
        time.sleep(AFTER_LAST_CHANGE)
        print("SIGKILL %.0f ms after the last change" % ((time.monotonic() - t_last) * 1000))
        self.sigkill(srv)
        srv2 = self.server()
        self.assert_modes_after_restart(srv2, expected, "after kill -9 (%.0f ms after the last change)"
                                        % (AFTER_LAST_CHANGE * 1000))
        self.sigterm(srv2)

    def test_playing_device_comes_back_idle(self):
        srv = self.server()
        a = self.client(srv, "play-a")
        b = self.client(srv, "play-b")
        for c in (a, b):
            self.first_set(c, srv)
            for _ in range(LONG_MODE):
                self.press_ok(c, MODE)
            self.wait_state(c, "idle", LONG_MODE)
            n = len(c.sets)
            self.play(c)
            self.wait_state(c, "playing", LONG_MODE, start=n)
        # b changes mode while its sound plays (the sound keeps playing).
        self.press_ok(b, MODE)
        self.sigterm(srv)   # mid-stream
        srv2 = self.server()
        a2, b2 = self.assert_modes_after_restart(srv2, {"play-a": LONG_MODE, "play-b": LONG_MODE + 1},
                                                 "devices that were playing")
        time.sleep(0.5)
        for c in (a2, b2):
            self.assertEqual(c.packets_since(0), [], "%s: audio after reconnecting, nobody pressed Play"
                             % c.device_id)
            self.assertTrue(all(pattern_state(s.leds)[0] == "idle" for s in c.sets_since(0)),
                            "%s: SETs after reconnecting: %r" % (c.device_id, c.sets_since(0)))
        # And Play works again from there.
        n = len(a2.sets)
        self.play(a2)
        self.wait_state(a2, "playing", LONG_MODE, start=n)
        self.sigterm(srv2)

    def test_memory_keeps_nothing(self):
        srv = self.server(store="memory")
        c = self.client(srv, "mem-0")
        self.first_set(c, srv)
        for _ in range(3):
            self.press_ok(c, MODE)
        self.wait_state(c, "idle", 3)
        c.disconnect()
        # While the server runs, a reconnect still finds the mode.
        c1 = self.client(srv, "mem-0")
        self.assert_state(self.first_set(c1, srv).leds, "idle", 3, "reconnect to the same memory server")
        self.sigterm(srv)
        srv2 = self.server(store="memory")
        self.assert_modes_after_restart(srv2, {"mem-0": 0}, "--store memory after a restart")
        self.sigterm(srv2)
        left = [os.path.join(d, f) for d, _, fs in os.walk(self.tmp) for f in fs]
        self.assertEqual(left, [], "--store memory wrote files (HOME=%s)" % self.home)


class StuckStoreTests(StoreTestCase):

    def test_first_connect_waits_only_boundedly(self):
        """While the file cannot be read, a new device is still served (mode
        0) after a bounded wait, and its changes are written once the file
        can be read again."""
        srv = self.server()
        c0 = self.client(srv, "stuck-known")
        self.first_set(c0, srv)
        self.press_ok(c0, MODE)
        time.sleep(AFTER_LAST_CHANGE)   # written
        # Every reader takes one of the WAL-index read locks, bytes 123..127
        # of the -shm file (https://www.sqlite.org/walformat.html, "shm
        # locks"): this process holding all eight lock bytes (120..127)
        # blocks every read and write of the server's until released.
        fd = os.open(self.db + "-shm", os.O_RDWR)
        self.addCleanup(os.close, fd)
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 8, 120, os.SEEK_SET)
        self.addCleanup(fcntl.lockf, fd, fcntl.LOCK_UN, 8, 120, os.SEEK_SET)
        t0 = time.monotonic()
        c = self.client(srv, "stuck-new")
        s = self.first_set(c, srv, timeout=3.0)
        waited = s.t - t0
        print("a new device's first SET with the store stuck: after %.0f ms" % (waited * 1000))
        self.assertLess(waited, 3.0 * SLOW)
        self.assert_state(s.leds, "idle", 0, "a new device while the store is stuck")
        self.press_ok(c, MODE)
        self.wait_state(c, "idle", 1)
        fcntl.lockf(fd, fcntl.LOCK_UN, 8, 120, os.SEEK_SET)
        self.sigterm(srv)
        rows = self.rows(self.db)
        self.assertEqual(rows.get("stuck-new", (None,))[0], 1, "the change made while the store was stuck: %r" % rows)
        self.assertEqual(rows.get("stuck-known", (None,))[0], 1, "the record written before: %r" % rows)


    def test_late_record_is_taken_when_nothing_changed(self):
        """A known device served a fresh record because the store was stuck
        gets its stored mode once the record comes, if nothing changed
        meanwhile: its LEDs say so, and the mode is written on."""
        srv = self.server()
        c0 = self.client(srv, "late")
        self.first_set(c0, srv)
        self.press_ok(c0, MODE)
        self.press_ok(c0, MODE)
        time.sleep(AFTER_LAST_CHANGE)   # written: mode 2
        c0.disconnect()
        # Forget the device: a new server (same file) must load it.
        self.sigterm(srv)
        srv = self.server()
        fd = os.open(self.db + "-shm", os.O_RDWR)
        self.addCleanup(os.close, fd)
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 8, 120, os.SEEK_SET)
        self.addCleanup(fcntl.lockf, fd, fcntl.LOCK_UN, 8, 120, os.SEEK_SET)
        c = self.client(srv, "late")
        s = self.first_set(c, srv, timeout=3.0)
        self.assert_state(s.leds, "idle", 0, "served a fresh record while the store is stuck")
        fcntl.lockf(fd, fcntl.LOCK_UN, 8, 120, os.SEEK_SET)
        t0 = time.monotonic()
        self.wait_state(c, "idle", 2, timeout=5.0)
        print("stored mode 2 shown %.0f ms after the store came back" % ((time.monotonic() - t0) * 1000))
        self.assertTrue(any("record came after" in l and "mode 2 (was serving mode 0)" in l
                            for l in srv.device_lines("late")), srv.log_tail())
        self.press_ok(c, MODE)
        self.wait_state(c, "idle", 3)
        self.sigterm(srv)
        self.assertEqual(self.rows(self.db).get("late", (None,))[0], 3)


class DefaultPathTests(StoreTestCase):
    """No --store: a SQLite file at $STATE_DIRECTORY/opal-server.db, else
    $XDG_STATE_HOME/opal/opal-server.db, else
    $HOME/.local/state/opal/opal-server.db (its folder created)."""

    def check_default(self, env, path, tag):
        srv = self.server(store="", env=env)
        self.assert_store_logged(srv, path)
        c = self.client(srv, tag)
        self.first_set(c, srv)
        self.press_ok(c, MODE)
        self.wait_state(c, "idle", 1)
        self.sigterm(srv)
        self.assertTrue(os.path.isfile(path), "no state file at %s; files: %r"
                        % (path, [os.path.join(d, f) for d, _, fs in os.walk(self.tmp) for f in fs]))
        self.assertEqual(self.rows(path).get(tag, (None,))[0], 1, "the device's row in %s" % path)
        srv2 = self.server(store="", env=env)
        self.assert_modes_after_restart(srv2, {tag: 1}, "default store %s after a restart" % path)
        self.sigterm(srv2)

    def test_state_directory(self):
        sd = os.path.join(self.tmp, "sd")
        os.mkdir(sd)
        xdg = os.path.join(self.tmp, "xdg")  # STATE_DIRECTORY wins over XDG_STATE_HOME
        self.check_default(clean_env(STATE_DIRECTORY=sd, XDG_STATE_HOME=xdg, HOME=self.home),
                           os.path.join(sd, "opal-server.db"), "sd-0")
        self.assertFalse(os.path.exists(os.path.join(xdg, "opal")))

    def test_xdg_state_home(self):
        xdg = os.path.join(self.tmp, "xdg")
        os.mkdir(xdg)
        self.check_default(clean_env(XDG_STATE_HOME=xdg, HOME=self.home),
                           os.path.join(xdg, "opal", "opal-server.db"), "xdg-0")
        self.assertFalse(os.path.exists(os.path.join(self.home, ".local")))

    def test_home(self):
        # $HOME/.local/state does not exist yet, as on a fresh account.
        self.check_default(clean_env(HOME=self.home),
                           os.path.join(self.home, ".local", "state", "opal", "opal-server.db"), "home-0")


class BadValueTests(StoreTestCase):

    def run_server(self, *store_args, env=None):
        cmd = [SERVER, "--listen", "127.0.0.1:0", "--assets", ASSETS, *store_args]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT,
                               env=env or clean_env(HOME=self.home), stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            self.fail("%s: still running after %.0f s (expected exit 2); stderr: %r"
                      % (" ".join(cmd), START_TIMEOUT, e.stderr))
        return p.returncode, p.stderr

    def assert_refused(self, store_args, fragment, env=None):
        """Exit 2 and one error line on stderr ('opal-server: ...', the last)
        naming `fragment`. Log lines of start-up before it (timestamped,
        such as the sounds loaded at info level) are not error lines."""
        rc, err = self.run_server(*store_args, env=env)
        lines = [l for l in err.strip().splitlines() if not LOG_LINE.match(l)]
        what = "--store %s" % " ".join(store_args[1:]) if store_args else "no --store"
        self.assertEqual(rc, 2, "%s: exit code %s; stderr: %r" % (what, rc, err))
        self.assertEqual(len(lines), 1, "%s: expected one error line on stderr, got: %r" % (what, err))
        self.assertEqual(err.strip().splitlines()[-1], lines[0], "%s: the error is not the last line" % what)
        self.assertTrue(lines[0].startswith("opal-server: "), lines[0])
        self.assertIn(fragment, lines[0], "%s: the line does not name %r" % (what, fragment))
        print("%s: %s" % (what, lines[0]))

    def test_help_lists_store(self):
        p = subprocess.run([SERVER, "--help"], capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--store", p.stdout)

    def test_bad_urls_name_the_flag(self):
        for value in ("bogus", "sqlite:", "sqlite", "memory:x", "postgres://x/y"):
            self.assert_refused(("--store", value), "--store")
        self.assert_refused(("--store",), "--store")

    def test_paths_that_cannot_be_opened_are_named(self):
        self.assert_refused(("--store", "sqlite:/nonexistent-dir/x.db"), "/nonexistent-dir/x.db")
        missing = os.path.join(self.tmp, "missing", "x.db")
        self.assert_refused(("--store", "sqlite:" + missing), missing)
        self.assertFalse(os.path.exists(os.path.dirname(missing)), "an explicit path's folder was created")
        text = os.path.join(self.tmp, "notes.txt")
        content = "this is not a database\n" * 200
        with open(text, "w") as f:
            f.write(content)
        self.assert_refused(("--store", "sqlite:" + text), text)
        with open(text) as f:
            self.assertEqual(f.read(), content, "the text file was changed")
        under_file = os.path.join(text, "x.db")
        self.assert_refused(("--store", "sqlite:" + under_file), under_file)
        self.assert_refused(("--store", "sqlite:" + self.home), self.home)   # a folder

    def test_default_folder_that_cannot_be_made(self):
        # No STATE_DIRECTORY or XDG_STATE_HOME, and HOME is a file: the
        # default folder cannot be made under it.
        home = os.path.join(self.tmp, "home-file")
        with open(home, "w") as f:
            f.write("not a folder\n")
        self.assert_refused((), home, env=clean_env(HOME=home))

        # Nothing says where: no HOME either.
        self.assert_refused((), "--store", env=clean_env())

    def test_folder_not_writable(self):
        if os.geteuid() == 0:
            # Root writes into any folder of a normal file system, not /proc.
            path = "/proc/opal-store-test.db"
        else:
            ro = os.path.join(self.tmp, "ro")
            os.mkdir(ro, 0o555)
            self.addCleanup(os.chmod, ro, 0o755)
            path = os.path.join(ro, "x.db")
        self.assert_refused(("--store", "sqlite:" + path), path)


class FileTests(StoreTestCase):

    def test_state_file_is_a_sqlite_database(self):
        srv = self.server()
        clients = [self.client(srv, "file-%d" % i) for i in range(4)]
        for i, c in enumerate(clients):
            self.first_set(c, srv)
            for _ in range(i + 1):
                self.press_ok(c, MODE)
            self.wait_state(c, "idle", (i + 1) % NMODES)
        # Write-behind: the last change shows in the file while the server
        # runs, within the window (plenty of slack asserted, the time printed).
        t0 = time.monotonic()
        seen = None
        while time.monotonic() - t0 < 2.0:
            try:
                if self.rows(self.db).get("file-3", (None,))[0] == 4:
                    seen = time.monotonic() - t0
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.01)
        self.assertIsNotNone(seen, "file-3's mode 4 not in %s 2 s after the change" % self.db)
        print("the last change was in the file %.0f ms after its SET" % (seen * 1000))
        self.sigterm(srv)

        con = sqlite3.connect(self.db)
        self.addCleanup(con.close)
        self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0], "wal")
        cols = {r[1]: (r[2].upper(), r[5]) for r in con.execute("PRAGMA table_info(devices)")}
        self.assertEqual(cols, {"id": ("TEXT", 1), "mode": ("INTEGER", 0), "version": ("INTEGER", 0)},
                         "the devices table's columns (type, primary key)")
        rows = self.rows(self.db)
        print("rows: %r" % rows)
        for i in range(4):
            did = "file-%d" % i
            self.assertIn(did, rows)
            mode, version = rows[did]
            self.assertEqual(mode, (i + 1) % NMODES, did)
            self.assertIsInstance(version, int, did)
            self.assertGreaterEqual(version, 1, did)
        con.close()

        # A restart and one more change: the version grows.
        srv2 = self.server()
        c = self.client(srv2, "file-0")
        self.assert_state(self.first_set(c, srv2).leds, "idle", 1, "file-0 after restart")
        self.press_ok(c, MODE)
        self.wait_state(c, "idle", 2)
        self.sigterm(srv2)
        mode, version = self.rows(self.db)["file-0"]
        self.assertEqual(mode, 2)
        self.assertGreater(version, rows["file-0"][1], "the version did not grow with a change after a restart")


if __name__ == "__main__":
    unittest.main(verbosity=2)
