"""The operator's console under /console/ (SPEC 9): partners, invoices, events and
operator users, each page in its own module; every action calls the service of its
/admin route, as the signed-in operator user's ``Principal``. A partner's user gets 403."""

from __future__ import annotations

from fastapi import APIRouter

from . import activity, invoices, partners, people

router = APIRouter(include_in_schema=False)

for part in (partners.router, invoices.router, activity.router, people.router):
    router.include_router(part)
