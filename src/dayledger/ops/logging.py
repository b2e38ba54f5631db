"""Log lines as text (the default) or as one JSON object per line, for log collectors.

``logging_config(level, fmt)`` is a ``logging.config.dictConfig`` dictionary: give it to
``uvicorn.run(log_config=...)`` so every server process (``--workers N`` spawns fresh
interpreters) and uvicorn's own loggers use the same format. ``configure_logging`` applies
it to the current process.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")
# DAYLEDGER_LOG_LEVEL takes uvicorn's names; uvicorn's TRACE is 5, below DEBUG.
TRACE = 5
LEVELS: dict[str, int] = {"critical": logging.CRITICAL, "error": logging.ERROR, "warning": logging.WARNING,
                          "info": logging.INFO, "debug": logging.DEBUG, "trace": TRACE}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601, milliseconds), level, logger,
    message, and exc_info / stack_info as formatted text when present. Newlines inside
    a message or traceback are escaped by JSON, so a record is always one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
                            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def level_number(level: str) -> int:
    try:
        return LEVELS[level.strip().lower()]
    except KeyError:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)} (got {level!r})") from None


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """dayledger's and uvicorn's messages at ``level``, other libraries from WARNING up,
    all on stderr in format ``fmt`` (``text`` or ``json``)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    number = level_number(level)
    formatter: dict[str, Any] = ({"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT})
    # uvicorn's loggers lose their own handlers and propagate to the root's one handler.
    ours = {"level": number, "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"dayledger": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "dayledger",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": logging.WARNING, "handlers": ["stderr"]},
        "loggers": {name: dict(ours) for name in ("dayledger", "uvicorn", "uvicorn.error", "uvicorn.access")},
    }


def configure_logging(level: str, fmt: str) -> None:
    """Apply ``logging_config(level, fmt)`` to this process."""
    logging.addLevelName(TRACE, "TRACE")
    logging.config.dictConfig(logging_config(level, fmt))
