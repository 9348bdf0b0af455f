"""Supervisor of one local job; run as ``python -I -S local_shim.py JOB_DIR``.

Standard library only (it starts in ~20 ms). It lives in its own session so that it outlives
a crashed server, starts the job as the leader of a new process group, enforces the time
limit, turns a SIGTERM from the server into "stop the whole group: SIGTERM, grace, SIGKILL",
reaps orphans (it is a child subreaper), and writes ``exit.json`` atomically last, so a
restarted server can always tell how the job ended.
"""

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import typing

PR_SET_CHILD_SUBREAPER = 36


class Stop(Exception):
    pass


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


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _stop_group(pgid: int, grace: float, log: typing.BinaryIO) -> None:
    """SIGTERM the group, wait up to ``grace`` for it to empty, then SIGKILL what is left."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap()
        if not _group_alive(pgid):
            return
        time.sleep(0.02)
    _say(log, f"processes still running {grace:g}s after SIGTERM; sending SIGKILL")
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while _group_alive(pgid):
        _reap()
        time.sleep(0.01)


def main(job_dir: str) -> None:
    with open(os.path.join(job_dir, "launch.json")) as f:
        launch = json.load(f)
    # Not on Linux: orphans go to init instead; the job still runs.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    log = open(launch["log"], "ab", buffering=0)  # noqa: SIM115 - open until exit
    exit_path = os.path.join(job_dir, "exit.json")

    def on_term(signum: int, frame: object) -> None:
        raise Stop("cancelled")

    def on_alarm(signum: int, frame: object) -> None:
        raise Stop("timeout")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGALRM, on_alarm)
    try:
        child = subprocess.Popen(
            launch["argv"],
            cwd=launch["cwd"],
            env=launch["env"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except Stop:
        _write_json(
            exit_path,
            {
                "outcome": "cancelled",
                "exit_code": None,
                "reason": "cancelled before the command started",
            },
        )
        return
    except OSError as e:
        _say(log, f"cannot start {launch['argv'][0]!r}: {e.strerror}")
        _write_json(
            exit_path,
            {
                "outcome": "failed",
                "exit_code": 127,
                "reason": f"cannot start {launch['argv'][0]!r}: {e.strerror}",
            },
        )
        return
    outcome, reason = None, ""
    try:
        _write_json(
            os.path.join(job_dir, "shim.json"),
            {"pid": os.getpid(), "pgid": child.pid, "started_at": time.time()},
        )
        signal.setitimer(signal.ITIMER_REAL, float(launch["time_limit_s"]))
        rc = child.wait()
        signal.setitimer(signal.ITIMER_REAL, 0)
    except Stop as stop:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        outcome = str(stop)
        if outcome == "timeout":
            reason = f"timeout: exceeded the time limit of {launch['time_limit_s']}s"
        else:
            reason = "cancelled"
        _say(log, f"{reason}; stopping the job (grace {launch['grace_s']:g}s)")
        _stop_group(child.pid, float(launch["grace_s"]), log)
        rc = child.wait()
    else:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # Like Slurm at job end: whatever the job left running in its group is stopped too.
        if _group_alive(child.pid):
            _stop_group(child.pid, float(launch["grace_s"]), log)
    _reap()
    if outcome is None:
        if rc == 0:
            outcome, reason = "succeeded", "exit code 0"
        elif rc < 0:
            outcome, reason = "failed", f"killed by signal {signal.Signals(-rc).name}"
        else:
            outcome, reason = "failed", f"exit code {rc}"
    _write_json(
        exit_path,
        {"outcome": outcome, "exit_code": rc, "reason": reason, "finished_at": time.time()},
    )


if __name__ == "__main__":
    main(sys.argv[1])
