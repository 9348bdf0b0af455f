"""Test data for reports: jobs, ledger and capacity entries, programs and credit accounts,
written straight into the tables the meter fills (the meter itself is tested elsewhere)."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.accelerators import CATALOG
from aidc.store.models import JobRow, Organisation, Project, User
from aidc.store.models_allocations import Allocation, CreditAccount, Program
from aidc.store.models_ledger import CapacityEntry, LedgerEntry

CPUS_PER_DEVICE = 4
GB_PER_DEVICE = 16


def at(text: str) -> float:
    """'2026-11-03 10:00' (UTC) -> POSIX seconds."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def project(s: Session, name: str) -> Project:
    p = s.scalars(select(Project).where(Project.name == name)).one()
    return p


def job(s: Session, project_name: str, username: str = "") -> int:
    """A finished job row of the project; its ``seq``."""
    p = project(s, project_name)
    user = s.scalars(select(User).where(User.org_id == p.org_id)).first()
    if username:
        user = s.scalars(select(User).where(User.username == username)).one()
    assert user is not None
    row = JobRow(
        id=secrets.token_hex(8),
        project_id=p.id,
        user_id=user.id,
        spec={},
        nodes=1,
        cpus=1,
        memory_mib=1024,
        accelerators=1,
        time_limit_s=3600.0,
        state="SUCCEEDED",
        submitted_at=0.0,
    )
    s.add(row)
    s.flush()
    return row.seq


def entry(
    s: Session,
    seq: int,
    start: float,
    end: float,
    *,
    acc: str = "a100",
    devices: int = 1,
    attempt: int = 1,
    account: int | None = None,
    credits: float = 0.0,
    pool: str = "local",
) -> LedgerEntry:
    """A ledger entry of job ``seq``'s run on ``devices`` accelerators over [start, end)."""
    j = s.get(JobRow, seq)
    assert j is not None
    p = s.get(Project, j.project_id)
    assert p is not None
    acc_s = devices * (end - start)
    e = LedgerEntry(
        job_seq=seq,
        job_id=j.id,
        attempt=attempt,
        project_id=p.id,
        org_id=p.org_id,
        pool=pool,
        accelerator_type=acc,
        devices=devices,
        period_start=start,
        period_end=end,
        accelerator_seconds=acc_s,
        cpu_seconds=CPUS_PER_DEVICE * acc_s,
        memory_gb_seconds=GB_PER_DEVICE * acc_s,
        pf_hours=acc_s / 3600.0 * CATALOG[acc].peak_pf,
        weighted_seconds=acc_s * CATALOG[acc].billing_weight,
        credit_account_id=account,
        credits=credits,
        final=False,
        recorded_at=end,
    )
    s.add(e)
    s.flush()
    return e


def raw_entry(s: Session, seq: int, **fields: float | int | str | None) -> LedgerEntry:
    """An entry with the given measures as they are (for property tests)."""
    j = s.get(JobRow, seq)
    assert j is not None
    p = s.get(Project, j.project_id)
    assert p is not None
    base: dict[str, object] = {
        "job_seq": seq,
        "job_id": j.id,
        "attempt": 1,
        "project_id": p.id,
        "org_id": p.org_id,
        "pool": "local",
        "accelerator_type": "a100",
        "devices": 1,
        "weighted_seconds": 0.0,
        "credit_account_id": None,
        "credits": 0.0,
        "final": False,
        "recorded_at": 0.0,
    }
    e = LedgerEntry(**{**base, **fields})
    s.add(e)
    s.flush()
    return e


def allocation(
    s: Session,
    project_name: str,
    *,
    program: str = "voucher",
    granted: dict[str, float],
    starts_at: float,
    ends_at: float,
    state: str = "active",
    used: dict[str, float] | None = None,
) -> tuple[Allocation, dict[str, int]]:
    """An allocation of ``program`` (made if missing) with credit accounts per resource;
    the allocation and its account ids by resource."""
    prog = s.scalars(select(Program).where(Program.name == program)).first()
    if prog is None:
        prog = Program(
            name=program,
            kind="allocation",
            starts_at=starts_at,
            ends_at=ends_at,
            eligible_kinds=[],
            budget_hours={r: 10 * h for r, h in granted.items()},
            rules={},
            created_at=0.0,
            created_by="root",
        )
        s.add(prog)
        s.flush()
    p = project(s, project_name)
    user = s.scalars(select(User).where(User.org_id == p.org_id)).first()
    assert user is not None
    a = Allocation(
        program_id=prog.id,
        project_id=p.id,
        org_id=p.org_id,
        kind="new",
        state=state,
        justification="test",
        requested_hours=granted,
        requested_quota={},
        granted_hours=granted,
        granted_quota={},
        starts_at=starts_at,
        ends_at=ends_at,
        requested_by=user.id,
        created_at=0.0,
        updated_at=0.0,
    )
    s.add(a)
    s.flush()
    ids: dict[str, int] = {}
    for resource, hours in granted.items():
        acct = CreditAccount(
            allocation_id=a.id,
            project_id=p.id,
            resource=resource,
            granted_hours=hours,
            used_hours=(used or {}).get(resource, 0.0),
            starts_at=starts_at,
            ends_at=ends_at,
        )
        s.add(acct)
        s.flush()
        ids[resource] = acct.id
    return a, ids


def capacity(
    s: Session,
    start: float,
    end: float,
    *,
    acc: str = "a100",
    devices: int = 4,
    pool: str = "local",
) -> CapacityEntry:
    c = CapacityEntry(
        pool=pool,
        accelerator_type=acc,
        period_start=start,
        period_end=end,
        devices_total=devices,
        devices_up=devices,
        device_seconds_up=devices * (end - start),
        pf_hours_up=devices * (end - start) / 3600.0 * CATALOG[acc].peak_pf,
    )
    s.add(c)
    s.flush()
    return c


def set_org(s: Session, name: str, *, sector: str = "", region: str = "") -> None:
    o = s.scalars(select(Organisation).where(Organisation.name == name)).one()
    o.sector, o.region = sector, region
