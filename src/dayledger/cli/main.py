"""The ``dayledger`` command."""

from __future__ import annotations

import contextlib
import json
import sys

import typer

from .. import __version__
from . import invoice, partner, remote, token, user
from .common import announce, err, fail, log_level, open_database, out, progress, run, setup_logging

app = typer.Typer(help="dayledger: prepaid days for partner-sold API channels.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
app.add_typer(partner.app, name="partner")
app.add_typer(token.app, name="token")
app.add_typer(token.operator_app, name="operator-token")
app.add_typer(invoice.app, name="invoice")
app.add_typer(user.app, name="user")
app.add_typer(remote.app, name="remote")


def _print_version(value: bool) -> None:
    if value:
        out.print(f"dayledger {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    pass  # the app's help comes from the Typer above; this callback only adds --version


@app.command()
def serve(host: str | None = typer.Option(None, "--host", show_default=False,
                                          help="Address to listen on. Default: DAYLEDGER_HOST (127.0.0.1)."),
          port: int | None = typer.Option(None, "--port", show_default=False,
                                          help="Port to listen on. Default: DAYLEDGER_PORT (8080)."),
          worker: bool = typer.Option(True, "--worker/--no-worker",
                                      help="Also run the background jobs (channel expiry, key purge) in this "
                                           "process."),
          workers: int = typer.Option(1, "--workers", min=1, max=64,
                                      help="Number of HTTP processes, 1 to 64 (more than 1 needs PostgreSQL).")
          ) -> None:
    """Migrate the database and serve the API (and, by default, the worker)."""
    import os

    import uvicorn

    from ..config import get_settings
    from ..ops.logging import logging_config
    settings, url = open_database()
    setup_logging(settings)
    if workers > 1 and url.startswith("sqlite"):
        fail("several HTTP processes need PostgreSQL: SQLite has a single writer (use --workers 1)")
    host, port = host or settings.host, port or settings.port
    announce(settings, f"dayledger serving on http://{host}:{port}  (database: {url.split('://')[0]}, "
                       f"{workers} process(es), worker {'on' if worker else 'off'})")
    os.environ["DAYLEDGER_RUN_WORKER"] = "true" if worker else "false"
    get_settings.cache_clear()
    level = log_level(settings)
    # JSON lines must cover uvicorn's own loggers in every process it starts; text keeps
    # uvicorn's familiar "INFO:     ..." lines.
    log_config = logging_config(level, "json") if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG
    uvicorn.run("dayledger.app:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=level, log_config=log_config, access_log=False)


@app.command()
def worker(once: bool = typer.Option(False, "--once", help="Run every due job once, print what was done as "
                                                           "JSON, then exit.")) -> None:
    """Run background jobs (channel expiry, idempotency-key purge) without serving HTTP."""
    import asyncio

    from ..clock import Clock
    from ..context import Services
    from ..db import Database
    from ..idempotency import InFlight
    from ..worker import JOBS, run_forever, run_once
    settings, url = open_database()
    setup_logging(settings)

    async def main() -> None:
        svc = Services(settings=settings, db=Database.of(settings, url), clock=Clock(),
                       in_flight=InFlight())
        try:
            if once:
                # Progress against what the jobs that can count their work have due.
                shown = [job for job in JOBS if job.pending]
                now = svc.clock.now_ms()
                due = sum([await svc.db.run(job.pending, now) for job in shown if job.pending])
                # The bar names the job at work (all their names at once no longer fit a line).
                doing = {job.name: job.doing or job.name for job in shown}
                with progress("worker round", due) as advance:
                    done = await run_once(svc, on_step=lambda job, n: advance(n, doing[job]) if job in doing else None)
                sys.stdout.write(json.dumps(done) + "\n")
            else:
                announce(settings, "dayledger worker running; Ctrl-C stops it")
                await run_forever(svc)
        finally:
            await svc.db.dispose()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the worker is stopped
        asyncio.run(main())


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    open_database(failure="migration failed")
    out.print("database is up to date")


@app.command()
def verify() -> None:
    """Check every ledger invariant; exits 1 naming each violation."""
    from ..ledger import verify as check
    from ..ledger.verify import CHECKS

    async def fn(session, now):
        with progress("checking the ledger", len(CHECKS)) as advance:
            return await check(session, on_check=lambda label: advance(label=f"checked: {label}"))
    problems = run(fn)
    if problems:
        for p in problems:
            err.print(f"violation: {p}")
        raise typer.Exit(1)
    out.print("ledger OK: balances, debts and channel time equal their entries, nothing negative, no orphans, "
              "every paid payment credited exactly once")


def main() -> None:
    app()
