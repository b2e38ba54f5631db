"""Reply shapes every router shares: the base, the reference's success and error shapes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Reply(BaseModel):
    """Base of every JSON reply: each reply shape is defined once, as one of these models,
    and the endpoint returns an instance (serialized with ``dump``)."""
    model_config = ConfigDict(extra="forbid")

    def dump(self) -> dict[str, Any]:
        # Unset optional fields are left out (the reference omits recurrentPaymentId when
        # there is none), fields set to None are sent as null.
        return self.model_dump(mode="json", exclude_unset=True)


class ErrorDetail(Reply):
    code: int
    message: str
    details: str


class ErrorReply(Reply):
    """The one error shape (the reference's ResponseError, with ``details`` always present)."""
    error: ErrorDetail


class Success(Reply):
    """The reference's ResponseSuccess: it requires ``result``; ``success`` is sent too."""
    success: bool = True
    result: bool = True

    def dump(self) -> dict[str, Any]:
        return {"success": self.success, "result": self.result, **super().dump()}

