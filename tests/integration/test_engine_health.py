"""The controller and an engine that stops answering: jobs wait it out, its nodes are shown
down with the engine's message, launches go back to the queue, and jobs end LOST only once
it has been silent for ``engine_lost_after_s``.

The engine is the real local engine; ``Flaky`` only makes its calls raise
``EngineUnavailable`` while ``down`` is set, the way a stopped daemon does (the real
daemons going away are in tests/conformance)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aidc.controller import Controller
from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.core.resources import Node
from aidc.engines.base import EngineStatus, EngineUnavailable, Handle, LaunchRequest
from aidc.engines.local import LocalEngine
from aidc.services import jobs
from aidc.services.center import Center
from aidc.services.nodes import list_nodes
from tests.integration.tenants import Tenants, make_tenants
from tests.integration.test_jobs_service import wait_for


class Flaky(LocalEngine):
    down = False

    def _check(self) -> None:
        if self.down:
            raise EngineUnavailable("connection refused (daemon stopped)")

    def poll(self, handle: Handle) -> EngineStatus:
        self._check()
        return super().poll(handle)

    def launch(self, job: LaunchRequest) -> Handle:
        self._check()
        return super().launch(job)

    def launch_many(self, jobs: list[LaunchRequest]) -> list[Handle | Exception]:
        if self.down:
            return [EngineUnavailable("connection refused (daemon stopped)") for _ in jobs]
        return super().launch_many(jobs)

    def inventory(self) -> list[Node]:
        self._check()
        return super().inventory()


@pytest.fixture
def flaky(center: Center, tmp_path: Path) -> Iterator[Flaky]:
    old = center.engines["local"]
    engine = Flaky(tmp_path / "flaky-home", old.inventory(), grace_s=1.0)
    center.engines = {"local": engine}
    yield engine
    engine.down = False


@pytest.fixture
def t(center: Center) -> Tenants:
    return make_tenants(center)


def submit(center: Center, t: Tenants, *command: str) -> str:
    spec = JobSpec.model_validate({"project": "acme-a", "command": list(command)})
    return jobs.submit(center, t.bob, spec).id


def state(center: Center, t: Tenants, job: str) -> JobState:
    return jobs.get_job(center, t.bob, job).state


def test_a_short_outage_changes_nothing_but_the_nodes_shown(
    center: Center, t: Tenants, flaky: Flaky
) -> None:
    controller = Controller(center, tick_s=0.05, engine_lost_after_s=30, inventory_every_s=0.2)
    controller.start()
    try:
        job = submit(center, t, "sleep", "2")
        wait_for(lambda: state(center, t, job) is JobState.RUNNING)
        flaky.down = True
        wait_for(lambda: list_nodes(center, t.bob)[0].state == "down")
        node = list_nodes(center, t.bob)[0]
        assert "engine local does not answer" in node.state_reason
        assert "daemon stopped" in node.state_reason
        # Nothing new is placed on nodes of an engine that does not answer.
        waiting = submit(center, t, "true")
        controller.tick()
        assert state(center, t, waiting) is JobState.QUEUED
        assert state(center, t, job) is JobState.RUNNING
        flaky.down = False
        wait_for(lambda: list_nodes(center, t.bob)[0].state == "up")
        wait_for(lambda: state(center, t, job) is JobState.SUCCEEDED)
        wait_for(lambda: state(center, t, waiting) is JobState.SUCCEEDED)
    finally:
        controller.stop()


def test_jobs_end_lost_with_the_engines_message_after_the_limit(
    center: Center, t: Tenants, flaky: Flaky
) -> None:
    controller = Controller(center, tick_s=0.05, engine_lost_after_s=0.5)
    controller.start()
    try:
        job = submit(center, t, "sleep", "30")
        wait_for(lambda: state(center, t, job) is JobState.RUNNING)
        flaky.down = True
        wait_for(lambda: state(center, t, job) is JobState.LOST)
        reason = jobs.get_job(center, t.bob, job).state_reason
        assert reason.startswith("engine local has not answered for")
        assert "daemon stopped" in reason
    finally:
        flaky.down = False
        controller.stop()


def test_a_launch_the_engine_did_not_take_goes_back_to_the_queue(
    center: Center, t: Tenants, flaky: Flaky
) -> None:
    controller = Controller(center, tick_s=0.05, inventory_every_s=0.2)
    flaky.down = True
    job = submit(center, t, "true")
    controller.tick()  # the node still shows up: the scheduler places the job, launch fails
    view = jobs.get_job(center, t.bob, job)
    assert view.state is JobState.QUEUED
    events = [e.reason for e in jobs.job_events(center, t.bob, job)]
    assert any("does not answer" in r and "back in the queue" in r for r in events)
    flaky.down = False
    controller.start()
    try:
        wait_for(lambda: state(center, t, job) is JobState.SUCCEEDED)
    finally:
        controller.stop()
