"""Talk to a session's JupyterLab through the aidc proxy, as JupyterLab's frontend does:
HTTP for kernels, the kernel's WebSocket for code (Jupyter message protocol 5.3)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import uuid

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import skip_or_fail


def need_jupyterlab() -> None:
    if importlib.util.find_spec("jupyterlab") is None:
        skip_or_fail("jupyterlab is not installed (pip install 'aidc[notebook]')")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start_kernel(base: str, session_id: str, token: str) -> str:
    r = httpx.post(
        f"{base}/sessions/{session_id}/api/kernels",
        headers=bearer(token),
        json={"name": "python3"},
        timeout=30,
    )
    assert r.status_code == 201, (r.status_code, r.text)
    return str(r.json()["id"])


def execute(base: str, session_id: str, kernel_id: str, code: str, headers: dict[str, str]) -> str:
    """Run ``code`` in the kernel over its WebSocket; what it printed."""
    return asyncio.run(_execute(base, session_id, kernel_id, code, headers))


async def _execute(
    base: str, session_id: str, kernel_id: str, code: str, headers: dict[str, str]
) -> str:
    url = (
        base.replace("http://", "ws://")
        + f"/sessions/{session_id}/api/kernels/{kernel_id}/channels"
    )
    msg_id = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": msg_id,
            "username": "test",
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "channel": "shell",
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
    }
    printed = []
    async with connect(url, additional_headers=headers, proxy=None, open_timeout=30) as ws:
        await ws.send(json.dumps(request))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind == "error":
                raise AssertionError(f"the kernel raised {content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(printed)


def ws_status(base: str, path: str, headers: dict[str, str]) -> int:
    """The HTTP status a WebSocket handshake to ``path`` gets (101 when it is accepted)."""

    async def attempt() -> int:
        url = base.replace("http://", "ws://") + path
        try:
            async with connect(url, additional_headers=headers, proxy=None, open_timeout=10):
                return 101
        except InvalidStatus as e:
            return int(e.response.status_code)

    return asyncio.run(attempt())
