"""/sessions/{id}/...: the authenticated proxy to a notebook session's JupyterLab.

HTTP goes through httpx, WebSockets (kernels, terminals) through the ``websockets``
library. Every request is admitted by ``services.notebook_access.enter`` (aidc bearer token
or the session's cookie) before anything reaches JupyterLab; the proxy then sends
JupyterLab's token itself, drops the caller's credentials and cookies both ways, and
removes the token from the pages JupyterLab renders, so no user ever handles it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request, WebSocket
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from aidc.api.errors import error_response
from aidc.core.notebooks import SessionState
from aidc.services import jupyter
from aidc.services import notebook_access as access
from aidc.services.center import Center
from aidc.services.errors import Forbidden, ServiceError, Unauthenticated

router = APIRouter(include_in_schema=False)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Hop-by-hop headers and the caller's credentials never go upstream.
DROP_REQUEST = {
    "host",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "authorization",
    "cookie",
    "origin",
    "referer",
    "content-length",
}
DROP_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "set-cookie", "trailer"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
WS_MAX_MESSAGE = 64 * 1024 * 1024
MAX_PAGE = 4 * 1024 * 1024


def _center(request: Request | WebSocket) -> Center:
    c: Center = request.app.state.center
    return c


def _http(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient | None = getattr(request.app.state, "notebook_http", None)
    if client is None:
        timeout = httpx.Timeout(30.0, connect=5.0, read=300.0)
        client = httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False)
        request.app.state.notebook_http = client
    return client


def _bearer(headers: Any) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _cross_site(headers: Any, by_cookie: bool) -> bool:
    """A browser request that carries the session cookie from another site (CSRF): the
    cookie is SameSite=Lax, and this checks Origin too for what Lax lets through."""
    origin = str(headers.get("origin") or "")
    if not by_cookie or not origin:
        return False
    host = str(headers.get("host") or "")
    return origin.split("://", 1)[-1].rstrip("/") != host


async def _admit(
    conn: Request | WebSocket, session_id: str
) -> tuple[access.Target | None, Response | None]:
    bearer = _bearer(conn.headers)
    cookie = conn.cookies.get(access.COOKIE)
    try:
        target = await run_in_threadpool(
            access.enter, _center(conn), session_id, bearer=bearer, cookie=cookie
        )
    except Unauthenticated as e:
        return None, error_response(401, e.code, e.message)
    except ServiceError as e:
        return None, error_response(403, "forbidden", e.message)
    if _cross_site(conn.headers, by_cookie=bearer is None) and (
        isinstance(conn, WebSocket) or conn.method in UNSAFE
    ):
        return None, error_response(403, "forbidden", "cross-site request refused")
    if target.state is not SessionState.READY or target.address is None:
        status, what = (
            (409, "has stopped")
            if target.state is SessionState.STOPPED
            else (
                503,
                "is still starting; see `aidc notebook show`",
            )
        )
        return None, error_response(status, "not_ready", f"this notebook session {what}")
    return target, None


@router.get("/sessions/{session_id}")
def _slash(session_id: str) -> RedirectResponse:
    return RedirectResponse(jupyter.base_url(session_id), status_code=307)


@router.api_route("/sessions/{session_id}/{path:path}", methods=METHODS)
async def proxy(session_id: str, path: str, request: Request) -> Response:
    ticket = request.query_params.get("ticket")
    if ticket is not None:
        return await _login(request, session_id, path, ticket)
    target, refused = await _admit(request, session_id)
    if refused is not None:
        return refused
    assert target is not None and target.address is not None
    url = f"http://{target.address}{request.url.path}"
    if request.url.query:
        url += f"?{request.url.query}"
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in DROP_REQUEST]
    headers.append(("authorization", f"token {target.token}"))
    client = _http(request)
    body = await request.body()
    upstream_request = client.build_request(request.method, url, headers=headers, content=body)
    try:
        upstream = await client.send(upstream_request, stream=True)
    except httpx.HTTPError as e:
        return error_response(502, "bad_gateway", f"the session's JupyterLab does not answer: {e}")
    out = [(k, v) for k, v in upstream.headers.multi_items() if k.lower() not in DROP_RESPONSE]
    if upstream.headers.get("content-type", "").startswith("text/html"):
        # Pages embed JupyterLab's token in their config: take it out (the proxy sends it).
        page = await upstream.aread()
        await upstream.aclose()
        page = page[:MAX_PAGE].replace(target.token.encode(), b"")
        keep = [(k, v) for k, v in out if k.lower() not in ("content-length", "content-encoding")]
        response = Response(page, status_code=upstream.status_code)
        for k, v in keep:
            response.headers.append(k, v)
        return response
    streamed = StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        background=BackgroundTask(upstream.aclose),
    )
    for k, v in out:
        streamed.headers.append(k, v)
    return streamed


async def _login(request: Request, session_id: str, path: str, ticket: str) -> Response:
    """Turn a login ticket into the session's cookie, then go where the link pointed."""
    try:
        cookie, max_age = await run_in_threadpool(
            access.redeem, _center(request), session_id, ticket
        )
    except Forbidden as e:
        return error_response(403, "forbidden", e.message)
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "ticket"]
    where = f"{jupyter.base_url(session_id)}{path or 'lab'}"
    if rest:
        where += f"?{urlencode(rest)}"
    response = RedirectResponse(where, status_code=303)
    response.set_cookie(
        access.COOKIE,
        cookie,
        max_age=int(max_age),
        path=jupyter.base_url(session_id),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.websocket("/sessions/{session_id}/{path:path}")
async def proxy_ws(websocket: WebSocket, session_id: str, path: str) -> None:
    target, refused = await _admit(websocket, session_id)
    if refused is not None:
        # Before accept: the server answers the handshake with HTTP 403.
        await websocket.close(code=1008)
        return
    assert target is not None and target.address is not None
    url = f"ws://{target.address}{websocket.url.path}"
    if websocket.url.query:
        url += f"?{websocket.url.query}"
    offered = websocket.scope.get("subprotocols") or None
    try:
        upstream = await connect(
            url,
            additional_headers={"Authorization": f"token {target.token}"},
            subprotocols=offered,
            max_size=WS_MAX_MESSAGE,
            proxy=None,
            compression=None,
            open_timeout=10,
        )
    except (OSError, InvalidHandshake, InvalidStatus, TimeoutError):
        await websocket.close(code=1011)
        return
    async with upstream:
        await websocket.accept(subprotocol=upstream.subprotocol)
        await _pump(websocket, upstream)


async def _pump(websocket: WebSocket, upstream: Any) -> None:
    """Copy messages both ways until either side closes."""

    async def to_upstream() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text, data = message.get("text"), message.get("bytes")
            await upstream.send(text if text is not None else data)

    async def to_client() -> None:
        async for message in upstream:
            if isinstance(message, str):
                await websocket.send_text(message)
            else:
                await websocket.send_bytes(message)

    tasks = [asyncio.create_task(to_upstream()), asyncio.create_task(to_client())]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in (*done, *pending):
        with contextlib.suppress(
            asyncio.CancelledError, ConnectionClosed, WebSocketDisconnect, RuntimeError
        ):
            await task
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close()
