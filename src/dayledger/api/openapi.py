"""The OpenAPI document as the API really behaves, and interactive docs that work offline.

FastAPI's generated document says nothing about tokens or idempotency keys and names
operations after paths (``get_history_csv_partners__PartnerName__history_csv_get``);
its /docs and /redoc pages load their scripts from a CDN. ``install`` amends the
document once per build (so routes added later are covered too) and serves both pages
from the assets of the ``fastapi-offline`` package.

The JSON API is recognised by its route class (:class:`ApiRoute`), not by path: other
routes (docs, health, metrics, dashboard) need no token and take no idempotency key.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles

from ..idempotency import MAX_KEY_LENGTH
from .handling import MUTATING, ApiRoute

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
# Swagger UI, Redoc and a favicon, as published on the CDN, shipped inside the wheel.
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"

OPERATION_ID = re.compile(r"^[a-z][A-Za-z0-9]*$")
# Operator routes repeat partner routes' function names (get_partner, list_tokens...).
ID_PREFIXES = {"/admin/": "admin", "/gateway/": "gateway"}

BEARER, QUERY_TOKEN = "bearerToken", "queryToken"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token in the header `Authorization: Bearer <token>`. Partner tokens "
                       "(`dlp_...`) reach their own partner's channels, projects and account, within "
                       "their scope; operator tokens (`dlo_...`) reach `/admin` and, with the gateway "
                       "scope, `/gateway`.",
    },
    QUERY_TOKEN: {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The same API token as the query parameter `?token=<token>`, for clients "
                       "that cannot set headers. The header wins when both are sent.",
    },
}
# Either scheme is enough: two alternatives, not one requirement of both.
SECURITY: list[dict[str, list[str]]] = [{BEARER: []}, {QUERY_TOKEN: []}]

IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    "description": (
        f"Makes this change safe to retry: send a new unique value (1 to {MAX_KEY_LENGTH} characters, "
        "not only spaces; a UUID is a good choice) for each change you mean to make, and the same "
        "value when you retry it. A repeat with the same key and the same request (method, path, "
        "query and JSON body) changes nothing and answers the first response again, with the "
        "header `Idempotent-Replayed: true`. The same key with a different request is refused "
        "with 422; a repeat while the first request is still running gets 409 (retry a moment "
        "later). Only successful responses are kept, so a request that failed may be retried "
        "with the same key. Keys belong to the partner (all its tokens share them) or, for "
        "operator routes, to the token, and are kept at least 72 hours."
    ),
}
REPLAYED_HEADER: dict[str, Any] = {
    "description": "`true` when this response is the stored answer to an earlier request with the "
                   "same `Idempotency-Key` (nothing was changed this time); absent otherwise.",
    "schema": {"type": "string", "enum": ["true"]},
}


def install(app: FastAPI) -> None:
    """Amend ``app``'s OpenAPI document and serve /docs and /redoc without any other host.
    The app must be built with ``docs_url=None, redoc_url=None`` (FastAPI's pages use a CDN)."""
    build = app.openapi
    amended: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        # FastAPI rebuilds its document when routes change; amend each new build once.
        document = build()
        if not amended or amended[0] is not document:
            amend(app, document)
            amended[:] = [document]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    if app.openapi_url:
        _serve_docs(app, app.openapi_url)


@dataclass(frozen=True)
class Operation:
    """One operation of the document, seen through the route as included in the app
    (full path, router settings applied)."""

    method: str
    path: str
    name: str  # the endpoint function's
    operation_id: str | None  # set explicitly in the decorator
    shared: bool  # one function serving several methods
    api: bool  # a JSON API route: takes a token, and a key if it changes something


def amend(app: FastAPI, document: dict[str, Any]) -> None:
    """Security schemes, Idempotency-Key and readable operationIds, in place."""
    operations = list(_operations(app))
    if any(op.api for op in operations):
        document.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    seen: dict[str, str] = {}
    for op in operations:
        operation = document["paths"][op.path][op.method.lower()]
        operation["operationId"] = op.operation_id or readable_id(op)
        where = f"{op.method} {op.path}"
        other = seen.setdefault(operation["operationId"], where)
        if other != where:
            raise RuntimeError(f"operationId {operation['operationId']!r} is used by {other} and {where}")
        if op.api:
            operation["security"] = copy.deepcopy(SECURITY)
            if op.method in MUTATING:
                _declare_idempotency(operation)


def readable_id(op: Operation) -> str:
    """camelCase of the endpoint function's name, prefixed for operator and gateway routes."""
    words = [w for w in op.name.split("_") if w]
    prefix = next((p for path, p in ID_PREFIXES.items() if op.path.startswith(path)), None)
    if prefix:
        words.insert(0, prefix)
    if op.shared:
        words.append(op.method.lower())
    name = words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:]) if words else ""
    if not OPERATION_ID.match(name):
        raise RuntimeError(f"cannot make an operationId of {op.name!r} ({op.method} {op.path})")
    return name


def _operations(app: FastAPI) -> Iterator[Operation]:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not context.include_in_schema:
            continue
        methods = sorted(context.methods or ())
        for method in methods:
            yield Operation(method=method, path=str(context.path_format), name=str(context.name),
                            operation_id=context.operation_id, shared=len(methods) > 1,
                            api=isinstance(route, ApiRoute))


def _declare_idempotency(operation: dict[str, Any]) -> None:
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key" for p in parameters):
        parameters.append(copy.deepcopy(IDEMPOTENCY_KEY))
    for status, response in operation.get("responses", {}).items():
        if str(status).startswith("2"):
            response.setdefault("headers", {})["Idempotent-Replayed"] = copy.deepcopy(REPLAYED_HEADER)


# The pages may talk to this origin only, whatever their scripts try: Redoc's menu footer
# loads a logo from its vendor's CDN and has no option to turn that off. Inline script
# (Swagger UI's start-up), inline styles (both), and a blob: worker (Redoc's search).
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
            "frame-ancestors 'self'; form-action 'self'; base-uri 'self'")


def _serve_docs(app: FastAPI, openapi_url: str) -> None:
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    async def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        return _confined(get_swagger_ui_html(
            openapi_url=base + openapi_url, title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{base}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{base}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=None,
            # persistAuthorization: the token given to Authorize survives a reload;
            # validatorUrl: never send the document to the public validator.
            swagger_ui_parameters={"persistAuthorization": True, "validatorUrl": None,
                                   "displayOperationId": True}))

    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        return _confined(get_redoc_html(
            openapi_url=base + openapi_url, title=f"{app.title} - ReDoc",
            redoc_js_url=f"{base}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{ASSETS_URL}/favicon.png", with_google_fonts=False))

    # API routes (not plain Starlette ones) so the request metrics label them by path.
    app.add_api_route(DOCS_URL, swagger_ui, include_in_schema=False, response_class=HTMLResponse)
    app.add_api_route(REDOC_URL, redoc, include_in_schema=False, response_class=HTMLResponse)


def _confined(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page
