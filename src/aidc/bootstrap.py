"""The composition root: builds the center (store, engines, inventory, controller).

A server runs in one of three roles: ``all`` (API and controller in one process, the
default), ``controller`` (the supervisor of API worker processes: migrations, inventory, the
controller loop) or ``api`` (a worker process: serves requests, wakes the controller).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from aidc.controller import Controller
from aidc.controller.wakeup import WakeupListener, WakeupSender, socket_address
from aidc.core.resources import Node, Pool
from aidc.engines import registry
from aidc.engines.base import Engine, EngineUnavailable
from aidc.engines.registry import EngineConfig, EngineConfigError
from aidc.inventory.host import local_node
from aidc.inventory.toml_file import load_engine_options, load_inventory
from aidc.services import datasets_wiring, policy, validations_ingest
from aidc.services.center import Center
from aidc.services.nodes import sync_inventory
from aidc.settings import Settings
from aidc.store import migrate
from aidc.store.db import Database

log = logging.getLogger("aidc.bootstrap")

# Events after which the controller has work to do.
WAKE_TOPICS = ("job.submitted", "job.cancel_requested", policy.CHANGED)


class Role(StrEnum):
    ALL = "all"
    CONTROLLER = "controller"
    API = "api"


@dataclass
class Running:
    center: Center
    controller: Controller | None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        if self.controller is not None:
            self.controller.stop()
        for close in reversed(self.closers):
            close()
        for engine in self.center.engines.values():
            engine.close()
        self.center.db.dispose()


def inventory(settings: Settings) -> tuple[list[Pool], list[Node]]:
    """Pools and nodes from the TOML file if one is given, else this host as pool ``local``."""
    if settings.inventory is not None:
        return load_inventory(settings.inventory)
    return [Pool("local", "local")], [local_node("local", settings.virtual_accelerators)]


def build_engines(settings: Settings, pools: list[Pool], nodes: list[Node]) -> dict[str, Engine]:
    """One engine per kind the pools name, configured by ``[engines.<kind>]``."""
    options = load_engine_options(settings.inventory) if settings.inventory is not None else {}
    unused = sorted(set(options) - {p.engine for p in pools})
    if unused:
        raise EngineConfigError(f"engines.{unused[0]}: no pool uses engine {unused[0]!r}")
    engines: dict[str, Engine] = {}
    for kind in sorted({p.engine for p in pools}):
        served = tuple(p for p in pools if p.engine == kind)
        names = {p.name for p in served}
        config = EngineConfig(
            kind,
            settings.home,
            served,
            tuple(n for n in nodes if n.pool in names),
            grace_s=settings.cancel_grace_s,
            options=options.get(kind, {}),
        )
        engines[kind] = registry.build(config)
    return engines


def engine_nodes(engines: dict[str, Engine]) -> tuple[list[Node], set[str]]:
    """Every engine's nodes, and the engines that could not say (their nodes are left as
    the store has them until the controller's next inventory refresh)."""
    nodes: list[Node] = []
    silent: set[str] = set()
    for kind, engine in engines.items():
        try:
            nodes.extend(engine.inventory())
        except EngineUnavailable as e:
            log.warning("engine %s cannot report its nodes now: %s", kind, e)
            silent.add(kind)
    return nodes, silent


def start(settings: Settings, role: Role = Role.ALL) -> Running:
    settings.home.mkdir(parents=True, exist_ok=True)
    pools, nodes = inventory(settings)  # first: a bad inventory file touches nothing
    policy_file = settings.policy_file if role is not Role.API else None
    policy_text = policy_file.read_text() if policy_file is not None else None
    if policy_text is not None:
        policy.parse(policy_text)  # nor does a bad policy file: Invalid names the key
    engines = build_engines(settings, pools, nodes)
    db = Database(settings.db_url())
    center = Center(db=db, engines=engines, max_queued_per_user=settings.max_queued_per_user)
    datasets_wiring.install(center, settings)
    validations_ingest.install(center)  # results taken in as validation jobs end
    address = socket_address(settings.home)
    if role is Role.API:
        sender = WakeupSender(address)
        for topic in WAKE_TOPICS:
            center.bus.subscribe(topic, sender)
        return Running(center, None, [sender.close])
    migrate.upgrade(db.engine)
    reported, silent = engine_nodes(engines)
    sync_inventory(center, pools, reported, keep={p.name for p in pools if p.engine in silent})
    if policy_file is not None and policy_text is not None:
        policy.install(center, policy_text, by=f"aidc server --policy {policy_file.name}")
    controller = Controller(
        center,
        tick_s=settings.tick_s,
        engine_lost_after_s=settings.engine_lost_after_s,
        inventory_every_s=settings.inventory_every_s,
        meter_every_s=settings.meter_every_s,
    )
    controller.notebooks.check_every_s = settings.notebook_check_s
    for topic in WAKE_TOPICS:
        center.bus.subscribe(topic, lambda _t, _p: controller.wake())
    listener = WakeupListener(address, controller.wake)
    controller.start()
    return Running(center, controller, [listener.close])
