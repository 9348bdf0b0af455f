"""Tenant views of the ledger: credit balances, notifications and ledger entries.

Scoped like jobs: members (and viewers) see their projects, org admins their
organisation's projects too, center admins everything. Notifications go to an
organisation: its admins see them all, members those about their projects.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from aidc.core.tenancy import Principal, Role, can_read_job
from aidc.schemas_ledger import CreditView, LedgerEntryView, NotificationView
from aidc.services.center import Center
from aidc.services.errors import Invalid, NotFound
from aidc.services.jobs import visible
from aidc.store import jobs as job_store
from aidc.store.models import Organisation, Project
from aidc.store.models_allocations import Allocation, CreditAccount, Notification, Program
from aidc.store.models_ledger import LedgerEntry

LIMIT_MAX = 10_000


def list_credits(center: Center, p: Principal, project: str | None = None) -> list[CreditView]:
    """Credit accounts of the projects the caller may see, by project and end."""
    now = center.clock()
    with center.db.read() as s:
        base: Select[Any] = (
            select(CreditAccount, Project.name, Organisation.name, Program.name)  # type: ignore[assignment]
            .join(Project, Project.id == CreditAccount.project_id)
            .join(Organisation, Organisation.id == Project.org_id)
            .join(Allocation, Allocation.id == CreditAccount.allocation_id)
            .join(Program, Program.id == Allocation.program_id)
        )
        q = visible(base, p)
        if project is not None:
            q = q.where(Project.name == project)
        rows = s.execute(q.order_by(Project.name, CreditAccount.ends_at, CreditAccount.id)).all()
    return [
        CreditView(
            id=a.id,
            project=proj,
            organisation=org,
            allocation_id=a.allocation_id,
            program=program,
            resource=a.resource,
            granted_hours=a.granted_hours,
            used_hours=a.used_hours,
            remaining_hours=max(0.0, a.granted_hours - a.used_hours),
            percent_used=100.0 * a.used_hours / a.granted_hours if a.granted_hours > 0 else 0.0,
            starts_at=a.starts_at,
            ends_at=a.ends_at,
            active=a.starts_at <= now < a.ends_at,
            on_exhausted=a.on_exhausted,
        )
        for a, proj, org, program in rows
    ]


def list_notifications(center: Center, p: Principal, limit: int = 100) -> list[NotificationView]:
    """Notifications to the caller's organisation (all organisations for center admins),
    newest first."""
    _check_limit(limit)
    with center.db.read() as s:
        q = (
            select(Notification, Organisation.name, Project.name)
            .join(Organisation, Organisation.id == Notification.org_id)
            .outerjoin(Project, Project.id == Notification.project_id)
        )
        if not p.is_center_admin:
            q = q.where(Notification.org_id == p.org_id)
            if p.role is not Role.ORG_ADMIN:
                q = q.where(Notification.project_id.in_(p.project_ids))
        rows = s.execute(q.order_by(Notification.id.desc()).limit(limit)).all()
    return [
        NotificationView(
            id=n.id,
            key=n.key,
            organisation=org,
            project=proj,
            kind=n.kind,
            message=n.message,
            created_at=n.created_at,
        )
        for n, org, proj in rows
    ]


def list_ledger(
    center: Center,
    p: Principal,
    *,
    job: str | None = None,
    project: str | None = None,
    limit: int = 1000,
) -> list[LedgerEntryView]:
    """Ledger entries the caller may see (a job's, a project's, or all), oldest first
    (the latest ``limit``)."""
    _check_limit(limit)
    with center.db.read() as s:
        base: Select[Any] = select(LedgerEntry, Project.name).join(  # type: ignore[assignment]
            Project, Project.id == LedgerEntry.project_id
        )
        q = visible(base, p)
        if job is not None:
            row = job_store.get(s, job)
            owner = s.get(Project, row.project_id) if row is not None else None
            if row is None or owner is None or not can_read_job(p, owner.id, owner.org_id):
                # Another tenant's job answers exactly like a job that does not exist.
                raise NotFound(f"no job {job!r}", field="job")
            q = q.where(LedgerEntry.job_seq == row.seq)
        if project is not None:
            q = q.where(Project.name == project)
        rows = s.execute(q.order_by(LedgerEntry.id.desc()).limit(limit)).all()
    return [
        LedgerEntryView(
            id=e.id,
            job_id=e.job_id,
            attempt=e.attempt,
            project=proj,
            pool=e.pool,
            accelerator_type=e.accelerator_type,
            devices=e.devices,
            period_start=e.period_start,
            period_end=e.period_end,
            accelerator_seconds=e.accelerator_seconds,
            cpu_seconds=e.cpu_seconds,
            memory_gb_seconds=e.memory_gb_seconds,
            pf_hours=e.pf_hours,
            weighted_seconds=e.weighted_seconds,
            credit_account_id=e.credit_account_id,
            credits=e.credits,
            final=e.final,
            recorded_at=e.recorded_at,
        )
        for e, proj in reversed(rows)
    ]


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= LIMIT_MAX:
        raise Invalid(f"limit must be between 1 and {LIMIT_MAX}", field="limit")
