"""What every portal page shares: the logged-in user from the session cookie, CSRF checks,
the language, and rendering a template with them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from aidc.api.limits import SignInLimiter
from aidc.core.tenancy import Principal, Role
from aidc.portal import i18n
from aidc.services import portal_sessions
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Unauthenticated
from aidc.services.portal_sessions import SessionUser

HERE = Path(__file__).parent
PREFIX = "/portal"
SESSION_COOKIE = "aidc_session"
LANG_COOKIE = "aidc_lang"
OPERATORS = (Role.CENTER_ADMIN, Role.REVIEWER)

templates = Jinja2Templates(directory=str(HERE / "templates"))


class NeedLogin(Exception):
    """No valid session: the page answers with a redirect to the login form."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def center(request: Request) -> Center:
    c: Center = request.app.state.parent.state.center
    return c


def sign_in_limiter(request: Request) -> SignInLimiter:
    """The API's limiter (one window per process for every credential check)."""
    limiter: SignInLimiter = request.app.state.parent.state.sign_in
    return limiter


def translator(request: Request) -> i18n.Translator:
    lang = i18n.pick(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    return i18n.Translator(lang)


def session_user(request: Request) -> SessionUser:
    try:
        return portal_sessions.authenticate(center(request), request.cookies.get(SESSION_COOKIE))
    except Unauthenticated:
        raise NeedLogin(request.url.path) from None


def checked_form_user(
    request: Request, csrf_token: Annotated[str | None, Form()] = None
) -> SessionUser:
    """The session's user, for a POST: only with the session's CSRF token in the form."""
    user = session_user(request)
    if not portal_sessions.csrf_ok(user.csrf, csrf_token):
        raise Forbidden("the form is out of date (CSRF check failed); reload the page")
    return user


def operator(user: SessionUser) -> Principal:
    if user.principal.role not in OPERATORS:
        raise Forbidden("this page is for the center's operators and reviewers")
    return user.principal


UserDep = Annotated[SessionUser, Depends(session_user)]
FormUserDep = Annotated[SessionUser, Depends(checked_form_user)]
CenterDep = Annotated[Center, Depends(center)]
TDep = Annotated[i18n.Translator, Depends(translator)]


def render(
    request: Request,
    name: str,
    t: i18n.Translator,
    user: SessionUser | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    p = user.principal if user else None
    base = {
        "t": t,
        "lang": t.lang,
        "locales": i18n.LOCALES,
        "user": p,
        "csrf": user.csrf if user else "",
        "is_operator": p is not None and p.role in OPERATORS,
        "is_org_admin": p is not None and p.role in (Role.ORG_ADMIN, Role.CENTER_ADMIN),
        "is_center_admin": p is not None and p.is_center_admin,
        # Reviewers and viewers run no jobs (core.tenancy.can_submit): no form to offer them.
        "can_submit": p is not None and p.role not in (Role.REVIEWER, Role.VIEWER),
        "prefix": PREFIX,
        "here": quote(request.url.path),
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


def redirect(path: str) -> RedirectResponse:
    # 303: the browser follows a POST's answer with a GET.
    return RedirectResponse(PREFIX + path, status_code=303)
