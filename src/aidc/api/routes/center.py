"""Health, identity and the cluster's nodes."""

from __future__ import annotations

from fastapi import APIRouter, Request

from aidc import __version__
from aidc.api.deps import CenterDep, PrincipalDep, client_address
from aidc.schemas import ErrorBody, NodeView, WhoAmI
from aidc.services import auth, nodes, tenancy

router = APIRouter()
ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorBody}}


@router.get("/healthz", tags=["center"])
def health() -> dict[str, str]:
    """Liveness; the only endpoint that needs no token."""
    return {"status": "ok", "version": __version__}


@router.get("/v1/whoami", tags=["center"], responses=ERRORS)
def whoami(request: Request, c: CenterDep, p: PrincipalDep, login: bool = False) -> WhoAmI:
    """Who the token belongs to. ``login=true`` (``aidc login``) records a sign-in with
    the token in the security log."""
    if login:
        auth.record_login(
            c, via="token", address=client_address(request), username=p.username, ok=True
        )
    return tenancy.whoami(c, p)


@router.get("/v1/nodes", tags=["center"], responses=ERRORS)
def list_nodes(c: CenterDep, p: PrincipalDep) -> list[NodeView]:
    """Nodes with their capacity and what is in use."""
    return nodes.list_nodes(c, p)
