"""The client's notebook and environment calls (``Client`` inherits them;
docs/notebooks.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from aidc.client_paths import Calls
from aidc.schemas_notebooks import EnvironmentView, LoginLink, NotebookView


class NotebookCalls(Calls):
    # -- notebook -------------------------------------------------------------------------

    def start_notebook(self, **fields: Any) -> NotebookView:
        """Start a JupyterLab session: project, and optionally accelerators,
        accelerator_type, cpus, memory_mib, time_limit_s, environment, datasets, shared,
        idle_timeout_s. It starts as "starting"; ``wait_notebook`` waits until it is ready."""
        r = self._request("POST", "/v1/notebooks", json=fields)
        return NotebookView.model_validate(r.json())

    def notebooks(self, active: bool = False) -> list[NotebookView]:
        params = {"active": "true"} if active else {}
        r = self._request("GET", "/v1/notebooks", params=params)
        return [NotebookView.model_validate(x) for x in r.json()]

    def notebook(self, session_id: str) -> NotebookView:
        r = self._request("GET", f"/v1/notebooks/{quote(session_id, safe='')}")
        return NotebookView.model_validate(r.json())

    def stop_notebook(self, session_id: str) -> NotebookView:
        r = self._request("POST", f"/v1/notebooks/{quote(session_id, safe='')}/stop")
        return NotebookView.model_validate(r.json())

    def restart_notebook(self, session_id: str) -> NotebookView:
        r = self._request("POST", f"/v1/notebooks/{quote(session_id, safe='')}/restart")
        return NotebookView.model_validate(r.json())

    def notebook_link(self, session_id: str) -> str:
        """A browser link that logs in to the session (valid two minutes, for you only)."""
        r = self._request("POST", f"/v1/notebooks/{quote(session_id, safe='')}/login")
        return self.url + LoginLink.model_validate(r.json()).url

    def wait_notebook(
        self, session_id: str, timeout: float | None = None, poll_s: float = 0.1
    ) -> Iterator[NotebookView]:
        """The session's view each time its message changes, until it is ready or stopped
        (or ``timeout`` seconds passed); the last one yielded says which."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last = None
        while True:
            nb = self.notebook(session_id)
            if (nb.state, nb.message) != last:
                last = (nb.state, nb.message)
                yield nb
            if nb.state != "starting" or (deadline is not None and time.monotonic() > deadline):
                return
            time.sleep(poll_s)

    def create_environment(self, **fields: Any) -> EnvironmentView:
        """name, and requirements (a requirements.txt's text), modules, image."""
        r = self._request("POST", "/v1/environments", json=fields)
        return EnvironmentView.model_validate(r.json())

    def environments(self) -> list[EnvironmentView]:
        r = self._request("GET", "/v1/environments")
        return [EnvironmentView.model_validate(x) for x in r.json()]

    def environment(self, name: str) -> EnvironmentView:
        r = self._request("GET", f"/v1/environments/{quote(name, safe='')}")
        return EnvironmentView.model_validate(r.json())

    def environment_log(self, name: str) -> str:
        return self._request("GET", f"/v1/environments/{quote(name, safe='')}/log").text
