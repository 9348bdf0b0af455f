"""Running one cell of the authorisation matrix: build the request, call, judge the answer."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from tests.security import world_data
from tests.security.authz_table import Rule
from tests.security.world import MISSING, World

# What a request names when it names nothing that exists: "not found" to compare with.
MISSING_OBJECTS = {
    "org": "NoSuchOrg",
    "project": "no-such-project",
    "job_id": MISSING["job_id"],
    "allocation_id": MISSING["allocation_id"],
    "invitation_id": MISSING["invitation_id"],
    "invitation_code": "no-such-code",
    "invitation_username": "nobody",
    "course": "no-such-course",
    "member": "nobody",
    "program": "no-such-program",
    "cohort": "no-such-cohort",
    "sim_id": MISSING["sim_id"],
    "token_id": MISSING["token_id"],
    "dataset": "no-such-dataset",
    "registered": "no-such-dataset",
    "restricted": "no-such-dataset",
    # Grant requests name the center's restricted dataset; only the project is missing.
    "grant_dataset": world_data.CENTER_RESTRICTED,
    "upload_id": MISSING["upload_id"],
    "grant_id": MISSING["grant_id"],
    "environment": "no-such-environment",
    "session_id": MISSING["session_id"],
    "airlock_job": MISSING["job_id"],
    "validation": MISSING["validation"],
    "share": MISSING["share"],
}
DENIED = (401, 403, 404)
OWN_TARGET = {"a_member": "A", "a_admin": "A", "b_member": "B"}
# What of a tenant must never show up in another tenant's answers.
MARKERS = ("job_id", "project", "org", "course", "invitation_username")


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) of the app's API routes (included routers flattened)."""
    found: set[tuple[str, str]] = set()
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route if hasattr(ctx, "original_route") else ctx
        if isinstance(route, APIRoute):
            found.update((m, ctx.path) for m in route.methods)
    return sorted(found)


def expected(rule: Rule, role: str, target: str) -> bool:
    if role in ("anonymous", "reviewer", "steward", "center_admin"):
        return role in rule.who
    if target not in ("-", OWN_TARGET[role]) and not rule.any_tenant:
        return False  # never another tenant's object
    return ("admin" if role == "a_admin" else "member") in rule.who


def is_cross_tenant(role: str, target: str) -> bool:
    return role in OWN_TARGET and target not in ("-", OWN_TARGET[role])


@dataclass
class Call:
    response: httpx.Response
    used: list[str]  # the object values the request named (to blank out when comparing)


def call(
    client: TestClient,
    world: World,
    key: tuple[str, str],
    rule: Rule,
    role: str,
    target: str,
    *,
    missing: bool = False,
) -> Call:
    method, path = key
    objs = MISSING_OBJECTS if missing else world.objects[target]
    used: list[str] = []

    def value(kind: str) -> str:
        if kind.startswith("="):
            return kind[1:]
        used.append(objs[kind])
        return objs[kind]

    for param, kind in rule.path.items():
        path = path.replace("{" + param + "}", value(kind))
    query = {q: value(k) for q, k in rule.query.items()}
    headers = world.headers(role)
    content: str | None = None
    if rule.body is not None:
        body = rule.body(objs)
        for kind in ("project", "org", "job_id", "invitation_code", "member"):
            if kind in objs and objs[kind] in json.dumps(body):
                used.append(objs[kind])
        if isinstance(body, str):
            content, headers = body, headers | {"Content-Type": "text/csv"}
        else:
            content, headers = json.dumps(body), headers | {"Content-Type": "application/json"}
    r = client.request(
        method, path, params=query, content=content, headers=headers, follow_redirects=False
    )
    return Call(r, used)


def allowed(rule: Rule, r: httpx.Response) -> bool:
    if rule.verdict is not None:
        return r.status_code == 200 and rule.verdict(r.json())
    return r.status_code not in DENIED + rule.deny_status


def blanked(c: Call) -> tuple[int, Any]:
    """Status and body with the named objects blanked out: "not found" of a missing id and
    a denial of another tenant's object must then be equal."""
    text = c.response.text
    for v in sorted(set(c.used), key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(v)}(?![\w-])", "<X>", text)
    try:
        return c.response.status_code, json.loads(text)
    except ValueError:
        return c.response.status_code, text


def judge(rule: Rule, role: str, target: str, got: Call, missing: Call | None) -> str | None:
    """What is wrong with the answer, or None."""
    r = got.response
    if r.status_code >= 500 and r.status_code not in rule.downstream:
        return f"{r.status_code} {r.text[:200]}"
    want = expected(rule, role, target)
    if rule.absent:
        ok = r.status_code == 404 if want else r.status_code in (401, 403)
        return None if ok else f"expected {'404' if want else '401/403'}, got {r.status_code}"
    if want != allowed(rule, r):
        return f"expected {'allow' if want else 'deny'}, got {r.status_code} {r.text[:160]}"
    if not want and role == "anonymous" and r.status_code != 401:
        return f"anonymous should get 401, got {r.status_code}"
    if not want and missing is not None and blanked(got) != blanked(missing):
        return f"denial {blanked(got)} differs from not-found {blanked(missing)}"
    return None


def leaks(world: World, role: str, r: httpx.Response) -> list[str]:
    """The other tenant's names and ids found in a tenant caller's answer."""
    if role not in OWN_TARGET:
        return []
    other = world.objects["B" if OWN_TARGET[role] == "A" else "A"]
    return [f"{k}={other[k]}" for k in MARKERS if other[k] in r.text]
