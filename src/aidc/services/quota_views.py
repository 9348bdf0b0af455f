"""What callers may see of the quota tree: quotas with use now, and the cohorts.

Center admins see everything; org admins their organisation's projects and its cohort chain;
members and viewers the projects they belong to (and, of cohorts, the names above them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.tenancy import Principal, Role
from aidc.schemas import CohortView, QuotaView
from aidc.services.center import Center
from aidc.services.quotas import RESOURCES, OwnerKind, parents_first, project_use
from aidc.store.models import Cohort, Organisation, Project, Quota


def list_quotas(center: Center, p: Principal) -> list[QuotaView]:
    """Quotas the caller may see, with what is in use now and how much of it is borrowed.

    Center admins see everything; org admins their organisation's projects and its cohort
    chain; members and viewers the projects they belong to. Use of cohorts above the caller's
    own organisation stays hidden (it would reveal other organisations' use).
    """
    with center.db.read() as s:
        tree = _Tree.load(s)
        projects, cohorts, cohort_use_visible = _visible(p, tree)
        use = project_use(s, None if p.is_center_admin else projects)
    managed = {r.resource for r in tree.quotas if r.nominal > 0}
    subtree_use, subtree_nominal = _subtree_sums(tree, use)
    rows = {(r.owner_kind, r.owner_id, r.resource): r for r in tree.quotas}
    keys = {k for k in rows if (k[1] in projects if k[0] == "project" else k[1] in cohorts)}
    keys |= {("project", pid, res) for pid in projects for res in use.get(pid, {})}
    views = []
    for kind, owner, res in keys:
        row = rows.get((kind, owner, res))
        nominal = row.nominal if row else 0.0
        used: float | None
        if kind == OwnerKind.PROJECT:
            name, used = tree.project_names[owner], use.get(owner, {}).get(res, 0.0)
            # A resource nobody has quota for is limited by nodes alone: nothing to borrow.
            borrowed = max(0.0, used - nominal) if res in managed else 0.0
        else:
            name = tree.cohort_names[owner]
            used = borrowed = None
            if owner in cohort_use_visible:
                used = subtree_use[owner].get(res, 0.0)
                nominal_below = subtree_nominal[owner].get(res, 0.0)
                borrowed = max(0.0, used - nominal_below) if res in managed else 0.0
        views.append(
            QuotaView(
                owner_kind=kind,
                owner=name,
                resource=res,
                has_quota=row is not None,
                nominal=nominal,
                borrowing_limit=row.borrowing_limit if row else None,
                lending_limit=row.lending_limit if row else None,
                used=used,
                borrowed=borrowed,
            )
        )
    order = {r: i for i, r in enumerate(RESOURCES)}
    views.sort(key=lambda v: (v.owner_kind != "cohort", v.owner, order.get(v.resource, 99)))
    return views


def list_cohorts(center: Center, p: Principal) -> list[CohortView]:
    """The cohort tree as far as the caller may see it, parents before children."""
    with center.db.read() as s:
        tree = _Tree.load(s)
    projects, cohorts, _ = _visible(p, tree)
    if not p.is_center_admin:
        # And the chains above the caller's projects: names only, quotas stay hidden.
        cohorts = cohorts.union(*(tree.chain(tree.project_cohort.get(i)) for i in projects))
    by_cohort: dict[int, list[str]] = defaultdict(list)
    for pid in sorted(projects, key=tree.project_names.__getitem__):
        if (cid := tree.project_cohort.get(pid)) is not None:
            by_cohort[cid].append(tree.project_names[pid])
    org_of = {cid: org for org, cid in tree.org_cohorts.items()}
    return [
        CohortView(
            name=name,
            kind=tree.cohort_kinds[cid],
            parent=tree.cohort_names.get(parent) if parent is not None else None,
            organisation=org_of.get(cid),
            projects=by_cohort.get(cid, []),
        )
        for cid, name, parent in parents_first(tree.cohorts)
        if cid in cohorts
    ]


# -- helpers ------------------------------------------------------------------------------


@dataclass
class _Tree:
    cohorts: list[tuple[int, str, int | None]]  # (id, name, parent id)
    cohort_names: dict[int, str]
    cohort_kinds: dict[int, str]
    cohort_parent: dict[int, int | None]
    project_names: dict[int, str]
    project_org: dict[int, int]
    project_cohort: dict[int, int | None]
    org_cohorts: dict[str, int]  # organisation name -> its cohort id
    org_cohort_by_id: dict[int, int | None]
    quotas: list[Quota]

    @classmethod
    def load(cls, s: Session) -> _Tree:
        cohorts = s.execute(select(Cohort.id, Cohort.name, Cohort.parent_id, Cohort.kind)).all()
        orgs = s.execute(select(Organisation.id, Organisation.name, Organisation.cohort_id)).all()
        org_cohort = {oid: cid for oid, _, cid in orgs}
        projects = s.execute(select(Project.id, Project.name, Project.org_id)).all()
        return cls(
            cohorts=[(c, n, par) for c, n, par, _ in cohorts],
            cohort_names={c: n for c, n, _, _ in cohorts},
            cohort_kinds={c: k for c, _, _, k in cohorts},
            cohort_parent={c: par for c, _, par, _ in cohorts},
            project_names={i: n for i, n, _ in projects},
            project_org={i: o for i, _, o in projects},
            project_cohort={i: org_cohort.get(o) for i, _, o in projects},
            org_cohorts={n: cid for _, n, cid in orgs if cid is not None},
            org_cohort_by_id=org_cohort,
            quotas=list(s.scalars(select(Quota))),
        )

    def chain(self, cohort_id: int | None) -> set[int]:
        """``cohort_id`` and its ancestors (the tree has no cycles; see quota_admin)."""
        out: set[int] = set()
        while cohort_id is not None and cohort_id not in out:
            out.add(cohort_id)
            cohort_id = self.cohort_parent.get(cohort_id)
        return out


def _visible(p: Principal, tree: _Tree) -> tuple[set[int], set[int], set[int]]:
    """(projects, cohorts, cohorts whose use may be shown) for the caller."""
    if p.is_center_admin:
        every = set(tree.cohort_names)
        return set(tree.project_names), every, every
    if p.role is Role.ORG_ADMIN:
        projects = {i for i, o in tree.project_org.items() if o == p.org_id} | set(p.project_ids)
        own = tree.org_cohort_by_id.get(p.org_id)
        return projects, tree.chain(own), {own} if own is not None else set()
    return {i for i in p.project_ids if i in tree.project_names}, set(), set()


def _subtree_sums(
    tree: _Tree, use: dict[int, dict[str, float]]
) -> tuple[dict[int, dict[str, float]], dict[int, dict[str, float]]]:
    """Per cohort: its projects' use and its subtree's nominal quota (its own included)."""
    used: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    nominal: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for pid, resources in use.items():
        for cid in tree.chain(tree.project_cohort.get(pid)):
            for res, amount in resources.items():
                used[cid][res] += amount
    for q in tree.quotas:
        start = tree.project_cohort.get(q.owner_id) if q.owner_kind == "project" else q.owner_id
        for cid in tree.chain(start):
            nominal[cid][q.resource] += q.nominal
    return used, nominal
