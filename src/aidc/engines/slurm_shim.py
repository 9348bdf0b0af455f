"""In-job supervisor of a Slurm run; Slurm runs ``python3 -I -S slurm_shim.py batch RUN_DIR``.

Standard library only; it sits next to ``local_shim.py`` in ``<jobs_dir>/.aidc/`` (the shared
filesystem), and each rank of the job is supervised by ``local_shim.main``: own process
group, the time limit to the second (Slurm itself checks limits only every ~30 s), a
SIGTERM turned into "SIGTERM the job, wait the grace, SIGKILL", ``exit.json`` written last.

Per rank K a folder ``RUN_DIR/rank-K/`` gets the rank's ``launch.json``: the engine's
``launch.json`` plus what only the node knows: Slurm's CUDA_VISIBLE_DEVICES (Slurm chooses
the device indices on the node, aidc the node and the count), the node's ``AIDC_*``, and
for multi-node jobs torchrun's rank variables (rank = SLURM_NODEID, MASTER_ADDR = the
first node of the allocation, MASTER_PORT from the Slurm job id). The engine writes a
stop request (``stop.json``) into every rank folder before it signals the job.

One node: the batch step is rank 0 (the engine signals it with ``scancel --full``). Several:
the batch step runs ``srun`` with one task per node (``slurm_shim.py rank RUN_DIR``), waits
for it, and sums the ranks' ``exit.json`` up into ``RUN_DIR/exit.json``; the engine then
signals the srun step only, since srun ends its step at once when it gets a SIGTERM.
A stopped rank exits 0 so that ``KillOnBadExit`` does not cut the other ranks' grace
short; a rank that fails by itself takes the others down.
"""

import os
import signal
import subprocess
import sys
import time
import typing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import env_modules
import local_shim

STOPPED = ("preempted", "cancelled", "timeout")
# Seconds the batch step waits for srun beyond a rank's grace before it kills srun.
SRUN_SLACK_S = 10.0
PORT_BASE = 20000
PORT_SPAN = 10000


def _env_for_rank(launch: dict[str, typing.Any], rank: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(launch["env"])
    node = env.get("SLURMD_NODENAME", "")
    nodes = launch["nodes"]
    env.update(nodes.get(node) or nodes[sorted(nodes)[0]])
    devices = os.environ.get("CUDA_VISIBLE_DEVICES", "") if launch["accelerators"] else ""
    env["CUDA_VISIBLE_DEVICES"] = devices
    env["AIDC_VISIBLE_DEVICES"] = devices
    world = int(launch["nnodes"])
    if world > 1:
        env.update(
            {
                "RANK": str(rank),
                "WORLD_SIZE": str(world),
                "LOCAL_RANK": "0",
                "NODE_RANK": str(rank),
                "MASTER_ADDR": os.environ["AIDC_SHIM_MASTER_ADDR"],
                "MASTER_PORT": os.environ["AIDC_SHIM_MASTER_PORT"],
                "AIDC_RANK": str(rank),
                "AIDC_WORLD_SIZE": str(world),
            }
        )
    for k in ("AIDC_SHIM_MASTER_ADDR", "AIDC_SHIM_MASTER_PORT"):
        env.pop(k, None)
    return env


def run_rank(run_dir: str, rank: int) -> dict[str, typing.Any]:
    """Supervise this node's rank with local_shim; its exit record."""
    launch = local_shim._load_json(os.path.join(run_dir, "launch.json"))
    rank_dir = os.path.join(run_dir, f"rank-{rank}")
    os.makedirs(rank_dir, exist_ok=True)
    # On this node: its module system, its modules.
    modules = launch.get("modules") or {}
    env, error = env_modules.load_or_say(modules, _env_for_rank(launch, rank), launch["log"])
    if error:
        failed = {"outcome": "failed", "exit_code": None, "reason": error}
        local_shim._write_json(os.path.join(rank_dir, "exit.json"), failed)
        return failed
    rank_launch = {
        "argv": launch["argv"],
        "cwd": launch["cwd"],
        "env": env,
        "log": launch["log"],
        "time_limit_s": launch["time_limit_s"],
        "grace_s": launch["grace_s"],
    }
    local_shim._write_json(os.path.join(rank_dir, "launch.json"), rank_launch)
    local_shim.main(rank_dir)
    result: dict[str, typing.Any] = local_shim._load_json(os.path.join(rank_dir, "exit.json"))
    return result


def _exit_code(result: dict[str, typing.Any]) -> int:
    rc = result.get("exit_code")
    if not isinstance(rc, int):
        return 1
    return rc if rc >= 0 else 128 - rc


def _first_host(nodelist: str) -> str:
    out = subprocess.run(
        ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True
    )
    return out.stdout.split()[0]


def _summarise(run_dir: str, n: int, srun_rc: int) -> dict[str, typing.Any]:
    paths = [os.path.join(run_dir, f"rank-{k}", "exit.json") for k in range(n)]
    ranks = [local_shim._load_json(p) for p in paths]
    for outcome in STOPPED:
        stopped = [(k, r) for k, r in enumerate(ranks) if r.get("outcome") == outcome]
        if stopped:
            k, r = stopped[0]
            return {
                **r,
                "stop_s": max(float(x.get("stop_s", 0)) for _, x in stopped),
                "killed": any(bool(x.get("killed")) for _, x in stopped),
            }
    for k, r in enumerate(ranks):
        if r.get("outcome") == "failed":
            return {**r, "reason": f"rank {k}: {r.get('reason', '')}"}
    missing = [k for k, r in enumerate(ranks) if not r]
    if missing:
        return {
            "outcome": "failed",
            "exit_code": srun_rc or 1,
            "reason": f"rank(s) {missing} ended without recording an exit "
            f"(srun exit code {srun_rc})",
        }
    return {"outcome": "succeeded", "exit_code": 0, "reason": "exit code 0"}


def note_end(run_dir: str) -> None:
    """Tell the engine's watcher that a run ended (aidc.engines.end_watcher)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ended")
    try:
        with open(path, "a") as f:
            f.write(run_dir + "\n")
    except OSError:
        pass  # the controller's next pass finds the end anyway


def run_batch(run_dir: str) -> int:
    code = _run_batch(run_dir)
    note_end(run_dir)
    return code


def _run_batch(run_dir: str) -> int:
    launch = local_shim._load_json(os.path.join(run_dir, "launch.json"))
    n = int(launch["nnodes"])
    exit_path = os.path.join(run_dir, "exit.json")
    if n == 1:
        result = run_rank(run_dir, 0)
        local_shim._write_json(exit_path, result)
        return _exit_code(result)
    # Rank 0 is the allocation's first node (SLURM_NODEID 0), whatever order aidc chose.
    first = _first_host(os.environ["SLURM_JOB_NODELIST"])
    env = dict(os.environ)
    env["AIDC_SHIM_MASTER_ADDR"] = launch["addresses"].get(first, first)
    env["AIDC_SHIM_MASTER_PORT"] = str(PORT_BASE + int(env["SLURM_JOB_ID"]) % PORT_SPAN)
    stop_path = os.path.join(run_dir, "rank-0", "stop.json")
    stop_at: list[float] = []

    def note_stop() -> None:
        # The engine signals the ranks only (srun would end the step on a SIGTERM); they
        # stop within their grace, and srun is killed only if they do not.
        if not stop_at and os.path.exists(stop_path):
            stop = local_shim._load_json(stop_path)
            grace = float(stop.get("grace_s", launch["grace_s"]))
            stop_at.append(time.monotonic() + grace + SRUN_SLACK_S)

    signal.signal(signal.SIGTERM, lambda signum, frame: note_stop())
    backstop = time.monotonic() + float(launch["time_limit_s"]) + float(launch["grace_s"])
    backstop += SRUN_SLACK_S
    argv = [
        "srun",
        f"--nodes={n}",
        f"--ntasks={n}",
        "--ntasks-per-node=1",
        "--kill-on-bad-exit=1",
        launch["python"],
        "-I",
        "-S",
        os.path.abspath(__file__),
        "rank",
        run_dir,
    ]
    srun = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    while True:
        try:
            rc = srun.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            note_stop()
            now = time.monotonic()
            if now > backstop or (stop_at and now > stop_at[0]):
                os.killpg(srun.pid, signal.SIGKILL)
    result = _summarise(run_dir, n, rc)
    result.setdefault("finished_at", time.time())
    local_shim._write_json(exit_path, result)
    return _exit_code(result)


def main(argv: list[str]) -> int:
    mode, run_dir = argv[1], argv[2]
    if mode == "batch":
        return run_batch(run_dir)
    result = run_rank(run_dir, int(os.environ.get("SLURM_NODEID", "0")))
    # A stopped rank exits 0: srun's KillOnBadExit would cut the other ranks' grace short.
    return 0 if result.get("outcome") in STOPPED else _exit_code(result)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
