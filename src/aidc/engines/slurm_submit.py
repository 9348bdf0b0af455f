"""What a Slurm run is submitted with: the sbatch arguments, the supervisors on the shared
filesystem, and file ownership for runs under an organisation's Unix user."""

from __future__ import annotations

import math
import os
import pwd
import shutil
from pathlib import Path

from aidc.engines.base import LaunchRequest

HERE = Path(__file__).parent
SHIMS = ("local_shim.py", "slurm_shim.py", "env_modules.py", "readonly_exec.py")


def sbatch_args(
    job: LaunchRequest,
    name: str,
    partition: str,
    account: str | None,
    user: str | None,
    log: Path,
    cwd: str,
    grace_s: float,
) -> list[str]:
    """``sbatch`` for one run, onto exactly the placement's nodes; ``user``: submit as that
    Unix user (root or SlurmUser only)."""
    nodes = job.placement.nodes
    first = nodes[0]
    minutes = math.ceil((job.time_limit_s + grace_s) / 60) + 1
    args = [
        "sbatch",
        "--parsable",
        f"--job-name={name}",
        f"--nodelist={','.join(p.node for p in nodes)}",
        f"--nodes={len(nodes)}",
        "--ntasks-per-node=1",
        f"--cpus-per-task={max(p.cpus for p in nodes)}",
        f"--mem={max(p.memory_mib for p in nodes)}M",
        f"--time={minutes}",
        f"--partition={partition}",
        f"--output={log}",
        "--open-mode=append",
        f"--chdir={cwd}",
        # aidc requeues (as a new attempt); Slurm must not rerun a run by itself.
        "--no-requeue",
        "--export=ALL",  # that is: the clean environment SlurmCli runs sbatch with
    ]
    if account is not None:
        args.append(f"--account={account}")
    count = len(first.devices)
    if count:
        args.append(f"--gres=gpu:{first.accelerator_type}:{count}")
    if user is not None:
        pw = pwd.getpwnam(user)
        args += [f"--uid={pw.pw_uid}", f"--gid={pw.pw_gid}"]
    return args


def install_shims(shim_dir: Path) -> None:
    """Copy the supervisors to the shared jobs folder (compute nodes run them there)."""
    shim_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(shim_dir, 0o755)
    for name in SHIMS:
        src, dst = HERE / name, shim_dir / name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            tmp = dst.with_suffix(".tmp")
            shutil.copyfile(src, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dst)


def chown_tree(user: str, paths: list[Path], skip: Path | None = None) -> None:
    """Give ``paths`` to ``user``, except the folder ``skip``; links themselves, never
    what they point at (a dataset view's links lead into the store)."""
    pw = pwd.getpwnam(user)
    for top in paths:
        for root, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if skip is None or Path(root, d) != skip]
            for name in [root, *(os.path.join(root, x) for x in dirs + files)]:
                os.chown(name, pw.pw_uid, pw.pw_gid, follow_symlinks=False)
