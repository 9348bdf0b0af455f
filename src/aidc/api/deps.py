"""Request dependencies: the center and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aidc.api.limits import SignInLimiter
from aidc.core.tenancy import Principal
from aidc.services import auth
from aidc.services.center import Center
from aidc.services.errors import Unauthenticated

_bearer = HTTPBearer(auto_error=False, description="An aidc API token (`aidc_...`).")


def center(request: Request) -> Center:
    c: Center = request.app.state.center
    return c


TOKEN_FIX = " with a valid token (`aidc token list`; a new one: `aidc token create`)"


def principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The token's owner. Failed tokens are rate limited per client address and go to the
    security log; a request without a token is no guess and counts for neither. (One
    SHA-256 more per request: about a microsecond.)"""
    c = center(request)
    if creds is None or not creds.credentials:
        return auth.authenticate(c, None)
    limiter: SignInLimiter = request.app.state.sign_in
    address = client_address(request)
    digest = auth.hash_token(creds.credentials)
    limiter.allow("token", address, "bearer tokens", TOKEN_FIX, credential=digest)
    try:
        p = auth.authenticate(c, creds.credentials)
    except Unauthenticated as e:
        limiter.failed("token", address)
        auth.record_login(c, via="token", address=address, username=None, reason=e.message)
        raise
    limiter.succeeded("token", address, digest)
    return p


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


CenterDep = Annotated[Center, Depends(center)]
PrincipalDep = Annotated[Principal, Depends(principal)]
