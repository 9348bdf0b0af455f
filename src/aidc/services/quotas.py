"""The quota tree as the store holds it, and as the scheduler reads it.

Cohorts form a tree (programs above organisations); a project hangs under its organisation's
cohort. What tenants may see of it is in ``quota_views``; changes (center admins only) in
``quota_admin``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.accelerators import CATALOG
from aidc.core.job_states import JobState
from aidc.core.resources import Placement
from aidc.scheduler.quota import placement_charges
from aidc.scheduler.snapshot import CPUS, MEMORY, QuotaLimit, QuotaNode, Quotas
from aidc.services.errors import Conflict
from aidc.store.models import Cohort, JobRow, Organisation, Project, Quota

# What a quota can be set for: every accelerator type (devices), cpu cores and MiB. The
# catalog's "cpu" type is left out: CPU capacity is counted in cores, as ``cpus``.
RESOURCES: tuple[str, ...] = (*(n for n in CATALOG if n != "cpu"), CPUS, MEMORY)


class CohortKind(StrEnum):
    ORGANISATION = "organisation"
    PROGRAM = "program"


class OwnerKind(StrEnum):
    PROJECT = "project"
    COHORT = "cohort"


def ensure_org_cohort(s: Session, org: Organisation, *, at: float | None = None) -> Cohort:
    """The organisation's cohort, created (at the root, named like it) if it has none."""
    if org.cohort_id is not None:
        cohort = s.get(Cohort, org.cohort_id)
        assert cohort is not None
        return cohort
    # Cohort and project names share the scheduler's tree, so they must not collide.
    if s.scalar(select(Cohort.id).where(Cohort.name == org.name)) is not None:
        raise Conflict(f"a cohort called {org.name!r} already exists", field="name")
    if s.scalar(select(Project.id).where(Project.name == org.name)) is not None:
        raise Conflict(f"a project called {org.name!r} already exists", field="name")
    cohort = Cohort(
        name=org.name,
        kind=CohortKind.ORGANISATION,
        parent_id=None,
        created_at=org.created_at if at is None else at,
    )
    s.add(cohort)
    s.flush()
    org.cohort_id = cohort.id
    return cohort


def quota_tree(s: Session) -> Quotas:
    """The whole tree for one scheduler pass: three queries, whatever its size."""
    cohorts = s.execute(select(Cohort.id, Cohort.name, Cohort.parent_id)).all()
    names = {cid: name for cid, name, _ in cohorts}
    limits = _limits(s)
    projects = s.execute(
        select(Project.id, Project.name, Project.shares, Organisation.cohort_id)
        .join(Organisation, Organisation.id == Project.org_id)
        .order_by(Project.name)
    ).all()
    return Quotas(
        cohorts=tuple(
            QuotaNode(
                name,
                names.get(parent) if parent is not None else None,
                limits.get((OwnerKind.COHORT, cid), {}),
            )
            for cid, name, parent in parents_first(cohorts)
        ),
        projects=tuple(
            QuotaNode(
                name,
                names.get(cohort) if cohort is not None else None,
                limits.get((OwnerKind.PROJECT, pid), {}),
                shares,
            )
            for pid, name, shares, cohort in projects
        ),
    )


def project_use(
    s: Session, project_ids: Iterable[int] | None = None
) -> dict[int, dict[str, float]]:
    """What each project's placed jobs hold now, per resource (devices, cores, MiB)."""
    states = [str(st) for st in JobState if st.holds_resources]
    q = select(JobRow.project_id, JobRow.placement).where(JobRow.state.in_(states))
    if project_ids is not None:
        q = q.where(JobRow.project_id.in_(list(project_ids)))
    use: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for pid, placement in s.execute(q):
        for res, amount in placement_use(placement).items():
            use[pid][res] += amount
    return {pid: dict(v) for pid, v in use.items()}


def placement_use(placement: Mapping[str, Any] | None) -> dict[str, float]:
    """Resources a placement (``Placement.to_dict()``) holds, summed over its nodes."""
    if not placement:
        return {}
    held = placement_charges(Placement.from_dict(dict(placement)))
    return {k: float(v) for k, v in held.items() if v}


# -- helpers ------------------------------------------------------------------------------


def _limits(s: Session) -> dict[tuple[str, int], dict[str, QuotaLimit]]:
    out: dict[tuple[str, int], dict[str, QuotaLimit]] = defaultdict(dict)
    for kind, owner, res, nominal, borrow, lend in s.execute(
        select(
            Quota.owner_kind,
            Quota.owner_id,
            Quota.resource,
            Quota.nominal,
            Quota.borrowing_limit,
            Quota.lending_limit,
        )
    ):
        out[(kind, owner)][res] = QuotaLimit(nominal, borrow, lend)
    return out


def parents_first(
    cohorts: Iterable[tuple[int, str, int | None]],
) -> list[tuple[int, str, int | None]]:
    """Cohorts ordered so that every parent comes before its children (by name otherwise)."""
    pending = sorted(cohorts, key=lambda c: c[1])
    known = {c[0] for c in pending}
    done: set[int] = set()
    out: list[tuple[int, str, int | None]] = []
    while pending:
        ready = [c for c in pending if c[2] is None or c[2] in done or c[2] not in known]
        if not ready:  # a cycle, which quota_admin refuses; don't loop for ever on bad data
            ready = pending
        out += ready
        done |= {c[0] for c in ready}
        pending = [c for c in pending if c[0] not in done]
    return out
