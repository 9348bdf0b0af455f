"""The driver of one aidc run inside a Ray Job: ``python ray_entry.py RUN_DIR``.

Standard library and ray only: the engine copies this file into the run folder (on the
shared filesystem), so Ray nodes need no aidc install. It reads ``launch.json``, checks
that every node of the placement is in the cluster, reserves one placement-group bundle per
node (STRICT_SPREAD, each pinned by the node's ``aidc_node:<name>`` resource), runs one
``Rank`` actor per bundle that starts the user's command as a subprocess (own session) with
its env plus what only Ray knows (the GPUs it assigned; MASTER_ADDR/MASTER_PORT on rank
0's node), and supervises the ranks: time limit, stop requests, a failed rank stops the
rest. Every rank's output is appended to the job's log (``[rank N]`` before each line of
a multi-node job). It writes ``exit.json`` atomically last.

A stop request is ``stop.json`` in RUN_DIR, polled (the engine's grace applies; Ray's own
stop_job only allows a few seconds before SIGKILL): ``{"kind": "cancel"}`` or
``{"kind": "preempt", "grace_s": G, "reason": R}``. A SIGTERM (Ray's stop_job) is a cancel.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import typing

POLL_S = 0.1


def _load_json(path: str) -> dict[str, typing.Any]:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_json(path: str, data: dict[str, object]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _say(log_path: str, text: str) -> None:
    with open(log_path, "ab") as log:
        log.write(f"[aidc] {text}\n".encode())


class Rank:
    """One rank: the user's command on one node (a threaded Ray actor)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.pump: threading.Thread | None = None

    def where(self) -> tuple[str, int, list[str], str]:
        import ray

        with socket.socket() as s:
            s.bind(("", 0))
            port = s.getsockname()[1]
        gpu_ids = [str(g) for g in ray.get_gpu_ids()]
        node_id = ray.get_runtime_context().get_node_id()
        return ray.util.get_node_ip_address(), port, gpu_ids, node_id

    def start(self, argv: list[str], cwd: str, env: dict[str, str], log: str, prefix: str) -> str:
        try:
            self.proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as e:
            return f"cannot start {argv[0]!r}: {e.strerror}"
        self.pump = threading.Thread(target=self._pump, args=(log, prefix.encode()), daemon=True)
        self.pump.start()
        return ""

    def _pump(self, log_path: str, prefix: bytes) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if not prefix:
                while chunk := os.read(self.proc.stdout.fileno(), 65536):
                    os.write(fd, chunk)
            else:
                for line in self.proc.stdout:
                    os.write(fd, prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
        finally:
            os.close(fd)

    def wait(self) -> int:
        if self.proc is None:
            return 127
        rc = self.proc.wait()
        if self.pump is not None:
            self.pump.join(timeout=5)
        return rc

    def stop(self, grace: float) -> bool:
        """SIGTERM the command's process group, SIGKILL what is left after ``grace``."""
        if self.proc is None:
            return False
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if self.proc.poll() is not None and not _group_alive(pgid):
                return False
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _result(rc: int, rank: int | None) -> dict[str, object]:
    who = f"rank {rank}: " if rank is not None else ""
    if rc == 0:
        return {"outcome": "succeeded", "reason": "exit code 0", "exit_code": 0}
    if rc < 0:
        name = signal.Signals(-rc).name
        return {"outcome": "failed", "reason": f"{who}killed by signal {name}", "exit_code": rc}
    return {"outcome": "failed", "reason": f"{who}exit code {rc}", "exit_code": rc}


def run(run_dir: str, launch: dict[str, typing.Any], sigterm: list[bool]) -> dict[str, object]:
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    log = launch["log"]
    stop_path = os.path.join(run_dir, "stop.json")
    cancel_grace = float(launch["grace_s"])
    ranks = launch["ranks"]

    def stop_requested() -> tuple[str, str, float] | None:
        stop = _load_json(stop_path)
        if stop.get("kind") == "preempt":
            reason = str(stop.get("reason") or "preempted to make room for another job")
            return "preempted", reason, float(stop.get("grace_s", cancel_grace))
        if stop or sigterm[0]:
            # Ray's stop_job SIGKILLs a few seconds after its SIGTERM.
            grace = cancel_grace if stop else min(cancel_grace, 2.0)
            return "cancelled", "cancelled", grace
        return None

    ray.init(address="auto", logging_level="WARNING", log_to_driver=False)
    alive: set[str] = set()
    for node in ray.nodes():
        if node.get("Alive"):
            alive.update(k for k in node.get("Resources", {}) if k.startswith("aidc_node:"))
    missing = [r["node"] for r in ranks if f"aidc_node:{r['node']}" not in alive]
    if missing:
        reason = f"node(s) {', '.join(missing)} are not (any longer) in the Ray cluster"
        return {"outcome": "failed", "reason": reason, "exit_code": None}
    bundles = [dict(r["bundle"]) for r in ranks]
    pg = placement_group(bundles, strategy="STRICT_SPREAD")
    try:
        if not pg.wait(float(launch["place_timeout_s"])):
            reason = (
                f"Ray could not reserve {bundles} within {launch['place_timeout_s']}s "
                "(taken by work aidc does not know of?)"
            )
            return {"outcome": "failed", "reason": reason, "exit_code": None}
        actor = ray.remote(max_concurrency=4)(Rank)
        actors = []
        for i, r in enumerate(ranks):
            b = r["bundle"]
            actors.append(
                actor.options(
                    num_cpus=b.get("CPU", 0),
                    num_gpus=b.get("GPU", 0),
                    memory=b.get("memory"),
                    scheduling_strategy=PlacementGroupSchedulingStrategy(pg, i),
                ).remote()
            )
        wheres = ray.get([a.where.remote() for a in actors])
        master_addr, master_port = wheres[0][0], wheres[0][1]
        if (stopped := stop_requested()) is not None:
            return {"outcome": stopped[0], "reason": stopped[1] + " (before it started)"}
        multi = len(ranks) > 1
        started = []
        for i, (r, a, where) in enumerate(zip(ranks, actors, wheres, strict=True)):
            gpu_ids, env = where[2], dict(r["env"])
            env["AIDC_RAY_NODE_ID"] = where[3]
            for name in r["device_vars"]:
                env[name] = ",".join(gpu_ids)
            if multi:
                env.update(MASTER_ADDR=master_addr, MASTER_PORT=str(master_port))
            started.append(
                a.start.remote(
                    launch["argv"], launch["cwd"], env, log, f"[rank {i}] " if multi else ""
                )
            )
        errors = [e for e in ray.get(started) if e]
        _write_json(os.path.join(run_dir, "started.json"), {"at": time.time(), "ip": master_addr})
        waits = {a.wait.remote(): i for i, a in enumerate(actors)}
        codes: dict[int, int] = {}
        deadline = time.monotonic() + float(launch["time_limit_s"])
        result: dict[str, object] | None = None
        stopped = None
        if errors:
            result = {"outcome": "failed", "reason": errors[0], "exit_code": 127}
        while result is None and len(codes) < len(actors):
            done, _ = ray.wait(list(waits), num_returns=1, timeout=POLL_S)
            for ref in done:
                i = waits.pop(ref)
                codes[i] = ray.get(ref)
                if codes[i] != 0:
                    result = _result(codes[i], i if multi else None)
            if result is not None or len(codes) == len(actors):
                break
            if (stopped := stop_requested()) is None and time.monotonic() > deadline:
                limit = launch["time_limit_s"]
                stopped = ("timeout", f"timeout: exceeded the time limit of {limit}s", cancel_grace)
            if stopped is not None:
                break
        grace = stopped[2] if stopped is not None else cancel_grace
        if stopped is not None:
            _say(log, f"{stopped[1]}; stopping the job (grace {grace:g}s)")
        t0 = time.monotonic()
        killed = any(ray.get([actors[i].stop.remote(grace) for i in waits.values()]))
        stop_s = round(time.monotonic() - t0, 3)
        for ref, i in waits.items():
            codes[i] = ray.get(ref)
        if stopped is not None:
            reason = stopped[1]
            if stopped[0] == "preempted":
                how = f"killed after the {grace:g}s grace" if killed else "exited"
                reason = f"{reason} ({how}; stopped in {stop_s:.1f}s)"
            code = codes.get(0)
            return {"outcome": stopped[0], "reason": reason, "exit_code": code, "killed": killed,
                    "stop_s": stop_s}  # fmt: skip
        return result or _result(0, None)
    finally:
        with contextlib.suppress(Exception):
            remove_placement_group(pg)


def main(run_dir: str) -> int:
    with open(os.path.join(run_dir, "launch.json")) as f:
        launch = json.load(f)
    sigterm = [False]

    def on_term(signum: int, frame: object) -> None:
        sigterm[0] = True

    signal.signal(signal.SIGTERM, on_term)
    try:
        result = run(run_dir, launch, sigterm)
    except Exception as e:
        result = {
            "outcome": "failed",
            "reason": f"the aidc driver failed: {e!r}",
            "exit_code": None,
        }
    if result["outcome"] != "succeeded":
        _say(launch["log"], str(result["reason"]))
    _write_json(os.path.join(run_dir, "exit.json"), {**result, "finished_at": time.time()})
    code = result.get("exit_code")
    return (
        0
        if result["outcome"] == "succeeded"
        else (code if isinstance(code, int) and code > 0 else 1)
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
