"""The controller's look at notebook sessions, once a pass (``Controller.tick``).

A starting session whose job runs is ready as soon as its JupyterLab answers at the
address its engine reports; a session whose job ended is stopped; a ready session is asked
for its kernels and terminals every ``check_every_s`` and culled (its job cancelled) after
``idle_timeout_s`` without activity. The session's maximum lifetime is its job's time
limit, which the engine enforces. Calls to JupyterLab have short timeouts (a refused
connection, the common case while one starts, returns at once).
"""

from __future__ import annotations

import logging

from aidc.core.job_states import JobState
from aidc.core.notebooks import SessionState, is_idle, last_activity
from aidc.engines.interactive import engine_address
from aidc.services import jupyter, notebook_watch
from aidc.services.center import Center
from aidc.services.notebooks import mark_ready

log = logging.getLogger("aidc.controller.notebooks")


class NotebookWatch:
    def __init__(self, center: Center, check_every_s: float = 60.0) -> None:
        self.center = center
        self.check_every_s = check_every_s

    def step(self) -> None:
        try:
            watched = notebook_watch.active(self.center)
        except Exception:
            log.exception("could not read notebook sessions")
            return
        for w in watched:
            try:
                self._look(w)
            except Exception:
                log.exception("notebook session %s: check failed", w.session_id)

    def _look(self, w: notebook_watch.Watched) -> None:
        if w.job_state.is_terminal:
            notebook_watch.ended(self.center, w)
            return
        if w.job_state is not JobState.RUNNING or w.handle is None:
            return
        if w.state is SessionState.STARTING:
            address = w.address or self._address(w)
            if address and jupyter.answers(address, w.session_id, w.token):
                mark_ready(self.center, w.session_id, w.job_id, address)
            return
        now = self.center.clock()
        if w.address is None or (
            w.checked_at is not None and now - w.checked_at < self.check_every_s
        ):
            return
        seen = jupyter.activity(w.address, w.session_id, w.token)
        if seen is None:
            return  # not answering: its job's end (or a later check) decides
        kernels, terminals = seen
        since = max(w.ready_at or now, w.last_activity or 0.0)
        active_at = last_activity(kernels, terminals, since=since, now=now)
        if is_idle(active_at, now, w.idle_timeout_s):
            notebook_watch.cull(self.center, w, now - active_at)
        else:
            notebook_watch.record_activity(self.center, w.session_id, active_at)

    def _address(self, w: notebook_watch.Watched) -> str | None:
        return engine_address(self.center.engines.get(w.engine or ""), w.handle)
