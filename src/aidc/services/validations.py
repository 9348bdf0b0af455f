"""Validations: a model, run by the same harness on each accelerator type asked for, one
ordinary batch job per type (docs/validation.md, "Running a validation").

The model file is kept by the storage backend (``validations/<id>/<file>``), never in the
dataset catalog: the catalog's metadata is public inside the center and its registered
tier is readable by every approved organisation, while a tenant's model is its own. The
jobs read it read-only from the store's own file (a local store, which Slurm and Ray
nodes of this center share), or from a verified copy in the dataset cache (an object
store). The evaluation set is mounted like any job's dataset, so the grant checks, the
pinned version and the audit log of datasets apply unchanged.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shlex
import sys
from dataclasses import dataclass

from sqlalchemy import select

from aidc.core import accelerators
from aidc.core.datasets import DatasetMount, env_name, parse_mount
from aidc.core.jobspec import NAME_RE, JobSpec, PriorityClass
from aidc.core.tenancy import Principal, Role, can_submit
from aidc.core.validation_targets import (
    METRICS,
    SCENARIOS,
    Target,
    TargetError,
    parse_targets,
    unmeasurable,
)
from aidc.schemas_validation import ValidationCreate, ValidationView
from aidc.services import jobs
from aidc.services.center import Center
from aidc.services.datasets_place import place
from aidc.services.errors import Forbidden, Invalid, ServiceError
from aidc.services.validations_ingest import ERROR_FILE, PENDING, RESULT_FILE
from aidc.services.validations_read import view_of
from aidc.store.models import Project
from aidc.store.models_validation import Validation, ValidationRun

MAX_MODEL_BYTES = 64 * 1024 * 1024  # under the API's body limit (AIDC_MAX_BODY_BYTES)
CPU = "cpu"
TIME_LIMIT_S = 3600
CPUS = 1  # per job; the harness's threads are set to match
_FILE_NAME_OK = NAME_RE


@dataclass(frozen=True)
class ModelFile:
    file_name: str
    data: bytes


# The harness's stderr goes to the job's log and, copied, to the outputs folder: a run that
# fails then says why (the harness's one-line error) without anyone reading the log.
# ONNX Runtime's threads follow the job's cores, not the host's (AIDC_VALIDATION_THREADS).
_SCRIPT = """set -u
export AIDC_VALIDATION_THREADS={cpus}
{line} 2>"$AIDC_OUTPUT_DIR/{err}"
rc=$?
cat "$AIDC_OUTPUT_DIR/{err}" >&2
exit $rc
"""


def harness_argv(setting: str | None) -> list[str]:
    """The command the jobs run: the setting (a shell-like line) or the server's Python."""
    if setting:
        return shlex.split(setting)
    return [sys.executable, "-m", "aidc.validation.harness"]


def check_may_run(p: Principal) -> None:
    """Roles that never submit jobs never run validations (checked before the upload)."""
    if p.role in (Role.VIEWER, Role.REVIEWER, Role.DATA_STEWARD):
        raise Forbidden(f"a {p.role} cannot run validations; ask an org admin for the member role")


def create(
    center: Center, p: Principal, body: ValidationCreate, model: ModelFile, harness: list[str]
) -> ValidationView:
    """Check the request, keep the model, submit one job per accelerator type."""
    check_may_run(p)
    mount, types, targets = _checked(body, model)
    sha = hashlib.sha256(model.data).hexdigest()
    if body.model_sha256 is not None and body.model_sha256.lower() != sha:
        raise Invalid(
            f"the model file's SHA-256 is {sha}, not {body.model_sha256}: it changed on its way",
            field="model_sha256",
        )
    with center.db.read() as s:
        project = s.scalars(select(Project).where(Project.name == body.project)).first()
        if project is None or not can_submit(p, project.id):
            mine = jobs._project_names(s, p)
            raise Invalid(
                f"no project {body.project!r} that you can submit to; yours: "
                f"{', '.join(mine) or 'none (ask an org admin to add you)'}",
                field="project",
            )
        project_id, org_id = project.id, project.org_id
    vid = secrets.token_hex(8)
    key = f"validations/{vid}/{model.file_name}"
    model_path = _keep_model(center, key, model.data, sha)
    submitted: list[tuple[str, str]] = []
    version = mount.version
    try:
        for t in types:
            spec = _job_spec(body, mount, t, model_path, harness, vid)
            job = jobs.submit(center, p, spec)
            version = job.spec["datasets"][0]["version"]  # pinned by the submission
            mount = mount.model_copy(update={"version": version})  # the same for every type
            submitted.append((t, job.id))
    except ServiceError as e:
        # Nothing half-written: jobs already queued for this request are cancelled.
        for _, job_id in submitted:
            jobs.cancel_job(center, p, job_id)
        place(center).storage.delete_tree(f"validations/{vid}")
        # The same kind of error (a 422, 403 or 429), saying which type's job was refused.
        raise type(e)(f"{e.message} (the job on {t})", field=e.field or "accelerators") from None
    with center.db.transaction() as s:
        v = Validation(
            id=vid,
            project_id=project_id,
            org_id=org_id,
            user_id=p.user_id,
            name=body.name or model.file_name,
            model_name=body.model_name or model.file_name.rsplit(".", 1)[0],
            model_sha256=sha,
            model_bytes=len(model.data),
            model_key=key,
            dataset=mount.name,
            dataset_version=int(version or 0),
            metric=body.metric,
            scenarios=list(body.scenarios),
            targets=[t.text for t in targets],
            accelerators=types,
            created_at=center.clock(),
        )
        s.add(v)
        for t, job_id in submitted:
            s.add(ValidationRun(validation_id=vid, accelerator=t, job_id=job_id, state=PENDING))
        s.flush()
        return view_of(s, v)


def _checked(
    body: ValidationCreate, model: ModelFile
) -> tuple[DatasetMount, list[str], list[Target]]:
    if not _FILE_NAME_OK.match(model.file_name):
        raise Invalid("the model's file name: letters, digits, '.', '_' or '-'", field="model")
    if not model.data:
        raise Invalid("the model file is empty", field="model")
    if len(model.data) > MAX_MODEL_BYTES:
        raise Invalid(f"the model is larger than {MAX_MODEL_BYTES} bytes", field="model")
    if body.metric not in METRICS:
        raise Invalid(f"unknown metric {body.metric!r}; use {' or '.join(METRICS)}", "metric")
    for sc in body.scenarios:
        if sc not in SCENARIOS:
            raise Invalid(f"unknown scenario {sc!r}; use {' or '.join(SCENARIOS)}", "scenarios")
    if len(set(body.scenarios)) != len(body.scenarios):
        raise Invalid("a scenario is named twice", field="scenarios")
    try:
        mount = DatasetMount.model_validate(parse_mount(body.dataset))
    except ValueError as e:
        raise Invalid(f"dataset {body.dataset!r}: {e}; write NAME@VERSION", "dataset") from None
    types: list[str] = []
    for raw in body.accelerators:
        t = raw.strip().lower()
        if t != CPU and t not in accelerators.CATALOG:
            raise Invalid(
                f"unknown accelerator type {t!r}; use cpu or one of "
                f"{', '.join(accelerators.CATALOG)}",
                field="accelerators",
            )
        if t in types:
            raise Invalid(f"accelerator type {t} is named twice", field="accelerators")
        types.append(t)
    try:
        targets = parse_targets(body.targets)
    except TargetError as e:
        raise Invalid(str(e), field="targets") from None
    for target in targets:
        why = unmeasurable(target, body.metric, body.scenarios)
        if why is not None:
            raise Invalid(why, field="targets")
    return mount, types, targets


def device_of(accelerator: str) -> str:
    """The harness's --device for a type: cuda for NVIDIA GPUs, else the type's own name
    (a vendor runtime plug-in's device)."""
    if accelerator == CPU:
        return CPU
    return "cuda" if accelerators.CATALOG[accelerator].vendor == "nvidia" else accelerator


def _job_spec(
    body: ValidationCreate,
    mount: DatasetMount,
    accelerator: str,
    model_path: str,
    harness: list[str],
    vid: str,
) -> JobSpec:
    argv = [
        *harness,
        "--model",
        model_path,
        "--data",
        "@DATA@",
        "--metric",
        body.metric,
        *[a for sc in body.scenarios for a in ("--scenario", sc)],
        "--runtime",
        "onnxruntime",
        "--device",
        device_of(accelerator),
        "--out",
        "@OUT@",
    ]
    line = " ".join(shlex.quote(a) for a in argv)
    # The dataset's folder and the outputs folder are known only inside the job.
    line = line.replace("@DATA@", f'"${env_name(mount.name)}"').replace(
        "@OUT@", f'"$AIDC_OUTPUT_DIR/{RESULT_FILE}"'
    )
    device = accelerator != CPU
    return JobSpec(
        project=body.project,
        name=f"validate-{vid}-{accelerator}",
        script=_SCRIPT.format(line=line, err=ERROR_FILE, cpus=CPUS),
        accelerators=1 if device else 0,
        accelerator_type=accelerator if device else None,
        cpus=CPUS,
        memory_mib=2048,
        time_limit_s=TIME_LIMIT_S,
        priority_class=PriorityClass.NORMAL,
        datasets=[mount],
    )


def _keep_model(center: Center, key: str, data: bytes, sha: str) -> str:
    """Store the model and give back a path on this host that jobs read (read-only)."""
    pl = place(center)
    if pl.storage.put_bytes(key, data) != sha:
        raise Invalid("the model changed while it was stored; send it again", field="model")
    local = pl.storage.local_path(key)
    if local is None:  # an object store: a verified local copy beside the datasets' cache
        local = str(pl.cache_dir / key)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with open(local, "wb") as f:
            for chunk in pl.storage.read_verified(key, len(data), sha):
                f.write(chunk)
    os.chmod(local, 0o444)
    return local
