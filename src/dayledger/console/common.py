"""What every console page handler uses: the signed-in operator user, ``show`` (a console
page), paging from the query string, and reading a form into the API's own request model
(so the console checks input with the same rules as the API, and says which field is wrong)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from ..errors import DayledgerError, Forbidden
from ..web import forms
from ..web.forms import FieldError
from ..web.navigation import OPERATOR_NAV
from ..web.pages import page
from ..web.session import SignInNeeded, Viewer, check_csrf, viewer

M = TypeVar("M", bound=BaseModel)
PAGE_SIZE = 25


async def operator_viewer(request: Request) -> Viewer:
    """The signed-in operator user. Nobody signed in: the sign-in page (through
    ``page_route``). A partner's user: 403 (sending it to /login would bring it straight
    back here, signed in as it is)."""
    try:
        return await viewer(request, "operator")
    except SignInNeeded:
        try:
            await viewer(request, None)
        except SignInNeeded:
            raise
        raise Forbidden("operators only", "the console is for the platform's operators; "
                                          "your account is a partner's: its dashboard is at /dashboard/") from None


async def posted(request: Request) -> tuple[Viewer, dict[str, str]]:
    """An operator's form: the viewer and the fields, after the CSRF check (403) and the
    operator's permission (the API's ``permission="operator"``)."""
    seen = await operator_viewer(request)
    form = await forms.read(request)
    check_csrf(form.get("csrf"), seen.csrf)
    seen.principal.require_operator()
    return seen, form


async def show(request: Request, seen: Viewer, template: str, title: str, *, status: int = 200,
               **context: Any) -> Response:
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return page(request, template, status=status, title=title, viewer=seen, nav=OPERATOR_NAV, **context)


def paging(request: Request, size: int = PAGE_SIZE) -> tuple[int, int]:
    """(count, offset) from ``?offset=``; a bad offset is the first page."""
    raw = request.query_params.get("offset", "0")
    offset = int(raw) if raw.isdigit() and len(raw) < 10 else 0
    return size, offset


def query(request: Request, name: str, max_length: int = 100) -> str:
    return request.query_params.get(name, "").strip()[:max_length]


def decimal(form: Mapping[str, str], field: str, label: str, *, required: bool = False) -> Decimal | None:
    raw = form.get(field, "").strip().replace(",", "")
    if not raw:
        if required:
            raise FieldError(field, f"{label} is required")
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise FieldError(field, f"{label} must be a number, such as 12.50") from None
    if not value.is_finite():
        raise FieldError(field, f"{label} must be a number, such as 12.50")
    return value


def checked(form: Mapping[str, str], field: str) -> bool:
    return form.get(field) in ("on", "true", "1", "yes")


def validated(model: type[M], data: dict[str, Any], fields: Mapping[str, tuple[str, str]]) -> M:
    """``data`` as the API's request ``model``; its first error as a FieldError of the form
    field that ``fields`` maps the model's field to (model field → (form field, label))."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else ""
        field, label = fields.get(name, (name, name))
        if err["type"] == "string_pattern_mismatch":  # the pattern itself would tell a person little
            raise FieldError(field, f"{label} is not in the expected form (see the hint under it)") from None
        message = str(err["msg"]).removeprefix("Value error, ")
        raise FieldError(field, f"{label}: {message[:1].lower()}{message[1:]}") from None


def field_of(exc: DayledgerError, where: Mapping[str, str], default: str) -> str:
    """The form field a service's refusal is about (by its message), else ``default``."""
    return where.get(exc.message, default)


def explain(exc: DayledgerError) -> str:
    return exc.message[:1].upper() + exc.message[1:] + (f": {exc.details}" if exc.details else "")


Redo = Callable[[int, dict[str, str]], Awaitable[Response]]


async def attempt(action: Callable[[], Awaitable[Response]], redo: Redo, where: Mapping[str, str],
                  default: str) -> Response:
    """Run a form's ``action``; bad input (FieldError, 422) or a service's refusal (its
    status) shows the form again through ``redo(status, errors)`` with the message next to
    the field. A refusal of the viewer itself (403) stays the error page."""
    try:
        return await action()
    except FieldError as exc:
        return await redo(422, {exc.field: exc.message})
    except DayledgerError as exc:
        if exc.status in (401, 403):
            raise
        return await redo(exc.status, {field_of(exc, where, default): explain(exc)})
