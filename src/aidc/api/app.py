"""The FastAPI application; the server's lifespan starts and stops the center."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from aidc import __version__, bootstrap
from aidc.api import errors
from aidc.api.routes import center, jobs
from aidc.settings import Settings


def create_app(
    settings: Settings, on_ready: Callable[[bootstrap.Running], None] | None = None
) -> FastAPI:
    """The app; its lifespan builds the center from ``settings`` and calls ``on_ready``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Few worker threads: the work is GIL- and database-bound, and 40 threads (anyio's
        # default) spent more time handing the GIL and the SQLite write lock around.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads()
        running = bootstrap.start(settings)
        app.state.center = running.center
        if on_ready is not None:
            on_ready(running)
        try:
            yield
        finally:
            running.close()

    app = FastAPI(
        title="aidc",
        version=__version__,
        description="The API of a shared AI data center: jobs, nodes, tenants.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(center.router)
    app.include_router(jobs.router)
    return app
