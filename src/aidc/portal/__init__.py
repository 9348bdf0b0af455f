"""The web portal: server-rendered pages (Jinja2, HTMX for the live parts) served by the
aidc server itself at /portal/, with its static files in the package (docs/portal.md).

Pages call the services with the session's Principal, exactly as the API's routes do with a
token's, so a page shows a tenant what the API would and nothing more.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from aidc.api.limits import SignInLimiter
from aidc.portal import web
from aidc.portal.routes import ROUTERS
from aidc.services.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
    Unauthenticated,
)

STATUS = {NotFound: 404, Forbidden: 403, Invalid: 422, Conflict: 409}
# No inline scripts anywhere: every script is a file under static/.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
)


def create_portal(parent: FastAPI) -> FastAPI:
    portal = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    portal.state.parent = parent  # the center lives on the main app's state
    portal.mount("/static", StaticFiles(directory=str(web.HERE / "static")), name="static")
    for r in ROUTERS:
        portal.include_router(r)

    @portal.middleware("http")
    async def _headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.method == "POST" and not same_origin(request):
            # Besides the CSRF token: also the login form (which has no session yet) only
            # takes posts from the portal's own pages.
            return PlainTextResponse("cross-site form posts are refused", status_code=403)
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.url.path.startswith(web.PREFIX + "/static"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @portal.exception_handler(web.NeedLogin)
    async def _login(request: Request, e: web.NeedLogin) -> Response:
        login = f"{web.PREFIX}/login?next={quote(e.next_path)}"
        if request.headers.get("HX-Request"):
            # A poll of a page whose session ended: send the whole page to the login form,
            # rather than letting htmx follow the redirect and swap the form into the log.
            return Response(status_code=401, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)

    @portal.exception_handler(ServiceError)
    async def _service(request: Request, e: ServiceError) -> Response:
        if isinstance(e, Unauthenticated):
            return RedirectResponse(f"{web.PREFIX}/login", status_code=303)
        return _error_page(request, STATUS.get(type(e), 400), e.message)

    @portal.exception_handler(HTTPException)
    async def _http(request: Request, e: HTTPException) -> Response:
        return _error_page(request, e.status_code, str(e.detail))

    @portal.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> Response:
        return _error_page(request, 422, "; ".join(str(x.get("msg")) for x in e.errors()))

    return portal


def same_origin(request: Request) -> bool:
    """A POST without an Origin (old browsers, curl) or from this host. The host, not the
    scheme: behind a TLS proxy the browser's origin is https and the request here http."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host")


def _error_page(request: Request, status: int, message: str) -> Response:
    t = web.translator(request)
    try:
        user = web.session_user(request)
    except web.NeedLogin:
        user = None
    return web.render(
        request, "error.html", t, user, status=status, status_code=status, message=message
    )


def mount(app: FastAPI) -> None:
    if getattr(app.state, "sign_in", None) is None:  # an app of the portal alone
        app.state.sign_in = SignInLimiter()
    app.mount(web.PREFIX, create_portal(app))

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse(web.PREFIX + "/", status_code=307)
