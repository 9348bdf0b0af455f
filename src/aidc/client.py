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
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

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
from aidc.schemas_allocations import (
    AllocationEventView,
    AllocationView,
    InvitationView,
    Joined,
    MemberView,
    OrganisationView,
    ProgramView,
)
from aidc.schemas_audit import AuditEventView, TokenIssued, TokenView
from aidc.schemas_courses import CourseView, RosterImportView, StudentView
from aidc.schemas_datasets import (
    AirlockView,
    AuditView,
    DatasetView,
    GrantView,
    ManifestView,
    PreviewView,
    StorageView,
    UploadFileView,
    UploadView,
)
from aidc.schemas_ledger import CreditView, LedgerEntryView, NotificationView
from aidc.schemas_notebooks import EnvironmentView, LoginLink, NotebookView
from aidc.schemas_reports import BurnDown, UsageReport, UtilisationReport

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


class Client(ValidationCalls):
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

    # -- reports --------------------------------------------------------------------------

    def usage_report(
        self,
        by: list[str] | tuple[str, ...] = (),
        *,
        month: str | None = None,
        from_: str | None = None,
        to: str | None = None,
    ) -> UsageReport:
        """Usage you may see, grouped by ``by`` (org, project, program, org-kind, sector,
        region, accelerator-type, day, month) over a month (YYYY-MM), from/to dates, or
        all time."""
        params = _report_params(by, month, from_, to)
        return UsageReport.model_validate(
            self._request("GET", "/v1/reports/usage", params=params).json()
        )

    def usage_report_csv(
        self,
        by: list[str] | tuple[str, ...] = (),
        *,
        month: str | None = None,
        from_: str | None = None,
        to: str | None = None,
    ) -> str:
        """The same report as CSV text (a ``row`` column: ``group`` rows, then ``total``)."""
        params = [*_report_params(by, month, from_, to), ("format", "csv")]
        return self._request("GET", "/v1/reports/usage", params=params).text

    def utilisation_report(
        self, *, month: str | None = None, from_: str | None = None, to: str | None = None
    ) -> UtilisationReport:
        """Capacity, allocation and use per accelerator type (center admins, reviewers)."""
        params = _report_params((), month, from_, to)
        r = self._request("GET", "/v1/reports/utilisation", params=params)
        return UtilisationReport.model_validate(r.json())

    def burndown(
        self, *, allocation: int | None = None, project: str | None = None
    ) -> list[BurnDown]:
        """Burn-down of one allocation, or of each of a project's allocations."""
        params = {
            k: str(v)
            for k, v in {"allocation": allocation, "project": project}.items()
            if v is not None
        }
        data = self._request("GET", "/v1/reports/burndown", params=params).json()
        return [BurnDown.model_validate(b) for b in data]

    def metrics_text(self) -> str:
        """The Prometheus metrics (center admins)."""
        return self._request("GET", "/metrics").text

    # -- alloc: organisations, invitations, programs, allocations (docs/allocations.md) -----

    def organisations(self) -> list[OrganisationView]:
        """Your organisation; every one for center admins and reviewers."""
        r = self._request("GET", "/v1/organisations")
        return [OrganisationView.model_validate(o) for o in r.json()]

    def organisation(self, name: str) -> OrganisationView:
        r = self._request("GET", f"/v1/organisations/{quote(name, safe='')}")
        return OrganisationView.model_validate(r.json())

    def create_organisation(self, name: str, kind: str, **details: str) -> OrganisationView:
        """``details``: registration_number (NNN-NN-NNNNN), region, sector."""
        body = {"name": name, "kind": kind, **details}
        return OrganisationView.model_validate(
            self._request("POST", "/v1/organisations", json=body).json()
        )

    def update_organisation(self, name: str, **fields: str | None) -> OrganisationView:
        body = {k: v for k, v in fields.items() if v is not None}
        r = self._request("PATCH", f"/v1/organisations/{quote(name, safe='')}", json=body)
        return OrganisationView.model_validate(r.json())

    def members(self, organisation: str) -> list[MemberView]:
        r = self._request("GET", f"/v1/organisations/{quote(organisation, safe='')}/members")
        return [MemberView.model_validate(m) for m in r.json()]

    def set_role(self, organisation: str, username: str, role: str) -> MemberView:
        path = (
            f"/v1/organisations/{quote(organisation, safe='')}/members/"
            f"{quote(username, safe='')}/role"
        )
        return MemberView.model_validate(self._request("PUT", path, json={"role": role}).json())

    def invite(
        self, organisation: str, username: str, role: str = "member", projects: tuple[str, ...] = ()
    ) -> InvitationView:
        """An invitation; its ``code`` is in this answer only."""
        body = {"username": username, "role": role, "projects": list(projects)}
        path = f"/v1/organisations/{quote(organisation, safe='')}/invitations"
        return InvitationView.model_validate(self._request("POST", path, json=body).json())

    def invitations(self, organisation: str) -> list[InvitationView]:
        r = self._request("GET", f"/v1/organisations/{quote(organisation, safe='')}/invitations")
        return [InvitationView.model_validate(i) for i in r.json()]

    def revoke_invitation(self, invitation_id: int) -> InvitationView:
        r = self._request("DELETE", f"/v1/invitations/{int(invitation_id)}")
        return InvitationView.model_validate(r.json())

    def accept_invitation(self, code: str, username: str) -> Joined:
        """Join with an invitation code; needs no token. The answer holds your token."""
        body = {"code": code, "username": username}
        return Joined.model_validate(
            self._request("POST", "/v1/invitations/accept", json=body).json()
        )

    def programs(self) -> list[ProgramView]:
        return [ProgramView.model_validate(p) for p in self._request("GET", "/v1/programs").json()]

    def program(self, name: str) -> ProgramView:
        r = self._request("GET", f"/v1/programs/{quote(name, safe='')}")
        return ProgramView.model_validate(r.json())

    def create_program(self, name: str, **fields: Any) -> ProgramView:
        """``fields`` as in ``ProgramCreate``: starts_at, ends_at, budget_hours, rules, ..."""
        body = {"name": name, **fields}
        return ProgramView.model_validate(self._request("POST", "/v1/programs", json=body).json())

    def allocations(
        self, *, state: str | None = None, program: str | None = None, project: str | None = None
    ) -> list[AllocationView]:
        params = {
            k: v
            for k, v in {"state": state, "program": program, "project": project}.items()
            if v is not None
        }
        r = self._request("GET", "/v1/allocations", params=params)
        return [AllocationView.model_validate(a) for a in r.json()]

    def allocation(self, allocation_id: int) -> AllocationView:
        r = self._request("GET", f"/v1/allocations/{int(allocation_id)}")
        return AllocationView.model_validate(r.json())

    def allocation_history(self, allocation_id: int) -> list[AllocationEventView]:
        r = self._request("GET", f"/v1/allocations/{int(allocation_id)}/events")
        return [AllocationEventView.model_validate(e) for e in r.json()]

    def request_allocation(self, **fields: Any) -> AllocationView:
        """``fields`` as in ``AllocationCreate``: project, program, justification, hours, ..."""
        r = self._request("POST", "/v1/allocations", json=fields)
        return AllocationView.model_validate(r.json())

    def allocation_action(self, allocation_id: int, action: str, **body: Any) -> AllocationView:
        """comment, ask-changes, resubmit, approve, reject, withdraw, renew or change; ``body``
        as the API documents for it (``reason``, amounts, dates)."""
        payload = {k: v for k, v in body.items() if v is not None}
        r = self._request(
            "POST", f"/v1/allocations/{int(allocation_id)}/{quote(action)}", json=payload
        )
        return AllocationView.model_validate(r.json())

    # -- ledger: credits, notifications, usage entries ------------------------------------

    def credits(self, project: str | None = None) -> list[CreditView]:
        """Credit balances of the projects you may see."""
        params = {"project": project} if project else {}
        r = self._request("GET", "/v1/credits", params=params)
        return [CreditView.model_validate(c) for c in r.json()]

    def notifications(self, limit: int = 100) -> list[NotificationView]:
        """Notifications to your organisation (credit warnings), newest first."""
        r = self._request("GET", "/v1/notifications", params={"limit": limit})
        return [NotificationView.model_validate(n) for n in r.json()]

    def ledger(
        self, job: str | None = None, project: str | None = None, limit: int = 1000
    ) -> list[LedgerEntryView]:
        """Usage ledger entries you may see, of a job or a project, oldest first."""
        params: dict[str, Any] = {"limit": limit}
        if job:
            params["job"] = job
        if project:
            params["project"] = project
        r = self._request("GET", "/v1/ledger", params=params)
        return [LedgerEntryView.model_validate(e) for e in r.json()]

    # -- datasets --------------------------------------------------------------------------

    def create_dataset(self, **fields: Any) -> DatasetView:
        """A new dataset: name, sector, tier, and optionally owner, title, card, licence, tags."""
        return DatasetView.model_validate(self._request("POST", "/v1/datasets", json=fields).json())

    def datasets(self, **filters: str | None) -> list[DatasetView]:
        """The catalog, filtered by q (name/title text), sector, tag, tier."""
        params = {k: v for k, v in filters.items() if v}
        return [
            DatasetView.model_validate(d)
            for d in self._request("GET", "/v1/datasets", params=params).json()
        ]

    def dataset(self, name: str) -> DatasetView:
        return DatasetView.model_validate(self._request("GET", f"/v1/datasets/{_q(name)}").json())

    def start_upload(self, name: str, files: list[dict[str, Any]], note: str = "") -> UploadView:
        r = self._request(
            "POST", f"/v1/datasets/{_q(name)}/uploads", json={"files": files, "note": note}
        )
        return UploadView.model_validate(r.json())

    def upload_status(self, name: str, upload_id: str) -> UploadView:
        r = self._request("GET", f"/v1/datasets/{_q(name)}/uploads/{_q(upload_id)}")
        return UploadView.model_validate(r.json())

    def put_chunk(
        self, name: str, upload_id: str, idx: int, offset: int, data: bytes
    ) -> UploadFileView:
        r = self._request(
            "PUT",
            f"/v1/datasets/{_q(name)}/uploads/{_q(upload_id)}/files/{idx}",
            params={"offset": offset},
            # In pieces: httpcore sends a body with ``buffer = buffer[n:]`` after each
            # partial send, which copies the rest of a 64 MiB chunk again and again.
            content=_pieces(data),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
            timeout=httpx.Timeout(300.0),
        )
        return UploadFileView.model_validate(r.json())

    def commit_upload(
        self, name: str, upload_id: str, sums: dict[int, str] | None = None
    ) -> UploadView:
        """Commit; ``sums``: file number -> SHA-256 for files declared without one."""
        body = {"files": [{"idx": i, "sha256": h} for i, h in (sums or {}).items()]}
        r = self._request(
            "POST",
            f"/v1/datasets/{_q(name)}/uploads/{_q(upload_id)}/commit",
            json=body,
            timeout=httpx.Timeout(3600.0),
        )
        return UploadView.model_validate(r.json())

    def abort_upload(self, name: str, upload_id: str) -> UploadView:
        r = self._request("DELETE", f"/v1/datasets/{_q(name)}/uploads/{_q(upload_id)}")
        return UploadView.model_validate(r.json())

    def manifest(self, name: str, version: int | None = None) -> ManifestView:
        r = self._request("GET", f"/v1/datasets/{_q(name)}/versions/{version or 'latest'}/manifest")
        return ManifestView.model_validate(r.json())

    def download_file(self, name: str, version: int | None, path: str) -> Iterator[bytes]:
        """A file's bytes as they arrive; raises ClientError when they do not hash to the
        SHA-256 the server announced (X-Aidc-Sha256)."""
        url = f"/v1/datasets/{_q(name)}/versions/{version or 'latest'}/files/{quote(path)}"
        return self._download(url)

    def archive(self, name: str, version: int | None = None) -> Iterator[bytes]:
        return self._download(f"/v1/datasets/{_q(name)}/versions/{version or 'latest'}/archive")

    def preview(self, name: str, version: int | None, path: str, rows: int = 10) -> PreviewView:
        r = self._request(
            "GET",
            f"/v1/datasets/{_q(name)}/versions/{version or 'latest'}/preview",
            params={"path": path, "rows": rows},
        )
        return PreviewView.model_validate(r.json())

    def storage(self, organisation: str | None = None) -> StorageView:
        params = {"organisation": organisation} if organisation else {}
        return StorageView.model_validate(self._request("GET", "/v1/storage", params=params).json())

    def request_grant(self, **fields: Any) -> GrantView:
        """Ask for access: dataset, project (or course), purpose, ends_at (POSIX s), optionally
        starts_at."""
        fields = {k: v for k, v in fields.items() if v is not None}
        return GrantView.model_validate(
            self._request("POST", "/v1/dataset-grants", json=fields).json()
        )

    def grants(self, dataset: str | None = None, state: str | None = None) -> list[GrantView]:
        params = {k: v for k, v in {"dataset": dataset, "state": state}.items() if v}
        r = self._request("GET", "/v1/dataset-grants", params=params)
        return [GrantView.model_validate(g) for g in r.json()]

    def decide_grant(self, grant_id: int, decision: str, reason: str = "") -> GrantView:
        """decision: approve, reject or revoke (data stewards)."""
        r = self._request(
            "POST", f"/v1/dataset-grants/{grant_id}/{decision}", json={"reason": reason}
        )
        return GrantView.model_validate(r.json())

    def airlock(self, state: str | None = None) -> list[AirlockView]:
        params = {"state": state} if state else {}
        return [
            AirlockView.model_validate(a)
            for a in self._request("GET", "/v1/airlock", params=params).json()
        ]

    def airlock_output(self, job_id: str) -> AirlockView:
        return AirlockView.model_validate(self._request("GET", f"/v1/airlock/{_q(job_id)}").json())

    def decide_output(self, job_id: str, decision: str, reason: str = "") -> AirlockView:
        """decision: release or reject (data stewards)."""
        r = self._request("POST", f"/v1/airlock/{_q(job_id)}/{decision}", json={"reason": reason})
        return AirlockView.model_validate(r.json())

    def download_output(self, job_id: str, path: str) -> Iterator[bytes]:
        return self._download(f"/v1/airlock/{_q(job_id)}/files/{quote(path)}")

    def dataset_audit(self, **filters: Any) -> list[AuditView]:
        """The dataset audit log: dataset, actor, action, project, outcome, since, until, limit."""
        params = {k: v for k, v in filters.items() if v is not None}
        return [
            AuditView.model_validate(a)
            for a in self._request("GET", "/v1/audit/datasets", params=params).json()
        ]

    def dataset_audit_csv(self, **filters: Any) -> str:
        params = {k: v for k, v in filters.items() if v is not None}
        return self._request("GET", "/v1/audit/datasets", params={**params, "format": "csv"}).text

    def _download(self, url: str) -> Iterator[bytes]:
        try:
            with self._http.stream("GET", url, timeout=httpx.Timeout(60.0, read=600.0)) as r:
                if r.status_code >= 400:
                    r.read()
                    self._raise(r)
                want = r.headers.get("x-aidc-sha256")
                h = _ThreadedHash()
                for chunk in r.iter_raw():  # as they come: re-chunking costs a copy
                    h.update(chunk)
                    yield chunk
                if want and h.hexdigest() != want:
                    message = f"{url}: the bytes received do not match their SHA-256"
                    raise ApiError(502, ErrorBody(error="corrupt", message=message))
        except httpx.TransportError as e:
            raise ConnectionFailed(self._unreachable(e)) from None

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


def _q(part: str) -> str:
    return quote(part, safe="")


def _report_params(
    by: list[str] | tuple[str, ...], month: str | None, from_: str | None, to: str | None
) -> list[tuple[str, str]]:
    params = [("by", key) for key in by]
    for name, value in (("month", month), ("from", from_), ("to", to)):
        if value is not None:
            params.append((name, value))
    return params


SEND_PIECE = 1024 * 1024


def _pieces(data: bytes) -> Iterator[memoryview]:
    view = memoryview(data)
    for at in range(0, len(view), SEND_PIECE):
        yield view[at : at + SEND_PIECE]


def _feed(h: Any, pieces: list[bytes]) -> None:
    for piece in pieces:
        h.update(piece)


class _ThreadedHash:
    """SHA-256 of a download computed in a thread, a batch of pieces at a time, while
    the next bytes are received and written (hashlib releases the GIL on big buffers)."""

    BATCH = 8 * 1024 * 1024

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sha256")
        self._pending: list[bytes] = []
        self._size = 0
        self._busy: Future[None] | None = None

    def update(self, piece: bytes) -> None:
        self._pending.append(piece)
        self._size += len(piece)
        if self._size >= self.BATCH:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._busy is not None:
            self._busy.result()
        batch, self._pending, self._size = self._pending, [], 0
        self._busy = self._pool.submit(_feed, self._h, batch)

    def hexdigest(self) -> str:
        self._hand_over()
        if self._busy is not None:
            self._busy.result()
        self._pool.shutdown()
        return self._h.hexdigest()
