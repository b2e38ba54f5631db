"""HTML pages: one Jinja2 environment (autoescaped) over the templates of the web layer,
the dashboard and the console, with the filters every page uses (times in the viewer's
time zone, money, days)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from .. import __version__

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [ROOT / "web" / "templates", ROOT / "dashboard" / "templates", ROOT / "console" / "templates"]
STATIC_DIR = ROOT / "web" / "static"

# No inline script or style anywhere: everything a page needs comes from /static.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
SECURITY_HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff",
                    "referrer-policy": "same-origin", "x-frame-options": "DENY", "cache-control": "no-store"}


def when(ms: int | None, tz: str = "UTC", fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A millisecond instant as a date and time in ``tz`` (empty for None)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(tz)).strftime(fmt)


def day(ms: int | None, tz: str = "UTC") -> str:
    return when(ms, tz, "%Y-%m-%d")


def days(n: int | None) -> str:
    if n is None:
        return "—"
    return f"{n:,} day" + ("" if abs(n) == 1 else "s")


def _env() -> Environment:
    env = Environment(loader=ChoiceLoader([FileSystemLoader(str(d)) for d in TEMPLATE_DIRS]),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=when, day=day, days=days)
    env.globals.update(version=__version__)
    return env


ENV = _env()


def html(template: str, **context: Any) -> str:
    return ENV.get_template(template).render(**context)
