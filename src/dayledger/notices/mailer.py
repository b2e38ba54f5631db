"""Sending mail over SMTP with the standard library, from a thread (``smtplib`` blocks).

``DAYLEDGER_SMTP_URL`` names the server: ``smtp://host:25`` (plain), ``smtp+starttls://
user:pass@host:587`` (STARTTLS required) or ``smtps://user:pass@host:465`` (TLS from the
first byte). A user and password, percent-encoded in the URL, are sent with AUTH.

Failures come in two kinds: the server (or the way to it) is down, so nothing can be sent
this round (``ServerFailed``), or it refused one message, say its recipient, and the next
partner's may still go (``MessageRefused``)."""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@dataclass(frozen=True)
class Server:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None

    def __str__(self) -> str:  # for logs: never the password
        return f"{self.scheme}://{self.host}:{self.port}"


def parse(url: str) -> Server:
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an SMTP URL: {parts.scheme}://{parts.hostname}")
    return Server(parts.scheme, parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme],
                  unquote(parts.username) if parts.username else None,
                  unquote(parts.password) if parts.password else None)


class ServerFailed(Exception):
    """The server could not be reached, refused the session (TLS, login, our sender), or
    went away: no message can go now."""


class MessageRefused(Exception):
    """The server refused this message (its recipient or its content); others may go."""


class Connection:
    """One SMTP session, opened on the first message, used by one task at a time."""

    def __init__(self, server: Server, timeout: float) -> None:
        self.server = server
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.server
        smtp: smtplib.SMTP
        if s.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
            if s.scheme == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
        if s.username:
            smtp.login(s.username, s.password or "")
        return smtp

    def _send(self, message: EmailMessage) -> None:
        try:
            if self._smtp is None:
                self._smtp = self._open()
            self._smtp.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPNotSupportedError) as exc:
            raise MessageRefused(describe(exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:  # connect, TLS, login, sender, a dropped session
            self._drop()
            raise ServerFailed(f"{self.server}: {describe(exc)}") from exc

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def _quit(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    async def close(self) -> None:
        if self._smtp is not None:
            await asyncio.to_thread(self._quit)


def describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
