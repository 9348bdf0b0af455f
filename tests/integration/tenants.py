"""Two organisations with admins, members and a viewer, for service-level tests."""

from __future__ import annotations

from dataclasses import dataclass

from aidc.core.tenancy import Principal
from aidc.services import auth, tenancy
from aidc.services.center import Center


@dataclass
class Tenants:
    alice: Principal  # org-admin of Acme, project acme-a
    bob: Principal  # member of Acme, project acme-a
    vic: Principal  # viewer of Acme, project acme-a
    carol: Principal  # member of Beta, project beta-b
    root: Principal  # center-admin


def make_tenants(c: Center) -> Tenants:
    tenancy.create_organisation(c, "Acme", "startup")
    tenancy.create_organisation(c, "Beta", "university")
    tenancy.create_organisation(c, "Center", "public")
    for user, org, role in [
        ("alice", "Acme", "org-admin"),
        ("bob", "Acme", "member"),
        ("vic", "Acme", "viewer"),
        ("carol", "Beta", "member"),
        ("root", "Center", "center-admin"),
    ]:
        tenancy.create_user(c, user, org, role)
    tenancy.create_project(c, "acme-a", "Acme", ["alice", "bob", "vic"])
    tenancy.create_project(c, "beta-b", "Beta", ["carol"])
    who = {
        u: auth.authenticate(c, auth.issue_token(c, u))
        for u in ("alice", "bob", "vic", "carol", "root")
    }
    return Tenants(**who)
