"""The services tests/bench/bench.py starts beside the server for its store
and nginx scenarios: a private redis-server and nginx with the config we
ship (deploy/nginx/opal.conf, only its addresses changed). Each runs in its
own folder under the bench's temp folder, on a free loopback port, and is
stopped by stop() -- also after an error or KeyboardInterrupt, when the
caller puts stop() in a finally. Data they leave (nginx's temp folders) is
removed; their logs stay, like the server's.

Only /usr/bin/python3.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REDIS_SERVER = "/usr/bin/redis-server"
NGINX = "/usr/sbin/nginx"
DEPLOY_CONF = os.path.join(REPO, "deploy", "nginx", "opal.conf")


class ServiceError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def tail_of(path, n=5):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()[-n:]
    except OSError:
        return []


def children(pid):
    """Pids whose parent is pid, from /proc/*/stat (field 4, ppid)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def stop_proc(proc, signals, grace):
    """Sends each signal in turn, waiting `grace` s for the exit after each;
    SIGKILL at the end. Returns the exit code."""
    if proc is None:
        return None
    for sig in signals:
        if proc.poll() is not None:
            break
        try:
            proc.send_signal(sig)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)
    return proc.returncode


# ---------------------------------------------------------------- redis

def redis_ping(port, timeout=1.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        return s.recv(64).startswith(b"+PONG")


class RedisServer:
    """redis-server on 127.0.0.1:port, no persistence (--save '' --appendonly
    no), its --dir `folder`; log redis.log there."""

    name = "redis-server"

    def __init__(self, folder):
        self.folder = folder
        self.port = None
        self.proc = None
        self.log_path = os.path.join(folder, "redis.log")

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self):
        if not os.access(REDIS_SERVER, os.X_OK):
            raise ServiceError("%s is missing (apt-get install redis-server)" % REDIS_SERVER)
        os.makedirs(self.folder, exist_ok=True)
        for attempt in range(3):          # a free port can be taken before redis binds it
            self.port = free_port()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", self.folder, "--daemonize", "no"],
                    cwd=self.folder, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if redis_ping(self.port):
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            rc = self.stop()
            if rc is None or attempt == 2 or "in use" not in " ".join(tail_of(self.log_path, 5)):
                break
        raise ServiceError("redis-server on 127.0.0.1:%d did not answer PING within 10 s (%s): %s" % (
            self.port, "exit code %s" % rc, " | ".join(tail_of(self.log_path, 3))))

    def pids(self):
        return [self.proc.pid] if self.proc is not None and self.proc.poll() is None else []

    def died(self):
        return self.proc is not None and self.proc.poll() is not None

    def stop(self):
        rc = stop_proc(self.proc, (signal.SIGTERM,), 10)
        # --save '' writes no dump.rdb; remove one if an old config did.
        for name in ("dump.rdb", "appendonly.aof"):
            path = os.path.join(self.folder, name)
            if os.path.exists(path):
                os.remove(path)
        return rc


# ---------------------------------------------------------------- nginx

SERVER_LINE = re.compile(r"^([ \t]*server[ \t]+)10\.0\.0\.1\d:50051([ \t][^\n]*\n)", re.M)
LISTEN_LINE = re.compile(r"^([ \t]*listen[ \t]+)50051([ \t]+http2[ \t]*;)", re.M)

MAIN_CONF = """\
# tests/bench/bench.py: a minimal nginx.conf around deploy/nginx/opal.conf
worker_processes 1;
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    include {dir}/opal.conf;
}}
"""


def rewrite_conf(text, upstream_port, listen_port):
    """deploy/nginx/opal.conf with its upstream's `server 10.0.0.1X:50051
    ...;` lines replaced by one for 127.0.0.1:upstream_port (the first
    line's parameters kept) and `listen 50051 http2` bound to
    127.0.0.1:listen_port. Raises ServiceError when the file no longer has
    the lines this expects."""
    servers = SERVER_LINE.findall(text)
    if not servers:
        raise ServiceError("%s has no 'server 10.0.0.1X:50051' line" % DEPLOY_CONF)
    first = [True]

    def one(m):
        if first[0]:
            first[0] = False
            return "%s127.0.0.1:%d%s" % (m.group(1), upstream_port, m.group(2))
        return ""
    text = SERVER_LINE.sub(one, text)
    text, n = LISTEN_LINE.subn(lambda m: "%s127.0.0.1:%d%s" % (m.group(1), listen_port, m.group(2)), text)
    if n != 1:
        raise ServiceError("%s: %d 'listen 50051 http2;' lines, expected 1" % (DEPLOY_CONF, n))
    return text


class Nginx:
    """nginx (master and one worker) in `folder`, on 127.0.0.1:port,
    proxying to the opal-server on 127.0.0.1:upstream_port."""

    name = "nginx"

    def __init__(self, folder, upstream_port):
        self.folder = folder
        self.upstream_port = upstream_port
        self.port = None
        self.proc = None
        self.workers = []
        self.workers_at = 0.0
        self.error_log = os.path.join(folder, "error.log")
        self.stderr_log = os.path.join(folder, "nginx.stderr")

    def start(self):
        if not os.access(NGINX, os.X_OK):
            raise ServiceError("%s is missing (scripts/install-deps.sh --tests: nginx-light)" % NGINX)
        conf = os.path.join(self.folder, "nginx.conf")
        for attempt in range(3):
            os.makedirs(os.path.join(self.folder, "tmp"), exist_ok=True)
            self.port = free_port()
            with open(DEPLOY_CONF) as f:
                text = rewrite_conf(f.read(), self.upstream_port, self.port)
            with open(os.path.join(self.folder, "opal.conf"), "w") as f:
                f.write(text)
            with open(conf, "w") as f:
                f.write(MAIN_CONF.format(dir=self.folder))
            with open(self.stderr_log, "ab") as err:
                # -e: the start-up error log too, before nginx.conf is read
                self.proc = subprocess.Popen(
                    [NGINX, "-p", self.folder, "-e", self.error_log, "-c", conf, "-g", "daemon off;"],
                    cwd=self.folder, stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline and self.proc.poll() is None:
                if answers(self.port) and self.pids(refresh=True)[1:]:
                    return self
                time.sleep(0.05)
            rc = self.stop()
            if rc is None or attempt == 2 or "in use" not in " ".join(tail_of(self.error_log, 5)):
                break
        why = tail_of(self.error_log, 2) or tail_of(self.stderr_log, 2)
        raise ServiceError("nginx %s (exit code %s): %s" % (
            "exited at start" if rc not in (None, -signal.SIGQUIT, -signal.SIGTERM, -signal.SIGKILL) else
            "did not listen on 127.0.0.1:%d within 10 s" % self.port, rc, " | ".join(why)))

    def pids(self, refresh=False):
        """The master and its workers. Workers are looked up again (a scan of
        /proc) when one of them is gone, and at most every 5 s otherwise."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        now = time.monotonic()
        if refresh or now - self.workers_at > 5.0 or not all(alive(p) for p in self.workers):
            self.workers = children(self.proc.pid)
            self.workers_at = now
        return [self.proc.pid] + self.workers

    def died(self):
        return self.proc is not None and self.proc.poll() is not None

    def stop(self):
        """SIGQUIT (graceful), then SIGTERM, then SIGKILL of master and
        workers. Returns the master's exit code; removes nginx's temp
        folders."""
        if self.proc is None:
            return None
        workers = self.pids(refresh=True)[1:] or self.workers
        rc = stop_proc(self.proc, (signal.SIGQUIT, signal.SIGTERM), 5)
        for pid in workers:           # workers outlive a killed master
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(os.path.join(self.folder, "tmp"), ignore_errors=True)
        return rc

    def problems(self):
        """error.log lines at [error] level or worse, and their count by
        message (numbers and addresses folded)."""
        lines = []
        try:
            with open(self.error_log, errors="replace") as f:
                lines = [l.rstrip("\n") for l in f if re.search(r"\[(error|crit|alert|emerg)\]", l)]
        except OSError:
            pass
        kinds = {}
        for l in lines:
            m = re.search(r"\[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*?)(, client:.*)?$", l)
            what = re.sub(r"\d+", "N", m.group(2) if m else l)[:120]
            kinds[what] = kinds.get(what, 0) + 1
        return lines, kinds
