"""cgroup v2 limits for the local engine's jobs, where the kernel offers them.

When the server is root and a cgroup v2 hierarchy (mounted at ``/sys/fs/cgroup``, or
``/sys/fs/cgroup/unified`` in the hybrid layout) offers the memory, cpu and pids
controllers and lets them be enabled for children, each job's ranks run in their own
cgroup ``aidc/<job id>`` with ``memory.max`` (its memory request), ``cpu.max`` (its cpus)
and ``pids.max`` (``[engines.local] max_processes``). The supervisor moves every rank in
before it runs the command and removes the cgroup when the job has ended. Anything less
(cgroup v1 only, a read-only hierarchy, controllers missing) writes no limits; rlimits
still apply (local_identity).

``limit_files`` and ``usable_controllers`` decide what to write; they read nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aidc.engines.base import LaunchRequest

CONTROLLERS = ("memory", "cpu", "pids")
MOUNTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))
# cpu.max's period: the kernel's default (100 ms); the quota is cpus periods' worth.
CPU_PERIOD_US = 100_000


def usable_controllers(controllers: str) -> frozenset[str]:
    """Of memory, cpu and pids: those the hierarchy's top offers (its
    ``cgroup.controllers``), which are the ones its ``cgroup.subtree_control`` can enable
    for children."""
    have = set(controllers.split())
    return frozenset(c for c in CONTROLLERS if c in have)


def limit_files(
    usable: frozenset[str],
    *,
    ranks: int,
    memory_mib: int,
    cpus: int,
    max_processes: int | None,
) -> dict[str, str]:
    """File name -> content for one job's cgroup: its ranks together get ``ranks`` times
    the per-node memory and cpus; pids only when ``max_processes`` is set (per rank, like
    RLIMIT_NPROC, so ``ranks`` times it, and one for the supervisor, which sits in the
    cgroup so that every process it starts is in it from its first instruction)."""
    out: dict[str, str] = {}
    if "memory" in usable:
        out["memory.max"] = str(ranks * memory_mib * 1024 * 1024)
    if "cpu" in usable:
        out["cpu.max"] = f"{ranks * cpus * CPU_PERIOD_US} {CPU_PERIOD_US}"
    if "pids" in usable and max_processes:
        out["pids.max"] = str(ranks * max_processes + 1)
    return out


@dataclass(frozen=True)
class Hierarchy:
    """A writable cgroup v2 hierarchy with aidc's parent cgroup made, controllers on."""

    mount: Path
    usable: frozenset[str]

    @property
    def parent(self) -> Path:
        return self.mount / "aidc"

    def for_job(
        self, job: LaunchRequest, ranks: int, max_processes: int | None
    ) -> dict[str, object]:
        """The job's cgroup, made with its limits: what its launch.json says of it."""
        files = limit_files(self.usable, ranks=ranks, memory_mib=job.spec.memory_mib,
                            cpus=job.spec.cpus, max_processes=max_processes)  # fmt: skip
        path = self.create(job.job_id, files)
        return {"cgroup": str(path), "cgroup_root": str(self.mount)}

    def create(self, job_id: str, files: dict[str, str]) -> Path:
        path = self.parent / job_id
        path.mkdir(exist_ok=True)
        for name, content in files.items():
            (path / name).write_text(content)
        return path


def find_hierarchy() -> tuple[Hierarchy | None, str]:
    """The hierarchy to use, or None and why not (for the log and the docs' test)."""
    if os.geteuid() != 0:
        return None, "the server is not root"
    why = "no cgroup v2 hierarchy is mounted"
    for mount in MOUNTS:
        controllers = mount / "cgroup.controllers"
        if not controllers.exists():
            continue
        usable = usable_controllers(controllers.read_text())
        if set(usable) != set(CONTROLLERS):
            missing = ", ".join(c for c in CONTROLLERS if c not in usable)
            why = f"the cgroup v2 hierarchy at {mount} has no {missing} controller"
            continue
        if not os.access(mount / "cgroup.subtree_control", os.W_OK):
            why = f"the cgroup v2 hierarchy at {mount} is not writable"
            continue
        try:
            return _prepare(mount, usable), ""
        except OSError as e:
            why = f"cannot set up {mount / 'aidc'}: {e.strerror}"
    return None, why


def _prepare(mount: Path, usable: frozenset[str]) -> Hierarchy:
    enable = " ".join(f"+{c}" for c in sorted(usable))
    (mount / "cgroup.subtree_control").write_text(enable)
    parent = mount / "aidc"
    parent.mkdir(exist_ok=True)
    (parent / "cgroup.subtree_control").write_text(enable)
    return Hierarchy(mount, usable)
