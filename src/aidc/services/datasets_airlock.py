"""The airlock: outputs of jobs that read restricted data wait here until a data steward
releases them (the project may then download them) or rejects them with a reason.

When such a job ends, its outputs folder (``AIDC_OUTPUT_DIR``) is captured: every file is
copied into the store under ``airlock/<job>/`` with its size and SHA-256, and the job's
project cannot read them until they are released. Outputs of jobs that read no
restricted data are captured the same way and released at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.datasets import Tier, file_path_problem
from aidc.core.tenancy import Principal
from aidc.schemas_datasets import AirlockView, FileView, GrantDecision
from aidc.services.center import Center
from aidc.services.datasets_access import is_steward
from aidc.services.datasets_audit import record, refuse
from aidc.services.datasets_mounts import OUTPUTS
from aidc.services.datasets_place import place
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.store.models import JobRow, Project
from aidc.store.models_datasets import AirlockOutput, Dataset

HELD = "held"
RELEASED = "released"
REJECTED = "rejected"


def on_job_finished(center: Center, topic: str, payload: dict[str, Any]) -> None:
    """The bus subscriber: capture a finished job's outputs if it read datasets."""
    job_id = payload.get("job_id")
    if isinstance(job_id, str):
        capture(center, job_id)


def capture(center: Center, job_id: str) -> AirlockView | None:
    with center.db.read() as s:
        row = s.scalars(select(JobRow).where(JobRow.id == job_id)).first()
        if row is None or not row.spec.get("datasets") or not row.handle:
            return None
        if s.scalar(select(AirlockOutput.id).where(AirlockOutput.job_id == job_id)):
            return None  # captured already
        mounts = row.spec["datasets"]
        names = [m["name"] for m in mounts]
        restricted = bool(
            s.scalar(
                select(Dataset.id)
                .where(Dataset.name.in_(names), Dataset.tier == Tier.RESTRICTED)
                .limit(1)
            )
        )
        project_id = row.project_id
        project = s.get_one(Project, project_id).name
        run_dir = Path(str(row.handle.get("dir", "")))
    outputs = run_dir.parent / OUTPUTS
    storage = place(center).storage
    files: list[dict[str, Any]] = []
    for folder, _dirs, names_here in os.walk(outputs):
        for n in sorted(names_here):
            full = os.path.join(folder, n)
            rel = os.path.relpath(full, outputs).replace(os.sep, "/")
            if os.path.islink(full) or not os.path.isfile(full) or file_path_problem(rel):
                continue  # links could point at the data itself; odd names are skipped
            size, sha = storage.put_file(f"airlock/{job_id}/{rel}", full)
            files.append({"path": rel, "size": size, "sha256": sha})
    now = center.clock()
    with center.db.transaction() as s:
        out = AirlockOutput(
            job_id=job_id,
            project_id=project_id,
            state=HELD if restricted else RELEASED,
            datasets=[f"{m['name']}@{m.get('version')}" for m in mounts],
            files=files,
            total_bytes=sum(f["size"] for f in files),
            captured_at=now,
            decided_by=None if restricted else "aidc",
            decided_at=None if restricted else now,
            reason="" if restricted else "no restricted data was read",
        )
        s.add(out)
        s.flush()
        for m in mounts:
            record(
                s,
                at=now,
                actor=f"job:{job_id}",
                action="airlock-capture",
                dataset=m["name"],
                version=m.get("version"),
                project=project,
                job_id=job_id,
                detail=f"{len(files)} files, {out.total_bytes} bytes, {out.state}",
            )
        return _view(s, out)


def list_outputs(center: Center, p: Principal, state: str | None = None) -> list[AirlockView]:
    """Stewards see every captured output; others their projects'."""
    with center.db.read() as s:
        q = select(AirlockOutput).order_by(AirlockOutput.captured_at.desc())
        if not is_steward(p):
            q = q.where(AirlockOutput.project_id.in_(p.project_ids or {-1}))
        if state:
            q = q.where(AirlockOutput.state == state)
        return [_view(s, o) for o in s.scalars(q)]


def show(center: Center, p: Principal, job_id: str) -> AirlockView:
    with center.db.read() as s:
        return _view(s, _visible(s, p, job_id))


def decide(
    center: Center, p: Principal, job_id: str, release: bool, body: GrantDecision
) -> AirlockView:
    if not is_steward(p):
        raise Forbidden("only data stewards and center admins release or reject outputs")
    if not release and not body.reason.strip():
        raise Invalid("say why the outputs are rejected", field="reason")
    now = center.clock()
    with center.db.transaction() as s:
        out = s.scalars(select(AirlockOutput).where(AirlockOutput.job_id == job_id)).first()
        if out is None:
            raise NotFound(f"no captured outputs of job {job_id}", field="job")
        if out.state != HELD:
            raise Conflict(f"the outputs of job {job_id} are already {out.state}", field="job")
        out.state = RELEASED if release else REJECTED
        out.decided_by, out.decided_at, out.reason = p.username, now, body.reason
        project = s.get_one(Project, out.project_id).name
        for d in out.datasets:
            name, _, version = str(d).partition("@")
            record(
                s,
                at=now,
                actor=p.username,
                action="release" if release else "reject",
                dataset=name,
                version=int(version) if version.isascii() and version.isdigit() else None,
                project=project,
                job_id=job_id,
                detail=body.reason,
            )
        view = _view(s, out)
    if not release:
        place(center).storage.delete_tree(f"airlock/{job_id}")
    return view


def open_output(
    center: Center, p: Principal, job_id: str, path: str
) -> tuple[FileView, Iterator[bytes]]:
    """A released output file's bytes. Held or rejected outputs, another project's job
    and job ids that were only guessed are all refused alike (403, audited)."""
    with center.db.read() as s:
        out = s.scalars(select(AirlockOutput).where(AirlockOutput.job_id == job_id)).first()
        mine = out is not None and (is_steward(p) or out.project_id in p.project_ids)
        if out is None or not mine:
            out = None
        else:
            state, datasets = out.state, list(out.datasets)
            project = s.get_one(Project, out.project_id).name
            f = next((x for x in out.files if x["path"] == path), None)
    if out is None:
        refuse(center, p, "output-download", "", f"no outputs of job {job_id} for you")
    first = str(datasets[0]).partition("@")[0] if datasets else ""
    if state != RELEASED:
        refuse(
            center,
            p,
            "output-download",
            first,
            f"the outputs of job {job_id} are {state}; a data steward must release them",
            project=project,
        )
    if f is None:
        raise NotFound(f"job {job_id} has no output {path!r}", field="path")
    with center.db.transaction() as s:
        record(
            s,
            at=center.clock(),
            actor=p.username,
            action="output-download",
            dataset=first,
            project=project,
            job_id=job_id,
            detail=path,
        )
    meta = FileView(path=f["path"], size=f["size"], sha256=f["sha256"])
    chunks = place(center).storage.read_verified(f"airlock/{job_id}/{path}", f["size"], f["sha256"])
    return meta, chunks


def _visible(s: Session, p: Principal, job_id: str) -> AirlockOutput:
    out = s.scalars(select(AirlockOutput).where(AirlockOutput.job_id == job_id)).first()
    if out is None or not (is_steward(p) or out.project_id in p.project_ids):
        raise NotFound(f"no captured outputs of job {job_id}", field="job")
    return out


def _view(s: Session, o: AirlockOutput) -> AirlockView:
    return AirlockView(
        id=o.id,
        job_id=o.job_id,
        project=s.get_one(Project, o.project_id).name,
        state=o.state,
        datasets=[str(d) for d in o.datasets],
        files=[FileView(**f) for f in o.files],
        total_bytes=o.total_bytes,
        captured_at=o.captured_at,
        decided_by=o.decided_by,
        decided_at=o.decided_at,
        reason=o.reason,
    )
