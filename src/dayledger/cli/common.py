"""What every CLI command shares: settings, a migrated database, output and errors."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..clock import Clock
from ..config import Settings, get_settings
from ..db import Database
from ..errors import DayledgerError
from ..ledger import Actor
from ..ops.logging import LEVELS, configure_logging

T = TypeVar("T")
CLI_ACTOR = Actor("operator", "cli")
# Names, emails, comments and error messages are data: with markup, emoji codes and
# highlighting off, "[/]" or ":smile:" in them prints as typed instead of being
# interpreted (or crashing Rich). Styles are given as Text styles, never as markup.
out = Console(markup=False, emoji=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)

# The --json option of every command that prints a table.
AS_JSON = typer.Option(False, "--json", help="Print JSON for scripts instead of a table.")


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[..., None]]:
    """A progress bar on stderr for long work, gone when it ends; nothing at all when
    stderr is not a terminal (scripts and pipes get only the result). Yields
    ``advance(n=1, label=None)``."""
    bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal)
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1, label: str | None = None) -> None:
            bar.update(task, advance=n, description=label or description)
        yield advance


def error_line(message: str) -> Text:
    return Text.assemble(("error:", "bold red"), " ", message)


def fail(message: str, code: int = 1) -> NoReturn:
    """``error: <message>`` on stderr, then exit with ``code`` (no traceback)."""
    err.print(error_line(message))
    raise typer.Exit(code)


def load_settings() -> Settings:
    """The settings; a bad DAYLEDGER_* value exits 2 naming the variable at fault (the
    raw pydantic error would name only the field, and a traceback helps nobody)."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        for e in exc.errors(include_url=False):
            variable = "DAYLEDGER_" + "__".join(str(part) for part in e["loc"]).upper()
            err.print(error_line(f"{variable}: {e['msg']} (got {e['input']!r})"))
        raise typer.Exit(2) from None
    log_level(settings)  # refused here too, so no command starts on a value serve would reject
    return settings


def log_level(settings: Settings) -> str:
    """DAYLEDGER_LOG_LEVEL as uvicorn's lower-case name; an unknown one exits 2."""
    name = settings.log_level.strip().lower()
    if name not in LEVELS:
        fail(f"DAYLEDGER_LOG_LEVEL: must be one of {', '.join(LEVELS)} (got {settings.log_level!r})", code=2)
    return name


def setup_logging(settings: Settings) -> None:
    """dayledger's own messages at DAYLEDGER_LOG_LEVEL (trace included), libraries only
    from WARNING up, as text or JSON lines (DAYLEDGER_LOG_FORMAT)."""
    configure_logging(log_level(settings), settings.log_format)


def announce(settings: Settings, message: str) -> None:
    """A start-up line on stderr: plain text, or a log record where every stderr line
    must be one JSON object (DAYLEDGER_LOG_FORMAT=json, read by log collectors)."""
    if settings.log_format == "json":
        logging.getLogger("dayledger").info(message)
    else:
        err.print(message)


def prepare_database(settings: Settings) -> str:
    """Create the SQLite directory if needed and apply pending migrations; returns the URL."""
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.sqlalchemy_url()
    from ..migrations import upgrade
    upgrade(url)
    return url


def open_database(failure: str = "cannot open the database") -> tuple[Settings, str]:
    """Settings and a migrated database URL, or a plain error with exit code 2. Settings
    are read first, outside the ``except``, so a bad variable is reported as itself."""
    settings = load_settings()
    try:
        return settings, prepare_database(settings)
    except Exception as exc:  # noqa: BLE001 - any start-up failure is reported plainly
        fail(f"{failure}: {exc}", code=2)


def run(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``fn(session, now_ms, *args)`` in one committed transaction, reporting errors
    on stderr with a non-zero exit and never a traceback."""
    settings, url = open_database()

    async def main() -> T:
        db = Database.of(settings, url, pool_size=1)
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


# Millisecond timestamps in replies; tables show them as dates, --json keeps the numbers.
TIME_FIELDS = frozenset({"createdAt", "expiresAt", "revokedAt", "creationTS", "time"})


def heading(key: str) -> str:
    return f"{key} (UTC)" if key in TIME_FIELDS else key


def emit(data: dict[str, Any] | list[dict[str, Any]], as_json: bool, *, title: str | None = None,
         columns: list[str] | None = None) -> None:
    """``data`` as one JSON line (``--json``, values unchanged) or as a table."""
    if as_json:
        sys.stdout.write(json.dumps(data, default=str) + "\n")
        return
    if isinstance(data, dict):
        table = Table(show_header=False, title=Text(title) if title else None)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for key in columns or list(data):
            table.add_row(Text(heading(key)), format_cell(key, data.get(key)))
        out.print(table)
        return
    rows = data
    if not rows:
        out.print("(none)")
        return
    table = Table(title=Text(title) if title else None)
    columns = columns or list(rows[0].keys())
    for col in columns:
        table.add_column(Text(heading(col)))
    for row in rows:
        table.add_row(*(format_cell(c, row.get(c)) for c in columns))
    out.print(table)


def format_cell(key: str, value: Any) -> Text:
    """One value as literal text: never parsed as markup."""
    if value is None:
        return Text("")
    if key in TIME_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return Text(format_ms(value))
    if isinstance(value, dict):
        return Text(json.dumps(value))
    return Text(str(value))


def format_ms(ms: int) -> str:
    """UTC milliseconds as ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
