"""One error base rendered as ``{"error": {"code", "message", "details"}}`` everywhere."""

from __future__ import annotations


class DayledgerError(Exception):
    status: int = 400

    def __init__(self, message: str, details: str = "", *, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if status is not None:
            self.status = status
        self.headers = headers or {}

    def body(self) -> dict:
        return error_body(self.status, self.message, self.details)


def error_body(status: int, message: str, details: str = "") -> dict:
    return {"error": {"code": status, "message": message, "details": details}}


class BadRequest(DayledgerError):
    status = 400


class Unauthorized(DayledgerError):
    status = 401


class InsufficientBalance(DayledgerError):
    status = 402


class Forbidden(DayledgerError):
    status = 403


class NotFound(DayledgerError):
    status = 404


class Conflict(DayledgerError):
    status = 409


class Unprocessable(DayledgerError):
    status = 422


class TooManyRequests(DayledgerError):
    status = 429
