"""The world bench_monitor.py probes, the configs both sides read, and how a process is measured.

* :func:`running_world` starts the peers once for both sides: the test harness's nginx (http
  and tls), dnsmasq (dns), ``TCP_PORTS`` loopback listeners that accept and close (tcp), a port
  bound but never listening (dead: refused at once), and a one-host namespace network whose
  nftables drops SYNs to its filtered ports (black-holed: no answer until the timeout).
* :func:`workload` turns a target count into the mix; :func:`netkit_config`,
  :func:`blackbox_config` and :func:`prometheus_config` write the same targets for each side.
* :class:`ProcTree` reads CPU ticks and peak RSS of a process and its descendants from /proc.
* :func:`histogram_quantile` reads a quantile off histogram buckets.

Standard library only, plus the harness modules under tests/peers.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import _common  # noqa: F401  (puts the repository on sys.path for tests.peers)

from tests.peers.certs import make_pki
from tests.peers.dns import WWW, WWW_V4, running_dnsmasq
from tests.peers.netns import testnet
from tests.peers.nginx import running_nginx

HOST = "127.0.0.1"
# Loopback listeners shared by the tcp targets: a few ports, many targets each (targets are
# told apart by name; the listener only accepts and closes).
TCP_PORTS = 16
# Pending connections per listener: a burst of a few hundred connects at once must not be
# refused by a full accept queue (the kernel caps it at net.core.somaxconn).
TCP_BACKLOG = 4096
# The timeout of every check and probe, both sides: a black-holed target costs this long.
CHECK_TIMEOUT = 5
# Every 100 targets: one dead and, alternately, refused at once or black-holed.
DEAD_EVERY = 100
# The live targets cycle through this mix (http twice as often as the others).
MIX = ("http", "http", "tcp", "tls", "dns")


# --- loopback listeners --------------------------------------------------------------------

class TcpListeners:
    """``count`` listening sockets on 127.0.0.1 served by one thread that accepts and closes."""

    def __init__(self, count: int) -> None:
        self.sockets = []
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sock.listen(TCP_BACKLOG)
            sock.setblocking(False)
            self.sockets.append(sock)
        self.ports = [s.getsockname()[1] for s in self.sockets]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="tcp-listeners", daemon=True)

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            for sock in self.sockets:
                selector.register(sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.2):
                    while True:
                        try:
                            conn, _ = key.fileobj.accept()
                        except (BlockingIOError, InterruptedError):
                            break
                        except OSError:  # e.g. ECONNABORTED: the client gave up first
                            continue
                        conn.close()
                        self.accepted += 1

    def __enter__(self) -> TcpListeners:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


# --- the world ----------------------------------------------------------------------------

@dataclass(frozen=True)
class World:
    nginx: object            # tests.peers.nginx.Nginx
    dns_host: str
    dns_port: int
    dns_log: Path
    ca_file: Path
    tcp_ports: tuple
    closed_port: int
    blackhole: tuple         # (address, port): SYNs dropped by nftables in a namespace
    listeners: TcpListeners

    @property
    def access_log(self) -> Path:
        return self.nginx.access_log


@contextlib.contextmanager
def running_world(log=print) -> Iterator[World]:
    """Every peer the targets point at; all stopped and removed on exit."""
    with contextlib.ExitStack() as stack:
        log("starting nginx, dnsmasq, tcp listeners and a namespace with filtered ports ...")
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="netkit-monitor-")))
        (tmp / "pki").mkdir()
        pki = make_pki(tmp / "pki")
        nginx = stack.enter_context(running_nginx(tmp / "nginx", pki))
        dns = stack.enter_context(running_dnsmasq(tmp / "dnsmasq"))
        listeners = stack.enter_context(TcpListeners(TCP_PORTS))
        closed = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        closed.bind((HOST, 0))  # bound, never listening: reserved, and refuses connections
        net = stack.enter_context(testnet(hosts=1, loss=0.0, delay=0.0))
        host = net.hosts[0]
        yield World(
            nginx=nginx,
            dns_host=dns.host,
            dns_port=dns.port,
            dns_log=dns.log_file,
            ca_file=pki.ca_file,
            tcp_ports=tuple(listeners.ports),
            closed_port=closed.getsockname()[1],
            blackhole=(host.address, host.filtered_ports[0]),
            listeners=listeners,
        )


# --- the targets --------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    name: str
    kind: str        # http, tcp, tls, dns, closed, blackhole
    url: str         # netkit's URL
    module: str      # blackbox module
    probe: str       # blackbox's target parameter


def workload(world: World, count: int) -> list[Target]:
    """``count`` targets: 1 in DEAD_EVERY dead (refused or black-holed, alternately), the rest
    cycling through MIX; http targets differ by query string, the others by name only."""
    nginx = world.nginx
    targets = []
    live = 0
    for i in range(count):
        name = f"t{i:05d}"
        if i % DEAD_EVERY == DEAD_EVERY - 1:
            if (i // DEAD_EVERY) % 2 == 0:
                address = f"{HOST}:{world.closed_port}"
                targets.append(Target(name, "closed", f"tcp://{address}", "tcp", address))
            else:
                address = f"{world.blackhole[0]}:{world.blackhole[1]}"
                targets.append(Target(name, "blackhole", f"tcp://{address}", "tcp", address))
            continue
        kind = MIX[live % len(MIX)]
        live += 1
        if kind == "http":
            url = f"http://{HOST}:{nginx.http_port}/?n={i}"
            targets.append(Target(name, kind, url, "http", url))
        elif kind == "tcp":
            address = f"{HOST}:{world.tcp_ports[live % len(world.tcp_ports)]}"
            targets.append(Target(name, kind, f"tcp://{address}", "tcp", address))
        elif kind == "tls":
            address = f"{HOST}:{nginx.https_port}"
            targets.append(Target(name, kind, f"tls://{address}", "tls", address))
        else:
            address = f"{world.dns_host}:{world.dns_port}"
            targets.append(Target(name, kind, f"dns://{address}/{WWW}", "dns", address))
    return targets


def counts(targets: list[Target]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in targets:
        out[t.kind] = out.get(t.kind, 0) + 1
    return out


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def netkit_config(path: Path, targets: list[Target], world: World, state_dir: Path,
                  listen: str, interval: int) -> Path:
    """``netkit monitor run``'s config: [monitor], [defaults], one [[target]] per target."""
    lines = [
        f"# bench_monitor.py: {len(targets)} targets every {interval} s",
        "[monitor]",
        f"state-dir = {_toml(str(state_dir))}",
        f"listen = {_toml(listen)}",
        "",
        "[defaults]",
        f'interval = "{interval}s"',
        f"timeout = {CHECK_TIMEOUT}",
        "",
    ]
    ca = _toml(str(world.ca_file))
    for t in targets:
        lines.append(f"[[target]]\nname = {_toml(t.name)}\nurl = {_toml(t.url)}")
        if t.kind == "tls":
            lines.append(f"cacert = {ca}")
        elif t.kind == "dns":
            lines.append(f'expect-address = "{WWW_V4}"')
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def blackbox_config(path: Path, world: World) -> Path:
    """One module per kind; the same timeout as netkit's checks, IPv4 as netkit's URLs."""
    path.write_text(f"""\
modules:
  http:
    prober: http
    timeout: {CHECK_TIMEOUT}s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  tcp:
    prober: tcp
    timeout: {CHECK_TIMEOUT}s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  tls:
    prober: tcp
    timeout: {CHECK_TIMEOUT}s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      tls: true
      tls_config:
        ca_file: {world.ca_file}
  dns:
    prober: dns
    timeout: {CHECK_TIMEOUT}s
    dns:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      transport_protocol: udp
      query_name: {WWW}
      query_type: A
      valid_rcodes: [NOERROR]
      validate_answer_rrs:
        fail_if_none_matches_regexp: ['.*\\t{WWW_V4.replace(".", "[.]")}$']
""")
    return path


# Prometheus' address label of a probe: "<module>|<target>|<name>", split by relabelling into
# the module and target parameters (the name keeps targets with the same address apart).
PROMETHEUS_JOB = "blackbox"


def prometheus_config(path: Path, targets: list[Target], exporter: str, interval: int) -> Path:
    """The usual blackbox set-up: static targets, relabelled to /probe on the exporter."""
    split = r"([^|]+)\|([^|]+)\|(.+)"
    entries = "\n".join(f"          - '{t.module}|{t.probe}|{t.name}'" for t in targets)
    path.write_text(f"""\
global:
  scrape_interval: {interval}s
  scrape_timeout: {CHECK_TIMEOUT + 5}s
scrape_configs:
  - job_name: {PROMETHEUS_JOB}
    metrics_path: /probe
    static_configs:
      - targets:
{entries}
    relabel_configs:
      - source_labels: [__address__]
        regex: '{split}'
        target_label: __param_module
        replacement: '$1'
      - source_labels: [__address__]
        regex: '{split}'
        target_label: __param_target
        replacement: '$2'
      - source_labels: [__address__]
        regex: '{split}'
        target_label: instance
        replacement: '$3'
      - source_labels: [__address__]
        regex: '{split}'
        target_label: kind
        replacement: '$1'
      - target_label: __address__
        replacement: '{exporter}'
""")
    return path


# --- measuring a process tree -------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime+cutime+cstime in ticks) of ``pid``, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(b")") + 2:].split()
    # After "pid (comm) ": state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return int(fields[1]), sum(int(x) for x in fields[11:15])


def _status_kib(pid: int, key: bytes) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class ProcTree:
    """CPU and memory of a set of root processes and all their descendants.

    CPU: the sum over the tree of utime+stime+cutime+cstime (a child reaped inside the tree
    moves its time into its parent's cutime/cstime, so nothing is lost or counted twice).
    Peak RSS: each process's own VmHWM (the kernel's high-water mark), kept per pid as last
    read, summed: for one process that IS its peak; for several an upper bound. The largest
    sum of VmRSS seen at one sample is kept too.
    """

    def __init__(self, roots: list[int]) -> None:
        self.roots = list(roots)
        self.hwm_kib: dict[int, int] = {}
        self.rss_sum_max_kib = 0

    def pids(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                st = _stat(int(entry))
                if st:
                    children.setdefault(st[0], []).append(int(entry))
        out, todo = [], list(self.roots)
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, ()))
        return out

    def sample(self) -> float:
        """Read every process once; return the tree's CPU seconds so far."""
        ticks = 0
        rss = 0
        for pid in self.pids():
            st = _stat(pid)
            if st is None:
                continue
            ticks += st[1]
            hwm = _status_kib(pid, b"VmHWM:")
            if hwm is not None:
                self.hwm_kib[pid] = max(hwm, self.hwm_kib.get(pid, 0))
            rss += _status_kib(pid, b"VmRSS:") or 0
        self.rss_sum_max_kib = max(self.rss_sum_max_kib, rss)
        return ticks / CLOCK_TICKS

    @property
    def peak_mib(self) -> float:
        return sum(self.hwm_kib.values()) / 1024


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy so far (every core; /proc/stat's first line:
    all but idle and iowait), to tell how much else ran beside a side."""
    with open("/proc/stat", "rb") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def tree_size(path: Path) -> int:
    """Bytes of every file under ``path`` (a store's directory)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


# --- histograms ---------------------------------------------------------------------

def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The upper bound of the bucket holding the q-quantile (no interpolation: a bar is
    judged on what is sure, not on a guess inside the bucket); None with no observations."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    for le, cumulative in buckets:
        if cumulative >= q * total:
            return le
    return float("inf")
