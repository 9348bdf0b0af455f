"""Supervisor of one run of a local job; run as ``python -I -S local_shim.py RUN_DIR``.

Standard library only (it starts in ~20 ms). It lives in its own session so that it outlives
a crashed server, starts the job as the leader of a new process group (a multi-node job:
one process group per rank, each with its own environment; the first rank to fail ends
them all, as torchrun does), enforces the time
limit, turns a SIGTERM from the server into "stop the whole group: SIGTERM, grace, SIGKILL",
reaps orphans (it is a child subreaper), and writes ``exit.json`` atomically last, so a
restarted server can always tell how the job ended.

The server writes ``stop.json`` in RUN_DIR before it sends SIGTERM: a preemption (with
this stop's grace and reason; the run ends "preempted" however the job exits during the
grace) or a cancel (grace from ``launch.json``; also any SIGTERM without the file). The
supervisor looks for the file itself right after writing ``shim.json``, since the server
only signals a supervisor that has written it (before that, SIGTERM could kill it).
"""

import contextlib
import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import time
import typing

PR_SET_CHILD_SUBREAPER = 36


class Stop(Exception):
    """Raised by a signal handler: end the run as ``outcome`` after stopping the job."""

    def __init__(self, outcome: str, reason: str, grace: float) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.grace = grace


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


def _say(log: typing.BinaryIO, text: str) -> None:
    log.write(f"[aidc] {text}\n".encode())


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(children: "list[subprocess.Popen[bytes]]") -> None:
    """Reap exited orphans (this process is their subreaper). The job's own processes go
    first, through Popen, which keeps their exit status: waitpid(-1) would take them, and
    Popen would then report exit code 0."""
    if any(c.poll() is None for c in children):
        return  # the groups are alive anyway while a job's own process runs
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _signal_groups(children: "list[subprocess.Popen[bytes]]", sig: int) -> None:
    for c in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(c.pid, sig)


def _any_group_alive(children: "list[subprocess.Popen[bytes]]") -> bool:
    return any(_group_alive(c.pid) for c in children)


def _stop_groups(
    children: "list[subprocess.Popen[bytes]]", grace: float, log: typing.BinaryIO
) -> bool:
    """SIGTERM the job's process groups, wait up to ``grace`` for them to empty, then
    SIGKILL what is left. Returns whether SIGKILL was needed."""
    _signal_groups(children, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(children)
        if not _any_group_alive(children):
            return False
        time.sleep(0.02)
    _say(log, f"processes still running {grace:g}s after SIGTERM; sending SIGKILL")
    _signal_groups(children, signal.SIGKILL)
    while _any_group_alive(children):
        _reap(children)
        time.sleep(0.01)
    return True


def _wait_ranks(children: "list[subprocess.Popen[bytes]]") -> int | None:
    """Wait until every rank ended, or one failed; the failed rank's index, else None."""
    if len(children) == 1:
        children[0].wait()
        return 0 if children[0].returncode else None
    while True:
        for rank, c in enumerate(children):
            if c.poll() is not None and c.returncode != 0:
                return rank
        if all(c.returncode is not None for c in children):
            return None
        time.sleep(0.02)


def _set_rlimits(limits: dict[str, int]) -> None:
    """In the rank's child, before exec (the supervisor is single-threaded, so preexec_fn
    is safe here): soft and hard limits, which an unprivileged job cannot raise again."""
    names = {"nproc": resource.RLIMIT_NPROC, "nofile": resource.RLIMIT_NOFILE}
    names["as"] = resource.RLIMIT_AS
    for key, value in limits.items():
        resource.setrlimit(names[key], (value, value))


def main(run_dir: str) -> None:
    with open(os.path.join(run_dir, "launch.json")) as f:
        launch = json.load(f)
    # Not on Linux: orphans go to init instead; the job still runs.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    log = open(launch["log"], "ab", buffering=0)  # noqa: SIM115 - open until exit
    exit_path = os.path.join(run_dir, "exit.json")
    stop_path = os.path.join(run_dir, "stop.json")
    cancel_grace = float(launch["grace_s"])
    # Handlers raise only while armed: once the job has ended, a late signal changes nothing.
    armed = [True]
    # A stop that arrives while Popen runs is kept until Popen returns: the command may
    # already run by then, and it must be stopped, not left behind unsupervised.
    started = [False]
    deferred: list[Stop] = []

    def stop_now_or_later(stop: Stop) -> None:
        if not armed[0]:
            return
        if not started[0]:
            deferred.append(stop)
            return
        raise stop

    def on_term(signum: int, frame: object) -> None:
        stop = _load_json(stop_path)
        if stop.get("kind") == "preempt":
            reason = str(stop.get("reason") or "preempted to make room for another job")
            grace = float(stop.get("grace_s", cancel_grace))
            stop_now_or_later(Stop("preempted", reason, grace))
        else:
            stop_now_or_later(Stop("cancelled", "cancelled", cancel_grace))

    def on_alarm(signum: int, frame: object) -> None:
        limit = launch["time_limit_s"]
        reason = f"timeout: exceeded the time limit of {limit}s"
        stop_now_or_later(Stop("timeout", reason, cancel_grace))

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGALRM, on_alarm)
    # One environment per rank; launches written before multi-node jobs have one "env".
    envs = launch.get("rank_envs") or [launch["env"]]
    children: list[subprocess.Popen[bytes]] = []
    # Isolated jobs (local_identity): the organisation's user and group.
    identity: dict[str, typing.Any] = {}
    if "uid" in launch:
        # Supplementary groups: only those of the datasets the run mounts.
        groups = launch.get("groups") or []
        identity = {"user": launch["uid"], "group": launch["gid"], "extra_groups": groups}
    limits = launch.get("rlimits") or {}
    # cgroup v2 limits (local_cgroup): the supervisor joins the job's cgroup first, so
    # every rank and everything it starts is in it from the start.
    cgroup = launch.get("cgroup")
    if cgroup:
        _join_cgroup(cgroup)
    try:
        for env in envs:
            children.append(
                subprocess.Popen(
                    launch["argv"],
                    cwd=launch["cwd"],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=(lambda: _set_rlimits(limits)) if limits else None,
                    **identity,
                )
            )
    except (OSError, subprocess.SubprocessError) as e:
        # SubprocessError: setting the user, group or rlimits failed in the child.
        why = e.strerror if isinstance(e, OSError) else str(e)
        _say(log, f"cannot start {launch['argv'][0]!r}: {why}")
        _stop_groups(children, 0.0, log)
        if cgroup:
            _leave_cgroup(cgroup, launch["cgroup_root"])
        _write_json(
            exit_path,
            {
                "outcome": "failed",
                "exit_code": 127,
                "reason": f"cannot start {launch['argv'][0]!r}: {why}",
            },
        )
        return
    stopped: Stop | None = None
    failed: int | None = None
    try:
        started[0] = True
        _write_json(
            os.path.join(run_dir, "shim.json"),
            {"pid": os.getpid(), "pgid": children[0].pid, "started_at": time.time()},
        )
        if deferred:
            raise deferred[0]
        if os.path.exists(stop_path):  # requested before shim.json existed (see above)
            on_term(signal.SIGTERM, None)
        signal.setitimer(signal.ITIMER_REAL, float(launch["time_limit_s"]))
        failed = _wait_ranks(children)
        armed[0] = False  # a signal before this line is still caught below
    except Stop as stop:
        armed[0] = False
        # A job that had already ended by itself keeps its own outcome.
        stopped = stop if any(c.returncode is None for c in children) else None
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    result: dict[str, object] = {}
    if stopped is not None:
        _say(log, f"{stopped.reason}; stopping the job (grace {stopped.grace:g}s)")
        t0 = time.monotonic()
        killed = _stop_groups(children, stopped.grace, log)
        rc = max((c.wait() for c in children), key=abs)
        stop_s = round(time.monotonic() - t0, 3)
        reason = stopped.reason
        if stopped.outcome == "preempted":
            how = f"killed after the {stopped.grace:g}s grace" if killed else "exited"
            reason = f"{reason} ({how}; stopped in {stop_s:.1f}s)"
        result = {"outcome": stopped.outcome, "reason": reason, "stop_s": stop_s, "killed": killed}
    else:
        if failed is not None and len(children) > 1:
            _say(log, f"rank {failed} failed; stopping the other ranks")
        rc = children[failed].wait() if failed is not None else 0
        # Like Slurm at job end: whatever the job left running in its groups is stopped too.
        if _any_group_alive(children):
            _stop_groups(children, cancel_grace, log)
    for c in children:
        c.wait()
    _reap(children)
    if not result:
        rank = f"rank {failed}: " if failed is not None and len(children) > 1 else ""
        if rc == 0:
            result = {"outcome": "succeeded", "reason": "exit code 0"}
        elif rc < 0:
            result = {
                "outcome": "failed",
                "reason": f"{rank}killed by signal {signal.Signals(-rc).name}",
            }
        else:
            result = {"outcome": "failed", "reason": f"{rank}exit code {rc}"}
    if cgroup:
        _leave_cgroup(cgroup, launch["cgroup_root"])
    _write_json(exit_path, {**result, "exit_code": rc, "finished_at": time.time()})


def _join_cgroup(path: str) -> None:
    with open(os.path.join(path, "cgroup.procs"), "w") as f:
        f.write("0")


def _leave_cgroup(path: str, root: str) -> None:
    """Back to the hierarchy's root (aidc's parent cgroup may hold no processes), then
    remove the job's cgroup, empty now that every rank has been reaped."""
    with contextlib.suppress(OSError):
        _join_cgroup(root)
        os.rmdir(path)


def _supervise_forked(run_dir: str, fds: "list[int]") -> None:
    """In a child just forked by ``serve``: become a supervisor as if started fresh (own
    session, default signal handling, stdio off, errors to ``shim.err``); never return."""
    code = 1
    try:
        os.setsid()
        os.chdir(run_dir)  # says whose supervisor this is (all share the server's cmdline)
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        for fd in fds:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDWR)
        err = os.open(os.path.join(run_dir, "shim.err"), os.O_WRONLY | os.O_CREAT, 0o600)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.dup2(err, 2)
        main(run_dir)
        code = 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def serve(exits_fd: int) -> None:
    """The fork server: reads run folders from stdin, one per line, forks a supervisor for
    each and answers its pid on stdout; writes ``exit PID`` to ``exits_fd`` when one ends
    (it reaps them). Two pipes, so that whoever launches reads its answer itself.
    Forking this small, already started process costs about a millisecond, where starting a
    new interpreter per job costs 15-20 ms of CPU. It ends at EOF (the server went away);
    supervisors still running then carry on as orphans of init."""
    import selectors

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin = sys.stdin.fileno()
    out = sys.stdout.buffer
    exits = os.fdopen(exits_fd, "wb")
    sel = selectors.DefaultSelector()
    sel.register(stdin, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    pending = b""
    while True:
        for key, _ in sel.select(timeout=1.0):
            if key.fd == stdin:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    return
                pending += chunk
            else:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            run_dir = line.decode()
            pid = os.fork()
            if pid == 0:
                _supervise_forked(run_dir, [wake_r, wake_w, stdin, out.fileno(), exits_fd])
            # The server may have died since it asked (SIGKILL): every run it asked for is
            # still started, so that none is left with a launch.json and no supervisor
            # (the crash test found such runs LOST); a restarted server re-adopts them.
            with contextlib.suppress(BrokenPipeError):
                out.write(f"{pid}\n".encode())
                out.flush()
        while True:  # reap every supervisor that ended (they are its only children)
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            with contextlib.suppress(BrokenPipeError):
                exits.write(f"exit {pid}\n".encode())
        with contextlib.suppress(BrokenPipeError):
            exits.flush()


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    else:
        main(sys.argv[1])
