"""The client's calls for organisations, invitations, programs, allocations, courses,
reports and the ledger (``Client`` inherits them; docs/allocations.md, docs/reports.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aidc.client_paths import Calls
from aidc.schemas_allocations import (
    AllocationEventView,
    AllocationView,
    InvitationView,
    Joined,
    MemberView,
    OrganisationView,
    ProgramView,
)
from aidc.schemas_courses import CourseView, RosterImportView, StudentView
from aidc.schemas_ledger import CreditView, LedgerEntryView, NotificationView
from aidc.schemas_reports import BurnDown, UsageReport, UtilisationReport


class AllocationCalls(Calls):
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


def _report_params(
    by: list[str] | tuple[str, ...], month: str | None, from_: str | None, to: str | None
) -> list[tuple[str, str]]:
    params = [("by", key) for key in by]
    for name, value in (("month", month), ("from", from_), ("to", to)):
        if value is not None:
            params.append((name, value))
    return params
