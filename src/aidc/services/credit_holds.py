"""Enforcement: which queued jobs the scheduler is offered, given the projects' credits.

A project is metered once it has any credit account. A queued job of a metered project
that asks for accelerators has credit when one of its acceptable types does: an account
for that type, active now, with hours left, or an active "pf" account with hours left.
Without credit, the accounts' ``on_exhausted`` decides (the latest-ending account among
those that could have paid): ``hold`` (the default) keeps the job from the scheduler with
the reason ``credits`` and a message naming the project, the hours and the fix;
``opportunistic`` offers it in the policy's class that runs beyond quota and may be
preempted; ``notify`` offers it as it is. A project whose allocations all ended is held
("no active allocation"). CPU-only jobs (no accelerators) are never held. Running jobs
are never stopped: they finish. Decided afresh every pass, so added hours release held
jobs on the next one. A job that accepts several types but has credit on only some is
offered on those only (a copy of it asking for them). Pure apart from ``read_credits``
(one query).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.policy import Policy
from aidc.core.resources import Request
from aidc.scheduler.snapshot import Explanation, PendingJob, Reason
from aidc.services.grants import PF, OnExhausted
from aidc.store.models import Project
from aidc.store.models_allocations import Allocation, CreditAccount, Program


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    resource: str
    granted_hours: float
    used_hours: float
    starts_at: float
    ends_at: float
    on_exhausted: str
    allocation_id: int
    program: str

    @property
    def remaining(self) -> float:
        return self.granted_hours - self.used_hours

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at


def read_credits(s: Session) -> dict[str, list[Account]]:
    """Every project's credit accounts, by project name (metered projects only)."""
    out: dict[str, list[Account]] = defaultdict(list)
    for name, a, program in s.execute(
        select(Project.name, CreditAccount, Program.name)
        .join(Project, Project.id == CreditAccount.project_id)
        .join(Allocation, Allocation.id == CreditAccount.allocation_id)
        .join(Program, Program.id == Allocation.program_id)
        .order_by(CreditAccount.ends_at, CreditAccount.id)
    ):
        out[name].append(
            Account(
                a.id,
                a.resource,
                a.granted_hours,
                a.used_hours,
                a.starts_at,
                a.ends_at,
                a.on_exhausted,
                a.allocation_id,
                program,
            )
        )
    return dict(out)


# A verdict's action besides the exhaustion policies: offer the job on its credited types only.
NARROW = "narrow"


@dataclass(frozen=True)
class Gated:
    """The queue split by credits: what the scheduler is offered, what waits, which jobs
    run in another class (``demoted``), and the jobs offered as changed copies (in the
    beyond-quota class, or asking only for the types they have credit on)."""

    offered: tuple[PendingJob, ...]
    held: tuple[Explanation, ...]
    demoted: Mapping[str, str]  # job id -> the class it is offered (and runs) in
    copies: Mapping[str, PendingJob] = dataclasses.field(default_factory=dict)


def gate(
    queue: Iterable[PendingJob],
    accounts: Mapping[str, list[Account]],
    policy: Policy,
    now: float,
    copies: Mapping[str, PendingJob] | None = None,
) -> Gated:
    """Split ``queue``; ``copies`` (the previous pass's) are offered again as the same
    objects where nothing changed, so the planner's grouping holds."""
    opportunistic = beyond_quota_class(policy)
    offered: list[PendingJob] = []
    held: list[tuple[PendingJob, str]] = []
    demoted: dict[str, str] = {}
    made: dict[str, PendingJob] = {}

    def offer_copy(job: PendingJob, want: PendingJob) -> None:
        old = (copies or {}).get(job.job_id)
        same = old is not None and (old.seq, old.priority_class, old.request) == (
            want.seq,
            want.priority_class,
            want.request,
        )
        made[job.job_id] = old if same and old is not None else want
        offered.append(made[job.job_id])

    for job in queue:
        mine = accounts.get(job.project)
        verdict = None if mine is None else decide(job, mine, now)
        if verdict is None:
            offered.append(job)
            continue
        action, detail = verdict
        if action == NARROW:
            types = tuple(detail.split(","))
            offer_copy(job, dataclasses.replace(job, request=_asking(job.request, types)))
        elif action == OnExhausted.NOTIFY:
            offered.append(job)
        elif action == OnExhausted.OPPORTUNISTIC and opportunistic is not None:
            demoted[job.job_id] = opportunistic
            if job.priority_class == opportunistic:
                offered.append(job)
            else:
                offer_copy(job, dataclasses.replace(job, priority_class=opportunistic))
        else:
            held.append((job, detail))
    return Gated(tuple(offered), _explain(held, offered), demoted, made)


def _asking(r: Request, types: tuple[str, ...]) -> Request:
    return dataclasses.replace(r, accelerator_types=types)


def decide(job: PendingJob, accounts: list[Account], now: float) -> tuple[str, str] | None:
    """None: ``job`` has credit (or needs none) on every type it accepts. Else
    ``(NARROW, "a100,h100")``: it has credit on those of its types only, so it is offered
    on them; or the exhaustion policy and the message why it has none."""
    r = job.request
    if r.accelerators == 0:
        return None
    active = [a for a in accounts if a.active(now)]
    if not active:
        return OnExhausted.HOLD, (
            f"project {job.project} has no active allocation (its allocations ended or "
            "have not started): new jobs wait until one starts; running jobs finish; ask "
            "your org admin to request one (aidc alloc request)"
        )
    could_pay = [a for a in active if a.resource == PF or r.accepts(a.resource)]
    paying = [a for a in could_pay if a.remaining > 0]
    if any(a.resource == PF for a in paying):
        return None  # PF-hours pay for any accelerator
    if paying:
        types = sorted({a.resource for a in paying})
        if r.accelerator_types and set(r.accelerator_types) <= set(types):
            return None
        return NARROW, ",".join(types)
    deciding = max(could_pay or active, key=lambda a: (a.ends_at, a.id))
    fix = "ask your org admin to request a change (aidc alloc change)"
    if could_pay:
        first = could_pay[0]
        unit = "PF-hours" if first.resource == PF else f"{first.resource}-hours"
        used = (
            f"project {job.project} has used {first.used_hours:,.1f} of its "
            f"{first.granted_hours:,g} {unit} (allocation {first.allocation_id}, program "
            f"{first.program})"
        )
    else:
        asks = "|".join(r.accelerator_types) or "any accelerator"
        grants = ", ".join(sorted({a.resource for a in active}))
        used = f"project {job.project} has no credits for {asks} (its allocations grant {grants})"
    if deciding.on_exhausted == OnExhausted.OPPORTUNISTIC:
        return OnExhausted.OPPORTUNISTIC, used
    if deciding.on_exhausted == OnExhausted.NOTIFY:
        return OnExhausted.NOTIFY, used
    return OnExhausted.HOLD, (
        f"{used}: new jobs wait until an allocation adds hours; running jobs finish; {fix}"
    )


def beyond_quota_class(policy: Policy) -> str | None:
    """The class that runs beyond quota and may be preempted ("opportunistic")."""
    for name, c in policy.classes.items():
        if c.beyond_quota and c.preemptible:
            return name
    return None


def _explain(
    held: list[tuple[PendingJob, str]], offered: list[PendingJob]
) -> tuple[Explanation, ...]:
    """Held jobs come after every job the scheduler is offered, in submission order."""
    ahead = len(offered)
    per_project: dict[str, int] = defaultdict(int)
    for job in offered:
        per_project[job.project] += 1
    out = []
    for k, (job, message) in enumerate(held):
        per_project[job.project] += 1
        out.append(
            Explanation(
                job.job_id, Reason.CREDITS, message, ahead + k + 1, per_project[job.project], 0.0
            )
        )
    return tuple(out)
