"""Named software environments of an organisation (``aidc env``).

An environment is a requirements list, a module list and/or a container image name. For
the local engine the requirements are built once into a virtualenv under
``<home>/environments/<sha256>/`` (shared by every environment with the same list, in a
process of its own: ``aidc.services.environment_build``) and every job or notebook naming
it runs with that virtualenv first on PATH. The Slurm and Ray engines load the modules on
the node (``engines.env_modules``); the Slurm engine runs the image (``engines.oci_images``),
the others refuse it. Both are passed to the job as well (``AIDC_ENVIRONMENT_MODULES``,
``AIDC_ENVIRONMENT_IMAGE``).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import threading
from pathlib import Path

import psutil
from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.jobspec import NAME_RE
from aidc.core.tenancy import Principal, Role
from aidc.engines.base import Environment
from aidc.schemas_notebooks import EnvironmentCreate, EnvironmentView
from aidc.services import environment_build as build
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.settings import Settings
from aidc.store.models import Organisation
from aidc.store.models_notebooks import EnvironmentRow

_MODULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+/-]{0,127}\Z")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}\Z")


def create(
    center: Center, settings: Settings, p: Principal, body: EnvironmentCreate
) -> EnvironmentView:
    """Record the environment and, if it has requirements, build (or reuse) its venv."""
    if p.role in (Role.VIEWER, Role.REVIEWER):
        raise Forbidden("viewers and reviewers cannot create environments")
    if not NAME_RE.match(body.name):
        raise Invalid("must be 1-63 letters, digits, '.', '_' or '-'", field="name")
    bad = [m for m in body.modules if not _MODULE.match(m)]
    if bad:
        raise Invalid(f"{bad[0]!r} is not a module name such as cuda/12.4", field="modules")
    if body.image and not _IMAGE.match(body.image):
        raise Invalid(f"{body.image!r} is not an image name", field="image")
    requirements = _normalise(body.requirements)
    digest = hashlib.sha256(requirements.encode()).hexdigest()
    folder = settings.home / "environments" / digest
    venv = str(folder / build.VENV) if requirements else ""
    with center.db.transaction() as s:
        have = s.scalars(
            select(EnvironmentRow).where(
                EnvironmentRow.org_id == p.org_id, EnvironmentRow.name == body.name
            )
        ).one_or_none()
        if have is not None:
            raise Conflict(f"your organisation has an environment {body.name!r}", field="name")
        row = EnvironmentRow(
            org_id=p.org_id,
            name=body.name,
            requirements=requirements,
            modules=list(body.modules),
            image=body.image,
            digest=digest,
            venv_path=venv,
            created_at=center.clock(),
            created_by=p.username,
        )
        s.add(row)
        s.flush()
        view = _view(s, row)
    if requirements:
        _ensure_built(folder, requirements)
        with center.db.read() as s:
            view = _view(s, _get(s, p, body.name))
    return view


def list_environments(center: Center, p: Principal) -> list[EnvironmentView]:
    with center.db.read() as s:
        q = select(EnvironmentRow).order_by(EnvironmentRow.name)
        if not p.is_center_admin:
            q = q.where(EnvironmentRow.org_id == p.org_id)
        return [_view(s, r) for r in s.scalars(q)]


def get(center: Center, p: Principal, name: str) -> EnvironmentView:
    with center.db.read() as s:
        return _view(s, _get(s, p, name))


def build_log(center: Center, p: Principal, name: str) -> str:
    with center.db.read() as s:
        row = _get(s, p, name)
    if not row.venv_path:
        return ""
    try:
        return (Path(row.venv_path).parent / build.LOG).read_text(errors="replace")
    except FileNotFoundError:
        return ""


def check_usable(s: Session, name: str, org_id: int) -> None:
    """For a submission naming ``name``: Invalid unless the project's organisation has it,
    built (a venv still building or failed would run the job without its software)."""
    row = _by_name(s, org_id, name)
    if row is None:
        raise Invalid(
            f"no environment {name!r} in the project's organisation; see `aidc env list`",
            field="environment",
        )
    state, error = _build_state(row)
    if state == "building":
        raise Invalid(f"environment {name!r} is still being built", field="environment")
    if state == "failed":
        raise Invalid(f"environment {name!r} failed to build: {error}", field="environment")


def for_launch(s: Session, name: str | None, org_id: int) -> Environment | None:
    """What an engine needs of the environment a job names (None: it names none)."""
    if not name:
        return None
    row = _by_name(s, org_id, name)
    if row is None:
        return Environment(name)
    return Environment(name, venv=row.venv_path, modules=tuple(row.modules), image=row.image)


def jupyter_python(venv: str) -> str | None:
    """The venv's python if jupyterlab is installed in it, else None."""
    if venv and any(Path(venv).glob("lib/python*/site-packages/jupyterlab/__init__.py")):
        return str(Path(venv) / "bin" / "python")
    return None


# -- helpers ------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    lines = [line.strip() for line in text.splitlines()]
    kept = [line for line in lines if line and not line.startswith("#")]
    for line in kept:
        if line.startswith("-") and not line.startswith(("--index-url", "--extra-index-url")):
            # -e, -r, -c name files or folders on the server: not a list of packages.
            raise Invalid(f"{line.split()[0]}: only package requirements", field="requirements")
    return "".join(f"{line}\n" for line in kept)


_BUILD_LOCK = threading.Lock()


def _ensure_built(folder: Path, requirements: str) -> None:
    """Start the build unless the folder is built or being built (one build per list)."""
    with _BUILD_LOCK:
        folder.mkdir(parents=True, exist_ok=True)
        status = build.read_status(folder)
        if status.get("state") == "ready" or (
            status.get("state") == "building" and _alive(status.get("pid"))
        ):
            return
        (folder / build.REQUIREMENTS).write_text(requirements)
        # Written before the process starts, so that a look right after sees "building".
        build.write_status(folder, state="building", pid=None)
        with open(folder / build.LOG, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "aidc.services.environment_build", str(folder)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        build.write_status(folder, state="building", pid=proc.pid)
    threading.Thread(target=proc.wait, daemon=True, name=f"env-{folder.name[:8]}").start()


def _build_state(row: EnvironmentRow) -> tuple[str, str]:
    if not row.venv_path:
        return "none", ""
    status = build.read_status(Path(row.venv_path).parent)
    state = str(status.get("state") or "failed")
    if state == "building" and status.get("pid") is not None and not _alive(status.get("pid")):
        return "failed", "the build process ended without a result; see the build log"
    return state, str(status.get("error") or "")


def _alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _by_name(s: Session, org_id: int, name: str) -> EnvironmentRow | None:
    q = select(EnvironmentRow).where(EnvironmentRow.org_id == org_id, EnvironmentRow.name == name)
    return s.scalars(q).one_or_none()


def _get(s: Session, p: Principal, name: str) -> EnvironmentRow:
    q = select(EnvironmentRow).where(EnvironmentRow.name == name)
    if not p.is_center_admin:
        q = q.where(EnvironmentRow.org_id == p.org_id)
    rows = list(s.scalars(q))
    if not rows:
        raise NotFound(f"no environment {name!r}", field="name")
    return next((r for r in rows if r.org_id == p.org_id), rows[0])


def _view(s: Session, row: EnvironmentRow) -> EnvironmentView:
    org = s.get(Organisation, row.org_id)
    state, error = _build_state(row)
    return EnvironmentView(
        name=row.name,
        organisation=org.name if org is not None else "",
        requirements=row.requirements,
        modules=list(row.modules),
        image=row.image,
        build_state=state,
        build_error=error,
        venv=row.venv_path,
        has_jupyterlab=state == "ready" and jupyter_python(row.venv_path) is not None,
        created_at=row.created_at,
        created_by=row.created_by,
    )
