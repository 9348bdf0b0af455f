"""The FastAPI application.

``create_app(settings, running)`` serves a center the caller started (one process, API and
controller); ``worker_app()`` is the factory API worker processes use, each building its own
API-role center from the ``AIDC_*`` environment its supervisor set.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from aidc import __version__, bootstrap, portal
from aidc.api import errors
from aidc.api.limits import BodyLimit, SignInLimiter
from aidc.api.routes import (
    center,
    datasets_governance,
    jobs,
    policy,
    quotas,
    reports,
    security,
    simulations,
    users,
)
from aidc.api.routes import courses as course_routes
from aidc.api.routes import datasets as dataset_routes
from aidc.api.routes import ledger as ledger_routes
from aidc.api.routes import notebooks as notebook_routes
from aidc.api.routes import sessions as session_proxy
from aidc.api.routes import validations as validation_routes
from aidc.api.routes.allocations import ROUTERS as ALLOCATION_ROUTERS
from aidc.settings import Settings

PR_SET_PDEATHSIG = 1


def create_app(settings: Settings, running: bootstrap.Running | None = None) -> FastAPI:
    """The app; without ``running`` its lifespan starts (and stops) an API-role center."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Few worker threads: the work is GIL- and database-bound, and 40 threads (anyio's
        # default) spent more time handing the GIL and the SQLite write lock around.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads()
        own = running is None
        current = bootstrap.start(settings, bootstrap.Role.API) if own else running
        assert current is not None
        app.state.center = current.center
        try:
            yield
        finally:
            if own:
                current.close()

    app = FastAPI(
        title="aidc",
        version=__version__,
        description="The API of a shared AI data center: jobs, nodes, tenants.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sign_in = SignInLimiter()
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    errors.install(app)
    app.include_router(center.router)
    app.include_router(jobs.router)
    app.include_router(policy.router)
    app.include_router(quotas.router)
    app.include_router(simulations.router)
    app.include_router(course_routes.router)
    app.include_router(reports.router)
    for r in ALLOCATION_ROUTERS:  # organisations, invitations, programs, allocations
        app.include_router(r)
    app.include_router(ledger_routes.router)
    app.include_router(users.router)
    app.include_router(dataset_routes.router)
    app.include_router(datasets_governance.router)
    app.include_router(notebook_routes.router)
    app.include_router(session_proxy.router)
    app.include_router(security.router)
    app.include_router(validation_routes.router)
    portal.mount(app)  # the web portal at /portal/ (aidc.portal; docs/portal.md)
    return app


def worker_app() -> FastAPI:
    """Factory for uvicorn's worker processes (``aidc server --workers N``)."""
    # A worker must not outlive its supervisor (say, after a SIGKILL): it would keep the
    # port and serve a center whose controller is gone. SIGKILL, not SIGTERM: a graceful
    # shutdown would hold the port while a restarted server tries to bind it.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The supervisor may have died while this worker was still starting (importing takes
    # seconds on a busy host), before PDEATHSIG was set: nothing would ever signal it, and
    # it would serve the port on its own. The crash test's random SIGKILLs found it.
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        os._exit(1)
    return create_app(Settings())
