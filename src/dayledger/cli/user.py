"""dayledger user ...: people who sign in to the dashboard (/dashboard/) and the console
(/console/)."""

from __future__ import annotations

import sys

import typer

from ..partners import service as partners
from ..users import service as users
from .common import AS_JSON, emit, fail, run

app = typer.Typer(help="People who sign in to the dashboard and the console.", no_args_is_help=True)
USER_COLUMNS = ["id", "email", "kind", "partner", "role", "createdAt"]


def _fields(user, partner_name: str | None) -> dict:
    return {"id": user.id, "email": user.email, "kind": user.kind, "partner": partner_name, "role": user.role,
            "createdAt": user.created_ms}


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        fail("give the password on standard input with --password-stdin", 2)
    if not password:
        fail("the password is empty", 2)
    return password


@app.command()
def create(email: str = typer.Argument(..., metavar="EMAIL", show_default=False,
                                       help="The email the person signs in with."),
           partner: str | None = typer.Option(None, "--partner", metavar="NAME",
                                              help="The partner account the person belongs to."),
           role: str = typer.Option("owner", "--role", help="A partner user's role: owner (everything), member "
                                                            "(channels) or viewer (read only)."),
           operator: bool = typer.Option(False, "--operator", help="An operator user, for the console."),
           password_stdin: bool = typer.Option(False, "--password-stdin",
                                               help="Read the password from the first line of standard input "
                                                    "(else it is asked for on a terminal)."),
           as_json: bool = AS_JSON) -> None:
    """Create a user who signs in at /login: a partner's (--partner NAME) or an operator (--operator)."""
    if operator == (partner is not None):
        fail("give exactly one of --partner NAME and --operator", 2)
    password = _read_password(password_stdin)

    async def fn(session, now):
        owner = await partners.get(session, partner) if partner else None
        user = await users.create(session, email=email, password=password, partner=owner, role=role, now_ms=now)
        return _fields(user, partner)
    emit(run(fn), as_json, columns=USER_COLUMNS)


@app.command("list")
def list_(partner: str | None = typer.Option(None, "--partner", metavar="NAME",
                                             help="List this partner's users (else the operator users)."),
          as_json: bool = AS_JSON) -> None:
    """The users of a partner, or the operator users."""
    async def fn(session, now):
        owner = await partners.get(session, partner) if partner else None
        return [_fields(u, partner) for u in await users.people(session, owner.id if owner else None)]
    emit(run(fn), as_json, columns=USER_COLUMNS)
