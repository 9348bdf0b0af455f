"""The Ray engine as a conformance backend: the session's local 2-node Ray cluster
(tests/ray_cluster.py: `aidc dev ray-up`'s code, 4 virtual GPUs per node), pool ``cloud``."""

from __future__ import annotations

from pathlib import Path

from aidc.core.resources import Node, Pool
from aidc.engines.base import Engine
from tests import ray_cluster


class RayBackend:
    kind = "ray"
    # A Ray Job takes 3-5 s from submission to the user's command on this 2-core machine
    # (job supervisor, driver, ray.init, one actor per rank).
    margin_s = 8.0

    def unavailable(self) -> str | None:
        return ray_cluster.unavailable()

    def engine(self, home: Path, grace_s: float) -> Engine:
        from aidc.engines.ray import RayEngine

        cluster = ray_cluster.ensure()
        return RayEngine(
            cluster.address, home / "ray", grace_s=grace_s, token_file=cluster.token_file
        )

    def inventory(self, engine: Engine) -> tuple[list[Pool], list[Node]]:
        return [Pool("cloud", "ray")], engine.inventory()

    def break_engine(self) -> None:
        """Kill every Ray process of the cluster and its jobs at once (a cluster crash)."""
        ray_cluster.crash()

    def repair_engine(self) -> None:
        """Start it again in the same folder with the same ports: the same address."""
        ray_cluster.ensure()
