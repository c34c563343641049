#!/usr/bin/python3
"""Install and packages: `make install`, the man pages, `make deb` and the
systemd units (docs/packaging.md).

- InstallTests: `make install DESTDIR=tmp PREFIX=/usr` installs exactly the
  expected files with the expected modes; the installed server, started
  from that tree in a folder with no assets/, serves its installed sounds
  (one is removed first, so a server reading the checkout's would be seen)
  to the installed device, also with the kernel's MemoryDenyWriteExecute
  (prctl PR_SET_MDWE, what the unit's MemoryDenyWriteExecute= asks for),
  and under the unit's SystemCallFilter= (libseccomp, python3-seccomp).
- ManTests: both man pages render with `man -l` without a warning, and
  their OPTIONS hold every flag the program's --help lists.
- DebTests: `make deb`, then `dpkg-deb --info` and `--contents` of both
  packages (names, Depends from dpkg-shlibdeps, conffiles, the opal user in
  postinst, the unit enabled with deb-systemd-helper), and lintian with no
  error (its output is printed). Nothing is installed on this machine.
- SystemdTests: the units installed under a temp PREFIX pass
  `systemd-analyze verify` (a unit with a missing binary does not), and
  hold the settings the issue asks for.

Run:   /usr/bin/python3 tests/packaging/test_packaging.py [-v]
Uses build/opal-server and build/opal-device (make all first); needs
help2man, man, dpkg-deb, dpkg-shlibdeps, lintian and systemd-analyze.
"""

import glob
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, "build")
# Make's own variables must not reach the make this test runs from a
# `make test` (jobserver, command-line variables such as SUITE).
MAKE_ENV = {k: v for k, v in os.environ.items()
            if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "BUILD", "SANITIZE",
                         "PREFIX", "DESTDIR", "DEB_ARCH", "VERSION")}
SOUNDS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(REPO, "assets", "[0-9]-*")))
STREAM_END = re.compile(r"stream end device=(\S+) mode=(\d+) reason=(\S+)")
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def make(*args):
    """Runs make in the checkout; fails the test with its output if it fails."""
    r = subprocess.run(["make", "--no-print-directory", "-s"] + list(args), cwd=REPO, env=MAKE_ENV,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    if r.returncode != 0:
        raise AssertionError("make %s failed:\n%s" % (" ".join(args), r.stdout))
    return r.stdout


def need(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        raise unittest.SkipTest("missing: %s" % ", ".join(missing))


def installed_files(root):
    """{relative path: mode} of every file under root."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            files[os.path.relpath(path, root)] = os.stat(path).st_mode & 0o7777
    return files


def help_flags(program):
    out = subprocess.run([program, "--help"], stdout=subprocess.PIPE, text=True, check=True).stdout
    return sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", out)))


def rendered_man(page):
    """(text, stderr) of `man -l page`: wide lines (no flag broken across
    two) and plain hyphens."""
    env = dict(os.environ, MANWIDTH="1000", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    r = subprocess.run(["man", "-l", page], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       text=True)
    return r.returncode, r.stdout.replace("\u2010", "-").replace("\u2212", "-"), r.stderr


def section(text, name):
    """The body of a man page section: from its heading to the next one."""
    m = re.search(r"^%s\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)" % name, text, re.S | re.M)
    return m.group(1) if m else ""


def installed_env(root):
    """The environment of an installed program: its config folder is the
    installed etc/opal (OPAL_CONFIG_DIR, where the programs look instead of
    /etc/opal), so nothing in this machine's /etc reaches the test."""
    return dict(os.environ, OPAL_CONFIG_DIR=os.path.join(root, "etc", "opal"))


class Server:
    """An installed opal-server from `bin`, with no --assets: its default."""

    def __init__(self, binary, cwd, env, preexec=None, extra=()):
        self.lines = []
        self.proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--store", "memory"] + list(extra), cwd=cwd,
                                     env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=preexec)
        self.port = None
        ready = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))
                m = re.search(r"listening on [^ ]*:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()
        self.reader = threading.Thread(target=drain, daemon=True)
        self.reader.start()
        ready.wait(60)
        if self.port is None:
            self.stop()
            raise AssertionError("installed server did not start:\n%s" % "\n".join(self.lines))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        self.proc.stderr.close()
        return self.proc.returncode


def play_mode_0(device_binary, port, cwd, env, preexec=None):
    """The installed device plays mode 0's sound to its natural end against
    the server on `port`; returns its JSON events."""
    script = os.path.join(cwd, "play.script")
    with open(script, "w") as f:
        f.write("connect\nwait-for connected 5000\npress play\nwait-for stream_start 5000\n"
                "wait-for stream_end 15000\nquit\n")
    r = subprocess.run([device_binary, "--sim", "--script", script, "--server", "127.0.0.1:%d" % port,
                        "--device-id", "installed-1", "--audio-out", "null", "--log-level", "warn"],
                       cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60,
                       preexec_fn=preexec)
    if r.returncode != 0:
        raise AssertionError("installed device failed (%d): %s" % (r.returncode, r.stderr))
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def syscall_group(name, seen=None):
    """The system calls of a systemd group (@system-service ...), nested
    groups expanded, as `systemd-analyze syscall-filter` lists them."""
    seen = set() if seen is None else seen
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        if word.startswith("@"):
            if word not in seen:
                seen.add(word)
                calls |= syscall_group(word, seen)
        else:
            calls.add(word)
    return calls


def unit_syscall_filter():
    """A preexec function that loads, with libseccomp, the filter of
    opal-server.service: @system-service less @privileged allowed, any other
    call failing with EPERM (SystemCallErrorNumber=EPERM); None without
    python3-seccomp."""
    try:
        import seccomp
    except ImportError:
        return None
    import errno
    allowed = sorted(syscall_group("@system-service") - syscall_group("@privileged"))
    f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
    for call in allowed:
        try:
            f.add_rule(seccomp.ALLOW, call)
        except (RuntimeError, ValueError, OSError):
            pass  # not a system call of this architecture
    return f.load


class InstallTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        need("help2man")
        cls.tmp = tempfile.mkdtemp(prefix="opal-install-")
        cls.root = os.path.join(cls.tmp, "root")
        make("install", "DESTDIR=" + cls.root, "PREFIX=/usr")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_installs_exactly_the_expected_files(self):
        expected = {
            "usr/bin/opal-server": 0o755,
            "usr/bin/opal-device": 0o755,
            "usr/share/man/man1/opal-server.1": 0o644,
            "usr/share/man/man1/opal-device.1": 0o644,
            "lib/systemd/system/opal-server.service": 0o644,
            "lib/systemd/system/opal-device.service": 0o644,
            "etc/opal/server.conf": 0o644,
            "etc/opal/device.conf": 0o644,
        }
        expected.update({"usr/share/opal/sounds/" + s: 0o644 for s in SOUNDS})
        got = installed_files(self.root)
        print("  %d files installed: %s" % (len(got), " ".join(sorted(got))))
        self.assertEqual({k: oct(v) for k, v in got.items()}, {k: oct(v) for k, v in expected.items()})
        self.assertEqual(len(SOUNDS), 5, "the bundled sounds, 0-* to 4-*")

    def test_units_name_the_installed_programs(self):
        for program in ("opal-server", "opal-device"):
            with open(os.path.join(self.root, "lib/systemd/system/%s.service" % program)) as f:
                unit = f.read()
            self.assertNotRegex(unit, r"@[A-Z]+@", "a placeholder left in %s" % program)
            self.assertRegex(unit, r"(?m)^ExecStart=/usr/bin/%s( |$)" % program)
        with open(os.path.join(self.root, "lib/systemd/system/opal-device.service")) as f:
            self.assertIn("--config /etc/opal/device.conf", f.read())

    def test_reinstall_keeps_an_edited_config_file(self):
        root = os.path.join(self.tmp, "again")
        make("install", "DESTDIR=" + root, "PREFIX=/usr")
        conf = os.path.join(root, "etc/opal/server.conf")
        with open(conf, "w") as f:
            f.write("# edited by the admin\n")
        make("install", "DESTDIR=" + root, "PREFIX=/usr")
        with open(conf) as f:
            self.assertEqual(f.read(), "# edited by the admin\n")

    def run_device_with_config(self, conf):
        script = os.path.join(self.tmp, "quit.script")
        with open(script, "w") as f:
            f.write("quit\n")
        return subprocess.run([os.path.join(self.root, "usr/bin/opal-device"), "--config", conf, "--script", script,
                               "--audio-out", "null", "--server", "127.0.0.1:1"], cwd=self.tmp,
                              env=installed_env(self.root),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)

    def test_installed_device_reads_the_example_config(self):
        r = self.run_device_with_config(os.path.join(self.root, "etc/opal/device.conf"))
        self.assertEqual(r.returncode, 0, r.stderr)
        # The same file with one bad key is refused: the file is really read.
        bad = os.path.join(self.tmp, "bad-device.conf")
        with open(os.path.join(self.root, "etc/opal/device.conf")) as f, open(bad, "w") as out:
            out.write(f.read() + "no_such_key = 1\n")
        r = self.run_device_with_config(bad)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no_such_key", r.stderr)

    def test_installed_server_reads_the_example_config(self):
        server = os.path.join(self.root, "usr/bin/opal-server")
        if "--config" not in help_flags(server):
            self.skipTest("opal-server has no --config yet")
        # Every key of the example is commented out: the server starts as without it.
        started = Server(server, self.tmp, installed_env(self.root),
                         extra=["--config", os.path.join(self.root, "etc/opal/server.conf")])
        self.assertEqual(started.stop(), 0, "\n".join(started.lines))

    def serve_installed(self, preexec=None, device_preexec=None):
        """The installed server, from a copy of the tree without its last
        sound, serves the installed device in a folder with no assets/."""
        tree = tempfile.mkdtemp(prefix="tree-", dir=self.tmp)
        shutil.copytree(os.path.join(self.root, "usr"), os.path.join(tree, "usr"))
        os.unlink(os.path.join(tree, "usr/share/opal/sounds", SOUNDS[-1]))
        work = tempfile.mkdtemp(prefix="cwd-", dir=self.tmp)
        env = installed_env(self.root)
        server = Server(os.path.join(tree, "usr/bin/opal-server"), work, env, preexec)
        try:
            events = play_mode_0(os.path.join(tree, "usr/bin/opal-device"), server.port, work, env,
                                 device_preexec)
        finally:
            rc = server.stop()
        log = "\n".join(server.lines)
        self.assertEqual(rc, 0, log)
        # The installed folder, less the removed sound: the checkout has one more.
        self.assertIn("(lead 150 ms, %d modes)" % (len(SOUNDS) - 1), log)
        self.assertIn("file=" + SOUNDS[0], log)
        self.assertNotIn("file=" + SOUNDS[-1], log)
        ends = [e for e in events if e["event"] == "stream_end"]
        self.assertEqual(len(ends), 1, events)
        self.assertTrue(ends[0]["complete"], ends)
        self.assertEqual([m.group(2, 3) for m in map(STREAM_END.search, server.lines) if m],
                         [("0", "natural")])

    def test_installed_server_serves_its_installed_sounds(self):
        self.serve_installed()

    def test_installed_server_serves_under_the_units_system_call_filter(self):
        need("systemd-analyze")
        load = unit_syscall_filter()
        if load is None:
            self.skipTest("no python3-seccomp")
        self.serve_installed(load)

    def test_installed_server_serves_with_memory_deny_write_execute(self):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        get_mdwe = 66  # PR_GET_MDWE

        def deny_write_execute():
            if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
                os._exit(97)
        # Linux 6.3 and later have it; the child checks its own flag too.
        probe = subprocess.run([sys.executable, "-c",
                                "import ctypes,sys; l=ctypes.CDLL(None); "
                                "sys.exit(0 if l.prctl(%d,%d,0,0,0)==0 and l.prctl(%d,0,0,0,0)==%d else 1)"
                                % (PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, get_mdwe, PR_MDWE_REFUSE_EXEC_GAIN)])
        if probe.returncode != 0:
            self.skipTest("this kernel has no PR_SET_MDWE (Linux 6.3+)")
        # Both units ask for it: the device too (its null output here).
        self.serve_installed(deny_write_execute, deny_write_execute)


class ManTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        need("help2man", "man")
        make("man")

    def check_page(self, program):
        rc, text, err = rendered_man(os.path.join(BUILD, "man", program + ".1"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(err.strip(), "", "man -l warned")
        self.assertTrue(text.startswith(program.upper() + "(1)"), text[:200])
        for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "FILES", "SEE ALSO"):
            self.assertRegex(text, r"(?m)^%s$" % name)
        options = section(text, "OPTIONS")
        flags = help_flags(os.path.join(BUILD, program))
        missing = [f for f in flags if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(f), options)]
        self.assertEqual(missing, [], "flags of --help missing from OPTIONS")
        version = subprocess.run([os.path.join(BUILD, program), "--version"], stdout=subprocess.PIPE,
                                 text=True).stdout.split()[-1]
        self.assertIn("%s %s" % (program, version), text.splitlines()[-1])
        print("  %s(1): %d flags of --help, all in OPTIONS" % (program, len(flags)))

    def test_server_page(self):
        self.check_page("opal-server")

    def test_device_page(self):
        self.check_page("opal-device")


class DebTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        need("dpkg-deb", "dpkg-shlibdeps", "help2man")
        cls.arch = subprocess.run(["dpkg", "--print-architecture"], stdout=subprocess.PIPE, text=True,
                                  check=True).stdout.strip()
        cls.version = subprocess.run([os.path.join(BUILD, "opal-server"), "--version"], stdout=subprocess.PIPE,
                                     text=True, check=True).stdout.split()[-1]
        for old in glob.glob(os.path.join(BUILD, "opal-*.deb")):
            os.unlink(old)
        make("deb")
        cls.debs = {name: os.path.join(BUILD, "%s_%s_%s.deb" % (name, cls.version, cls.arch))
                    for name in ("opal-server", "opal-device")}
        cls.tmp = tempfile.mkdtemp(prefix="opal-deb-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def info(self, name, member=None):
        args = ["dpkg-deb", "--info", self.debs[name]] + ([member] if member else [])
        return subprocess.run(args, stdout=subprocess.PIPE, text=True, check=True).stdout

    def field(self, name, key):
        return subprocess.run(["dpkg-deb", "--field", self.debs[name], key], stdout=subprocess.PIPE,
                              text=True, check=True).stdout.strip()

    def contents(self, name):
        out = subprocess.run(["dpkg-deb", "--contents", self.debs[name]], stdout=subprocess.PIPE, text=True,
                             check=True).stdout
        files = {}
        for line in out.splitlines():
            mode, owner, _, _, _, path = line.split(None, 5)
            self.assertEqual(owner, "root/root", line)
            if not mode.startswith("d"):
                files[path[2:]] = mode
        return files

    def test_both_files_are_there(self):
        for name, path in self.debs.items():
            self.assertTrue(os.path.exists(path), path)
            print("  %s" % os.path.relpath(path, REPO))

    def test_control_fields(self):
        wanted = {"opal-server": ["libgrpc29", "libopus0", "libsqlite3-0", "libhiredis", "libsndfile1"],
                  "opal-device": ["libgrpc29", "libopus0", "libportaudio2", "libgpiod2"]}
        for name in self.debs:
            print(self.info(name))
            self.assertEqual(self.field(name, "Package"), name)
            self.assertEqual(self.field(name, "Version"), self.version)
            self.assertEqual(self.field(name, "Architecture"), self.arch)
            depends = [d.split()[0] for d in self.field(name, "Depends").split(", ")]
            self.assertIn("adduser", depends)
            self.assertIn("libc6", depends)
            for lib in wanted[name]:
                self.assertTrue(any(d.startswith(lib) for d in depends), (lib, depends))
            # Only packages that exist in this system's archive: apt-get could install them.
            r = subprocess.run(["apt-cache", "show"] + depends, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_conffiles(self):
        self.assertEqual(self.info("opal-server", "conffiles").split(), ["/etc/opal/server.conf"])
        self.assertEqual(self.info("opal-device", "conffiles").split(), ["/etc/opal/device.conf"])

    def test_maintainer_scripts(self):
        for name in self.debs:
            unit = name + ".service"
            postinst = self.info(name, "postinst")
            self.assertRegex(postinst, r"adduser --system --group [^\n]*\n?[^\n]*opal\n")
            self.assertIn("deb-systemd-helper enable '%s'" % unit, postinst)
            self.assertIn("deb-systemd-invoke $action '%s'" % unit, postinst)
            self.assertIn("deb-systemd-invoke stop '%s'" % unit, self.info(name, "prerm"))
            self.assertIn("deb-systemd-helper purge '%s'" % unit, self.info(name, "postrm"))
            for script in ("postinst", "prerm", "postrm"):
                r = subprocess.run(["sh", "-n"], input=self.info(name, script), text=True)
                self.assertEqual(r.returncode, 0, "%s %s: sh -n" % (name, script))

    def test_contents(self):
        doc = ["usr/share/doc/%s/copyright", "usr/share/doc/%s/changelog.gz",
               "usr/share/man/man1/%s.1.gz", "usr/bin/%s", "lib/systemd/system/%s.service"]
        server = {p % "opal-server" for p in doc} | {"etc/opal/server.conf"} | \
            {"usr/share/opal/sounds/" + s for s in SOUNDS}
        device = {p % "opal-device" for p in doc} | {"etc/opal/device.conf"}
        for name, files in (("opal-server", server), ("opal-device", device)):
            got = self.contents(name)
            self.assertEqual(set(got), files)
            self.assertEqual(got["usr/bin/%s" % name], "-rwxr-xr-x")
            self.assertTrue(all(m == "-rw-r--r--" for p, m in got.items() if not p.startswith("usr/bin/")), got)

    def test_packaged_programs_run_and_man_pages_are_gzipped(self):
        for name in self.debs:
            root = os.path.join(self.tmp, name)
            subprocess.run(["dpkg-deb", "-x", self.debs[name], root], check=True)
            out = subprocess.run([os.path.join(root, "usr/bin", name), "--version"], stdout=subprocess.PIPE,
                                 text=True, check=True).stdout
            self.assertEqual(out.strip(), "%s %s" % (name, self.version))
            with gzip.open(os.path.join(root, "usr/share/man/man1/%s.1.gz" % name), "rt") as f:
                self.assertIn(".SH OPTIONS", f.read())
            file_out = subprocess.run(["file", "-b", os.path.join(root, "usr/bin", name)],
                                      stdout=subprocess.PIPE, text=True).stdout
            if file_out:
                self.assertIn("stripped", file_out)
                self.assertNotIn("not stripped", file_out)

    def test_lintian_reports_no_error(self):
        need("lintian")
        # lintian leaves its ELF cache (mldbm-elf-*) in TMPDIR: the test's
        # own folder, removed with it, keeps /tmp clean.
        r = subprocess.run(["lintian", "--pedantic", "-I", "--tag-display-limit", "0"] + sorted(self.debs.values()),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                           env=dict(os.environ, TMPDIR=self.tmp))
        print("  lintian --pedantic -I (exit %d):\n%s" % (r.returncode, r.stdout.rstrip() or "  (nothing)"))
        errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
        self.assertEqual(errors, [])
        self.assertEqual(r.returncode, 0)


class SystemdTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        need("systemd-analyze", "help2man", "man")
        # Installed for real, but under a temp PREFIX: ExecStart names a
        # binary that exists, and `man opal-server` (Documentation=) finds
        # the installed page through MANPATH. No systemd needs to run.
        cls.tmp = tempfile.mkdtemp(prefix="opal-units-")
        cls.prefix = os.path.join(cls.tmp, "usr")
        make("install", "PREFIX=" + cls.prefix, "SYSCONFDIR=" + os.path.join(cls.tmp, "etc"))
        cls.units = os.path.join(cls.prefix, "lib/systemd/system")
        cls.env = dict(os.environ, MANPATH=os.path.join(cls.prefix, "share/man"), SYSTEMD_LOG_LEVEL="notice")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def verify(self, unit):
        return subprocess.run(["systemd-analyze", "verify", unit], env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=60)

    def unit(self, name):
        with open(os.path.join(self.units, name)) as f:
            return f.read()

    def test_units_pass_systemd_analyze_verify(self):
        for name in ("opal-server.service", "opal-device.service"):
            r = self.verify(os.path.join(self.units, name))
            print("  systemd-analyze verify %s: exit %d %s" % (name, r.returncode, r.stdout.strip()))
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertEqual(r.stdout.strip(), "")

    def test_verify_catches_a_missing_binary(self):
        broken = os.path.join(self.tmp, "opal-broken.service")
        with open(broken, "w") as f:
            f.write(self.unit("opal-server.service").replace("/bin/opal-server", "/bin/opal-missing"))
        r = self.verify(broken)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("opal-missing", r.stdout)

    def test_server_unit_settings(self):
        unit = self.unit("opal-server.service")
        for line in ("User=opal", "StateDirectory=opal", "LimitNOFILE=262144", "Restart=on-failure",
                     "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes",
                     "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes",
                     "ProtectControlGroups=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                     "RestrictNamespaces=yes", "LockPersonality=yes", "MemoryDenyWriteExecute=yes",
                     "SystemCallFilter=~@privileged", "ExecReload=/bin/kill -HUP $MAINPID",
                     "WantedBy=multi-user.target"):
            self.assertRegex(unit, r"(?m)^%s$" % re.escape(line))
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", os.path.join(self.units,
                            "opal-server.service")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        exposure = [line for line in r.stdout.splitlines() if "Overall exposure" in line]
        print("  systemd-analyze security: %s" % (exposure[-1].strip() if exposure else r.stdout[-300:]))

    def test_device_unit_settings(self):
        unit = self.unit("opal-device.service")
        for line in ("User=opal", "SupplementaryGroups=gpio audio", "Restart=always",
                     "After=network-online.target sound.target", "Wants=network-online.target sound.target",
                     "WantedBy=multi-user.target"):
            self.assertRegex(unit, r"(?m)^%s$" % re.escape(line))


if __name__ == "__main__":
    unittest.main()
