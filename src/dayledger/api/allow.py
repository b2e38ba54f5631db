"""Which methods a path allows, for the ``Allow`` header of 405 answers and for OPTIONS.

Starlette's router stops at the first route whose pattern matches the path with another
method and reports only that route's methods: ``OPTIONS /channels/{id}`` said
``Allow: GET`` although PATCH and DELETE exist on separate routes of the same path. Here
every route is asked.

OPTIONS on a path that exists answers 204 with the full ``Allow`` (OPTIONS included);
no route declares OPTIONS, so the router's 405 for it is where that answer is made
(docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import fastapi.routing
from starlette.requests import Request
from starlette.responses import Response

from ..errors import error_body
from .responses import json_response

# The order of the Allow header: the usual reading order, then anything else by name.
ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _routes(app: Any) -> Iterator[Any]:
    """Every route of ``app``, included routers flattened. Recent FastAPI versions keep an
    included router as one entry and offer ``iter_route_contexts`` to walk them; older
    ones list every route in ``app.routes``."""
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    return iter(walk(app.routes)) if walk is not None else iter(app.routes)


def sort_methods(methods: Iterable[str]) -> list[str]:
    rank = {m: i for i, m in enumerate(ORDER)}
    return sorted(set(methods), key=lambda m: (rank.get(m, len(ORDER)), m))


def allowed_methods(app: Any, path: str) -> list[str]:
    """The methods of every route whose path pattern matches ``path`` (without OPTIONS,
    which no route declares); empty when no route has this path."""
    found: set[str] = set()
    for route in _routes(app):
        regex = getattr(route, "path_regex", None)
        methods = getattr(route, "methods", None)
        if regex is not None and methods and regex.match(path):
            found.update(methods)
    return sort_methods(found)


def method_not_allowed(request: Request) -> Response:
    """The answer when the router found the path but not the method: 204 with ``Allow`` to
    an OPTIONS request, else 405 in the error shape with the full ``Allow``."""
    path = request.scope["path"]
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]  # routes match the path below the mount point
    methods = allowed_methods(request.app, path)
    allow = ", ".join(sort_methods([*methods, "OPTIONS"]))
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": allow})
    body = error_body(405, "method not allowed", f"{request.method} is not allowed on {path}; allowed: {allow}")
    return json_response(body, 405, {"Allow": allow})
