"""Dashboard pages: being built (issue 10); the router is mounted by dashboard/endpoints.py."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
