"""What every benchmark shares: paths, PostgreSQL databases, the server subprocess, CPU and
memory readings from /proc, and the machine description."""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
RESULTS = BENCH / "results"
VENV = Path(os.environ.get("VENV", REPO / ".venv"))
if not VENV.is_absolute():
    VENV = REPO / VENV
PY = VENV / "bin" / "python"
DAYLEDGER = VENV / "bin" / "dayledger"
PG_ADMIN = os.environ.get("DAYLEDGER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CLK_TCK = os.sysconf("SC_CLK_TCK")
RUN_TAG = uuid.uuid4().hex[:8]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- databases

def pg_base() -> str:
    return PG_ADMIN.rsplit("/", 1)[0]


async def pg_admin(sql: str) -> None:
    import asyncpg
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pg_available() -> bool:
    async def probe():
        import asyncpg
        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
        await conn.close()
    try:
        asyncio.run(probe())
        return True
    except Exception:  # noqa: BLE001
        return False


@dataclass
class BenchDB:
    """A fresh database: a PostgreSQL database or a SQLite file, dropped by ``drop``."""
    engine: str
    name: str
    url: str  # plain URL, as DAYLEDGER_DATABASE_URL takes it
    path: Path | None = None

    @property
    def asyncpg_dsn(self) -> str:
        return self.url

    def drop(self) -> None:
        if self.engine == "postgres":
            asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        elif self.path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)


@contextmanager
def dropped_on_error(db: BenchDB):
    """Drop ``db`` if what follows fails (a template whose seeding failed would stay behind)."""
    try:
        yield db
    except BaseException:
        db.drop()
        raise


def new_db(engine: str, label: str, template: str | None = None) -> BenchDB:
    name = f"dlbench_{label}_{RUN_TAG}"
    if engine == "postgres":
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(pg_admin(sql))
        return BenchDB(engine, name, f"{pg_base()}/{name}")
    directory = Path(os.environ.get("DAYLEDGER_BENCH_TMP", "/tmp")) / "dlbench"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return BenchDB(engine, name, f"sqlite:///{path}", path)


def migrate(db: BenchDB) -> None:
    env = {**os.environ, "DAYLEDGER_DATABASE_URL": db.url}
    subprocess.run([str(DAYLEDGER), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------- /proc readings

def proc_cpu_seconds(pid: int, children: bool = False) -> float:
    """utime+stime of one process (plus its reaped children's if asked)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def child_pids(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    return out


def tree_pids(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += child_pids(p)
    return seen


def postgres_pids() -> tuple[int | None, list[int]]:
    """The postmaster and every other postgres process."""
    master, others = None, []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        if comm != "postgres":
            continue
        ppid = int(raw.rsplit(")", 1)[1].split()[1])
        try:
            with open(f"/proc/{ppid}/stat") as f:
                parent = f.read()
            parent_comm = parent[parent.index("(") + 1:parent.rindex(")")]
        except (FileNotFoundError, ProcessLookupError):
            parent_comm = ""
        if parent_comm == "postgres":
            others.append(int(entry))
        else:
            master = int(entry)
    return master, others


def postgres_cpu_seconds() -> tuple[float, float]:
    """(all PostgreSQL CPU so far: live processes plus the ones the postmaster reaped,
    CPU of the live backends connected to a benchmark database)."""
    master, others = postgres_pids()
    if master is None:
        return 0.0, 0.0
    ours = 0.0
    for p in others:
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if b"dlbench_" in f.read():
                    ours += proc_cpu_seconds(p)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return proc_cpu_seconds(master, children=True) + sum(proc_cpu_seconds(p) for p in others), ours


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return rss, hwm


class CpuMeter:
    """CPU seconds per wall second spent by the server, PostgreSQL, this process and the
    whole machine between ``start`` and ``stop``."""

    def __init__(self, server_pid: int | None, postgres: bool) -> None:
        self.server_pid = server_pid
        self.postgres = postgres

    def _read(self) -> dict:
        busy, total = machine_busy_seconds()
        t = os.times()
        r = {"wall": time.perf_counter(), "self": t.user + t.system, "busy": busy, "total": total}
        if self.server_pid:
            r["server"] = sum(proc_cpu_seconds(p) for p in tree_pids(self.server_pid))
        if self.postgres:
            r["postgres"], r["postgres_ours"] = postgres_cpu_seconds()
        return r

    def start(self) -> None:
        self.a = self._read()

    def stop(self) -> dict:
        b = self._read()
        wall = b["wall"] - self.a["wall"]
        out = {"loadgen_cores": round((b["self"] - self.a["self"]) / wall, 2),
               "machine_busy_pct": round(100 * (b["busy"] - self.a["busy"]) / max(1e-9, b["total"] - self.a["total"]), 1)}
        if "server" in b:
            out["server_cores"] = round((b["server"] - self.a["server"]) / wall, 2)
        if "postgres" in b:
            out["postgres_cores"] = round((b["postgres"] - self.a["postgres"]) / wall, 2)
            out["postgres_bench_backends_cores"] = round((b["postgres_ours"] - self.a["postgres_ours"]) / wall, 2)
        # Everything else on the machine (other people's processes compete for the same cores).
        busy_cores = (b["busy"] - self.a["busy"]) / wall
        mine = out["loadgen_cores"] + out.get("server_cores", 0) + out.get("postgres_cores", 0)
        out["other_cores"] = round(max(0.0, busy_cores - mine), 2)
        return out


# ---------------------------------------------------------------- the server

@dataclass
class Server:
    """``dayledger serve --no-worker`` (or uvicorn with several workers) as a subprocess."""
    db: BenchDB
    workers: int = 1
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    extra_env: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (the uvicorn children when there are several)."""
        if self.workers == 1:
            return [self.pid]
        # uvicorn's supervisor -> (spawn helper) -> workers; the workers are the leaves.
        return [p for p in tree_pids(self.pid) if p != self.pid and not child_pids(p)] or [self.pid]

    def start(self, timeout: float = 60) -> "Server":
        env = {**os.environ, "DAYLEDGER_DATABASE_URL": self.db.url, "DAYLEDGER_LOG_LEVEL": "warning",
               "DAYLEDGER_DATA_DIR": f"/tmp/dlbench/data-{RUN_TAG}", **self.extra_env}
        (RESULTS / "logs").mkdir(parents=True, exist_ok=True)
        self.log_path = RESULTS / "logs" / f"server-{self.db.name}-{self.port}.log"
        logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.command(), env=env, stdout=logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            if self._ready():
                if self.workers > 1:
                    self._wait_workers(deadline)
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout} s; see {self.log_path}")

    def command(self) -> list[str]:
        if self.workers == 1:
            return [str(DAYLEDGER), "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(self.port)]
        # The app factory with defaults: settings from the environment, no worker.
        # Migrations are applied beforehand (``dayledger migrate``), as for any multi-process deployment.
        return [str(VENV / "bin" / "uvicorn"), "dayledger.app:create_app", "--factory", "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", str(self.workers), "--no-access-log",
                "--log-level", "warning"]

    def _wait_workers(self, deadline: float) -> None:
        # Every worker must have bound its app before the load starts.
        while time.monotonic() < deadline and len(self.worker_pids()) < self.workers:
            time.sleep(0.1)
        time.sleep(1.0)

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return s.recv(12).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)  # our own process group (start_new_session)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class AsgiCeilingServer(Server):
    """The bare ASGI + driver ceiling (``dlbench/asgi_ceiling.py``) under uvicorn, as a
    subprocess on the same database; ``mode``: ``statements`` or ``one_round_trip``."""
    mode: str = "statements"
    synchronous: str = "full"
    synchronous_commit: str = "on"
    pool: int = 20

    def command(self) -> list[str]:
        return [str(PY), "-m", "dlbench.asgi_ceiling", "--port", str(self.port), "--workers", str(self.workers)]

    def start(self, timeout: float = 60) -> "Server":
        self.extra_env = {**self.extra_env, "PYTHONPATH": str(BENCH), "DLBENCH_ASGI_ENGINE": self.db.engine,
                          "DLBENCH_ASGI_URL": self.db.url, "DLBENCH_ASGI_PATH": str(self.db.path or ""),
                          "DLBENCH_ASGI_SYNCHRONOUS": self.synchronous,
                          "DLBENCH_ASGI_SYNCHRONOUS_COMMIT": self.synchronous_commit,
                          "DLBENCH_ASGI_MODE": self.mode, "DLBENCH_ASGI_POOL": str(self.pool)}
        return super().start(timeout)

    def durability(self) -> dict:
        """What the app read back from its own connection (GET answers it)."""
        import json
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GET /durability HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return json.loads(data.split(b"\r\n\r\n", 1)[1])


# ---------------------------------------------------------------- the machine

def machine_info() -> dict:
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    pg_version = None
    if pg_available():
        async def version():
            import asyncpg
            conn = await asyncpg.connect(PG_ADMIN)
            try:
                v = await conn.fetchval("SHOW server_version")
                settings = {k: await conn.fetchval(f"SHOW {k}") for k in
                            ("shared_buffers", "synchronous_commit", "fsync", "max_connections")}
                return v, settings
            finally:
                await conn.close()
        pg_version, pg_settings = asyncio.run(version())
    else:
        pg_settings = {}
    import sqlite3
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(mem_kib / 2**20, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "postgres": pg_version, "postgres_settings": pg_settings, "kernel": platform.release()}


def src_state() -> dict:
    """Which code was measured: HEAD and whether src/ had uncommitted changes."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    try:  # which copy the subprocesses import (PYTHONPATH may point at a clean export of src/)
        imported = subprocess.run([str(PY), "-c", "import dayledger; print(dayledger.__file__)"], capture_output=True,
                                  text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        imported = ""
    return {"head": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain", "--", "src")),
            "dayledger_imported_from": imported}
