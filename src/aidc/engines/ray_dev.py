"""A local Ray cluster for development and tests: ``aidc dev ray-up`` / ``ray-down``.

One ``ray start --head`` plus ``nodes - 1`` ``ray start --address`` worker nodes on this
host, each with virtual GPUs and the resources aidc pins work with: ``aidc_node:<name>``
(1000 units; a job takes 0.001 of it) and ``aidc_accelerator:<type>`` (one unit per GPU).
Ray 2.60's ``ray start`` has no ``--labels``; custom resources work in placement-group
bundles and in a Job's entrypoint resources alike.

Everything lives under one folder: ``home/`` (HOME of the Ray processes), ``tmp/`` (Ray's
temp dirs, one per node), ``auth_token`` (token auth is on: ``RAY_AUTH_MODE=token``) and
``cluster.json`` (addresses and the process groups to stop). Nodes on one host must use
the host's address (not 127.0.0.1) for ``ray start --address`` to add them; every node
gets its own ports. Stopping sends SIGTERM to each node's process group and everything
below it, then SIGKILL after a deadline (gcs_server ignores SIGTERM for a long time).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psutil

DEFAULT_DIR = Path("~/.aidc/ray")


class DevClusterError(RuntimeError):
    """The dev cluster could not be started; the message says why."""


@dataclass
class DevCluster:
    dir: str
    # The dashboard URL: the Jobs API, what ``[engines.ray] address`` takes.
    address: str
    gcs_address: str
    token_file: str
    # Per node: name, the ``ray start`` process group, gpus, cpus.
    nodes: list[dict[str, object]]
    started_s: float = 0.0
    # Every port it uses: a restart (ray-up after ray-down) takes the same ones again.
    ports: list[int] = field(default_factory=list)

    def alive(self) -> bool:
        try:
            r = httpx.get(
                f"{self.address}/api/version", headers=auth_headers(self.token_file), timeout=2
            )
            return r.status_code == 200
        except httpx.HTTPError:
            return False


def auth_headers(token_file: str | Path | None) -> dict[str, str]:
    if not token_file:
        return {}
    try:
        token = Path(token_file).expanduser().read_text().strip()
    except FileNotFoundError:
        return {}
    return {"Authorization": f"Bearer {token}"} if token else {}


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _bindable(port: int) -> bool:
    """Nothing listens on ``port`` (TIME_WAIT leftovers of a killed cluster do not count:
    Ray's servers bind with SO_REUSEADDR too)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("", port))
        except OSError:
            return False
    return True


def _host_ip() -> str:
    """The address Ray gives its nodes here (it rewrites 127.0.0.1 to it)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        ip: str = s.getsockname()[0]
        return ip
    return "127.0.0.1"


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    # The job drivers' `python` must be this one (it has ray and aidc's driver's needs).
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["HOME"] = str(root / "home")
    env["RAY_AUTH_MODE"] = "token"
    env["RAY_AUTH_TOKEN_PATH"] = str(root / "auth_token")
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    env.pop("RAY_ADDRESS", None)
    return env


def load(root: Path, name: str = "cluster.json") -> DevCluster | None:
    try:
        data = json.loads((root / name).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return DevCluster(**data)


def _ray_start(args: list[str], env: dict[str, str], log: Path) -> int:
    """Run ``ray start`` in its own process group; return the group id."""
    ray = str(Path(sys.executable).with_name("ray"))
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [ray, "start", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        rc = proc.wait(timeout=120)
    if rc != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise DevClusterError(f"ray start {' '.join(args[:2])} failed (exit {rc}):\n{tail}")
    return proc.pid


def up(
    root: Path = DEFAULT_DIR,
    *,
    gpus: int = 8,
    nodes: int = 1,
    cpus: int = 8,
    accelerator: str = "a100",
    prefix: str = "ray",
) -> DevCluster:
    """Start the cluster under ``root`` (or return the one already running there)."""
    root = root.expanduser().resolve()
    running = load(root)
    if running is not None and running.alive():
        return running
    if running is not None:
        down(root)
    t0 = time.monotonic()
    for sub in ("home", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    token_file = root / "auth_token"
    if not token_file.exists():
        token_file.write_text(secrets.token_hex(32))
    os.chmod(token_file, 0o600)
    env = _env(root)
    ip = _host_ip()
    log = root / "ray-start.log"
    log.write_bytes(b"")
    started: list[dict[str, object]] = []
    # The ports of the cluster that ran here before (same address), else new ones, all at
    # once: ports asked for one by one may come back the same.
    before = load(root, "cluster.stopped.json")
    if (
        before is not None
        and len(before.ports) == 3 + 6 * nodes
        and all(_bindable(p) for p in before.ports)
    ):
        free = before.ports
    else:
        free = _free_ports(3 + 6 * nodes)
    gcs_port, dash_port, client_port = free[:3]
    address = f"http://127.0.0.1:{dash_port}"
    cluster = DevCluster(
        str(root), address, f"{ip}:{gcs_port}", str(token_file), started, ports=free
    )
    try:
        for i in range(1, nodes + 1):
            name = f"{prefix}-{i}"
            ports = free[3 + 6 * (i - 1) : 3 + 6 * i]
            resources = {f"aidc_node:{name}": 1000, f"aidc_accelerator:{accelerator}": gpus}
            common = [
                f"--num-cpus={cpus}",
                f"--num-gpus={gpus}",
                f"--resources={json.dumps(resources)}",
                f"--temp-dir={root / 'tmp' / name}",
                f"--node-manager-port={ports[0]}",
                f"--object-manager-port={ports[1]}",
                f"--dashboard-agent-listen-port={ports[2]}",
                f"--dashboard-agent-grpc-port={ports[3]}",
                f"--metrics-export-port={ports[4]}",
                f"--runtime-env-agent-port={ports[5]}",
                "--disable-usage-stats",
            ]
            if i == 1:
                args = [
                    "--head",
                    f"--port={gcs_port}",
                    "--dashboard-host=127.0.0.1",
                    f"--dashboard-port={dash_port}",
                    f"--ray-client-server-port={client_port}",
                    *common,
                ]
            else:
                args = ["--address", cluster.gcs_address, *common]
            pgid = _ray_start(args, env, log)
            started.append({"name": name, "pgid": pgid, "gpus": gpus, "cpus": cpus})
            _save(root, cluster)
        _wait_ready(cluster, nodes, deadline=time.monotonic() + 60)
    except BaseException:
        down(root)
        raise
    cluster.started_s = round(time.monotonic() - t0, 2)
    _save(root, cluster)
    return cluster


def _save(root: Path, cluster: DevCluster) -> None:
    tmp = root / "cluster.json.tmp"
    tmp.write_text(json.dumps(asdict(cluster), indent=2))
    os.replace(tmp, root / "cluster.json")


def _wait_ready(cluster: DevCluster, nodes: int, deadline: float) -> None:
    """Until the Jobs API answers and every node is alive."""
    headers = auth_headers(cluster.token_file)
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            r = httpx.get(
                f"{cluster.address}/api/v0/nodes",
                params={"limit": 1000},
                headers=headers,
                timeout=5,
            )
            if r.status_code == 200:
                result = r.json()["data"]["result"]["result"]
                alive = sum(1 for n in result if n.get("state") == "ALIVE")
                if alive >= nodes:
                    return
                last = f"{alive}/{nodes} nodes alive"
            else:
                last = f"HTTP {r.status_code}"
        except (httpx.HTTPError, KeyError, ValueError) as e:
            last = str(e)
        time.sleep(0.3)
    raise DevClusterError(f"the Ray cluster at {cluster.address} is not ready: {last}")


def down(root: Path = DEFAULT_DIR, deadline_s: float = 3.0, crash: bool = False) -> bool:
    """Stop the cluster under ``root``: SIGTERM, then SIGKILL after ``deadline_s`` (with
    ``crash``, SIGKILL at once, as a power cut would). Returns whether there was one."""
    root = root.expanduser().resolve()
    cluster = load(root)
    if cluster is None:
        return False
    procs: list[psutil.Process] = []
    for node in cluster.nodes:
        pgid = int(node["pgid"])  # type: ignore[call-overload]
        for p in psutil.process_iter():
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if os.getpgid(p.pid) == pgid:
                    procs.append(p)
                    procs.extend(p.children(recursive=True))
    unique = {p.pid: p for p in procs}.values()
    left = list(unique)
    if not crash:
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.send_signal(signal.SIGTERM)
        _, left = psutil.wait_procs(left, timeout=deadline_s)
    for p in left:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(left, timeout=5)
    os.replace(root / "cluster.json", root / "cluster.stopped.json")
    return True
