"""An environment's modules, loaded on the node just before its run starts.

Standard library only: the Slurm supervisor (next to ``slurm_shim.py`` in the shared jobs
folder) and the Ray driver (copied into the run folder) import it on compute nodes, which
need no aidc install. ``bash`` sources the module system's init script (Lmod's by default),
runs ``module load`` and prints the environment that results; the run gets that
environment, so it sees exactly what the modules set. A node without the module system, or
a module it does not know, is an error that names the node and the module: the run fails
before its command starts rather than run without what it asked for.
"""

import os
import socket
import subprocess
import typing

# The engine options that say where modules are (engines.slurm.*, engines.ray.*).
OPTIONS = ("modulepath", "module_init")
# Lmod from Debian or EPEL; Environment Modules sites set engines.<engine>.module_init.
DEFAULT_INIT = "/usr/share/lmod/lmod/init/bash"
MARK = b"\0aidc-module-env\0"
# Set by bash itself, not by any module: the run keeps its own.
BASH_OWN = ("_", "SHLVL", "PWD", "OLDPWD")
SCRIPT = (
    'source "$1" >&2 || exit 90; shift; '
    "command -v module >/dev/null || exit 91; "
    'module load "$@" >&2 || exit 92; '
    "printf '\\0aidc-module-env\\0'; env -0"
)


class ModuleError(Exception):
    """``module load`` did not succeed: ``reason`` for the run's status, ``output`` (what
    the module system said) for its log."""

    def __init__(self, reason: str, output: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.output = output


def spec(
    modules: typing.Sequence[str], init: str = "", modulepath: str = ""
) -> dict[str, typing.Any]:
    """What a launch records for ``load`` (empty: the run loads nothing)."""
    if not modules:
        return {}
    return {"names": list(modules), "init": init or DEFAULT_INIT, "modulepath": modulepath}


def load(
    spec: dict[str, typing.Any], env: dict[str, str], timeout_s: float = 120
) -> dict[str, str]:
    """``env`` after ``module load`` of ``spec``'s modules on this node; raises ModuleError."""
    names = list(spec.get("names") or [])
    if not names:
        return env
    init = str(spec.get("init") or DEFAULT_INIT)
    node = env.get("AIDC_NODE") or socket.gethostname()
    wanted = " ".join(names)
    if not os.path.isfile(init):
        raise ModuleError(
            f"cannot load modules {wanted}: no module system on node {node} "
            f"({init} does not exist; the center sets module_init in the engine's options)"
        )
    run_env = dict(env)
    if spec.get("modulepath"):
        run_env["MODULEPATH"] = str(spec["modulepath"])
    argv = ["bash", "--noprofile", "--norc", "-c", SCRIPT, "aidc-modules", init, *names]
    try:
        done = subprocess.run(
            argv, env=run_env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        why = e.strerror if isinstance(e, OSError) else f"no answer within {timeout_s:g}s"
        raise ModuleError(f"cannot load modules {wanted} on node {node}: {why}") from None
    said = done.stderr.decode(errors="replace").strip()
    if done.returncode != 0 or MARK not in done.stdout:
        what = {90: f"{init} failed", 91: f"{init} defines no module command"}.get(
            done.returncode, f"module load {wanted} failed"
        )
        raise ModuleError(f"{what} on node {node}: {_gist(said)}", said)
    loaded: dict[str, str] = {}
    for entry in done.stdout.split(MARK, 1)[1].split(b"\0"):
        key, sep, value = entry.decode(errors="surrogateescape").partition("=")
        if sep and key not in BASH_OWN:
            loaded[key] = value
    for key in BASH_OWN:
        if key in env:
            loaded[key] = env[key]
    return loaded


def load_or_say(
    spec: dict[str, typing.Any], env: dict[str, str], log: str
) -> tuple[dict[str, str], str]:
    """``load``, or ``env`` and the reason it failed, with what the module system said and
    the reason appended to the job's ``log``."""
    try:
        return load(spec, env), ""
    except ModuleError as e:
        with open(log, "ab") as f:
            f.write(f"{e.output}\n[aidc] {e.reason}\n".lstrip().encode())
        return env, e.reason


def _gist(text: str) -> str:
    """The module system's message in one line (Lmod's runs over a dozen)."""
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    keep = [x for x in lines if not x.startswith(("Please check", "It is also", "$ module"))]
    return " ".join(keep[:2])[:400] or "no message"


def option_error(key: str, value: object) -> str | None:
    """What is wrong with the engine option ``modulepath`` or ``module_init``, if anything."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    paths = value.split(":") if key == "modulepath" else [value]
    bad = [p for p in paths if not os.path.isabs(p)]
    if bad:
        what = "folders of modulefiles, separated by ':'" if key == "modulepath" else "a path"
        return f"{bad[0]!r} is not absolute; give absolute {what} as the nodes see them"
    return None
