"""nginx in front of opal-server replicas, for tests/cluster/.

NginxServer runs /usr/sbin/nginx on a free loopback port with the config we
ship, deploy/nginx/opal.conf, changed only where it names addresses: its
`server 10.0.0.1X:50051 ...` lines point at the replicas' 127.0.0.1:PORT and
`listen 50051 http2` becomes `listen 127.0.0.1:FREEPORT http2`. With
header=False the `grpc_set_header opal-client-connection $connection;` line
is deleted too (the plain variant of the config). Around it a minimal main
nginx.conf in the test's own folder: error log, pid file and temp paths
there, no access log, nothing of /etc/nginx used.

Only /usr/bin/python3.
"""

import os
import re
import signal
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
NGINX = "/usr/sbin/nginx"
DEPLOY_CONF = os.path.join(REPO, "deploy", "nginx", "opal.conf")

SERVER_LINE = re.compile(r"^(\s*server\s+)10\.0\.0\.1\d:50051(\s.*)$", re.M)
LISTEN_LINE = re.compile(r"^(\s*listen\s+)50051(\s+http2\s*;.*)$", re.M)
HEADER_LINE = re.compile(r"^\s*grpc_set_header\s+opal-client-connection\s+\$connection\s*;\s*\n", re.M)

MAIN_CONF = """\
worker_processes {workers};
worker_rlimit_nofile 20000;
error_log {dir}/error.log info;
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rewrite_conf(text, replica_ports, listen_port, header=True):
    """deploy/nginx/opal.conf with the replicas' and the listening address
    changed (and, if not header, the opal-client-connection line deleted).
    Raises ValueError when the file no longer has the lines this expects."""
    servers = SERVER_LINE.findall(text)
    if len(servers) != len(replica_ports):
        raise ValueError("%s has %d 'server 10.0.0.1X:50051' lines, the test has %d replicas"
                         % (DEPLOY_CONF, len(servers), len(replica_ports)))
    ports = iter(replica_ports)
    text = SERVER_LINE.sub(lambda m: "%s127.0.0.1:%d%s" % (m.group(1), next(ports), m.group(2)), text)
    text, n = LISTEN_LINE.subn(lambda m: "%s127.0.0.1:%d%s" % (m.group(1), listen_port, m.group(2)), text)
    if n != 1:
        raise ValueError("%s: %d 'listen 50051 http2;' lines, expected 1" % (DEPLOY_CONF, n))
    if not header:
        text, n = HEADER_LINE.subn("", text)
        if n != 1:
            raise ValueError("%s: %d 'grpc_set_header opal-client-connection $connection;' lines, expected 1"
                             % (DEPLOY_CONF, n))
    return text


class NginxServer:
    """nginx (master and `workers` worker processes) in `folder` on
    127.0.0.1:port, proxying to the replicas on replica_ports."""

    def __init__(self, folder, replica_ports, header=True, workers=1, port=None):
        self.folder = folder
        self.replica_ports = list(replica_ports)
        self.header = header
        self.workers = workers
        self.port = port or free_port()
        self.proc = None
        self.conf = os.path.join(folder, "nginx.conf")
        self.opal_conf = os.path.join(folder, "opal.conf")
        self.error_log = os.path.join(folder, "error.log")
        self.stderr_log = os.path.join(folder, "nginx.stderr")

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def write_config(self):
        os.makedirs(os.path.join(self.folder, "tmp"), exist_ok=True)
        with open(DEPLOY_CONF) as f:
            text = rewrite_conf(f.read(), self.replica_ports, self.port, self.header)
        with open(self.opal_conf, "w") as f:
            f.write(text)
        with open(self.conf, "w") as f:
            f.write(MAIN_CONF.format(workers=self.workers, dir=self.folder))

    def start(self, timeout=10.0):
        self.write_config()
        with open(self.stderr_log, "ab") as err:
            self.proc = subprocess.Popen([NGINX, "-p", self.folder, "-c", self.conf, "-g", "daemon off;"],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    pass
                if len(self.worker_pids()) >= self.workers:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        rc = self.proc.poll()
        self.stop()
        raise AssertionError("nginx did not listen on %s within %.0f s (exit code %s):\n%s"
                             % (self.target, timeout, rc, self.log_tail()))

    def worker_pids(self):
        """The master's children (its workers)."""
        if self.proc is None:
            return []
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def stop(self):
        """Fast shutdown (SIGTERM: the master stops its workers); SIGKILL of
        master and workers if that takes more than 10 s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            workers = self.worker_pids()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                for pid in workers:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, n=30):
        out = []
        for path in (self.stderr_log, self.error_log):
            try:
                with open(path, errors="replace") as f:
                    out += f.read().splitlines()[-n:]
            except OSError:
                pass
        return "\n".join(out[-n:])

    def errors(self):
        """error.log lines at [error] level or worse (alert, crit, emerg)."""
        try:
            with open(self.error_log, errors="replace") as f:
                return [l.rstrip("\n") for l in f if re.search(r"\[(error|crit|alert|emerg)\]", l)]
        except OSError:
            return []
