"""Partner self-service: profile, billing history (JSON and CSV), tokens."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from ..auth import service as auth
from ..ids import PARTNER_NAME_PATTERN
from ..ledger.service import ENTRY_TYPES
from ..models import LedgerEntry
from ..web import Paging, authorized, handle, services
from . import repository, service
from .schemas import PartnerSettings, TokenCreate

router = APIRouter(tags=["Partner account"])
PartnerName = Annotated[str, Path(pattern=PARTNER_NAME_PATTERN, max_length=64, description="Partner Name")]
EntryType = Annotated[str | None, Query(pattern="^(" + "|".join(sorted(ENTRY_TYPES)) + ")$")]
ChannelFilter = Annotated[str | None, Query(alias="channel", pattern=r"^(?:[A-Z]{6}-[A-Z0-9]{5}|[A-Z0-9]{12})$")]
TimeFilter = Annotated[int | None, Query(ge=0, le=2**53, description="milliseconds since the epoch")]


@router.get("/partners/{name}", summary="Partner profile with balance, limits and channel counts")
async def get_partner(request: Request, name: PartnerName):
    async def fn(session, principal):
        principal.require_partner(name)
        partner = await service.get(session, name)
        return await service.profile(session, partner, services(request).clock.now_ms())
    return await handle(request, fn, permission="read")


@router.get("/partners/{name}/history", summary="Billing history: every movement of days, newest first")
async def get_history(request: Request, name: PartnerName, paging: Paging, type: EntryType = None,
                      channel: ChannelFilter = None, since: TimeFilter = None, until: TimeFilter = None):
    async def fn(session, principal):
        partner_id = principal.require_partner(name)
        stmt = repository.history_query(partner_id, type=type, channel_id=channel, since_ms=since, until_ms=until)
        rows, total = await repository.history_page(session, stmt, paging.count, paging.offset)
        return {"history": [service.entry_public(e) for e in rows],
                "count": len(rows), "offset": paging.offset, "total": total}
    return await handle(request, fn, permission="read")


@router.get("/partners/{name}/history.csv", summary="Billing history as CSV, streamed")
async def get_history_csv(request: Request, name: PartnerName, type: EntryType = None,
                          channel: ChannelFilter = None, since: TimeFilter = None, until: TimeFilter = None):
    async def fn(session, principal):
        return principal.require_partner(name)
    partner_id = await authorized(request, fn)
    stmt = repository.history_query(partner_id, type=type, channel_id=channel, since_ms=since, until_ms=until)
    return StreamingResponse(stream_csv(request, stmt), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{name}-history.csv"'})


async def stream_csv(request: Request, stmt):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(service.CSV_COLUMNS)
    async with services(request).db.sessions() as session:
        result = await session.stream_scalars(stmt.order_by(LedgerEntry.id).execution_options(yield_per=1000))
        async for partition in result.partitions():
            for e in partition:
                writer.writerow(service.entry_csv_row(e))
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue()


@router.get("/partners/{name}/tokens", summary="List this partner's API tokens (never their secrets)")
async def list_tokens(request: Request, name: PartnerName):
    async def fn(session, principal):
        return {"tokens": await auth.list_tokens(session, principal.require_partner(name))}
    return await handle(request, fn, permission="full")


@router.post("/partners/{name}/tokens", summary="Create an API token; the secret is shown only in this response")
async def create_token(request: Request, name: PartnerName, body: TokenCreate):
    async def fn(session, principal):
        partner_id = principal.require_partner(name)
        now = services(request).clock.now_ms()
        expires = now + body.expiresInDays * 86_400_000 if body.expiresInDays else None
        issued = await auth.issue(session, kind="partner", scope=body.scope, now_ms=now,
                                  partner_id=partner_id, name=body.name, expires_ms=expires)
        return issued.public()
    return await handle(request, fn, permission="full", status=201)


@router.delete("/partners/{name}/tokens/{token_id}", summary="Revoke an API token")
async def revoke_token(request: Request, name: PartnerName,
                       token_id: Annotated[str, Path(pattern=r"^tok_[A-Za-z0-9]{16}$")]):
    async def fn(session, principal):
        partner_id = principal.require_partner(name)
        return await auth.revoke(session, token_id, services(request).clock.now_ms(), partner_id)
    return await handle(request, fn, permission="full")


@router.get("/partners/{name}/settings", summary="Get partner settings", operation_id="getPartnerSettings",
            tags=["Partner settings"])
async def get_settings_(request: Request, name: PartnerName):
    async def fn(session, principal):
        principal.require_partner(name)
        return service.settings_public(await service.get(session, name))
    return await handle(request, fn, permission="read")


@router.patch("/partners/{name}/settings", summary="Set partner settings", operation_id="setPartnerSettings",
              tags=["Partner settings"])
async def patch_settings(request: Request, name: PartnerName, body: PartnerSettings):
    async def fn(session, principal):
        principal.require_partner(name)
        await service.update_settings(session, name, body)
        return {"success": True, "result": True}
    return await handle(request, fn, permission="full")
