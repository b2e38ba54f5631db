#!/usr/bin/env python3
"""Several hosts on one machine: two API hosts and two worker hosts as network namespaces,
HAProxy in front of the API hosts, one PostgreSQL that they all share and nothing else.

    sudo .venv/bin/python deploy/hosts/layout.py up [--database-url URL] [--run-id ID]
    sudo .venv/bin/python deploy/hosts/layout.py status
    sudo .venv/bin/python deploy/hosts/layout.py down [RUN_ID | --all]

Each run is named by a run id (random unless given): its namespaces are ``dl<id>-api1``,
``dl<id>-api2``, ``dl<id>-worker1``, ``dl<id>-worker2``, its links ``dl<id>br`` (the
bridge) and ``dl<id>a1``… (the root ends of the veth pairs), and its /24 is derived from
the id (``10.<100-199>.<0-255>.0/24``, the next free one if taken), so two runs (CI and a
developer) never share a name, an address or a port. In the root namespace, on the
bridge's address (``.1``):

- ``:8080`` HAProxy in HTTP mode, round robin over the API hosts with health checks
  (``GET /ready``: the process answers and reaches PostgreSQL at the current migration)
  and a retry on another host when a connection fails;
- ``:5432`` HAProxy in TCP mode in front of PostgreSQL, which listens on 127.0.0.1 only
  (the place a connection pooler or a proxy takes in production). Its configuration is
  not touched; every host reaches it through this address only;
- ``:8404`` HAProxy's statistics page (``/``; the same counters on the unix socket
  ``<run dir>/haproxy.sock``).

The hosts are ``.11``/``.12`` (``dayledger serve --no-worker`` on :8080) and ``.21``/``.22``
(``dayledger worker``), each with its own data directory and log under the run directory
(``/tmp/dayledger-hosts/<id>/``). Root is needed (namespaces, links). Standard library
only, so the tests import it (``tests/hosts``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

STATE_ROOT = Path("/tmp/dayledger-hosts")
HOSTS = {"api1": 11, "api2": 12, "worker1": 21, "worker2": 22}  # host -> last octet of its address
SHORT = {"api1": "a1", "api2": "a2", "worker1": "w1", "worker2": "w2"}  # in link names (15 chars at most)
API_PORT = 8080
PG_PORT = 5432
STATS_PORT = 8404
RESPONSE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")  # HAProxy's hrsp_* counters
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/dayledger_hosts"


class LayoutError(RuntimeError):
    pass


def missing_tools() -> list[str]:
    """What this machine lacks to build the layout (empty: it can)."""
    lacks = []
    if os.geteuid() != 0:
        lacks.append("root (network namespaces and links)")
    lacks += [f"`{tool}`" for tool in ("ip", "haproxy") if shutil.which(tool) is None]
    return lacks


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise LayoutError(f"{' '.join(cmd)}: {done.stderr.strip() or done.stdout.strip()}")
    return done


def _subnet_taken(net: ipaddress.IPv4Network) -> bool:
    """An address or a route of this machine in ``net`` (another run's, or a real network)."""
    out = _run("ip", "-4", "-o", "addr", "show").stdout + _run("ip", "-4", "route", "show", "table", "all").stdout
    for word in out.split():
        with contextlib.suppress(ValueError):
            if ipaddress.ip_network(word, strict=False).overlaps(net):
                return True
    return False


def pick_subnet(run_id: str) -> ipaddress.IPv4Network:
    """The /24 derived from the run id, or the next one that is free."""
    h = int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:4], "big")
    for i in range(25_600):
        n = (h + i) % 25_600
        net = ipaddress.IPv4Network(f"10.{100 + n // 256}.{n % 256}.0/24")
        if not _subnet_taken(net):
            return net
    raise LayoutError("no free 10.100-199.x.0/24 subnet")


def proxied_url(database_url: str, address: str, port: int = PG_PORT) -> str:
    """``database_url`` with its host and port replaced by the PostgreSQL proxy's."""
    parts = urlsplit(database_url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{address}:{port}" if userinfo else f"{address}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _pg_target(database_url: str) -> tuple[str, int]:
    parts = urlsplit(database_url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


@dataclass
class Layout:
    """One run of the layout. ``up()`` builds it, ``down()`` removes every part of it (also
    a half-built one, also from another process through the saved state)."""

    database_url: str  # as PostgreSQL is reached from the root namespace (127.0.0.1)
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    dayledger: str = str(Path(sys.executable).with_name("dayledger"))
    env: dict[str, str] = field(default_factory=dict)  # DAYLEDGER_* for every host
    subnet: str = ""
    pids: dict[str, int] = field(default_factory=dict)  # host (or "haproxy") -> pid

    # -- names and addresses ---------------------------------------------------------
    @property
    def prefix(self) -> str:
        return f"dl{self.run_id}"

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br"

    def netns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def address(self, host: str | None = None) -> str:
        """A host's address; the bridge's (HAProxy, the PostgreSQL proxy) for None."""
        net = ipaddress.IPv4Network(self.subnet)
        return str(net.network_address + (HOSTS[host] if host else 1))

    @property
    def run_dir(self) -> Path:
        return STATE_ROOT / self.run_id

    @property
    def url(self) -> str:
        """The load balancer: the API as clients see it."""
        return f"http://{self.address()}:{API_PORT}"

    @property
    def stats_url(self) -> str:
        return f"http://{self.address()}:{STATS_PORT}/"

    @property
    def host_database_url(self) -> str:
        """``DAYLEDGER_DATABASE_URL`` of every host: PostgreSQL through the proxy."""
        return proxied_url(self.database_url, self.address())

    def api_url(self, host: str) -> str:
        return f"http://{self.address(host)}:{API_PORT}"

    # -- state -------------------------------------------------------------------------
    def save(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "state.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, run_id: str) -> Layout:
        return cls(**json.loads((STATE_ROOT / run_id / "state.json").read_text()))

    @staticmethod
    def recorded() -> list[str]:
        return sorted(p.parent.name for p in STATE_ROOT.glob("*/state.json"))

    # -- building ----------------------------------------------------------------------
    def up(self, *, workers: bool = True, timeout: float = 60) -> Layout:
        """Build the network, start HAProxy, migrate once, start the hosts and wait until
        HAProxy sees both API hosts up. On any failure, tears down what was built."""
        if lacks := missing_tools():
            raise LayoutError("cannot build the layout without " + ", ".join(lacks))
        if (self.run_dir / "state.json").exists():
            raise LayoutError(f"run {self.run_id} exists already ({self.run_dir}); take it down first")
        self.subnet = self.subnet or str(pick_subnet(self.run_id))
        self.save()  # from here on, down() finds what to remove
        try:
            self._network()
            self._haproxy()
            self._migrate()
            for host in HOSTS:
                if host.startswith("api") or workers:
                    self.start(host)
            self.wait_ready(timeout)
        except BaseException as exc:
            logs = {p.name: p.read_text(errors="replace")[-2000:] for p in self.run_dir.glob("*.log")}
            self.down()
            if isinstance(exc, LayoutError) and logs:
                raise LayoutError(f"{exc}\n" + "\n".join(f"--- {n} (end):\n{t}" for n, t in logs.items())) from None
            raise
        return self

    def _network(self) -> None:
        net = ipaddress.IPv4Network(self.subnet)
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{self.address()}/{net.prefixlen}", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        for host in HOSTS:
            ns, outer = self.netns(host), f"{self.prefix}{SHORT[host]}"
            inner = f"{outer}n"
            _run("ip", "netns", "add", ns)
            _run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
            _run("ip", "link", "set", outer, "master", self.bridge)
            _run("ip", "link", "set", outer, "up")
            _run("ip", "link", "set", inner, "netns", ns)
            _run("ip", "-n", ns, "link", "set", inner, "name", "eth0")
            _run("ip", "-n", ns, "addr", "add", f"{self.address(host)}/{net.prefixlen}", "dev", "eth0")
            _run("ip", "-n", ns, "link", "set", "eth0", "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")

    def haproxy_config(self) -> str:
        lb = self.address()
        pg_host, pg_port = _pg_target(self.database_url)
        apis = "\n".join(f"    server {h} {self.address(h)}:{API_PORT}" for h in HOSTS if h.startswith("api"))
        return f"""# dayledger several-hosts layout, run {self.run_id} (deploy/hosts/layout.py)
global
    maxconn 4096  # each connection takes two descriptors: within a 20,000 RLIMIT_NOFILE
    stats socket {self.run_dir}/haproxy.sock mode 600 level admin
    log stderr format short local0 notice

defaults
    log global
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 2s

# The API: round robin over the API hosts, each checked with GET /ready (up, reaching
# PostgreSQL, schema current) every 0.5 s: down after 2 failures, up after 2 passes. A request whose
# connection to a host fails is sent again to the other host (redispatch on every retry);
# a request already sent is never resent by the proxy (a POST may have taken effect):
# clients retry those with their Idempotency-Key.
frontend api
    mode http
    bind {lb}:{API_PORT}
    default_backend api

backend api
    mode http
    balance roundrobin
    option httpchk
    http-check send meth GET uri /ready
    http-check expect status 200
    retry-on conn-failure
    retries 3
    option redispatch 1
    default-server check inter 500ms fall 2 rise 2
{apis}

# PostgreSQL for the hosts: plain TCP to the server, which listens on {pg_host} only. Long
# timeouts: the hosts' pools keep connections open while idle.
listen postgresql
    mode tcp
    bind {lb}:{PG_PORT}
    timeout client 24h
    timeout server 24h
    server pg {pg_host}:{pg_port}

listen stats
    mode http
    bind {lb}:{STATS_PORT}
    stats enable
    stats uri /
    stats refresh 2s
"""

    def _haproxy(self) -> None:
        cfg = self.run_dir / "haproxy.cfg"
        cfg.write_text(self.haproxy_config())
        _run("haproxy", "-c", "-q", "-f", str(cfg))
        log = open(self.run_dir / "haproxy.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.pids["haproxy"] = proc.pid
        self.save()
        deadline = time.monotonic() + 10
        while not (self.run_dir / "haproxy.sock").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise LayoutError("haproxy did not start")
            time.sleep(0.05)

    def host_env(self, host: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAYLEDGER_")}
        env.update(DAYLEDGER_DATABASE_URL=self.host_database_url,
                   DAYLEDGER_DATA_DIR=str(self.run_dir / host / "data"))
        env.update(self.env)
        return env

    def _in(self, host: str, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns(host), self.dayledger, *args]

    def _migrate(self) -> None:
        """Once, before the hosts start (each would otherwise race to migrate), from an API
        host through the proxy: the first check that a host reaches PostgreSQL."""
        done = subprocess.run(self._in("api1", "migrate"), env=self.host_env("api1"), capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            raise LayoutError(f"dayledger migrate from {self.netns('api1')} failed: {done.stderr.strip()}")

    def start(self, host: str) -> int:
        """Start (or start again) ``host``'s process; ``ip netns exec`` and ``env`` exec,
        so the pid is dayledger's own (SIGKILL reaches the server, not a wrapper)."""
        if host.startswith("api"):
            cmd = self._in(host, "serve", "--no-worker", "--host", self.address(host), "--port", str(API_PORT))
        else:
            cmd = self._in(host, "worker")
        (self.run_dir / host).mkdir(parents=True, exist_ok=True)
        log = open(self.run_dir / f"{host}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(cmd, env=self.host_env(host), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.pids[host] = proc.pid
        self.save()
        return proc.pid

    def alive(self, host: str) -> bool:
        pid = self.pids.get(host)
        if pid is None:
            return False
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our child, exited: reap it
                return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self, host: str, sig: int = signal.SIGKILL) -> None:
        pid = self.pids[host]
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while self.alive(host) and time.monotonic() < deadline:
            time.sleep(0.02)

    def wait_ready(self, timeout: float = 60) -> None:
        """Every started host alive and HAProxy seeing each API host UP after a passed check."""
        deadline = time.monotonic() + timeout
        apis = [h for h in self.pids if h.startswith("api")]
        while True:
            dead = [h for h in self.pids if h != "haproxy" and not self.alive(h)]
            if dead:
                raise LayoutError(f"{', '.join(dead)} exited")
            # UP after a check that passed: HAProxy counts a server UP before its first check.
            status = {row["svname"]: f"{row['status']} {row['check_status']}"
                      for row in self.stats() if row["pxname"] == "api"}
            if all(status.get(h, "").startswith("UP L7OK") for h in apis):
                return
            if time.monotonic() > deadline:
                raise LayoutError(f"the API hosts are not up behind haproxy: {status}")
            time.sleep(0.1)

    def log(self, host: str) -> Path:
        return self.run_dir / f"{host}.log"

    # -- HAProxy's counters ------------------------------------------------------------
    def haproxy_command(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.run_dir / "haproxy.sock"))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stats(self) -> list[dict[str, str]]:
        """``show stat``: one dict per proxy and server (pxname, svname, status, stot, hrsp_2xx…)."""
        lines = [ln for ln in self.haproxy_command("show stat").splitlines() if ln.strip()]
        if not lines or not lines[0].startswith("# "):
            return []
        header = lines[0][2:].split(",")
        return [dict(zip(header, ln.split(","), strict=False)) for ln in lines[1:]]

    def responses_by_host(self, codes: tuple[str, ...] = RESPONSE_CLASSES) -> dict[str, int]:
        """HTTP responses of the classes ``codes`` each API host gave so far (HAProxy's
        counters since it started; a 5xx may be HAProxy's own answer for a host that died)."""
        return {row["svname"]: sum(int(row[f"hrsp_{c}"] or 0) for c in codes)
                for row in self.stats() if row["pxname"] == "api" and row["svname"] in HOSTS}

    # -- taking it down ----------------------------------------------------------------
    def down(self) -> None:
        """Stop every process of the run, delete its namespaces and links, forget it. Each
        step runs whatever the others did, and a second call does nothing."""
        for host in [h for h in self.pids if h != "haproxy"]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pids[host], signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(self.alive(h) for h in self.pids if h != "haproxy") and time.monotonic() < deadline:
            time.sleep(0.05)
        for host in HOSTS:  # anything left in a namespace is this run's
            ns = self.netns(host)
            for pid in _run("ip", "netns", "pids", ns, check=False).stdout.split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            for h in [h for h in self.pids if h != "haproxy"]:
                self.alive(h)  # reaps our children
            _run("ip", "netns", "del", ns, check=False)
        if "haproxy" in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pids["haproxy"], signal.SIGTERM)
            deadline = time.monotonic() + 5
            while self.alive("haproxy") and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.alive("haproxy"):
                os.kill(self.pids["haproxy"], signal.SIGKILL)
        for host in HOSTS:  # deleting a namespace deletes its veth ends; these are the rest
            link = f"{self.prefix}{SHORT[host]}"
            if _run("ip", "link", "show", link, check=False).returncode == 0:
                _run("ip", "link", "del", link, check=False)
        if _run("ip", "link", "show", self.bridge, check=False).returncode == 0:
            _run("ip", "link", "del", self.bridge, check=False)
        self.pids = {}
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> Layout:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()


def _ensure_database(url: str) -> None:
    """Create the database of ``url`` if it is missing (needs psycopg, as the venv has)."""
    try:
        import psycopg
    except ImportError:
        return
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres", query=""))
    with psycopg.connect(admin, autocommit=True) as c:
        if c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            c.execute(f'CREATE DATABASE "{name}"')


def _print_up(layout: Layout) -> None:
    print(f"run {layout.run_id} is up (subnet {layout.subnet}, state in {layout.run_dir})")
    print(f"  API through haproxy:   {layout.url}   (try: curl {layout.url}/ready)")
    print(f"  haproxy statistics:    {layout.stats_url}")
    pg_host, pg_port = _pg_target(layout.database_url)
    print(f"  PostgreSQL proxy:      {layout.address()}:{PG_PORT} -> {pg_host}:{pg_port}")
    for host in HOSTS:
        role = f"API on {layout.api_url(host)}" if host.startswith("api") else "worker"
        pid = layout.pids.get(host)
        print(f"  {layout.netns(host):<18} {role:<28} pid {pid}  log {layout.log(host)}")
    print(f"  a shell on a host:     ip netns exec {layout.netns('api1')} bash")
    print(f"  take it down:          {sys.argv[0]} down {layout.run_id}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build the layout and leave it running")
    up.add_argument("--database-url", default=os.environ.get("DAYLEDGER_DATABASE_URL", DEFAULT_DATABASE_URL),
                    help="PostgreSQL as the root namespace reaches it (created if missing); default "
                         "$DAYLEDGER_DATABASE_URL or " + DEFAULT_DATABASE_URL)
    up.add_argument("--run-id", default=None, help="names the run (default: random)")
    up.add_argument("--dayledger", default=str(Path(sys.executable).with_name("dayledger")),
                    help="the dayledger executable (default: beside this Python)")
    up.add_argument("--no-workers", action="store_true", help="start the API hosts only")
    up.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="a DAYLEDGER_* setting for every host (repeatable)")
    down = sub.add_parser("down", help="stop a run and remove its namespaces and links")
    down.add_argument("run_id", nargs="?", help="the run (default: the only one recorded)")
    down.add_argument("--all", action="store_true", help="every recorded run")
    sub.add_parser("status", help="the recorded runs, their hosts and HAProxy's view of them")
    args = parser.parse_args(argv)

    if args.command == "up":
        try:
            _ensure_database(args.database_url)
        except Exception as e:  # noqa: BLE001 - any driver error: say it plainly
            print(f"error: cannot reach or create the database of {args.database_url}: {e}", file=sys.stderr)
            return 1
        extra = dict(kv.split("=", 1) for kv in args.env)
        layout = Layout(args.database_url, dayledger=args.dayledger, env=extra,
                        **({"run_id": args.run_id} if args.run_id else {}))
        try:
            layout.up(workers=not args.no_workers)
        except LayoutError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        _print_up(layout)
        return 0
    runs = Layout.recorded()
    if args.command == "status":
        for run_id in runs:
            layout = Layout.load(run_id)
            alive = {h: layout.alive(h) for h in layout.pids}
            print(f"run {run_id}: {layout.url}  processes {alive}")
            with contextlib.suppress(OSError):
                for row in layout.stats():
                    if row["pxname"] == "api" and row["svname"] in HOSTS:
                        print(f"  haproxy: {row['svname']} {row['status']}, {row['stot']} sessions")
        if not runs:
            print("no run recorded")
        return 0
    chosen = runs if args.all else [args.run_id] if args.run_id else runs if len(runs) == 1 else []
    if not chosen:
        print(f"name the run to take down, or --all: {', '.join(runs) or 'none recorded'}", file=sys.stderr)
        return 1
    for run_id in chosen:
        try:
            Layout.load(run_id).down()
        except FileNotFoundError:
            print(f"no run {run_id} recorded", file=sys.stderr)
            return 1
        print(f"run {run_id} is down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
