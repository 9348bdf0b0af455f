"""The composition root: builds the center (store, engines, inventory, controller)."""

from __future__ import annotations

from dataclasses import dataclass

from aidc.controller import Controller
from aidc.core.resources import Node, Pool
from aidc.engines.base import Engine
from aidc.engines.local import LocalEngine
from aidc.inventory.host import local_node
from aidc.inventory.toml_file import load_inventory
from aidc.services.center import Center
from aidc.services.nodes import sync_inventory
from aidc.settings import Settings
from aidc.store import migrate
from aidc.store.db import Database


@dataclass
class Running:
    center: Center
    controller: Controller

    def close(self) -> None:
        self.controller.stop()
        for engine in self.center.engines.values():
            engine.close()
        self.center.db.dispose()


def inventory(settings: Settings) -> tuple[list[Pool], list[Node]]:
    """Pools and nodes from the TOML file if one is given, else this host as pool ``local``."""
    if settings.inventory is not None:
        return load_inventory(settings.inventory)
    return [Pool("local", "local")], [local_node("local", settings.virtual_accelerators)]


def build_engines(settings: Settings, pools: list[Pool], nodes: list[Node]) -> dict[str, Engine]:
    engines: dict[str, Engine] = {}
    for kind in sorted({p.engine for p in pools}):
        if kind != "local":
            raise ValueError(f"engine {kind!r} is not available yet; pools may use: local")
        names = {p.name for p in pools if p.engine == kind}
        engines[kind] = LocalEngine(
            settings.home, [n for n in nodes if n.pool in names], grace_s=settings.cancel_grace_s
        )
    return engines


def start(settings: Settings) -> Running:
    settings.home.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url())
    migrate.upgrade(db.engine)
    pools, nodes = inventory(settings)
    center = Center(
        db=db, engines=build_engines(settings, pools, nodes), cancel_grace_s=settings.cancel_grace_s
    )
    sync_inventory(center, pools, nodes)
    controller = Controller(center, tick_s=settings.tick_s)
    controller.start()
    return Running(center, controller)
