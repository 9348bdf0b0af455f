"""Login, logout, the language switch, the user's password and their API tokens."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from aidc.api.deps import client_address
from aidc.portal import i18n, web
from aidc.portal.web import CenterDep, FormUserDep, TDep, UserDep
from aidc.services import auth, passwords, portal_sessions, tokens
from aidc.services.errors import Invalid, TooMany, Unauthenticated
from aidc.services.portal_sessions import SessionUser

router = APIRouter()


def _safe_next(next_path: str | None) -> str:
    # Only back into the portal: never an open redirect to another site.
    if next_path and next_path.startswith(web.PREFIX + "/") and "//" not in next_path:
        return next_path
    return web.PREFIX + "/"


@router.get("/login")
def login_form(request: Request, t: TDep, next: str | None = None) -> Response:
    return web.render(request, "login.html", t, None, next=_safe_next(next), error=None)


@router.post("/login")
async def login(
    request: Request,
    c: CenterDep,
    t: TDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    limiter = web.sign_in_limiter(request)
    address = client_address(request)

    def again(status: int, error: str) -> Response:
        page = web.render(request, "login.html", t, None, status=status,
                          next=_safe_next(next), error=error, username=username)  # fmt: skip
        return page

    try:
        limiter.allow("portal", address, "logins", "")
    except TooMany as e:
        wait = math.ceil(e.retry_after_s or limiter.window_s)
        page = again(429, t("login.too_many", s=wait))
        page.headers["Retry-After"] = str(wait)
        return page
    try:
        # argon2 takes tens of milliseconds on purpose: off the event loop.
        session = await run_in_threadpool(
            portal_sessions.login, c, username.strip(), password, address=address
        )
    except Unauthenticated as e:
        limiter.failed("portal", address)
        why = e.message
        await run_in_threadpool(
            lambda: auth.record_login(
                c, via="portal", address=address, username=username.strip(), reason=why
            )
        )
        return again(401, t("login.failed"))
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        web.SESSION_COOKIE,
        session.token,
        max_age=int(portal_sessions.SESSION_TTL_S),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=web.PREFIX,
    )
    return response


@router.post("/logout")
def logout(request: Request, c: CenterDep, user: FormUserDep) -> Response:
    portal_sessions.logout(c, request.cookies.get(web.SESSION_COOKIE))
    response = web.redirect("/login")
    response.delete_cookie(web.SESSION_COOKIE, path=web.PREFIX)
    return response


@router.get("/lang/{lang}")
def switch_language(lang: str, next: str | None = None) -> Response:
    """A GET link: the language is a display preference, not a change to any data."""
    response = RedirectResponse(_safe_next(next), status_code=303)
    if lang in i18n.LOCALES:
        response.set_cookie(
            web.LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path=web.PREFIX
        )
    return response


@router.get("/account")
def account(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    return _account_page(request, c, t, user)


def _account_page(
    request: Request,
    c: CenterDep,
    t: TDep,
    user: SessionUser,
    *,
    status: int = 200,
    new_token: str | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    return web.render(
        request,
        "account.html",
        t,
        user,
        status=status,
        tokens=tokens.list_tokens(c, user.principal),
        new_token=new_token,
        errors=errors or {},
        notice=notice,
    )


@router.post("/account/tokens")
def create_token(
    request: Request,
    c: CenterDep,
    t: TDep,
    user: FormUserDep,
    name: Annotated[str, Form()] = "",
    ttl_days: Annotated[str, Form()] = "",
) -> Response:
    try:
        days = float(ttl_days) if ttl_days.strip() else None
    except ValueError:
        return _account_page(request, c, t, user, status=422, errors={"ttl_days": t("err.number")})
    try:
        token = tokens.create_token(c, user.principal, name, days)
    except Invalid as e:
        return _account_page(request, c, t, user, status=422, errors={e.field or "name": e.message})
    return _account_page(request, c, t, user, status=201, new_token=token)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(token_id: int, c: CenterDep, user: FormUserDep) -> Response:
    tokens.revoke_token(c, user.principal, token_id)
    return web.redirect("/account")


@router.post("/account/password")
async def set_password(
    request: Request,
    c: CenterDep,
    t: TDep,
    user: FormUserDep,
    current_password: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
) -> Response:
    if password != password_again:
        errors = {"password_again": t("account.password_mismatch")}
        return _account_page(request, c, t, user, status=422, errors=errors)
    try:
        await run_in_threadpool(
            lambda: passwords.set_password(
                c, user.principal, password, current=current_password or None
            )
        )
    except Invalid as e:
        errors = {e.field or "password": e.message}
        return _account_page(request, c, t, user, status=422, errors=errors)
    return _account_page(request, c, t, user, notice=t("account.password_set"))
