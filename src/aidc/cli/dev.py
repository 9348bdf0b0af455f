"""`aidc dev`: local clusters for trying engines out (a Ray cluster with virtual GPUs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer

from aidc.cli.output import fail, out
from aidc.engines import ray_dev

app = typer.Typer(help="Local development clusters (Ray with virtual GPUs).", no_args_is_help=True)

DirOpt = Annotated[
    Path,
    typer.Option("--dir", help="Folder for the cluster's state, temp dirs and auth token."),
]


def _print(cluster: ray_dev.DevCluster, verb: str) -> None:
    names = ", ".join(str(n["name"]) for n in cluster.nodes)
    out.print(
        f"Ray cluster {verb}: {len(cluster.nodes)} node(s) ({names}) in {cluster.dir}", markup=False
    )
    out.print("Put this in the inventory file:\n")
    out.print(
        '[[pools]]\nname = "cloud"\nengine = "ray"\n\n[engines.ray]\n'
        f'address = "{cluster.address}"\ntoken_file = "{cluster.token_file}"',
        markup=False,
    )


@app.command("ray-up")
def ray_up(
    gpus: Annotated[int, typer.Option(min=0, help="Virtual GPUs per node.")] = 8,
    nodes: Annotated[int, typer.Option(min=1, max=16, help="Ray nodes on this host.")] = 1,
    cpus: Annotated[int, typer.Option(min=1, help="CPUs each node offers.")] = 8,
    accelerator: Annotated[str, typer.Option(help="The virtual GPUs' type.")] = "a100",
    dir: DirOpt = ray_dev.DEFAULT_DIR,
) -> None:
    """Start a local Ray cluster (head + worker nodes), or show the one already running."""
    if importlib.util.find_spec("ray") is None:
        fail("ray is not installed: pip install 'aidc[ray]'")
    running = ray_dev.load(dir.expanduser().resolve())
    if running is not None and running.alive():
        _print(running, "already running")
        return
    try:
        cluster = ray_dev.up(dir, gpus=gpus, nodes=nodes, cpus=cpus, accelerator=accelerator)
    except ray_dev.DevClusterError as e:
        fail(str(e), code=1)
    _print(cluster, f"started in {cluster.started_s:.1f}s")


@app.command("ray-down")
def ray_down(dir: DirOpt = ray_dev.DEFAULT_DIR) -> None:
    """Stop the local Ray cluster (SIGTERM, then SIGKILL after 3 s)."""
    if ray_dev.down(dir):
        out.print("Ray cluster stopped")
    else:
        out.print(f"no Ray cluster recorded in {dir}")


@app.command("ray-status")
def ray_status(dir: DirOpt = ray_dev.DEFAULT_DIR) -> None:
    """Whether the local Ray cluster runs, and its address."""
    cluster = ray_dev.load(dir.expanduser().resolve())
    if cluster is None:
        fail(f"no Ray cluster recorded in {dir}; start one with aidc dev ray-up", code=1)
    if not cluster.alive():
        fail(f"the Ray cluster in {dir} does not answer at {cluster.address}", code=1)
    _print(cluster, "running")
