"""Plugs the dataset catalog into a center: its storage, the engines' view of datasets,
and the capture of finished jobs' outputs into the airlock."""

from __future__ import annotations

from aidc.services import datasets_airlock
from aidc.services.center import Center
from aidc.services.datasets_mounts import DatasetMounts
from aidc.services.datasets_place import DatasetPlace, place_from_settings
from aidc.settings import Settings


def install(
    center: Center, settings: Settings | None = None, where: DatasetPlace | None = None
) -> None:
    center.datasets = where or place_from_settings(settings or Settings())
    mounts = DatasetMounts(center)
    for engine in center.engines.values():
        if hasattr(engine, "datasets"):  # engines that link datasets into runs
            engine.datasets = mounts
    center.bus.subscribe(
        "job.finished",
        lambda topic, payload: datasets_airlock.on_job_finished(center, topic, payload),
    )
