"""Routes of this payment road (filled in by its issue work)."""

from __future__ import annotations

from fastapi import APIRouter

from ..api import ERROR_RESPONSES, ApiRoute

router = APIRouter(tags=["Payments"], responses=ERROR_RESPONSES, route_class=ApiRoute)
