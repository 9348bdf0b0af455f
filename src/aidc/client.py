"""The aidc Python client: everything the CLI does, for your own scripts.

    from aidc.client import Client

    c = Client("http://127.0.0.1:8080", token="aidc_...")   # or Client.from_config()
    job = c.submit(project="hanbit-vision", command=["python", "train.py"],
                   accelerators=1, accelerator_type="a100", time_limit_s="1h")
    job = c.wait(job.id)
    print(job.state, c.logs(job.id))

Errors from the server raise ``ApiError`` with the HTTP status, a message and the fields at
fault; a server that cannot be reached raises ``ConnectionFailed``.
"""

from __future__ import annotations

import os
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from aidc.core.job_states import JobState
from aidc.schemas import (
    CancelResultView,
    CohortView,
    ErrorBody,
    EventView,
    JobView,
    NodeView,
    PolicyView,
    ProjectShares,
    QuotaView,
    WhoAmI,
)
from aidc.schemas_courses import CourseView, RosterImportView, StudentView
from aidc.schemas_notebooks import EnvironmentView, LoginLink, NotebookView

DEFAULT_URL = "http://127.0.0.1:8080"


def config_path() -> Path:
    env = os.environ.get("AIDC_CONFIG")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "aidc" / "config.toml"


def load_config() -> dict[str, Any]:
    try:
        return tomllib.loads(config_path().read_text())
    except FileNotFoundError:
        return {}


class ClientError(Exception):
    """Base of what the client raises."""


class ConnectionFailed(ClientError):
    pass


class ApiError(ClientError):
    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(body.message)
        self.status = status
        self.code = body.error
        self.message = body.message
        self.fields = [(f.field, f.message) for f in body.fields]

    @property
    def is_user_error(self) -> bool:
        return 400 <= self.status < 500


class Client:
    def __init__(
        self, url: str = DEFAULT_URL, token: str | None = None, timeout: float = 30.0
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    @classmethod
    def from_config(cls) -> Client:
        """URL and token from AIDC_URL / AIDC_TOKEN, else the config file `aidc login` wrote."""
        cfg = load_config()
        return cls(
            url=os.environ.get("AIDC_URL") or cfg.get("url") or DEFAULT_URL,
            token=os.environ.get("AIDC_TOKEN") or cfg.get("token"),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls ----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return dict(self._request("GET", "/healthz").json())

    def whoami(self) -> WhoAmI:
        return WhoAmI.model_validate(self._request("GET", "/v1/whoami").json())

    def submit(self, spec: dict[str, Any] | None = None, **fields: Any) -> JobView:
        """Submit a job spec (a dict, or keyword fields: project, command, accelerators...)."""
        body = {**(spec or {}), **fields}
        return JobView.model_validate(self._request("POST", "/v1/jobs", json=body).json())

    def jobs(
        self,
        *,
        state: JobState | str | None = None,
        project: str | None = None,
        user: str | None = None,
        limit: int = 100,
    ) -> list[JobView]:
        params = {
            k: str(v)
            for k, v in {"state": state, "project": project, "user": user, "limit": limit}.items()
            if v is not None
        }
        data = self._request("GET", "/v1/jobs", params=params).json()
        return [JobView.model_validate(j) for j in data]

    def job(self, job_id: str) -> JobView:
        return JobView.model_validate(self._request("GET", f"/v1/jobs/{job_id}").json())

    def cancel(self, job_id: str) -> JobView:
        return JobView.model_validate(self._request("POST", f"/v1/jobs/{job_id}/cancel").json())

    def cancel_many(self, job_ids: list[str]) -> list[CancelResultView]:
        r = self._request("POST", "/v1/jobs/cancel", json={"ids": job_ids})
        return [CancelResultView.model_validate(x) for x in r.json()]

    def events(self, job_id: str) -> list[EventView]:
        data = self._request("GET", f"/v1/jobs/{job_id}/events").json()
        return [EventView.model_validate(e) for e in data]

    def logs(self, job_id: str, offset: int = 0) -> str:
        r = self._request("GET", f"/v1/jobs/{job_id}/logs", params={"offset": offset})
        return r.text

    def follow_logs(self, job_id: str, offset: int = 0) -> Iterator[bytes]:
        """The job's output as it is written, until the job ends."""
        try:
            with self._http.stream(
                "GET",
                f"/v1/jobs/{job_id}/logs",
                params={"offset": offset, "follow": "true"},
                timeout=httpx.Timeout(30.0, read=None),
            ) as r:
                if r.status_code >= 400:
                    r.read()
                    self._raise(r)
                yield from r.iter_raw()
        except httpx.TransportError as e:
            raise ConnectionFailed(self._unreachable(e)) from None

    def export_jobs(self, project: str | None = None) -> Iterator[str]:
        """The job history as CSV text, streamed (``aidc.services.job_export``)."""
        params = {"project": project} if project else {}
        try:
            with self._http.stream(
                "GET", "/v1/jobs/export", params=params, timeout=httpx.Timeout(30.0, read=None)
            ) as r:
                if r.status_code >= 400:
                    r.read()
                    self._raise(r)
                yield from r.iter_text()
        except httpx.TransportError as e:
            raise ConnectionFailed(self._unreachable(e)) from None

    def nodes(self) -> list[NodeView]:
        return [NodeView.model_validate(n) for n in self._request("GET", "/v1/nodes").json()]

    def wait(self, job_id: str, timeout: float | None = None, poll_s: float = 0.2) -> JobView:
        """Block until the job has finished (or ``timeout`` seconds passed); its last view."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job.state.is_terminal or (deadline is not None and time.monotonic() > deadline):
                return job
            time.sleep(poll_s)

    # -- quotas, cohorts and shares (changes need center-admin) ---------------------------

    def quotas(self) -> list[QuotaView]:
        """Quotas you may see, with use now and what of it is borrowed."""
        return [QuotaView.model_validate(q) for q in self._request("GET", "/v1/quotas").json()]

    def set_quota(
        self,
        resource: str,
        nominal: float,
        *,
        project: str | None = None,
        cohort: str | None = None,
        borrowing_limit: float | None = None,
        lending_limit: float | None = None,
    ) -> QuotaView:
        """Set (replace) one resource of a project's or a cohort's quota (give one of them).
        Limits left out mean no borrowing cap and all unused quota lendable."""
        body = {
            "project": project,
            "cohort": cohort,
            "resource": resource,
            "nominal": nominal,
            "borrowing_limit": borrowing_limit,
            "lending_limit": lending_limit,
        }
        return QuotaView.model_validate(self._request("PUT", "/v1/quotas", json=body).json())

    def clear_quota(
        self, resource: str, *, project: str | None = None, cohort: str | None = None
    ) -> None:
        params = {
            k: v
            for k, v in {"resource": resource, "project": project, "cohort": cohort}.items()
            if v is not None
        }
        self._request("DELETE", "/v1/quotas", params=params)

    def cohorts(self) -> list[CohortView]:
        """The cohort tree as far as you may see it, parents before children."""
        return [CohortView.model_validate(c) for c in self._request("GET", "/v1/cohorts").json()]

    def create_cohort(
        self, name: str, *, parent: str | None = None, kind: str = "program"
    ) -> CohortView:
        body = {"name": name, "kind": kind, "parent": parent}
        return CohortView.model_validate(self._request("POST", "/v1/cohorts", json=body).json())

    def move_cohort(self, name: str, parent: str | None) -> CohortView:
        """Put cohort ``name`` under program ``parent`` (None: at the root)."""
        r = self._request("PATCH", f"/v1/cohorts/{quote(name, safe='')}", json={"parent": parent})
        return CohortView.model_validate(r.json())

    def set_shares(self, project: str, shares: float) -> ProjectShares:
        r = self._request(
            "PUT", f"/v1/projects/{quote(project, safe='')}/shares", json={"shares": shares}
        )
        return ProjectShares.model_validate(r.json())

    # -- plumbing -------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self._http.request(method, path, **kw)
        except httpx.TransportError as e:
            raise ConnectionFailed(self._unreachable(e)) from None
        if r.status_code >= 400:
            self._raise(r)
        return r

    def _unreachable(self, e: Exception) -> str:
        return f"cannot reach the aidc server at {self.url} ({e}); is `aidc server` running?"

    @staticmethod
    def _raise(r: httpx.Response) -> None:
        try:
            body = ErrorBody.model_validate(r.json())
        except ValueError:
            body = ErrorBody(error="http_error", message=f"HTTP {r.status_code}: {r.text[:200]}")
        raise ApiError(r.status_code, body)

    # -- scheduling policy ----------------------------------------------------------------

    def policy(self) -> PolicyView:
        """The scheduling policy in effect (anyone signed in may read it)."""
        return PolicyView.model_validate(self._request("GET", "/v1/policy").json())

    def set_policy(self, toml: str | None = None, preset: str | None = None) -> PolicyView:
        """Replace the policy with TOML text or a preset (give exactly one; center admins)."""
        body = {k: v for k, v in {"toml": toml, "preset": preset}.items() if v is not None}
        return PolicyView.model_validate(self._request("PUT", "/v1/policy", json=body).json())

    # -- course --------------------------------------------------------------------------

    def create_course(self, **fields: Any) -> CourseView:
        """Create a course: name, organisation, program, instructor, starts_at, ends_at
        (POSIX seconds), student_hours, and optionally title, student_quota, datasets."""
        r = self._request("POST", "/v1/courses", json=fields)
        return CourseView.model_validate(r.json())

    def courses(self) -> list[CourseView]:
        return [CourseView.model_validate(x) for x in self._request("GET", "/v1/courses").json()]

    def course(self, name: str) -> CourseView:
        """The course with its students and their credit use."""
        r = self._request("GET", f"/v1/courses/{quote(name, safe='')}")
        return CourseView.model_validate(r.json())

    def course_students(self, name: str) -> list[StudentView]:
        r = self._request("GET", f"/v1/courses/{quote(name, safe='')}/students")
        return [StudentView.model_validate(x) for x in r.json()]

    def import_roster(self, name: str, csv_text: str) -> RosterImportView:
        """Enrol a roster (username,email,full_name); the new students' tokens, once."""
        r = self._request(
            "POST",
            f"/v1/courses/{quote(name, safe='')}/roster",
            content=csv_text.encode(),
            headers={"Content-Type": "text/csv; charset=utf-8"},
        )
        return RosterImportView.model_validate(r.json())

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
