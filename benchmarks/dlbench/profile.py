"""Sampling the server with py-spy (the ``bench`` extra) and summarizing where its CPU goes."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from .common import VENV

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    candidate = VENV / "bin" / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: Path, rate: int = 200) -> subprocess.Popen | None:
    exe = py_spy()
    if exe is None:
        return None
    # --nonblocking: never pause the server (sampling stays cheap; stacks may be slightly torn).
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
                             "--rate", str(rate), "--format", "raw", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def layer(file: str) -> str:
    """The top-level package a frame's file belongs to (py-spy prints paths relative to
    sys.path entries, e.g. ``sqlalchemy/orm/session.py``; stdlib modules as ``asyncio/...``)."""
    if "site-packages/" in file:
        file = file.split("site-packages/", 1)[1]
    elif "/lib/python3" in file:
        file = file.split("/lib/python3", 1)[1].split("/", 1)[-1]
    if file.startswith("<"):
        return "<generated>"
    head = file.split("/", 1)[0]
    return head[:-3] if head.endswith(".py") else head


def summarize(raw: Path, top: int = 25) -> dict:
    """Self time per package of the leaf frame, and inclusive time per function."""
    by_layer: Counter = Counter()
    self_fn: Counter = Counter()
    incl_fn: Counter = Counter()
    incl_layer: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if f]
        parsed = []
        for f in frames:
            m = FRAME.match(f)
            parsed.append((m.group("func"), m.group("file")) if m else (f, "?"))
        if not parsed:
            continue
        # py-spy puts the thread name first; skip non-frames.
        parsed = [p for p in parsed if p[1] != "?"] or parsed
        leaf = parsed[-1]
        by_layer[layer(leaf[1])] += n
        self_fn[f"{leaf[0]} ({_short(leaf[1])})"] += n
        for key in {f"{fn} ({_short(fi)})" for fn, fi in parsed}:
            incl_fn[key] += n
        for key in {layer(fi) for _, fi in parsed}:
            incl_layer[key] += n
    pct = lambda c: round(100 * c / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "self_by_package_pct": {k: pct(v) for k, v in by_layer.most_common(top)},
        "inclusive_by_package_pct": {k: pct(v) for k, v in incl_layer.most_common(top)},
        "self_by_function_pct": {k: pct(v) for k, v in self_fn.most_common(top)},
        "inclusive_by_function_pct": {k: pct(v) for k, v in incl_fn.most_common(top * 2)},
    }


def _short(file: str) -> str:
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1]
    if "/dayledger/" in file:
        return "dayledger/" + file.split("/dayledger/", 1)[1]
    return Path(file).name
