"""Start JupyterLab inside a notebook session's job; run as ``python -I notebook_launcher.py``.

Standard library only, so that any Python 3 on the node runs it. It picks a free port on
the address the session should listen on (``AIDC_INTERACTIVE_HOST``, default loopback),
writes where it listens to ``$AIDC_JOB_DIR/interactive-$AIDC_ATTEMPT.json`` (the engine
reads it: ``aidc.engines.interactive``), then replaces itself with JupyterLab, which gets its
token from a file only the server and the job can read (never on the command line) and
keeps its configuration, data and runtime files in the job's folder.
"""

import argparse
import json
import os
import socket
import sys


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def main(argv: "list[str]") -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--root-dir", required=True)
    ap.add_argument("--python", default=sys.executable, help="the Python that has jupyterlab")
    args = ap.parse_args(argv)
    job_dir = os.environ["AIDC_JOB_DIR"]
    attempt = os.environ.get("AIDC_ATTEMPT", "1")
    host = os.environ.get("AIDC_INTERACTIVE_HOST") or "127.0.0.1"
    port = free_port(host)
    with open(args.token_file) as f:
        token = f.read().strip()
    private = os.path.join(job_dir, "jupyter")
    env = dict(os.environ)
    env["JUPYTER_TOKEN"] = token
    for name, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[name] = os.path.join(private, sub)
        os.makedirs(env[name], exist_ok=True)
    path = os.path.join(job_dir, f"interactive-{attempt}.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"host": host, "port": port, "pid": os.getpid(), "attempt": int(attempt)}, f)
    os.replace(tmp, path)
    cmd = [
        args.python,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ip={host}",
        f"--port={port}",
        # The port was free a moment ago; if another process took it, fail rather than
        # listen somewhere the address file does not say.
        "--ServerApp.port_retries=0",
        f"--ServerApp.base_url={args.base_url}",
        f"--ServerApp.root_dir={args.root_dir}",
        # The aidc proxy is the only client; it sends the token and checks origins itself.
        "--ServerApp.allow_remote_access=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    sys.stdout.flush()
    os.execve(args.python, cmd, env)


if __name__ == "__main__":
    main(sys.argv[1:])
