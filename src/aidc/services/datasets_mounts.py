"""What an engine asks when it launches a job that declares datasets: may this run read
them (a restricted dataset needs a live grant now, not only at submission), and a
read-only view of their verified files in the run's folder.

The view is a folder per dataset of links to the verified files: on a local store, the
store's own (read-only) files; on an object store, a local cache filled and verified
once. Every file's SHA-256 is checked before the run starts; a file that has not changed
since it was last checked (same size and modification time) is not read again. The job
finds each dataset through an environment variable (``AIDC_DATASET_<NAME>``) instead of
at the path it named. Engines whose jobs run on other hosts (Slurm, Ray) use the same
view: the run folder, the store (or the cache) must then be on storage those hosts share.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import NoReturn

from sqlalchemy import select

from aidc.core.datasets import Tier, env_name
from aidc.engines.base import DatasetView, LaunchError, LaunchRequest
from aidc.services.center import Center
from aidc.services.datasets import by_name, ready_version
from aidc.services.datasets_audit import REFUSED, record
from aidc.services.datasets_grants import live_grant
from aidc.services.datasets_place import place
from aidc.services.datasets_upload import final_key
from aidc.services.errors import NotFound
from aidc.storage import Corrupt
from aidc.store.models import Project
from aidc.store.models_datasets import DatasetFile

OUTPUTS = "outputs"


class DatasetMounts:
    """Given to engines (``engine.datasets``); called from the controller's thread."""

    def __init__(self, center: Center) -> None:
        self.center = center
        self._checked: dict[str, tuple[int, int]] = {}  # path -> (size, mtime_ns) verified
        self._lock = threading.Lock()

    def prepare(self, job: LaunchRequest, run_dir: Path) -> DatasetView:
        """The variables that point the job at its datasets and its outputs folder, and
        the folders the job reads them through (to be kept read-only)."""
        files, purposes = self._allowed(job)
        view = run_dir / "datasets"
        env = {"AIDC_DATASETS_DIR": str(view)}
        read_only = [str(view)]
        for (name, version, mount_path), rows in files.items():
            target = view / name
            target.mkdir(parents=True, exist_ok=True)
            for f in rows:
                source = self._verified_source(job, name, version, f)
                link = target / f.path
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.is_symlink():
                    link.symlink_to(source)
            if rows:  # the version's folder: where every link of this dataset leads
                read_only.append(self._source_dir(name, version))
            env[env_name(name)] = str(target)
            env[env_name(name) + "_PATH"] = mount_path
        for folder, _dirs, _files in os.walk(view):
            os.chmod(folder, 0o555)  # the view itself cannot be changed by the job
        now = self.center.clock()
        with self.center.db.transaction() as s:  # every file checked: the mounts happen
            for (name, version, mount_path), _ in files.items():
                record(s, at=now, actor=f"job:{job.job_id}", action="mount", dataset=name,
                       version=version, project=job.project, job_id=job.job_id,
                       purpose=purposes[name], detail=mount_path)  # fmt: skip
        outputs = run_dir.parent / OUTPUTS
        outputs.mkdir(parents=True, exist_ok=True)
        env["AIDC_OUTPUT_DIR"] = str(outputs)
        return DatasetView(env, tuple(read_only))

    def _source_dir(self, name: str, version: int) -> str:
        pl = place(self.center)
        key = f"data/{name}/{version}"
        return pl.storage.local_path(key) or str(pl.cache_dir / key)

    def _allowed(
        self, job: LaunchRequest
    ) -> tuple[dict[tuple[str, int, str], list[DatasetFile]], dict[str, str]]:
        """Each dataset's files, and the purpose of the grant it is read under."""
        now = self.center.clock()
        out: dict[tuple[str, int, str], list[DatasetFile]] = {}
        purposes: dict[str, str] = {}
        refusal: tuple[str, int | None, str] | None = None
        with self.center.db.read() as s:
            project_id = s.scalar(select(Project.id).where(Project.name == job.project))
            for m in job.spec.datasets:
                try:
                    ds = by_name(s, m.name)
                except NotFound:
                    refusal = (m.name, m.version, f"dataset {m.name} no longer exists")
                    break
                v = ready_version(s, ds, m.version)
                grant = None
                if ds.tier == Tier.RESTRICTED:
                    grant = live_grant(s, ds.id, project_id or -1, now)
                    if grant is None:
                        refusal = (m.name, m.version, "no live access grant for the project")
                        break
                if v is None:
                    refusal = (m.name, m.version, f"version {m.version} is not committed")
                    break
                purposes[ds.name] = grant.purpose if grant else ""
                rows = list(s.scalars(select(DatasetFile).where(DatasetFile.version_id == v.id)))
                for r in rows:
                    s.expunge(r)
                out[(ds.name, v.version, m.path)] = rows
        if refusal is not None:
            name, version, why = refusal
            self._refused(job, name, version, why)
        return out, purposes

    def _refused(self, job: LaunchRequest, name: str, version: int | None, why: str) -> NoReturn:
        with self.center.db.transaction() as s:
            record(
                s,
                at=self.center.clock(),
                actor=f"job:{job.job_id}",
                action="mount",
                outcome=REFUSED,
                dataset=name,
                version=version,
                project=job.project,
                job_id=job.job_id,
                detail=why,
            )
        raise LaunchError(f"dataset {name}: {why}; the job was not started")

    def _verified_source(self, job: LaunchRequest, name: str, version: int, f: DatasetFile) -> str:
        pl = place(self.center)
        key = final_key(name, version, f.path)
        local = pl.storage.local_path(key)
        try:
            if local is None:  # an object store: a local copy, verified as it is fetched
                local = str(pl.cache_dir / key)
                if not os.path.exists(local):
                    self._fetch(key, local, f)
            st = os.stat(local)
            with self._lock:
                known = self._checked.get(local) == (st.st_size, st.st_mtime_ns)
            if not known:
                _check_local(local, f)
                with self._lock:
                    self._checked[local] = (st.st_size, st.st_mtime_ns)
        except (Corrupt, FileNotFoundError) as e:
            self._refused(job, name, version, f"stored data is corrupt or missing ({e})")
        return local

    def _fetch(self, key: str, local: str, f: DatasetFile) -> None:
        storage = place(self.center).storage
        os.makedirs(os.path.dirname(local), exist_ok=True)
        part = f"{local}.part-{os.getpid()}"
        with open(part, "wb") as out:
            for chunk in storage.read_verified(key, f.size, f.sha256):
                out.write(chunk)
        os.chmod(part, 0o444)
        os.replace(part, local)


def _check_local(path: str, f: DatasetFile) -> None:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as src:
        while data := src.read(4 * 1024 * 1024):
            h.update(data)
            size += len(data)
    if (size, h.hexdigest()) != (f.size, f.sha256):
        raise Corrupt(f"{f.path} does not match its manifest")
