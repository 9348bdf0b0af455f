"""Credit accounts for ledger tests, made the way approval makes them: a Program and an
approved Allocation, then ``grants.activate``."""

from __future__ import annotations

from sqlalchemy import select

from aidc.core.jobspec import JobSpec
from aidc.core.resources import NodePlacement, Placement
from aidc.scheduler import Decision
from aidc.services import execution, grants, jobs
from aidc.services.center import Center
from aidc.store.models import Project, User
from aidc.store.models_allocations import Allocation, CreditAccount, Program
from tests.integration.tenants import Tenants

DAY = 86_400.0


def grant(
    center: Center,
    project: str,
    hours: dict[str, float],
    *,
    on_exhausted: str = "hold",
    starts_at: float = 0.0,
    ends_at: float = 4e9,
    program: str | None = None,
) -> int:
    """Give ``project`` an active allocation of ``hours`` (resource -> hours); its id."""
    now = center.clock()
    with center.db.transaction() as s:
        proj = s.scalars(select(Project).where(Project.name == project)).one()
        user = s.scalars(select(User).order_by(User.id)).first()
        assert user is not None
        name = program or f"program-{project}-{len(hours)}-{now:.0f}-{starts_at:.0f}"
        prog = s.scalars(select(Program).where(Program.name == name)).one_or_none()
        if prog is None:
            prog = Program(
                name=name,
                kind="allocation",
                starts_at=starts_at,
                ends_at=ends_at,
                eligible_kinds=[],
                budget_hours={r: h * 10 for r, h in hours.items()},
                rules={"on_exhausted": on_exhausted},
                created_at=now,
                created_by="test",
            )
            s.add(prog)
            s.flush()
        a = Allocation(
            program_id=prog.id,
            project_id=proj.id,
            org_id=proj.org_id,
            kind="new",
            state=grants.AllocationState.APPROVED,
            justification="tests",
            requested_hours=hours,
            requested_quota={},
            granted_hours=hours,
            granted_quota={},
            starts_at=starts_at,
            ends_at=ends_at,
            requested_by=user.id,
            created_at=now,
            updated_at=now,
        )
        s.add(a)
        s.flush()
        grants.activate(s, a, at=now, actor="test", reason="approved")
        return a.id


def accounts(center: Center, project: str) -> list[CreditAccount]:
    with center.db.read() as s:
        return list(
            s.scalars(
                select(CreditAccount)
                .join(Project, Project.id == CreditAccount.project_id)
                .where(Project.name == project)
                .order_by(CreditAccount.id)
            )
        )


def start_job(
    center: Center,
    t: Tenants,
    *,
    project: str = "acme-a",
    accelerators: int = 2,
    accel: str = "a100",
    cpus: int = 2,
) -> str:
    """Submit, admit on node-1 and record RUNNING at the center's clock (no process)."""
    who = t.bob if project == "acme-a" else t.carol
    spec: dict[str, object] = {"project": project, "command": ["true"], "cpus": cpus}
    if accelerators:
        spec |= {"accelerators": accelerators, "accelerator_type": accel}
    job = jobs.submit(center, who, JobSpec.model_validate(spec))
    placement = Placement(
        "local", (NodePlacement("node-1", cpus, 1024, accel, tuple(range(accelerators))),)
    )
    assert execution.admit(center, Decision(job.id, placement)) is not None
    execution.record_launched(center, job.id, {"dir": "/nowhere", "pid": 0}, reason="started")
    return job.id
