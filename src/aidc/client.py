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

import hashlib
import os
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpcore
import httpx

from aidc.batched_thread import BatchedThread
from aidc.client_allocations import AllocationCalls
from aidc.client_datasets import DatasetCalls
from aidc.client_notebooks import NotebookCalls
from aidc.client_validations import ValidationCalls
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
from aidc.schemas_audit import AuditEventView, TokenIssued, TokenView

DEFAULT_URL = "http://127.0.0.1:8080"
# httpcore reads a response 64 KiB per recv, and each piece costs more Python in h11 than
# its bytes cost to copy: a GB download reads 1 MiB at a time (a recv returns what has
# arrived, so small answers are not held back).
httpcore.HTTP11Connection.READ_NUM_BYTES = 1024 * 1024


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


class Client(AllocationCalls, DatasetCalls, NotebookCalls, ValidationCalls):
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

    def whoami(self, *, login: bool = False) -> WhoAmI:
        """``login``: record this check as a sign-in in the server's security log."""
        params = {"login": "true"} if login else None
        return WhoAmI.model_validate(self._request("GET", "/v1/whoami", params=params).json())

    def set_password(
        self, password: str, username: str | None = None, current: str | None = None
    ) -> None:
        """Set the web portal's password: yours, or (center admins) ``username``'s."""
        path = f"/v1/users/{username}/password" if username else "/v1/me/password"
        body = {"password": password, "current_password": current}
        self._request("POST", path, json=body)

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

    def _download(self, url: str) -> Iterator[bytes]:
        try:
            with self._http.stream("GET", url, timeout=httpx.Timeout(60.0, read=600.0)) as r:
                if r.status_code >= 400:
                    r.read()
                    self._raise(r)
                want = r.headers.get("x-aidc-sha256")
                h = hashlib.sha256()
                with BatchedThread(h.update, "sha256") as hashing:
                    for chunk in r.iter_raw():  # as they come: re-chunking costs a copy
                        hashing.add(chunk)
                        yield chunk
                if want and h.hexdigest() != want:
                    message = f"{url}: the bytes received do not match their SHA-256"
                    raise ApiError(502, ErrorBody(error="corrupt", message=message))
        except httpx.TransportError as e:
            raise ConnectionFailed(self._unreachable(e)) from None

    # -- tokens and the security log (schemas_audit) ---------------------------------------

    def tokens(self, user: str | None = None) -> list[TokenView]:
        """Your API tokens (center admins: ``user``'s), without their secrets."""
        r = self._request("GET", "/v1/tokens", params={"user": user} if user else None)
        return [TokenView.model_validate(t) for t in r.json()]

    def create_token(self, name: str = "cli", ttl_s: float | None = None) -> TokenIssued:
        r = self._request("POST", "/v1/tokens", json={"name": name, "ttl_s": ttl_s})
        return TokenIssued.model_validate(r.json())

    def revoke_token(self, token_id: int) -> TokenView:
        r = self._request("DELETE", f"/v1/tokens/{token_id}")
        return TokenView.model_validate(r.json())

    def security_log(
        self, action: str | None = None, actor: str | None = None, limit: int = 1000
    ) -> list[AuditEventView]:
        """The security audit log, oldest first (center admins)."""
        params: dict[str, Any] = {"limit": limit}
        if action:
            params["action"] = action
        if actor:
            params["actor"] = actor
        r = self._request("GET", "/v1/audit", params=params)
        return [AuditEventView.model_validate(e) for e in r.json()]
