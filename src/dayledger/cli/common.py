"""What every CLI command shares: settings, a migrated database, output and errors."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..clock import Clock
from ..config import get_settings
from ..db import Database
from ..errors import DayledgerError
from ..ledger import Actor

T = TypeVar("T")
CLI_ACTOR = Actor("operator", "cli")
out = Console()
err = Console(stderr=True, soft_wrap=True)


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[..., None]]:
    """A progress bar on stderr for long work, gone when it ends; nothing at all when
    stderr is not a terminal (scripts and pipes get only the result). Yields
    ``advance(n=1, label=None)``."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, transient=True, disable=not err.is_terminal)
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1, label: str | None = None) -> None:
            bar.update(task, advance=n, description=label or description)
        yield advance


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def setup_logging(level: str) -> None:
    """dayledger's own messages at DAYLEDGER_LOG_LEVEL; libraries only from WARNING up."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("dayledger").setLevel(level.upper())


def prepare_database() -> str:
    settings = get_settings()
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.sqlalchemy_url()
    from ..migrations import upgrade
    upgrade(url)
    return url


def run(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``fn(session, now_ms, *args)`` in one committed transaction, reporting errors
    on stderr with a non-zero exit and never a traceback."""
    try:
        url = prepare_database()
    except Exception as exc:  # noqa: BLE001 - any start-up failure is reported plainly
        fail(f"cannot open the database: {exc}", code=2)

    async def main() -> T:
        db = Database(url, pool_size=1)
        try:
            return await db.run(lambda session: fn(session, Clock().now_ms(), *args))
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except DayledgerError as exc:
        fail(f"{exc.message}" + (f": {exc.details}" if exc.details else ""))
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001
        fail(f"{type(exc).__name__}: {exc}", code=2)
    raise AssertionError("unreachable")


def emit(data: dict | list, as_json: bool, *, title: str | None = None,
         columns: list[str] | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, default=str) + "\n")
        return
    if isinstance(data, dict):
        table = Table(show_header=False, title=title)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for key in columns or list(data):
            table.add_row(key, format_cell(data.get(key)))
        out.print(table)
        return
    rows = data
    if not rows:
        out.print("(none)")
        return
    table = Table(title=title)
    columns = columns or list(rows[0].keys())
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(format_cell(row.get(c)) for c in columns))
    out.print(table)


def format_cell(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value)
    return "" if value is None else str(value)
