"""dayledger token ... and operator-token ...: API credentials."""

from __future__ import annotations

import typer

from ..auth import service as auth
from ..partners import service as partners
from .common import AS_JSON, emit, run

app = typer.Typer(help="Partner API tokens.", no_args_is_help=True)
operator_app = typer.Typer(help="Operator tokens for /admin and the gateway API.", no_args_is_help=True)
TOKEN_COLUMNS = ["id", "scope", "name", "token", "createdAt"]
LIST_COLUMNS = ["id", "name", "scope", "prefix", "createdAt", "revokedAt"]
TOKEN_NAME = typer.Option("", "--name", help="A label to recognise the token by later (not secret).")


@app.command()
def create(partner: str = typer.Argument(..., metavar="PARTNER", help="Name of the partner the token acts for.",
                                         show_default=False),
           scope: str = typer.Option("full", "--scope", help="What the token may do: read, channels, billing or "
                                                             "full."),
           name: str = TOKEN_NAME, as_json: bool = AS_JSON) -> None:
    """Create a partner API token. The secret is printed once."""
    async def fn(session, now):
        p = await partners.get(session, partner)
        return (await auth.issue(session, kind="partner", scope=scope, now_ms=now,
                                 partner_id=p.id, name=name)).public()
    emit(run(fn), as_json, columns=TOKEN_COLUMNS)


@app.command()
def revoke(token_id: str = typer.Argument(..., metavar="TOKEN_ID", show_default=False,
                                          help="The token's id (tok_...), as listed; not the secret."),
           as_json: bool = AS_JSON) -> None:
    """Revoke a token (partner or operator) by its id."""
    async def fn(session, now):
        return auth.token_fields(await auth.revoke(session, token_id, now))
    emit(run(fn), as_json, columns=["id", "kind", "scope", "revokedAt"])


@app.command("list")
def list_(partner: str = typer.Argument(..., metavar="PARTNER", help="Name of the partner whose tokens to list.",
                                        show_default=False),
          as_json: bool = AS_JSON) -> None:
    """A partner's tokens (ids and scopes, never secrets)."""
    async def fn(session, now):
        owner = await partners.get(session, partner)
        return [auth.token_fields(t) for t in await auth.list_tokens(session, owner.id)]
    emit(run(fn), as_json, columns=LIST_COLUMNS)


@operator_app.command("create")
def operator_create(scope: str = typer.Option("full", "--scope", help="What the token may do: full (all of "
                                                                      "/admin) or gateway (the gateway API)."),
                    name: str = TOKEN_NAME, as_json: bool = AS_JSON) -> None:
    """Create an operator token. The secret is printed once."""
    async def fn(session, now):
        return (await auth.issue(session, kind="operator", scope=scope, now_ms=now, name=name)).public()
    emit(run(fn), as_json, columns=TOKEN_COLUMNS)


@operator_app.command("list")
def operator_list(as_json: bool = AS_JSON) -> None:
    """Operator tokens (ids and scopes, never secrets), for rotation."""
    async def fn(session, now):
        return [auth.token_fields(t) for t in await auth.list_tokens(session, None)]
    emit(run(fn), as_json, columns=LIST_COLUMNS)
