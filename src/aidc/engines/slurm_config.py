"""``[engines.slurm]`` options, validated; each error names ``engines.slurm.<key>`` and the fix.

[engines.slurm]
conf = "/etc/slurm/slurm.conf"   # SLURM_CONF for every Slurm tool (default: the environment's)
partition = "gpu"                 # or { hpc = "gpu", cpu = "batch" }; default: the pool name
jobs_dir = "/shared/aidc/slurm"   # on a filesystem shared with every compute node
identity = "service"              # or "organisation", with users = { <org> = "<unix user>" }
python = "python3"                # the interpreter that runs the in-job supervisor
modulepath = "/opt/modulefiles"   # MODULEPATH for environments' modules (default: the nodes')
module_init = "/usr/share/lmod/lmod/init/bash"  # the module system's init script for bash
images = "/shared/aidc/images"    # OCI bundles <images>/<image>/ for sbatch --container
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import Any

from aidc.engines import env_modules
from aidc.engines.registry import EngineConfig, EngineConfigError

KNOWN = ("conf", "partition", "jobs_dir", "identity", "users", "python", "accounts",
         "images", *env_modules.OPTIONS)  # fmt: skip


def _err(key: str, message: str) -> EngineConfigError:
    return EngineConfigError(f"engines.slurm.{key}: {message}")


def parse_options(config: EngineConfig) -> dict[str, Any]:
    opts = dict(config.options)
    unknown = sorted(set(opts) - set(KNOWN))
    if unknown:
        raise _err(unknown[0], f"unknown option; the options are {', '.join(KNOWN)}")
    out: dict[str, Any] = {}
    pools = [p.name for p in config.pools]

    conf = opts.get("conf")
    if conf is not None:
        if not isinstance(conf, str) or not conf:
            raise _err("conf", "must be the path of slurm.conf, as a string")
        if not os.path.isfile(conf):
            raise _err("conf", f"{conf} does not exist; set it to the cluster's slurm.conf")
        out["conf"] = conf

    partition = opts.get("partition")
    if isinstance(partition, str) and partition:
        out["partitions"] = dict.fromkeys(pools, partition)
    elif isinstance(partition, dict):
        for pool, part in partition.items():
            if pool not in pools:
                raise _err(
                    "partition",
                    f"pool {pool!r} does not use the slurm engine (its pools: {', '.join(pools)})",
                )
            if not isinstance(part, str) or not part:
                raise _err("partition", f"the partition of pool {pool!r} must be a name")
        out["partitions"] = dict(partition)
    elif partition is not None:
        raise _err("partition", 'must be a partition name or a table { <pool> = "<partition>" }')

    jobs_dir = opts.get("jobs_dir")
    if jobs_dir is not None:
        if not isinstance(jobs_dir, str) or not os.path.isabs(jobs_dir):
            raise _err("jobs_dir", "must be an absolute path on a filesystem shared with the nodes")
        out["jobs_dir"] = Path(jobs_dir)

    images = opts.get("images")
    if images is not None:
        if not isinstance(images, str) or not os.path.isabs(images):
            raise _err("images", "must be the absolute path of the folder of OCI bundles")
        out["images"] = images

    identity = opts.get("identity", "service")
    if identity not in ("service", "organisation"):
        raise _err("identity", 'must be "service" or "organisation"')
    users = opts.get("users", {})
    if not isinstance(users, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in users.items()
    ):
        raise _err("users", 'must be a table { <organisation> = "<unix user>" }')
    if identity == "organisation":
        if not users:
            raise _err("users", 'identity = "organisation" needs { <organisation> = "<user>" }')
        if os.getuid() != 0:
            raise _err(
                "identity",
                '"organisation" submits with sbatch --uid, which needs aidc to run as root '
                '(or SlurmUser); use "service" or run aidc as root',
            )
        for org, user in users.items():
            try:
                pwd.getpwnam(user)
            except KeyError:
                raise _err("users", f"{org} = {user!r}: no such Unix user on this host") from None
    elif users:
        raise _err("users", 'only used with identity = "organisation"')
    out["identity"] = identity
    out["users"] = users

    python = opts.get("python", "python3")
    if not isinstance(python, str) or not python or any(c.isspace() for c in python):
        raise _err("python", "must be the name or path of a Python 3 interpreter")
    out["python"] = python

    accounts = opts.get("accounts", True)
    if not isinstance(accounts, bool):
        raise _err("accounts", "must be true (sacctmgr accounts per project) or false")
    out["accounts"] = accounts

    for key in env_modules.OPTIONS:
        if key in opts:
            error = env_modules.option_error(key, opts[key])
            if error:
                raise _err(key, error)
            out[key] = opts[key]
    return out
