"""The driver of one aidc run inside a Ray Job: ``python ray_entry.py RUN_DIR``.

Standard library and ray only: the engine copies this file into the run folder (on the
shared filesystem), so Ray nodes need no aidc install. It reads ``launch.json``, checks
that every node of the placement is in the cluster, reserves one placement-group bundle per
node (STRICT_SPREAD, each pinned by the node's ``aidc_node:<name>`` resource), runs one
``Rank`` actor per bundle that starts the user's command as a subprocess (own session) with
its env plus what only Ray knows (the GPUs it assigned; MASTER_ADDR/MASTER_PORT on rank
0's node), and supervises the ranks: time limit, stop requests, a failed rank stops the
rest. Every rank's output is appended to the job's log (whole lines from each rank of a
multi-node job). It writes ``exit.json`` atomically last.

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
# The run folder (shared with every node): env_modules.py lies next to this file.
HERE = os.path.dirname(os.path.abspath(__file__))


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

    def start(
        self,
        argv: list[str],
        cwd: str,
        env: dict[str, str],
        log: str,
        by_line: bool,
        modules: dict[str, typing.Any],
    ) -> str:
        env, error = _with_modules(modules, env, log)
        if error:
            return error
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
        self.pump = threading.Thread(target=self._pump, args=(log, by_line), daemon=True)
        self.pump.start()
        return ""

    def _pump(self, log_path: str, by_line: bool) -> None:
        """Append the command's output to the job's log; ranks on several nodes write
        whole lines (one write each, O_APPEND), so their lines never mix."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if not by_line:
                while chunk := os.read(self.proc.stdout.fileno(), 65536):
                    os.write(fd, chunk)
            else:
                for line in self.proc.stdout:
                    os.write(fd, line)
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


def _with_modules(
    modules: dict[str, typing.Any], env: dict[str, str], log: str
) -> tuple[dict[str, str], str]:
    """``env`` after the environment's modules are loaded on this node (in the rank's
    actor, so on the rank's node), or why they cannot be."""
    if not modules:
        return env, ""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import env_modules

    loaded: tuple[dict[str, str], str] = env_modules.load_or_say(modules, env, log)
    return loaded


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


class Direct:
    """A single-node job run by the driver itself: Ray gave the driver its GPUs
    (``entrypoint_num_gpus``), so no ray.init, no actor: it starts in about a second."""

    def __init__(self, launch: dict[str, typing.Any]) -> None:
        self.launch = launch
        self.rank = Rank()

    def start(self) -> tuple[list[str], str]:
        r = self.launch["ranks"][0]
        env = dict(r["env"])
        for name in r["device_vars"]:
            env[name] = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        if self.launch.get("interactive"):
            import ray.util  # only for notebooks: a plain job starts without importing ray

            env["AIDC_INTERACTIVE_HOST"] = ray.util.get_node_ip_address()
        launch = self.launch
        error = self.rank.start(
            launch["argv"], launch["cwd"], env, launch["log"], False, launch.get("modules") or {}
        )
        return [error] if error else [], ""

    def done(self, timeout: float) -> dict[int, int]:
        assert self.rank.proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            return {0: self.rank.proc.wait(timeout)}
        return {}

    def stop(self, grace: float) -> bool:
        return self.rank.stop(grace)

    def rest(self) -> dict[int, int]:
        return {0: self.rank.wait()}

    def close(self) -> None:
        pass


class Spread:
    """One Rank actor per node in a STRICT_SPREAD placement group, each bundle pinned to
    its node by the node's ``aidc_node:<name>`` resource."""

    def __init__(self, launch: dict[str, typing.Any]) -> None:
        self.launch = launch
        self.pg: typing.Any = None
        self.waits: dict[typing.Any, int] = {}

    def start(self) -> tuple[list[str], str]:
        import ray
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        ranks = self.launch["ranks"]
        ray.init(address="auto", logging_level="WARNING", log_to_driver=False)
        alive: set[str] = set()
        for node in ray.nodes():
            if node.get("Alive"):
                alive.update(k for k in node.get("Resources", {}) if k.startswith("aidc_node:"))
        missing = [r["node"] for r in ranks if f"aidc_node:{r['node']}" not in alive]
        if missing:
            raise Failed(f"node(s) {', '.join(missing)} are not (any longer) in the Ray cluster")
        bundles = [dict(r["bundle"]) for r in ranks]
        self.pg = placement_group(bundles, strategy="STRICT_SPREAD")
        timeout = float(self.launch["place_timeout_s"])
        if not self.pg.wait(timeout):
            raise Failed(f"Ray could not reserve {bundles} within {timeout:g}s")
        actor = ray.remote(max_concurrency=4)(Rank)
        self.actors = [
            actor.options(
                num_cpus=r["bundle"].get("CPU", 0),
                num_gpus=r["bundle"].get("GPU", 0),
                memory=r["bundle"].get("memory"),
                scheduling_strategy=PlacementGroupSchedulingStrategy(self.pg, i),
            ).remote()
            for i, r in enumerate(ranks)
        ]
        wheres = ray.get([a.where.remote() for a in self.actors])
        master_addr, master_port = wheres[0][0], wheres[0][1]
        started = []
        for r, a, where in zip(ranks, self.actors, wheres, strict=True):
            env = dict(r["env"], AIDC_RAY_NODE_ID=where[3])
            for name in r["device_vars"]:
                env[name] = ",".join(where[2])
            if len(ranks) > 1:
                env.update(MASTER_ADDR=master_addr, MASTER_PORT=str(master_port))
            if self.launch.get("interactive"):
                env["AIDC_INTERACTIVE_HOST"] = where[0]  # the rank's node, for the proxy
            started.append(
                a.start.remote(
                    self.launch["argv"],
                    self.launch["cwd"],
                    env,
                    self.launch["log"],
                    True,
                    self.launch.get("modules") or {},
                )
            )
        errors = [e for e in ray.get(started) if e]
        self.waits = {a.wait.remote(): i for i, a in enumerate(self.actors)}
        return errors, master_addr

    def done(self, timeout: float) -> dict[int, int]:
        import ray

        ready, _ = ray.wait(list(self.waits), num_returns=1, timeout=timeout)
        return {self.waits.pop(ref): ray.get(ref) for ref in ready}

    def stop(self, grace: float) -> bool:
        import ray

        return any(ray.get([self.actors[i].stop.remote(grace) for i in self.waits.values()]))

    def rest(self) -> dict[int, int]:
        import ray

        return {i: ray.get(ref) for ref, i in self.waits.items()}

    def close(self) -> None:
        if self.pg is not None:
            from ray.util.placement_group import remove_placement_group

            with contextlib.suppress(Exception):
                remove_placement_group(self.pg)


class Failed(Exception):
    """The run cannot start (a node is gone, Ray cannot place it): the reason."""


def run(run_dir: str, launch: dict[str, typing.Any], sigterm: list[bool]) -> dict[str, object]:
    log = launch["log"]
    stop_path = os.path.join(run_dir, "stop.json")
    cancel_grace = float(launch["grace_s"])
    world = len(launch["ranks"])

    def stop_requested() -> tuple[str, str, float] | None:
        stop = _load_json(stop_path)
        if stop.get("kind") == "preempt":
            reason = str(stop.get("reason") or "preempted to make room for another job")
            return "preempted", reason, float(stop.get("grace_s", cancel_grace))
        if stop:
            return "cancelled", "cancelled", cancel_grace
        if sigterm[0]:
            # Not aidc (it writes stop.json): `ray job stop`, or Ray shutting down, which
            # SIGKILLs a few seconds after its SIGTERM.
            reason = (
                "stopped from outside aidc (SIGTERM from Ray: ray job stop, or Ray shutting down)"
            )
            return "failed", reason, min(cancel_grace, 2.0)
        return None

    group: Direct | Spread = Direct(launch) if launch.get("direct") else Spread(launch)
    try:
        try:
            errors, ip = group.start()
        except Failed as e:
            return {"outcome": "failed", "reason": str(e), "exit_code": None}
        _write_json(os.path.join(run_dir, "started.json"), {"at": time.time(), "ip": ip})
        if errors:
            group.stop(cancel_grace)
            return {"outcome": "failed", "reason": errors[0], "exit_code": 127}
        deadline = time.monotonic() + float(launch["time_limit_s"])
        codes: dict[int, int] = {}
        result: dict[str, object] | None = None
        stopped = None
        while len(codes) < world:
            for i, rc in group.done(POLL_S).items():
                codes[i] = rc
                if rc != 0 and result is None:
                    result = _result(rc, i if world > 1 else None)
            if result is not None or len(codes) == world:
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
        killed = group.stop(grace) if len(codes) < world else False
        stop_s = round(time.monotonic() - t0, 3)
        codes.update(group.rest())
        if stopped is None:
            return result or _result(0, None)
        reason = stopped[1]
        if stopped[0] == "preempted":
            how = f"killed after the {grace:g}s grace" if killed else "exited"
            reason = f"{reason} ({how}; stopped in {stop_s:.1f}s)"
        code = codes.get(0)
        return {"outcome": stopped[0], "reason": reason, "exit_code": code, "killed": killed,
                "stop_s": stop_s}  # fmt: skip
    finally:
        group.close()


def _note_end(path: object, run_dir: str) -> None:
    """Tell the engine's watcher that this run ended (aidc.engines.end_watcher)."""
    if not isinstance(path, str):
        return
    try:
        with open(path, "a") as f:
            f.write(run_dir + "\n")
    except OSError:
        pass  # the controller's next pass finds the end anyway


def main(run_dir: str) -> int:
    with open(os.path.join(run_dir, "launch.json")) as f:
        launch = json.load(f)
    sigterm = [False]

    def on_term(signum: int, frame: object) -> None:
        sigterm[0] = True

    signal.signal(signal.SIGTERM, on_term)
    if _load_json(os.path.join(run_dir, "stop.json")).get("kind") == "abandon":
        # aidc gave up on this run (and recorded it) while Ray could not place it: never
        # start it late.
        return 1
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
    _note_end(launch.get("ended_file"), run_dir)
    code = result.get("exit_code")
    return (
        0
        if result["outcome"] == "succeeded"
        else (code if isinstance(code, int) and code > 0 else 1)
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
