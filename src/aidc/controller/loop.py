"""The controller: one thread that reconciles the store with the engines.

Each pass: (1) poll the engines for jobs that run, record how finished (or preempted) ones
ended, and pass on cancel requests (and preemption requests not yet sent); (2) snapshot the
queue and nodes, ask the scheduler for decisions, and launch them (``preempt`` carries out
the scheduler's preemptions). A pass runs every ``tick_s`` and at once when woken
(``wake``: a submission or cancel, wired up by bootstrap, or a process exit reported by an
engine). On start it first re-reads engine state (``recover``): a job that still runs is
re-adopted, one that cannot be found is LOST, and nothing is started twice.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping

from aidc import metrics
from aidc.controller.accounting import Accounting
from aidc.controller.engine_health import EngineHealth
from aidc.controller.notebooks import NotebookWatch
from aidc.core.job_states import JobState
from aidc.engines.base import (
    EngineStatus,
    EngineUnavailable,
    Handle,
    LaunchError,
    LaunchRequest,
    Outcome,
    launch_all,
)
from aidc.scheduler import Decision, Explanation, Plan, Planner, Preemption, Snapshot
from aidc.services import execution, pass_input
from aidc.services.center import Center

log = logging.getLogger("aidc.controller")
# Admissions per transaction: a whole pass's in few commits, without holding SQLite's one
# write lock (which submissions wait for) for long.
ADMIT_BATCH = 128


class Controller:
    def __init__(
        self,
        center: Center,
        tick_s: float = 0.5,
        min_gap_s: float = 0.05,
        *,
        engine_lost_after_s: float = 120.0,
        inventory_every_s: float = 30.0,
        meter_every_s: float = 60.0,
    ) -> None:
        self.center = center
        self.health = EngineHealth(center, engine_lost_after_s, inventory_every_s)
        self.accounting = Accounting(center, meter_every_s)
        # STARTING jobs whose engine could not be asked at start (see recover).
        self._recover_later: set[str] = set()
        self.tick_s = tick_s
        self.min_gap_s = min_gap_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cancel_sent: set[str] = set()
        self._waits: dict[str, Explanation] = {}
        self._waits_written_at = -math.inf
        self._waits_cost_s = 0.0
        self.waits_interval_s = 1.0
        # Keeps the queue's grouping from pass to pass (see aidc.scheduler.Planner); the
        # last snapshot lends its queued jobs to the next, so that the grouping holds.
        self.planner = Planner()
        self._snapshot: Snapshot | None = None
        # The last pass's input: credits' holds, and the queued jobs handed on.
        self._pass: pass_input.PassInput | None = None
        # Jobs whose preemption this process handed to the engine (cf. _cancel_sent).
        self._preempt_sent: set[str] = set()
        for engine in center.engines.values():
            engine.set_listener(self.wake)
        self.notebooks = NotebookWatch(center)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self.recover()
        self.health.sync_accounts()
        self._thread = threading.Thread(target=self._run, name="aidc-controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.tick_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.tick()
            except Exception:
                log.exception("controller pass failed; retrying on the next tick")
            # Coalesce bursts (many submissions at once) into one pass.
            self._stop.wait(self.min_gap_s)

    def recover(self, only: set[str] | None = None) -> None:
        """After a (re)start: re-adopt what still runs, record what ended, never relaunch.
        A job whose engine cannot be asked now is asked again on later passes."""
        for job in execution.active_jobs(self.center):
            if only is not None and job.job_id not in only:
                continue
            self._recover_later.discard(job.job_id)
            engine = self.center.engines.get(job.engine or "")
            if engine is None:
                execution.record_status(
                    self.center,
                    job.job_id,
                    EngineStatus(
                        Outcome.LOST, reason=f"engine {job.engine!r} is not configured any more"
                    ),
                )
                continue
            if job.state is JobState.STARTING:
                try:
                    handle = engine.recover(job.job_id, job.attempt)
                except EngineUnavailable as e:
                    self.health.failed(job.engine or "", str(e))
                    self._recover_later.add(job.job_id)
                    continue
                if handle is None:
                    execution.record_status(
                        self.center,
                        job.job_id,
                        EngineStatus(
                            Outcome.LOST,
                            reason="the server stopped while launching this job; it never started",
                        ),
                    )
                    continue
                execution.record_launched(
                    self.center, job.job_id, handle, reason="re-adopted after a server restart"
                )
                continue
            assert job.handle is not None
            status = self.health.poll(job.engine or "", engine, job.handle)
            if status is None:
                continue  # the engine does not answer: _reconcile_running asks again
            if status.outcome is Outcome.RUNNING:
                execution.note(
                    self.center,
                    job.job_id,
                    "re-adopted after a server restart; the process still runs",
                )
            else:
                execution.record_status(self.center, job.job_id, status)

    def tick(self) -> None:
        self.health.refresh_inventory()
        if self._recover_later:
            self.recover(set(self._recover_later))
        self._reconcile_running()
        # Before scheduling, so that holds see the credits as of now.
        self.accounting.step()
        self._schedule()
        self.notebooks.step()

    def _record_waits(self, inp: pass_input.PassInput, result: Plan | None) -> None:
        """Store what changed in the scheduler's explanations, at most every
        ``waits_interval_s``, and no more than a fifth of the time.

        A plan explains its waiting jobs only when asked (for a long queue that costs more
        than deciding), and positions shift whenever a job ahead leaves: so explanations are
        read and written at most once an interval, and only the rows that changed. When
        that takes long (a queue of 100,000 jobs: 0.4 s), the interval stretches to five
        times what it took, so that deciding keeps most of the controller's time. While a
        pass admits jobs (a burst of starts, when every position moves) the interval is
        three times longer: the starts come first.
        """
        now = self.center.clock()
        interval = max(self.waits_interval_s, 5 * self._waits_cost_s)
        if result is not None and result.admit:
            interval *= 3
        if now - self._waits_written_at < interval:
            return
        self._waits_written_at = now
        started = time.perf_counter()
        # Jobs credits hold back wait too, after those the scheduler was offered.
        waits = (result.waiting if result is not None else ()) + inp.held
        changed = [w for w in waits if self._waits.get(w.job_id) != w]
        if changed:
            execution.record_waits(self.center, changed, dict(inp.seqs))
        self._waits = {w.job_id: w for w in waits}
        self._waits_cost_s = time.perf_counter() - started

    def _reconcile_running(self) -> None:
        ended: list[tuple[str, EngineStatus]] = []
        for job in execution.active_jobs(self.center):
            if job.state is not JobState.RUNNING or job.handle is None:
                continue
            engine = self.center.engines[job.engine or ""]
            status = self.health.poll(job.engine or "", engine, job.handle)
            if status is None:
                continue  # unreachable for now; LOST once it stays so for long
            if status.outcome is not Outcome.RUNNING:
                # PREEMPTED included: record_status requeues the job (or cancels it).
                ended.append((job.job_id, status))
            elif job.cancel_requested and job.job_id not in self._cancel_sent:
                try:
                    engine.cancel(job.handle)
                except EngineUnavailable as e:
                    self.health.failed(job.engine or "", str(e))
                    continue  # not sent: asked again next pass
                self._cancel_sent.add(job.job_id)
            elif job.preempt_requested and job.job_id not in self._preempt_sent:
                # Recorded but not (known to be) sent: after a restart or a failed call.
                order = execution.pending_stop(self.center, job.job_id)
                if order is not None:
                    self._send_stop(order)
        # One transaction for every run that ended since the last pass.
        execution.record_statuses(self.center, ended)
        for job_id, _ in ended:
            self._cancel_sent.discard(job_id)
            self._preempt_sent.discard(job_id)

    def _schedule(self) -> None:
        inp = self._pass = pass_input.prepare(self.center, self._pass)
        snap = self._snapshot = inp.snapshot
        if not snap.queue:
            self._record_waits(inp, None)
            return
        started = time.perf_counter()
        result = self.planner.plan(snap)
        metrics.observe_pass(
            time.perf_counter() - started, admitted=len(result.admit), preempted=len(result.preempt)
        )
        self._record_waits(inp, result)
        self.preempt(result.preempt)
        decisions = list(result.admit)
        for start in range(0, len(decisions), ADMIT_BATCH):
            self._launch(decisions[start : start + ADMIT_BATCH], inp.demoted)

    def _launch(self, decisions: list[Decision], demoted: Mapping[str, str]) -> None:
        """Admit a batch of decisions in one transaction, launch each outside any
        transaction, and record the launches (and failures) in one more. A crash in
        between leaves STARTING jobs, which ``recover`` finds again or marks LOST."""
        launched: list[tuple[str, Handle]] = []
        failed: list[tuple[str, EngineStatus]] = []
        by_engine: dict[str, list[LaunchRequest]] = {}
        for admitted in execution.admit_many(self.center, decisions, demoted):
            if admitted is None:
                continue  # it moved meanwhile (cancelled after the snapshot)
            engine_name, request = admitted
            down = self.health.unreachable(engine_name)
            if down is not None:
                self._requeue_unlaunched(engine_name, request.job_id, down)
                continue
            by_engine.setdefault(engine_name, []).append(request)
        for engine_name, requests in by_engine.items():
            engine = self.center.engines[engine_name]
            for request, result in zip(requests, launch_all(engine, requests), strict=True):
                if isinstance(result, EngineUnavailable):
                    self.health.failed(engine_name, str(result))
                    self._requeue_unlaunched(engine_name, request.job_id, str(result))
                elif isinstance(result, LaunchError):
                    failed.append(
                        (request.job_id, EngineStatus(Outcome.FAILED, reason=str(result)))
                    )
                elif isinstance(result, Exception):
                    log.error(
                        "engine %s failed to launch %s: %r", engine_name, request.job_id, result
                    )
                    why = f"engine {engine_name} could not launch: {result}"
                    failed.append((request.job_id, EngineStatus(Outcome.FAILED, reason=why)))
                else:
                    launched.append((request.job_id, result))
        execution.record_launched_many(self.center, launched, reason="process started")
        execution.record_statuses(self.center, failed)

    def _requeue_unlaunched(self, engine: str, job_id: str, message: str) -> None:
        reason = f"engine {engine} does not answer ({message}); back in the queue"
        execution.requeue_unlaunched(self.center, job_id, reason)

    # -- preemption (the scheduling pass calls this with its plan's decisions) -------------

    def preempt(self, preemptions: Iterable[Preemption]) -> None:
        """Stop each job to make room: record the request (one transaction each), then ask
        the engine outside any transaction. The run's end is recorded by
        ``_reconcile_running`` like any other, which requeues the job."""
        for p in preemptions:
            order = execution.request_preemption(
                self.center, p.job_id, for_job=p.for_job, reason=p.reason, grace_s=p.grace_s
            )
            if order is not None:
                self._send_stop(order)

    def _send_stop(self, order: execution.StopOrder) -> None:
        engine = self.center.engines.get(order.engine)
        if engine is None:
            return  # _reconcile_running / recover report the job
        try:
            engine.preempt(order.handle, order.grace_s, order.reason)
        except Exception:
            # Left out of _preempt_sent: the next pass tries again.
            log.exception("engine %s failed to preempt %s", order.engine, order.job_id)
            return
        self._preempt_sent.add(order.job_id)


def _launch_failure(engine: str, job_id: str, e: Exception) -> EngineStatus:
    if isinstance(e, LaunchError):  # the engine's own words, for the user
        return EngineStatus(Outcome.FAILED, reason=str(e))
    log.error("engine %s failed to launch %s: %r", engine, job_id, e)
    return EngineStatus(Outcome.FAILED, reason=f"engine {engine} could not launch: {e}")
