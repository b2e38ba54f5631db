"""All configuration, read from environment variables prefixed ``DAYLEDGER_``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DAYLEDGER_", extra="ignore")

    data_dir: Path = Path("dayledger-data")
    database_url: str | None = None
    db_pool_size: int = 10
    # Durability of every commit (db.py): SQLite's synchronous pragma (full: the WAL is
    # synced at every commit; normal: the last commits may be lost if the machine goes
    # down) and PostgreSQL's synchronous_commit (on: a commit returns once flushed).
    sqlite_synchronous: Literal["full", "extra", "normal"] = "full"
    pg_synchronous_commit: Literal["on", "remote_apply", "remote_write", "local", "off", "server"] = "on"
    # Group commit (db.GroupCommit): extensions that arrive together share one transaction
    # and one flush; at most group_commit_max per transaction; on PostgreSQL the partners'
    # tokens are spread over group_commit_lanes lanes, one transaction at a time each
    # (SQLite: one lane).
    group_commit: bool = True
    group_commit_max: int = Field(default=100, ge=1, le=10_000)
    group_commit_lanes: int = Field(default=2, ge=1, le=64)

    host: str = "127.0.0.1"
    port: int = 8080
    channel_api_url: str = "https://gate.whapi.cloud"
    channel_server: int = 1

    default_trial_days: int = 5
    default_days_limit: int = 7
    default_sandbox_limit: int = 1
    default_currency: str = "USD"
    default_price_per_month: str = "30.00"

    create_rate_limit: int = 20
    create_rate_window_seconds: int = 1800

    idempotency_retention_hours: int = 72
    worker_interval_seconds: float = 5.0
    expiry_batch_size: int = 5000
    # Channels one worker step extends by their auto-extend policies (one transaction).
    autoextend_batch_size: int = Field(default=500, ge=1)

    # Request limits (api/limits.py): request line + headers, JSON bodies (some routes
    # allow more), and the longest wait for the next piece of a body.
    max_header_bytes: int = 16384
    max_body_bytes: int = 65536
    body_read_timeout_seconds: float = 30.0

    log_level: str = "info"
    run_worker: bool = True  # serve also runs the background jobs in-process
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per log line
    # When set (non-empty), GET /metrics requires ``Authorization: Bearer <metrics_token>``.
    metrics_token: str | None = None
    # /ready answers 503 when the database has not answered within this many seconds.
    ready_timeout_seconds: float = Field(default=2.0, gt=0)

    # Email notices (notices/): smtp://host:25 (plain), smtp+starttls://user:pass@host:587,
    # smtps://user:pass@host:465 (TLS from the start). Unset: nothing is mailed and the
    # worker marks events as handled (docs/notices.md). Events read per step, and the
    # longest wait for one answer of the SMTP server.
    smtp_url: str | None = None
    smtp_from: str = "dayledger <dayledger@localhost>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    email_batch_size: int = Field(default=1000, ge=1)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError("DAYLEDGER_SMTP_URL must look like smtp://host:25, smtp+starttls://user:pass@host:587 "
                             "or smtps://user:pass@host:465")
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number from 0 to 65535
        return value

    # Payments (Stripe). Without the secret key the payment routes answer 503.
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None  # whsec_...: POST /stripe/webhook verifies with it
    stripe_api_base: str | None = None  # e.g. http://127.0.0.1:8420 for a local emulator
    stripe_webhook_tolerance_seconds: int = Field(default=300, gt=0)  # older signatures are refused
    # Longest wait for one answer of Stripe (the library's default is 80 s; a request that
    # calls Stripe holds its transaction, and on SQLite every other write waits with it).
    stripe_timeout_seconds: float = Field(default=20.0, gt=0)
    # Where people reach this service (Checkout's return URLs, links in invoices).
    public_url: str = "http://127.0.0.1:8080"

    # Outbound webhooks (webhooks/). Private, loopback and link-local addresses are refused
    # at registration and at each send unless allowed (a test or an all-internal setup).
    webhook_allow_private: bool = False
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_read_timeout_seconds: float = Field(default=10.0, gt=0)
    # A delivery is retried with exponential backoff and jitter for this long, then the
    # endpoint is disabled (its undelivered events wait for it to be enabled again).
    webhook_retry_hours: float = Field(default=72.0, gt=0)
    # Events fanned out per step, and deliveries one worker sends per step (at most this
    # many endpoints at a time, each endpoint's events one after another, in order).
    webhook_batch_size: int = Field(default=200, ge=1)
    webhook_concurrency: int = Field(default=16, ge=1)
    # How long one worker sends to one endpoint before it lets go (the lease of the
    # endpoint's queue is this plus one attempt's timeouts).
    webhook_run_seconds: float = Field(default=10.0, gt=0)
    # Delivered deliveries and their attempts are forgotten after this many days.
    webhook_log_retention_days: int = Field(default=30, ge=1)

    def sqlalchemy_url(self) -> str:
        """The database URL with the driver dayledger uses for that engine."""
        url = self.database_url
        if not url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'dayledger.db').resolve()}"
        return normalize_database_url(url)


def normalize_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs and pick our async driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base in ("postgres", "postgresql"):
        return f"postgresql+asyncpg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database {base!r}: use postgresql:// or sqlite:///")


@lru_cache
def get_settings() -> Settings:
    return Settings()
