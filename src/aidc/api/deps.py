"""Request dependencies: the center and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aidc.core.tenancy import Principal
from aidc.services import auth
from aidc.services.center import Center

_bearer = HTTPBearer(auto_error=False, description="An aidc API token (`aidc_...`).")


def center(request: Request) -> Center:
    c: Center = request.app.state.center
    return c


def principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return auth.authenticate(center(request), creds.credentials if creds else None)


CenterDep = Annotated[Center, Depends(center)]
PrincipalDep = Annotated[Principal, Depends(principal)]
