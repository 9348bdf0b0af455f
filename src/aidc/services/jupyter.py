"""What the server asks a session's JupyterLab itself, with the session's token: does it
answer (readiness), and its kernels and terminals (idleness). Short timeouts: the
controller asks from its one thread."""

from __future__ import annotations

from typing import Any

import httpx

PROBE_TIMEOUT_S = 0.5
ACTIVITY_TIMEOUT_S = 3.0


def base_url(session_id: str) -> str:
    """The path JupyterLab serves under; the proxy forwards it unchanged."""
    return f"/sessions/{session_id}/"


def _get(address: str, session_id: str, token: str, path: str, timeout: float) -> Any:
    url = f"http://{address}{base_url(session_id)}{path}"
    r = httpx.get(
        url, headers={"Authorization": f"token {token}"}, timeout=timeout, trust_env=False
    )
    r.raise_for_status()
    return r.json()


def answers(address: str, session_id: str, token: str) -> bool:
    """JupyterLab answers ``api/status`` with the session's token."""
    try:
        _get(address, session_id, token, "api/status", PROBE_TIMEOUT_S)
    except (httpx.HTTPError, ValueError):
        return False
    return True


def activity(
    address: str, session_id: str, token: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The session's kernels and terminals (JupyterLab's JSON), or None if it does not
    answer. Asking for them is not itself activity: idleness is read from their own
    ``last_activity`` (see aidc.core.notebooks.last_activity)."""
    try:
        kernels = _get(address, session_id, token, "api/kernels", ACTIVITY_TIMEOUT_S)
        terminals = _get(address, session_id, token, "api/terminals", ACTIVITY_TIMEOUT_S)
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(kernels, list) or not isinstance(terminals, list):
        return None
    return kernels, terminals
