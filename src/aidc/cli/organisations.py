"""`aidc org ...` (organisations, members, roles, invitations) and `aidc join CODE`."""

from __future__ import annotations

import os
from typing import Annotated

import tomli_w
import typer
from rich.markup import escape
from rich.table import Table

from aidc.cli.alloc_common import JsonOpt, day, print_json
from aidc.cli.output import errors, out, when
from aidc.client import DEFAULT_URL, Client, config_path
from aidc.schemas_allocations import InvitationView, OrganisationView

org_app = typer.Typer(help="Organisations: details, members, roles, invitations.")
OrgArg = Annotated[str, typer.Argument(help="The organisation's name.")]


@org_app.command("create")
def create(
    name: OrgArg,
    kind: Annotated[str, typer.Option(help="startup, sme, enterprise, university, ...")],
    registration_number: Annotated[
        str, typer.Option(help="Business registration number NNN-NN-NNNNN.")
    ] = "",
    region: Annotated[str, typer.Option(help="Region, e.g. Gwangju.")] = "",
    sector: Annotated[str, typer.Option(help="Industry sector.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create an organisation (center admins)."""
    with errors(), Client.from_config() as c:
        o = c.create_organisation(
            name, kind, registration_number=registration_number, region=region, sector=sector
        )
    if as_json:
        print_json(o)
        return
    out.print(f"created {escape(o.name)} ({o.kind})")


@org_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Organisations you may see (yours; all of them for center admins and reviewers)."""
    with errors(), Client.from_config() as c:
        found = c.organisations()
    if as_json:
        print_json(found)
        return
    table = Table(box=None, header_style="bold")
    for col in ("ORGANISATION", "KIND", "REGISTRATION", "REGION", "SECTOR", "MEMBERS", "PROJECTS"):
        table.add_column(col)
    for o in found:
        table.add_row(
            escape(o.name),
            o.kind,
            o.registration_number or "-",
            escape(o.region) or "-",
            escape(o.sector) or "-",
            str(o.members),
            escape(", ".join(o.projects)) or "-",
        )
    out.print(table)


@org_app.command("show")
def show(name: OrgArg, as_json: JsonOpt = False) -> None:
    """One organisation's details."""
    with errors(), Client.from_config() as c:
        o = c.organisation(name)
    if as_json:
        print_json(o)
        return
    _print_org(o)


@org_app.command("update")
def update(
    name: OrgArg,
    kind: Annotated[str | None, typer.Option(help="Center admins only.")] = None,
    registration_number: Annotated[str | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option()] = None,
    sector: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change registration details (the organisation's admins, or center admins)."""
    with errors(), Client.from_config() as c:
        o = c.update_organisation(
            name, kind=kind, registration_number=registration_number, region=region, sector=sector
        )
    if as_json:
        print_json(o)
        return
    _print_org(o)


@org_app.command("members")
def members(name: OrgArg, as_json: JsonOpt = False) -> None:
    """The organisation's users, their roles and projects."""
    with errors(), Client.from_config() as c:
        found = c.members(name)
    if as_json:
        print_json(found)
        return
    table = Table(box=None, header_style="bold")
    for col in ("USER", "ROLE", "PROJECTS", "SINCE"):
        table.add_column(col)
    for m in found:
        table.add_row(m.username, m.role, ", ".join(m.projects) or "-", day(m.created_at))
    out.print(table)


@org_app.command("set-role")
def set_role(
    name: OrgArg,
    username: Annotated[str, typer.Argument(help="A member of the organisation.")],
    role: Annotated[str, typer.Argument(help="member, viewer or org-admin.")],
) -> None:
    """Change a member's role (org admins, not their own)."""
    with errors(), Client.from_config() as c:
        m = c.set_role(name, username, role)
    out.print(f"{m.username} is now {m.role}")


@org_app.command("invite")
def invite(
    name: OrgArg,
    username: Annotated[str, typer.Argument(help="The new member's username.")],
    role: Annotated[str, typer.Option(help="member, viewer or org-admin.")] = "member",
    project: Annotated[
        list[str] | None, typer.Option("--project", "-p", help="A project to join (repeat).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Invite someone; prints the one-time code (shown only now, valid 7 days)."""
    with errors(), Client.from_config() as c:
        inv = c.invite(name, username, role, tuple(project or ()))
    if as_json:
        print_json(inv)
        return
    out.print(
        f"invitation {inv.id} for {inv.username} ({inv.role}), expires {when(inv.expires_at)}"
    )
    out.print("Give them this code (it is shown only once):")
    out.print(f"  aidc join {inv.code} --username {inv.username}")


@org_app.command("invitations")
def invitations(name: OrgArg, as_json: JsonOpt = False) -> None:
    """Pending invitations."""
    with errors(), Client.from_config() as c:
        found = c.invitations(name)
    if as_json:
        print_json(found)
        return
    _print_invitations(found)


@org_app.command("revoke-invite")
def revoke_invite(
    invitation_id: Annotated[int, typer.Argument(help="The invitation's id.")],
) -> None:
    """Revoke a pending invitation; its code stops working."""
    with errors(), Client.from_config() as c:
        inv = c.revoke_invitation(invitation_id)
    out.print(f"invitation {inv.id} for {inv.username} is {inv.status}")


def join(
    code: Annotated[str, typer.Argument(help="The invitation code you were given.")],
    username: Annotated[str, typer.Option(help="The username you were invited as.")],
    url: Annotated[str, typer.Option(help="Server URL.")] = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Accept an invitation: creates your account, prints and saves your API token."""
    url = os.environ.get("AIDC_URL") or url
    with errors(), Client(url) as c:
        joined = c.accept_invitation(code, username)
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        tomli_w.dump({"url": url, "token": joined.token}, f)
    if as_json:
        print_json(joined)
        return
    out.print(
        f"Welcome, [bold]{joined.username}[/] ({joined.role}, {escape(joined.organisation)}); "
        f"projects: {', '.join(joined.projects) or 'none yet'}."
    )
    out.print(f"Your API token (saved to {path}; shown only now):")
    out.print(joined.token)


def _print_org(o: OrganisationView) -> None:
    out.print(f"[bold]{escape(o.name)}[/] ({o.kind})")
    out.print(f"registration number {o.registration_number or '-'}")
    out.print(f"region {escape(o.region) or '-'}  sector {escape(o.sector) or '-'}")
    out.print(f"{o.members} members; projects {escape(', '.join(o.projects)) or '-'}")


def _print_invitations(found: list[InvitationView]) -> None:
    table = Table(box=None, header_style="bold")
    for col in ("ID", "USER", "ROLE", "PROJECTS", "BY", "EXPIRES", "STATUS"):
        table.add_column(col)
    for i in found:
        table.add_row(
            str(i.id),
            i.username,
            i.role,
            ", ".join(i.projects) or "-",
            i.created_by,
            when(i.expires_at),
            i.status,
        )
    out.print(table)
