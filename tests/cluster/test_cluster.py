#!/usr/bin/python3
"""opal-server replicas on one Redis behind nginx (deploy/nginx/opal.conf).

Each test has its own temp folder, a private redis-server (no persistence,
tests/store/test_store_redis.py), opal-server replicas on free loopback
ports with `--store redis://...`, and, for the proxied tests, nginx running
the config we ship with only its addresses changed (tests/cluster/
nginx_proxy.py). Every process is stopped at the end, also on failure.

Devices are the exercise-like Python client (tests/interop/opal_client.py),
real `opal-device --script` processes (tests/loopback/test_loopback.py's
Device) and `opal-device --fleet`. Which replica serves a device is read
from the replicas' logs: `connect device=ID peer=... mode=M`, `takeover
device=ID`, `disconnect device=ID`, and, between replicas, `handover
device=ID to replica=NAME mode=M`; every replica names itself at start-up
with `replica name=NAME` (default HOSTNAME:PORT, or --replica-name).

What the tests show:
  ProxyTests        behind nginx each device's three calls are one connection
                    on one replica (with the opal-client-connection header and
                    without it), and a device that connects again takes itself
                    over on the same replica.
  HandoverTests     one owner per device across replicas (direct, no nginx):
                    a device connecting to another replica is handed over with
                    its latest mode, the old replica ends its calls ABORTED;
                    Redis names the owner; back and forth, the version grows.
  KillTests         kill -9 of a replica mid-stream: its devices reconnect
                    through nginx to the others within 5 s with their modes
                    and play; after the replica restarts (same port, same
                    name) and devices move back to it, no device is ever
                    served by two replicas at once (needs the hand-over).
  ScaleTests        300 devices (Python clients and opal-device processes)
                    each on exactly one replica, modes kept.
  FleetTests        opal-device --fleet 1000 through nginx for 30 s: no error,
                    no late packet.

Run:   /usr/bin/python3 tests/cluster/test_cluster.py [-v] [TestClass[.test_name]]
Environment: OPAL_SERVER, OPAL_DEVICE (the build under test, as the other
suites), OPAL_FLEET_DEVICE (the fleet load generator, default
<repo>/build/opal-device: the normal build even in the ASan pass, since an
ASan fleet of 1000 is itself too slow on 2 cores to time packets honestly).

Only /usr/bin/python3 (Debian's python3-grpcio and python3-protobuf); needs
/usr/sbin/nginx (nginx-light) and /usr/bin/redis-server
(scripts/install-deps.sh --tests), else the classes are skipped.
"""

import datetime
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

# The Python clients' gRPC (python3-grpcio 1.51) with a few hundred channels
# in one process and its default poller (epoll1) now and then leaves a call's
# message unsent for seconds (a press reaching the replica 2-9 s late, more
# often after some channel in the process failed to connect); with "poll" it
# does not. Only this process: the programs under test get their default.
POLL_VAR = "GRPC_POLL_STRATEGY"
OWN_POLL = POLL_VAR not in os.environ
os.environ.setdefault(POLL_VAR, "poll")

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(TESTS)
for sub in ("loopback", "workers", "store", "interop"):
    sys.path.insert(0, os.path.join(TESTS, sub))
sys.path.insert(0, HERE)

import grpc  # noqa: E402

from nginx_proxy import NGINX, NginxServer  # noqa: E402
from opal_client import MODE, PLAY, STOP, OpalClient, describe_pattern, pattern_state  # noqa: E402
from test_interop import SLOW, ServerProcess  # noqa: E402
from test_loopback import DEVICE, DEVICE_WRAPPER, Device  # noqa: E402
from test_store import AFTER_LAST_CHANGE, NMODES, StoreTestCase, clean_env  # noqa: E402
from test_store_redis import REDIS_SERVER, RedisServer, free_port, redis_call  # noqa: E402
from test_workers import device_re  # noqa: E402

FLEET_DEVICE = os.environ.get("OPAL_FLEET_DEVICE") or os.path.join(REPO, "build", "opal-device")
HAVE_REDIS = os.access(REDIS_SERVER, os.X_OK)
HAVE_NGINX = os.access(NGINX, os.X_OK)
NEED_REDIS = "%s is missing (scripts/install-deps.sh --tests)" % REDIS_SERVER
NEED_NGINX = "%s is missing (scripts/install-deps.sh --tests: nginx-light)" % NGINX

REPLICAS = 3          # deploy/nginx/opal.conf names three
RECONNECT_LIMIT = 5.0  # s from kill -9 to a moved device's first SET
HANDOVER_LIMIT = 1.0   # s from the new connection to the old calls' end
CHANGE_BEFORE_MOVE = 0.05  # s: a change this recent must travel with the device
GRACE = 0.1            # s of audio/SETs still in flight on the old connection

# Why nginx may split a device, or keep it off a replica that is back.
NGINX_RETRY_NOTE = ("is opal.conf's max_fails=0 gone? With max_fails=1 nginx lets one call at a time try a "
                    "returning replica and counts it a success only when it ends, which a device's call does "
                    "not, so meanwhile the others still skip it")
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z ")
OWNER_LINE = re.compile(r"(?<![\w-])(connect|disconnect|takeover|handover) device=(\S+)")
CONNECT_LINE = re.compile(r"(?<![\w-])connect device=(\S+) peer=\S+ mode=(\d+)")
TAKEOVER_LINE = re.compile(r"(?<![\w-])takeover device=(\S+)")
DEVICE_FIELD = re.compile(r"(?<![\w-])device=(\S+)")
HANDOVER_LINE = re.compile(r"(?<![\w-])handover device=(\S+) to replica=(\S+) mode=(\d+)")
REPLICA_LINE = re.compile(r"(?<![\w-])replica name=(\S+)")
ENDS = ("status", "event", "audio")


def child_env(**kw):
    """The environment for the programs under test: clean_env(**kw), less
    the poller this process chose for itself."""
    env = clean_env(**kw)
    if OWN_POLL:
        env.pop(POLL_VAR, None)
    return env


def log_time(line):
    """A log line's UTC timestamp as seconds since the epoch (None if none)."""
    m = LOG_TIME.match(line)
    if not m:
        return None
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def hms(t):
    """Epoch seconds as the logs' UTC time of day."""
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def leds_state(leds):
    """opal-device's `leds` event (six RRGGBBAA strings) as pattern_state
    reads it: (state, mode) of led_1..led_5, lit = alpha non-zero."""
    return pattern_state([int(x, 16) if int(x, 16) & 0xFF else 0 for x in leds[1:]])


def median_max(values):
    return (statistics.median(values), max(values)) if values else (float("nan"), float("nan"))


class Replica(ServerProcess):
    """opal-server as one replica: --listen 127.0.0.1:port (0: a free one),
    the shared --store, and --replica-name if `name` is given."""

    def __init__(self, store, port=0, name=None, env=None):
        super().__init__(extra_args=("--replica-name", name) if name else (), store=store, env=env)
        self.cmd[self.cmd.index("--listen") + 1] = "127.0.0.1:%d" % port
        self.asked_port = port
        self.t_dead = None   # wall-clock time it was found dead after SIGKILL

    def default_name(self):
        """HOSTNAME:PORT of --listen; with port 0 (a new port each run),
        HOSTNAME:PID."""
        return "%s:%d" % (socket.gethostname()[:40], self.asked_port or self.proc.pid)

    def logged_name(self, timeout=0.0):
        """The NAME of its `replica name=NAME` start-up line, or None."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                names = [m.group(1) for m in map(REPLICA_LINE.search, self.lines) if m]
            if names or time.monotonic() >= deadline:
                return names[0] if names else None
            time.sleep(0.05)

    def lines_of(self, regex, did):
        return [l for l in self.device_lines(did) if regex.search(l) and regex.search(l).group(1) == did]

    def connects(self, did):
        return self.lines_of(CONNECT_LINE, did)

    def handovers(self, did):
        return self.lines_of(HANDOVER_LINE, did)

    def takeovers(self, did):
        pat = device_re("takeover", did)
        return [l for l in self.device_lines(did) if pat.search(l)]

    def kill_9(self):
        """SIGKILL; it dies there and then, so nothing it logs is later than
        t_dead, the time the signal was sent."""
        t = time.time()
        self.signal(signal.SIGKILL)
        self.proc.wait(10)
        self.t_dead = t
        self.kill()   # joins the drain threads

    def by_device(self):
        """{device id: its lines} over the whole log, in one pass."""
        out = {}
        with self._cond:
            lines = list(self.lines)
        for line in lines:
            m = DEVICE_FIELD.search(line)
            if m:
                out.setdefault(m.group(1), []).append(line)
        return out

    def owner_events(self, did):
        """(epoch seconds, connect|disconnect|takeover|handover) of `did`."""
        out = []
        for line in self.device_lines(did):
            m = OWNER_LINE.search(line)
            if m and m.group(2) == did:
                out.append((log_time(line), m.group(1)))
        return out

    def has(self, did):
        """True while it runs and its log says `did` is connected here."""
        ev = self.owner_events(did)
        return self.alive() and bool(ev) and ev[-1][1] in ("connect", "takeover")

    def intervals(self, did):
        """When this replica had `did` connected, from its log: connect (or
        takeover) opens, disconnect and handover close; a span still open
        ends at its death or, running, now. A list of [t_on, t_off] in epoch
        seconds."""
        out, on = [], None
        for t, kind in self.owner_events(did):
            if kind in ("connect", "takeover"):
                if on is None:
                    on = t
            elif on is not None:
                out.append([on, t])
                on = None
        if on is not None:
            out.append([on, self.t_dead or time.time()])
        return out


class ScriptDevice(Device):
    """tests/loopback's Device (an opal-device --script process, started
    here with child_env()), each event stamped with its arrival time
    (time.monotonic()) as `_t`."""

    def __init__(self, port, device_id, script):
        self.device_id = device_id
        self.script = tempfile.NamedTemporaryFile("w", suffix=".script", delete=False)
        self.script.write(script)
        self.script.close()
        self.events = []
        self.proc = subprocess.Popen(
            DEVICE_WRAPPER + [DEVICE, "--script", self.script.name, "--server", "127.0.0.1:%d" % port,
                              "--device-id", device_id, "--audio-out", "null", "--log-level", "warn"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
        self._cond = threading.Condition()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.proc.stdout:
            event = json.loads(line)
            event["_t"] = time.monotonic()
            with self._cond:
                self.events.append(event)
                self._cond.notify_all()

    def after(self, t, name=None):
        with self._cond:
            return [e for e in self.events if e["_t"] > t and (name is None or e["event"] == name)]

    def wait_after(self, t, name, timeout):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not [e for e in self.events if e["_t"] > t and e["event"] == name]:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return None
                self._cond.wait(min(left, 0.1))
            return [e for e in self.events if e["_t"] > t and e["event"] == name][0]

    def stop(self):
        """SIGTERM (a clean stop), then what Device.kill does."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


def device_script(presses, after):
    """connect, `presses` Mode presses (each acked), then the lines `after`."""
    lines = ["connect", "wait-for connected 30000"]
    for _ in range(presses):
        lines += ["press mode", "wait-for ack 5000"]
    return "\n".join(lines + list(after)) + "\n"


@unittest.skipUnless(HAVE_REDIS, NEED_REDIS)
class ClusterTestCase(StoreTestCase):
    """Per test: a temp folder and a redis-server (StoreTestCase,
    RedisServer); helpers that start replicas, nginx and devices, all
    stopped at the end, also on failure."""

    def setUp(self):
        super().setUp()
        self.redis = RedisServer(self.tmp)
        self.addCleanup(self.redis.stop)
        self.redis.start()
        self.store = "redis://127.0.0.1:%d" % self.redis.port
        self.all_replicas = []

    # ---- processes -------------------------------------------------------

    def start_replicas(self, n=REPLICAS, names=None, ports=None):
        """n replicas started at once (threads), in a list."""
        reps = [Replica(self.store, port=(ports or [0] * n)[i], name=(names or [None] * n)[i],
                        env=child_env(HOME=self.home)) for i in range(n)]
        for r in reps:
            self.addCleanup(r.kill)
        errors = []

        def start(r):
            try:
                r.start()
            except AssertionError as e:
                errors.append(str(e))
        threads = [threading.Thread(target=start, args=(r,)) for r in reps]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if errors:
            self.fail("a replica did not start:\n%s" % errors[0])
        self.all_replicas += reps
        return reps

    def start_nginx(self, reps, header=True, tag="nginx"):
        folder = os.path.join(self.tmp, tag)
        os.mkdir(folder)
        proxy = NginxServer(folder, [r.port for r in reps], header=header)
        self.addCleanup(proxy.stop)
        proxy.start()
        return proxy

    def cluster(self, header=True, tag="nginx"):
        """REPLICAS replicas and nginx in front of them."""
        reps = self.start_replicas()
        return reps, self.start_nginx(reps, header=header, tag=tag)

    def dev(self, target, did):
        c = OpalClient(target, did)
        self.addCleanup(c.disconnect)
        return c

    def connect_all(self, target, ids, timeout=30.0):
        """A client per id, all at once; each with its first SET."""
        clients = [self.dev(target, did) for did in ids]
        deadline = time.monotonic() + timeout * SLOW
        for c in clients:
            c.wait_sets(1, max(0.0, deadline - time.monotonic()))
        missing = [c.device_id for c in clients if not c.sets]
        self.assertEqual(missing, [], "%d of %d devices: no first SET within %.0f s\n%s"
                         % (len(missing), len(ids), timeout * SLOW, self.logs_tail()))
        return clients

    def script_device(self, target_port, did, script):
        d = ScriptDevice(target_port, did, script)
        self.addCleanup(d.stop)
        return d

    def lines_everywhere(self, did, n=8):
        """The last n lines about `did` on each replica, as text."""
        return "\n".join("  replica %d (port %d): %s" % (i, r.port, "\n      ".join(r.device_lines(did)[-n:]))
                         for i, r in enumerate(self.all_replicas) if r.device_lines(did))

    def logs_tail(self, n=12):
        out = []
        for i, r in enumerate(self.all_replicas):
            out.append("-- replica %d (port %s, %s):\n%s" % (i, r.port, "running" if r.alive() else
                                                            r.death_note(), r.log_tail(n)))
        return "\n".join(out)

    # ---- where devices are ----------------------------------------------

    def home_of(self, reps, did, timeout=5.0):
        """The replica that logged `connect device=did` (waiting up to
        timeout); fails unless exactly one did, once."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            found = [(r, l) for r in reps for l in r.connects(did)]
            if found or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        self.assertEqual(len(found), 1, "%s: connect lines on the replicas: %r" % (did, [l for _, l in found]))
        return found[0][0]

    def placement_problems(self, reps, ids):
        """Devices not on exactly one replica: not one connect line in all,
        a takeover line, or lines on another replica. A list of texts."""
        bad = []
        index = [r.by_device() for r in reps]
        for did in ids:
            on = [(i, index[i][did]) for i in range(len(reps)) if did in index[i]]
            connects = [l for _, ls in on for l in ls if (CONNECT_LINE.search(l) or [None, None])[1] == did]
            takeovers = [l for _, ls in on for l in ls if (TAKEOVER_LINE.search(l) or [None, None])[1] == did]
            if len(on) != 1 or len(connects) != 1 or takeovers:
                bad.append("%s: lines on replicas %s, %d connect, %d takeover: %r"
                           % (did, [i for i, _ in on], len(connects), len(takeovers),
                              [l for _, ls in on for l in ls][:6]))
        return bad

    def spread(self, reps, ids):
        """How many of ids each replica logged a connect line for."""
        out = []
        for r in reps:
            with r._cond:
                got = {m.group(1) for m in map(CONNECT_LINE.search, r.lines) if m}
            out.append(len(got & set(ids)))
        return out

    def double_owners(self, ids, reps=None):
        """Every moment some device was connected on two replicas at once
        (processes, so a restarted replica counts apart from its first life),
        reconstructed from their logs (a span still open ends now, or at the
        replica's death). A list of texts."""
        reps = self.all_replicas if reps is None else reps
        bad = []
        for did in ids:
            spans = [(i, a, b) for i, r in enumerate(reps) for a, b in r.intervals(did)]
            for x in range(len(spans)):
                for y in range(x + 1, len(spans)):
                    (i, a1, b1), (j, a2, b2) = spans[x], spans[y]
                    if i != j and a1 < b2 and a2 < b1:
                        bad.append("%s: on replica %d (port %d) %s..%s and on replica %d (port %d) %s..%s: "
                                   "%.0f ms at once" % (did, i, reps[i].port, hms(a1), hms(b1), j, reps[j].port,
                                                        hms(a2), hms(b2), (min(b1, b2) - max(a1, a2)) * 1000))
        return bad

    def served_twice(self, old, new, grace=GRACE):
        """What the old client of a device still received (SETs, packets)
        after the new client's first SET (+ grace): a text, or None."""
        t_new = new.sets[0].t
        sets = [s for s in old.sets_since(0) if s.t > t_new + grace]
        pk = [p for p in old.packets_since(0) if p.t > t_new + grace]
        if sets or pk:
            last = max([s.t for s in sets] + [p.t for p in pk])
            return ("%s: the old connection got %d SETs and %d packets after the new one's first SET, "
                    "the last %.0f ms after it" % (old.device_id, len(sets), len(pk), (last - t_new) * 1000))
        return None

    # ---- devices ---------------------------------------------------------

    def drop(self, c, timeout=3.0):
        """Disconnects c and waits (without asserting) until no replica has
        its device connected any more, so that its next connection finds
        no open call anywhere."""
        c.disconnect()
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if not any(r.has(c.device_id) for r in self.all_replicas):
                return
            time.sleep(0.02)

    def step(self, c, button, state, mode, timeout=5.0):
        n = len(c.sets)
        self.press_ok(c, button)
        return self.wait_state(c, state, mode, start=n, timeout=timeout)

    def settle(self, c, mode):
        """Waits until c's last SET shows idle `mode`."""
        ok = c.wait_for(lambda: c.sets and pattern_state(c.sets[-1].leds) == ("idle", mode), 3.0 * SLOW)
        self.assertTrue(ok, "%s: last SET not idle mode %d: %r" % (c.device_id, mode, c.sets[-3:]))

    def play_ok(self, c, mode):
        """Play: a SET showing `mode` playing, then an is_start packet."""
        n = len(c.packets)
        self.step(c, PLAY, "playing", mode)
        _, p = c.wait_packet(n, lambda p: True, 5.0 * SLOW)
        self.assertIsNotNone(p, "%s: no audio within 5 s of Play" % c.device_id)
        self.assertTrue(p.is_start, "%s: first packet after Play is not is_start" % c.device_id)
        return p

    def set_mode(self, c, presses):
        for p in range(1, presses + 1):
            self.step(c, MODE, "idle", p % NMODES)
        return presses % NMODES

    def run_all(self, fn, items, workers=16):
        """fn(i, item) for every item on a pool; the first lines of the
        AssertionErrors raised, as a list."""
        def wrap(i, item):
            try:
                fn(i, item)
            except AssertionError as e:
                return str(e).splitlines()[0]
            return None
        with ThreadPoolExecutor(workers) as pool:
            return [e for e in pool.map(wrap, range(len(items)), items) if e]

    def explain(self, errors, n=3):
        """errors (texts starting "ID: ...") with what the replicas logged
        about the first n of those devices."""
        out = ["  " + e for e in errors[:10]]
        for e in errors[:n]:
            did = e.split(":", 1)[0]
            out.append("%s on the replicas:\n%s" % (did, self.lines_everywhere(did) or "  (nothing)"))
        return "\n".join(out)

    def hash(self, did):
        flat = redis_call(self.redis.port, "HGETALL", "opal:device:{%s}" % did)
        return dict(zip(flat[::2], flat[1::2]))

    def wait_redis_modes(self, expected, timeout=3.0):
        """Waits until Redis holds expected {id: mode}; returns the ids that
        differ, with what Redis has."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            wrong = {did: self.hash(did).get("mode") for did, m in expected.items()
                     if self.hash(did).get("mode") != str(m)}
            if not wrong or time.monotonic() >= deadline:
                return wrong
            time.sleep(0.1)


# --------------------------------------------------------------------------
# 1-3: one connection per device behind nginx
# --------------------------------------------------------------------------

@unittest.skipUnless(HAVE_NGINX, NEED_NGINX)
class ProxyTests(ClusterTestCase):

    DEVICES = 30

    def check_one_connection_each(self, header):
        reps, proxy = self.cluster(header=header)
        tag = "hdr" if header else "plain"
        ids = ["%s-%02d" % (tag, i) for i in range(self.DEVICES)]
        t0 = time.monotonic()
        clients = self.connect_all(proxy.target, ids)
        print("%d devices through nginx (%s): first SETs in %.2f s"
              % (len(ids), "with the header" if header else "plain config", time.monotonic() - t0))

        def run(i, c):
            self.assert_state(c.sets[0].leds, "idle", 0, "%s, a new device" % c.device_id)
            m = self.set_mode(c, 1 + i % 4)
            self.play_ok(c, m)
            self.step(c, STOP, "idle", m)
            self.assertTrue(all(a for _, a in c.acks), "%s: acks %r" % (c.device_id, c.acks))
            self.assertFalse(c.ended, "%s: calls ended: %r" % (c.device_id, c.ended))
        errors = self.run_all(run, clients, workers=8)
        self.assertEqual(errors, [], "%d devices failed:\n%s" % (len(errors), self.explain(errors)))
        bad = self.placement_problems(reps, ids)
        self.assertEqual(bad, [], "devices not one connection on one replica:\n  %s" % "\n  ".join(bad[:10]))
        spread = self.spread(reps, ids)
        print("devices per replica: %r; e.g. %s" % (spread, reps[0].connects(
            next(did for did in ids if reps[0].connects(did)))[0] if spread[0] else "-"))
        self.assertEqual(sum(spread), len(ids))
        self.assertTrue(all(spread), "a replica got no device: %r (the hash on device_id)" % spread)
        errs = proxy.errors()
        self.assertEqual(errs, [], "nginx logged errors:\n%s" % "\n".join(errs[:10]))

    def test_calls_stay_one_connection_with_header(self):
        """deploy/nginx/opal.conf as shipped: each device's three calls reach
        one replica, which logs one connect and no takeover for it; presses
        acked, SETs, audio; all three replicas get devices."""
        self.check_one_connection_each(header=True)

    def test_calls_stay_one_connection_plain_config(self):
        """The same with the grpc_set_header opal-client-connection line
        deleted: the replicas group a device's calls by address and time;
        still one connect, no takeover, every device works."""
        self.check_one_connection_each(header=False)

    def test_reconnect_takes_itself_over(self):
        """A device that connects again (a new connection) through nginx,
        while its old one is open and playing, lands on the same replica:
        the old calls end ABORTED, the new connection's first SET has the
        mode, the replica logs one takeover; both config variants."""
        for header in (True, False):
            with self.subTest(header=header):
                tag = "re-hdr" if header else "re-plain"
                reps, proxy = self.cluster(header=header, tag=tag)
                ids = ["%s-%d" % (tag, i) for i in range(4)]
                clients = self.connect_all(proxy.target, ids)
                for i, c in enumerate(clients):
                    mode = self.set_mode(c, 1 + i)
                    self.play_ok(c, mode)
                    home = self.home_of(reps, c.device_id)
                    t0 = time.monotonic()
                    new = self.dev(proxy.target, c.device_id)
                    s = self.first_set(new, home)
                    ends = c.wait_ended(ENDS, HANDOVER_LIMIT * 3 * SLOW)
                    took = max((e.t for e in ends.values() if e), default=float("nan")) - t0
                    print("%s (%s): new connection's first SET %s after %.0f ms; old calls ended after %.0f ms: %s"
                          % (c.device_id, "header" if header else "plain", describe_pattern(s.leds),
                             (s.t - t0) * 1000, took * 1000, ends["audio"]))
                    self.assertEqual((pattern_state(s.leds) or (None, None))[1], mode,
                                     "%s: first SET after reconnecting: %s" % (c.device_id, describe_pattern(s.leds)))
                    wrong = {k: e for k, e in ends.items()
                             if not e or e.code != grpc.StatusCode.ABORTED or "taken over" not in (e.details or "")}
                    self.assertEqual(wrong, {}, "%s: old calls not ended ABORTED 'taken over'\n%s"
                                     % (c.device_id, home.log_tail()))
                    self.assertIsNone(self.served_twice(c, new))
                    self.assertEqual(len(home.connects(c.device_id)), 1, home.device_lines(c.device_id))
                    self.assertEqual(len(home.takeovers(c.device_id)), 1,
                                     "%s: takeover lines: %r" % (c.device_id, home.device_lines(c.device_id)))
                    others = [l for r in reps if r is not home for l in r.device_lines(c.device_id)]
                    self.assertEqual(others, [], "%s: lines on other replicas" % c.device_id)
                    # The new connection works.
                    self.step(new, MODE, "idle", (mode + 1) % NMODES)
                    self.play_ok(new, (mode + 1) % NMODES)
                    self.assertFalse(new.ended, "%s: new calls ended: %r" % (c.device_id, new.ended))
                    c.disconnect()


# --------------------------------------------------------------------------
# 4: one owner per device across replicas (direct)
# --------------------------------------------------------------------------

class HandoverTests(ClusterTestCase):
    """Direct to the replicas (no nginx), as a device moves when a proxy
    sends it elsewhere. Needs --replica-name and the cross-replica
    hand-over."""

    def named_pair(self, names=("opal-a", "opal-b")):
        try:
            return self.start_replicas(2, names=list(names) if names else None)
        except AssertionError as e:
            raise self.failureException("replicas with --replica-name did not start (one owner per device "
                                        "across replicas not there yet?)\n%s" % e) from None

    def assert_named(self, rep, name):
        got = rep.logged_name(timeout=2.0)
        self.assertEqual(got, name, "the 'replica name=' line of replica on port %d; first lines:\n%s"
                         % (rep.port, "\n".join(rep.lines[:12])))

    def move(self, old, old_rep, new_rep, name_new, mode, version_before=None):
        """A new client for old's device on new_rep, old still connected:
        the new client's first SET shows `mode`, old's calls end ABORTED
        'taken over by replica name_new' within HANDOVER_LIMIT, old_rep logs
        the handover, Redis names the owner. Returns (new client, hash)."""
        did = old.device_id
        t0 = time.monotonic()
        new = self.dev(new_rep.target, did)
        s = self.first_set(new, new_rep)
        ends = old.wait_ended(ENDS, 3 * HANDOVER_LIMIT * SLOW)
        t_end = max((e.t for e in ends.values() if e), default=float("nan"))
        print("%s -> %s: first SET %s after %.0f ms, old calls ended after %.0f ms: %s"
              % (did, name_new, describe_pattern(s.leds), (s.t - t0) * 1000, (t_end - t0) * 1000, ends["status"]))
        wrong = {k: e for k, e in ends.items() if not e or e.code != grpc.StatusCode.ABORTED
                 or "taken over by replica %s" % name_new not in (e.details or "")}
        self.assertEqual(wrong, {}, "%s: the old replica's calls not ended ABORTED 'taken over by replica %s'"
                         "\nold replica:\n%s" % (did, name_new, old_rep.log_tail(10)))
        self.assertLess(t_end - t0, HANDOVER_LIMIT * SLOW, "%s: old calls ended %.0f ms after the move"
                        % (did, (t_end - t0) * 1000))
        self.assertEqual((pattern_state(s.leds) or (None, None))[1], mode,
                         "%s: first SET on %s: %s, expected mode %d" % (did, name_new, describe_pattern(s.leds), mode))
        want = "handover device=%s to replica=%s mode=%d" % (did, name_new, mode)
        deadline = time.monotonic() + 2 * SLOW
        while not any(want in l for l in old_rep.handovers(did)) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(any(want in l for l in old_rep.handovers(did)), "no '%s' line; its lines:\n  %s"
                        % (want, "\n  ".join(old_rep.device_lines(did)[-6:])))
        self.assertIsNone(self.served_twice(old, new))
        deadline = time.monotonic() + 2 * SLOW
        while True:
            h = self.hash(did)
            ok = h.get("owner") == name_new and h.get("mode") == str(mode) and (
                version_before is None or int(h.get("version", -1)) > version_before)
            if ok or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        self.assertTrue(ok, "%s: Redis opal:device:{%s} = %r, expected owner %s, mode %d%s"
                        % (did, did, h, name_new, mode, "" if version_before is None
                           else ", version > %d" % version_before))
        old.disconnect()
        return new, h

    def test_replica_names(self):
        """Each replica names itself at start-up: `replica name=HOSTNAME:PORT`
        (the port of --listen; HOSTNAME:PID for port 0) by default,
        `--replica-name NAME` otherwise; a device moving to a default-named
        replica is told its name."""
        a = self.start_replicas(1, ports=[free_port()])[0]
        b = self.start_replicas(1)[0]
        for r in (a, b):
            self.assert_named(r, r.default_name())
        print("default names: %s (a port given), %s (port 0)" % (a.logged_name(), b.logged_name()))
        c = self.dev(a.target, "named-0")
        self.first_set(c, a)
        self.step(c, MODE, "idle", 1)
        self.move(c, a, b, b.default_name(), 1)
        d = self.named_pair(("opal-x", "opal-y"))
        for r, name in zip(d, ("opal-x", "opal-y")):
            self.assert_named(r, name)

    def test_device_moves_with_its_latest_mode(self):
        """A device on replica A, playing, changes mode and within 50 ms
        connects to replica B: A ends its calls ABORTED 'taken over by
        replica opal-b' within 1 s and logs the handover, B serves it with
        the new mode, Redis says owner opal-b; the device works on B."""
        a, b = self.named_pair()
        self.assert_named(a, "opal-a")
        self.assert_named(b, "opal-b")
        did = "mover-0"
        c = self.dev(a.target, did)
        self.first_set(c, a)
        mode = self.set_mode(c, 2)
        self.play_ok(c, mode)
        time.sleep(0.2)
        self.press_ok(c, MODE)                 # the last change on A...
        lag = time.monotonic() - c.last_press_acked
        mode += 1
        new, h = self.move(c, a, b, "opal-b", mode)   # ...and the move, at once
        print("the move started %.1f ms after the last change's ack; Redis: %r" % (lag * 1000, h))
        self.assertLess(lag, CHANGE_BEFORE_MOVE, "the test was too slow to move right after the change")
        self.step(new, MODE, "idle", (mode + 1) % NMODES)
        self.play_ok(new, (mode + 1) % NMODES)
        self.assertEqual(self.double_owners([did]), [])

    def test_back_and_forth_never_goes_back(self):
        """A -> B -> A -> B -> A -> B, a Mode press on the current replica
        right before each move: every first SET has the latest mode, every
        old connection ends ABORTED naming the new replica, Redis's version
        only grows (polled all along: never a version with another mode,
        never one lower than before) and names each owner."""
        a, b = self.named_pair()
        reps = {"opal-a": a, "opal-b": b}
        did = "pingpong-0"
        c = self.dev(a.target, did)
        self.first_set(c, a)
        mode = self.set_mode(c, 1)
        seen, stop = [], threading.Event()

        def poll():
            while not stop.is_set():
                try:
                    h = self.hash(did)
                except OSError:
                    continue
                if "version" in h:
                    seen.append((int(h["version"]), h.get("mode"), h.get("owner")))
                time.sleep(0.005)
        th = threading.Thread(target=poll, daemon=True)
        th.start()
        self.addCleanup(th.join, 5)
        self.addCleanup(stop.set)
        here, version, lags = "opal-a", None, []
        for hop in range(5):
            there = "opal-b" if here == "opal-a" else "opal-a"
            self.press_ok(c, MODE)
            lags.append(time.monotonic() - c.last_press_acked)
            mode = (mode + 1) % NMODES
            c, h = self.move(c, reps[here], reps[there], there, mode, version)
            version = int(h["version"])
            here = there
        stop.set()
        th.join(5)
        print("moves %.1f..%.1f ms after the change's ack; final Redis version %d; %d polls"
              % (min(lags) * 1000, max(lags) * 1000, version, len(seen)))
        self.assertLess(max(lags), CHANGE_BEFORE_MOVE)
        versions = [v for v, _, _ in seen]
        back = [(x, y) for x, y in zip(seen, seen[1:]) if y[0] < x[0]]
        self.assertEqual(back, [], "Redis's version went backwards")
        modes = {}
        for v, m, _ in seen:
            modes.setdefault(v, set()).add(m)
        mixed = {v: ms for v, ms in modes.items() if len(ms) > 1}
        self.assertEqual(mixed, {}, "one version with several modes in Redis")
        self.assertLessEqual(max(versions), version, "Redis had a version beyond the last change's")
        self.assertEqual(self.double_owners([did]), [])


# --------------------------------------------------------------------------
# 5: kill -9 of a replica
# --------------------------------------------------------------------------

@unittest.skipUnless(HAVE_NGINX, NEED_NGINX)
class KillTests(ClusterTestCase):

    PY_DEVICES = 24
    SCRIPT_DEVICES = 6

    def kill_one(self):
        """3 replicas behind nginx; PY_DEVICES Python clients and
        SCRIPT_DEVICES opal-device processes, each in its mode (1..4, all
        sounds of 8 s or more); the replica with the most opal-devices is
        killed with SIGKILL while its devices play. Its devices come back
        through nginx (opal-device by itself; a Python device as a new
        client as soon as its calls ended): first SET with their mode within
        RECONNECT_LIMIT, Play works. The others are not disturbed. Returns
        a dict of what the restart test goes on with."""
        reps, proxy = self.cluster()
        py_ids = ["kill-py-%02d" % i for i in range(self.PY_DEVICES)]
        sd_ids = ["kill-sd-%d" % i for i in range(self.SCRIPT_DEVICES)]
        modes = {did: 1 + i % 4 for i, did in enumerate(py_ids)}
        modes.update({did: 1 + (i + 2) % 4 for i, did in enumerate(sd_ids)})
        after = ["press play", "wait-for stream_start 5000",
                 "wait-for disconnected 120000", "wait-for connected 10000",
                 "press play", "wait-for stream_start 5000", "wait 120000", "quit"]
        sdevs = {did: self.script_device(proxy.port, did, device_script(modes[did], after)) for did in sd_ids}
        clients = {c.device_id: c for c in self.connect_all(proxy.target, py_ids)}
        errors = self.run_all(lambda i, c: self.set_mode(c, modes[c.device_id]), list(clients.values()))
        self.assertEqual(errors, [], "setting modes:\n  %s" % "\n  ".join(errors[:10]))
        for did, d in sdevs.items():
            d.wait_event("stream_start", 1, 30 * SLOW)
        home = {did: self.home_of(reps, did) for did in py_ids + sd_ids}
        self.assertEqual(self.placement_problems(reps, py_ids + sd_ids), [])
        victim = max(reps, key=lambda r: (sum(1 for did in sd_ids if home[did] is r),
                                          sum(1 for did in py_ids if home[did] is r)))
        moved_py = [did for did in py_ids if home[did] is victim]
        moved_sd = [did for did in sd_ids if home[did] is victim]
        self.assertTrue(moved_py and moved_sd, "the victim has %d Python and %d opal-device devices"
                        % (len(moved_py), len(moved_sd)))
        for did in moved_py:      # mid-stream
            self.play_ok(clients[did], modes[did])
        time.sleep(AFTER_LAST_CHANGE)
        print("killing replica on port %d: %d Python devices and %d opal-device processes playing there; "
              "spread %r" % (victim.port, len(moved_py), len(moved_sd), self.spread(reps, py_ids + sd_ids)))

        t_kill = time.monotonic()
        victim.kill_9()

        def follow(did):
            old = clients[did]
            ends = old.wait_ended(ENDS, 10 * SLOW)
            old.disconnect()
            return ends, OpalClient(proxy.target, did)
        with ThreadPoolExecutor(len(moved_py)) as pool:
            results = dict(zip(moved_py, pool.map(follow, moved_py)))
        new = {}
        for did, (ends, c) in results.items():
            self.addCleanup(c.disconnect)
            new[did] = c
        codes = sorted({"%s(%s)" % (e.code.name, e.details) for ends, _ in results.values()
                        for e in ends.values() if e})
        print("the killed replica's calls ended: %s" % "; ".join(codes))
        not_ended = {did: ends for did, (ends, _) in results.items()
                     if not all(ends.values()) or any(e.code == grpc.StatusCode.OK for e in ends.values())}
        self.assertEqual(not_ended, {}, "calls on the killed replica not ended with an error")

        took, problems = {}, []
        for did, c in new.items():
            s = c.wait_sets(1, RECONNECT_LIMIT * 2 * SLOW)
            if not s:
                problems.append("%s: no SET after reconnecting" % did)
                continue
            took[did] = s[0].t - t_kill
            if pattern_state(s[0].leds) != ("idle", modes[did]):
                problems.append("%s: first SET %s, expected idle mode %d"
                                % (did, describe_pattern(s[0].leds), modes[did]))
        for did in moved_sd:
            d = sdevs[did]
            con = d.wait_after(t_kill, "connected", RECONNECT_LIMIT * 2 * SLOW)
            if d.wait_after(t_kill, "disconnected", 0) is None or con is None:
                problems.append("%s: no disconnected/connected after the kill: %s" % (did, d.names()[-8:]))
                continue
            deadline = time.monotonic() + 5 * SLOW
            lit = []
            while time.monotonic() < deadline:
                lit = [e for e in d.after(con["_t"] - 1e-6, "leds") if leds_state(e["leds"])]
                if lit:
                    break
                time.sleep(0.02)
            if not lit:
                problems.append("%s: no LED pattern after reconnecting: %s" % (did, d.names()[-8:]))
                continue
            took[did] = lit[0]["_t"] - t_kill
            if leds_state(lit[0]["leds"])[1] != modes[did]:
                problems.append("%s: first LEDs after reconnecting %s, expected mode %d"
                                % (did, leds_state(lit[0]["leds"]), modes[did]))
        med, mx = median_max(list(took.values()))
        print("reconnect after kill -9 (kill to first SET): %d devices, median %.3f s, max %.3f s"
              % (len(took), med, mx))
        self.assertEqual(problems, [], "after kill -9:\n  %s\n%s" % ("\n  ".join(problems), self.logs_tail()))
        slow = {did: round(t, 3) for did, t in took.items() if t > RECONNECT_LIMIT}
        self.assertEqual(slow, {}, "devices back later than %.0f s after the kill" % RECONNECT_LIMIT)

        # They play again.
        errors = self.run_all(lambda i, c: self.play_ok(c, modes[c.device_id]), list(new.values()))
        for did in moved_sd:
            if sdevs[did].wait_after(t_kill, "stream_start", 5 * SLOW) is None:
                errors.append("%s: no stream_start after reconnecting: %s" % (did, sdevs[did].names()[-8:]))
        self.assertEqual(errors, [], "Play after reconnecting:\n  %s" % "\n  ".join(errors))
        # The others were not disturbed.
        disturbed = ["%s: %r" % (did, c.ended) for did, c in clients.items() if did not in new and c.ended]
        disturbed += ["%s: %s" % (did, d.names()) for did, d in sdevs.items()
                      if did not in moved_sd and d.of("disconnected")]
        self.assertEqual(disturbed, [], "devices of the other replicas lost their calls")
        # Each came back once, to one of the others.
        survivors = [r for r in reps if r is not victim]
        again = ["%s: %d connect lines on the other replicas, %d disconnected events:\n%s"
                 % (did, sum(len(r.connects(did)) for r in survivors),
                    len(sdevs[did].of("disconnected")) if did in sdevs else 0, self.lines_everywhere(did))
                 for did in moved_py + moved_sd
                 if sum(len(r.connects(did)) for r in survivors) != 1
                 or (did in sdevs and len(sdevs[did].of("disconnected")) != 1)]
        self.assertEqual(again, [], "moved devices not back exactly once:\n%s" % "\n".join(again))
        current = dict(clients)
        current.update(new)
        return dict(reps=reps, proxy=proxy, victim=victim, t_kill=t_kill, modes=modes, clients=current,
                    sdevs=sdevs, moved_py=moved_py, moved_sd=moved_sd, ids=py_ids + sd_ids)

    def test_kill_9_devices_come_back(self):
        """kill -9 of one of 3 replicas mid-stream: its devices' calls end,
        they reconnect through nginx to the other replicas within 5 s of
        the kill with their modes and can play; no device of the other
        replicas notices; no device was ever on two replicas at once."""
        k = self.kill_one()
        self.assertEqual(self.double_owners(k["ids"]), [])

    def test_kill_9_then_restart_one_owner(self):
        """As above, then the killed replica restarts on its port (same
        name): once nginx sends devices to it again, each moved device,
        while still connected and playing on the replica that took it in,
        changes mode, and connects anew through nginx: it reaches the
        restarted replica with that mode and its old calls end within 1 s,
        and, from the replicas' logs and from the clients, no device is
        ever served by two replicas at once. (Needs the hand-over between
        replicas sharing Redis.)"""
        k = self.kill_one()
        victim, proxy, modes, cur = k["victim"], k["proxy"], k["modes"], k["clients"]
        back = self.start_replicas(1, ports=[victim.port])[0]
        print("restarted the killed replica on port %d %.1f s after the kill (name %s)"
              % (back.port, time.monotonic() - k["t_kill"], back.logged_name()))
        # nginx never marks a replica down (max_fails=0): one moved device
        # (disconnect, then connect) should land there at once; probe until
        # it does, in case nginx holds on to the refusal.
        probe, others = k["moved_py"][0], k["moved_py"][1:]
        deadline = k["t_kill"] + 25 * SLOW
        tries = 0
        while not back.connects(probe):
            self.assertLess(time.monotonic(), deadline, "nginx sent %s to the restarted replica in no "
                            "reconnect within 25 s of the kill" % probe)
            time.sleep(0.5)
            tries += 1
            self.drop(cur[probe])
            cur[probe] = self.dev(proxy.target, probe)
            self.first_set(cur[probe], back)
        print("nginx routes to the restarted replica again %.1f s after the kill (%d probe reconnects):\n%s"
              % (time.monotonic() - k["t_kill"], tries, self.lines_everywhere(probe, 4)))
        self.assertEqual(pattern_state(cur[probe].sets[0].leds), ("idle", modes[probe]),
                         "%s on the restarted replica" % probe)
        problems = []
        time.sleep(0.2)
        split = [i for i, r in enumerate(self.all_replicas) if r is not back and r.has(probe)]
        if split:
            problems.append("%s: its new connection's calls split between the restarted replica and replica %s "
                            "(nginx let one call through to the returning replica, the others went on to the "
                            "next one: %s):\n%s" % (probe, split, NGINX_RETRY_NOTE, self.lines_everywhere(probe, 3)))
        # The probe's calls ending is what tells nginx the replica is back
        # for good; then the probe connects once more, all of it there.
        self.drop(cur[probe])
        cur[probe] = self.dev(proxy.target, probe)
        self.first_set(cur[probe], back)
        time.sleep(0.2)
        if not back.has(probe) or any(r.has(probe) for r in self.all_replicas if r is not back):
            problems.append("%s: after its probing calls ended, not (only) on the restarted replica:\n%s"
                            % (probe, self.lines_everywhere(probe, 4)))
        # The others: a change and Play where they are, then a new connection.
        for did in others:
            self.press_ok(cur[did], STOP)   # its sound may have ended by itself meanwhile
            self.settle(cur[did], modes[did])
            modes[did] = (modes[did] + 1) % NMODES
            self.step(cur[did], MODE, "idle", modes[did])
        for did in others:
            self.play_ok(cur[did], modes[did])
        time.sleep(AFTER_LAST_CHANGE)
        old = {did: cur[did] for did in others}
        started = {}
        for did in others:
            started[did] = time.monotonic()
            cur[did] = self.dev(proxy.target, did)
        name = back.logged_name()
        for did in others:
            s = cur[did].wait_sets(1, 5 * SLOW)
            if not s:
                problems.append("%s: no first SET on the new connection" % did)
                continue
            if (pattern_state(s[0].leds) or (None, None))[1] != modes[did]:
                problems.append("%s: first SET %s, expected mode %d" % (did, describe_pattern(s[0].leds), modes[did]))
            if not back.connects(did):
                problems.append("%s: nginx did not send it to the restarted replica (%s):\n%s"
                                % (did, NGINX_RETRY_NOTE, self.lines_everywhere(did)))
            limit = started[did] + HANDOVER_LIMIT * SLOW
            ends = old[did].wait_ended(ENDS, max(0.0, limit - time.monotonic()))
            if not all(ends.values()) or max(e.t for e in ends.values()) > limit:
                problems.append("%s: the old connection's calls not all ended within %.0f s of the new "
                                "connection: %r" % (did, HANDOVER_LIMIT * SLOW, ends))
            elif name and any("taken over by replica %s" % name not in (e.details or "") for e in ends.values()):
                problems.append("%s: old calls ended %r, not 'taken over by replica %s'" % (did, ends, name))
            twice = self.served_twice(old[did], cur[did])
            if twice:
                problems.append(twice)
        time.sleep(0.5)
        problems += self.double_owners(k["ids"])
        self.assertEqual(problems, [], "after the restart:\n  %s\n%s" % ("\n  ".join(problems[:20]), self.logs_tail()))
        for did in others:
            old[did].disconnect()
        # Nobody lost a mode; the opal-devices were left alone.
        wrong = self.wait_redis_modes(modes)
        self.assertEqual(wrong, {}, "Redis modes differ from the devices' (expected %r)" % modes)
        extra = {did: d.names()[-6:] for did, d in k["sdevs"].items() if len(d.of("disconnected")) >
                 (1 if did in k["moved_sd"] else 0)}
        self.assertEqual(extra, {}, "opal-devices disconnected again")


# --------------------------------------------------------------------------
# 6-7: many devices
# --------------------------------------------------------------------------

@unittest.skipUnless(HAVE_NGINX, NEED_NGINX)
class ScaleTests(ClusterTestCase):

    PY_DEVICES = 285
    SCRIPT_DEVICES = 15
    SAMPLE = 30

    def test_300_devices_each_on_one_replica(self):
        """300 devices through nginx on 3 replicas (285 Python clients, 15
        opal-device processes), each setting its own mode: every device's
        calls are one connection on exactly one replica, every mode is in
        Redis, and a sample reconnecting through nginx finds its mode."""
        reps, proxy = self.cluster()
        py_ids = ["scale-py-%03d" % i for i in range(self.PY_DEVICES)]
        sd_ids = ["scale-sd-%02d" % i for i in range(self.SCRIPT_DEVICES)]
        presses = {did: 1 + i % 6 for i, did in enumerate(py_ids + sd_ids)}   # modes 1, 2, 3, 4, 0, 1
        modes = {did: p % NMODES for did, p in presses.items()}
        t0 = time.monotonic()
        sdevs = {did: self.script_device(proxy.port, did, device_script(
            presses[did], ["press play", "wait-for stream_start 5000", "wait 300", "press stop",
                           "wait-for stream_end 5000", "wait 300000", "quit"])) for did in sd_ids}
        clients = self.connect_all(proxy.target, py_ids, timeout=60.0)
        print("%d Python devices connected through nginx in %.1f s" % (len(py_ids), time.monotonic() - t0))

        def run(i, c):
            self.assert_state(c.sets[0].leds, "idle", 0, "%s, a new device" % c.device_id)
            m = self.set_mode(c, presses[c.device_id])
            if i % 10 == 0:
                self.play_ok(c, m)
                self.step(c, STOP, "idle", m)
            self.assertFalse(c.ended, "%s: calls ended: %r" % (c.device_id, c.ended))
        t0 = time.monotonic()
        errors = self.run_all(run, clients)
        print("their modes set in %.1f s" % (time.monotonic() - t0))
        self.assertEqual(errors, [], "%d devices failed:\n%s" % (len(errors), self.explain(errors)))
        for did, d in sdevs.items():
            try:
                d.wait_event("stream_end", 1, 30 * SLOW)
            except AssertionError as e:
                errors.append(str(e).splitlines()[0])
            deadline = time.monotonic() + 3 * SLOW
            while True:   # the idle SET after Stop
                lit = [leds_state(e["leds"]) for e in d.of("leds") if leds_state(e["leds"])]
                if (lit and lit[-1] == ("idle", modes[did])) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            if not lit or lit[-1] != ("idle", modes[did]):
                errors.append("%s: LEDs %r, expected idle mode %d at the end" % (did, lit[-3:], modes[did]))
            if d.of("disconnected") or d.of("script_timeout"):
                errors.append("%s: %s" % (did, d.names()))
        self.assertEqual(errors, [], "opal-device processes:\n  %s" % "\n  ".join(errors))
        ids = py_ids + sd_ids
        bad = self.placement_problems(reps, ids)
        spread = self.spread(reps, ids)
        print("300 devices per replica: %r" % spread)
        self.assertEqual(bad, [], "%d devices not one connection on one replica:\n  %s"
                         % (len(bad), "\n  ".join(bad[:10])))
        self.assertTrue(all(spread), spread)
        wrong = self.wait_redis_modes(modes)
        self.assertEqual(wrong, {}, "Redis modes differ (device: what Redis has)")
        # A sample comes back through nginx with its mode.
        sample = clients[::len(clients) // self.SAMPLE][:self.SAMPLE]
        for c in sample:
            c.disconnect()
        again = self.connect_all(proxy.target, [c.device_id for c in sample])
        wrong = ["%s: %s" % (c.device_id, describe_pattern(c.sets[0].leds)) for c in again
                 if pattern_state(c.sets[0].leds) != ("idle", modes[c.device_id])]
        self.assertEqual(wrong, [], "reconnected devices' first SETs")
        errs = proxy.errors()
        self.assertEqual(errs, [], "nginx logged errors:\n%s" % "\n".join(errs[:10]))


@unittest.skipUnless(HAVE_NGINX, NEED_NGINX)
class FleetTests(ClusterTestCase):

    DEVICES = 1000
    # 5 s of ramp, 25 s more; ~1.5 Plays per device per minute of 3 s each:
    # ~75 streams at once.
    ARGS = ["--ramp", "200", "--duration", "25", "--play-rate", "1.5", "--play-seconds", "3",
            "--mode-rate", "1"]

    def test_fleet_of_1000_through_nginx(self):
        """opal-device --fleet 1000 through nginx on 3 replicas for 30 s
        (5 s of ramp, then 25 s; about 75 streams at once): every device connects and stays, the
        summary has no error and no late packet, and every fleet device is
        one connection on exactly one replica."""
        if not os.access(FLEET_DEVICE, os.X_OK):
            self.fail("no fleet load generator at %s (make, or set OPAL_FLEET_DEVICE)" % FLEET_DEVICE)
        reps, proxy = self.cluster()
        cmd = [FLEET_DEVICE, "--fleet", str(self.DEVICES), "--id-prefix", "fl", "--server", proxy.target,
               *self.ARGS, "--json", "--log-level", "warn"]
        print("fleet: %s" % " ".join(cmd[1:]))
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=child_env())
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            self.fail("the fleet did not end within 120 s\n%s" % err[-2000:])
        print("fleet ran %.1f s" % (time.monotonic() - t0))
        self.assertEqual(proc.returncode, 0, "fleet exit code; stderr:\n%s" % err[-3000:])
        line = out.strip().splitlines()[-1]
        print("fleet summary: %s" % line)
        s = json.loads(line)
        self.assertTrue(s["final"])
        self.assertEqual(s["devices"], self.DEVICES)
        self.assertEqual(s["connected"], self.DEVICES)
        self.assertEqual(s["failed"], 0)
        self.assertEqual(s["reconnects"], 0)
        self.assertEqual(s["errors"], {}, "calls ended with errors")
        self.assertEqual(s["late_packets"], 0, "late packets")
        self.assertEqual(s["decode_errors"], 0)
        self.assertGreater(s["streams_started"], 300, "fewer streams than the load wants")
        self.assertGreater(s["audio_s"], s["streams_started"] * 0.4)  # 20 packets of 20 ms
        ids = ["fl-%d" % i for i in range(self.DEVICES)]
        bad = self.placement_problems(reps, ids)
        print("fleet devices per replica: %r" % self.spread(reps, ids))
        self.assertEqual(bad, [], "%d fleet devices not one connection on one replica:\n  %s"
                         % (len(bad), "\n  ".join(bad[:10])))
        errs = [l for l in proxy.errors() if "upstream prematurely closed" not in l]
        self.assertEqual(errs, [], "nginx logged errors:\n%s" % "\n".join(errs[:10]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
