"""Database engines and sessions. SQLite runs in WAL mode with immediate write locks."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("aidc.store")

READ_ONLY = "aidc_read_only"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
        )
        _configure_sqlite(engine)
        return engine
    # As many connections as the API's worker threads (40) plus the controller, so that
    # none is opened and closed per request under load.
    return create_engine(url, pool_size=24, max_overflow=24)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a crash of aidc (the WAL is written before
        # the call returns) but not a power cut of the host, which the server's fsync per
        # commit would cost 1 ms of every write for. Centers that need that run PostgreSQL.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # No checkpoint inside a request's commit (it copies the WAL into the database while
        # the writer waits: tens of ms); Database's checkpointer thread does it instead.
        cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front (IMMEDIATE): a deferred transaction that reads, then
        # writes, fails with SQLITE_BUSY instead of waiting when another writer got in first.
        # Readers never block anyone in WAL mode.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class _WriteLock:
    """Exclusive across the threads of this process and across processes (flock)."""

    def __init__(self, path: str) -> None:
        self._thread_lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        os.close(self._fd)


class _Checkpointer:
    """Copies SQLite's WAL back into the database every ``period_s``, off the request path.
    PASSIVE never waits for readers or writers; a busy round just tries again later."""

    def __init__(self, engine: Engine, period_s: float = 1.0) -> None:
        self._engine = engine
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aidc-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                # The driver's own connection: no BEGIN around it (see _on_begin).
                raw = self._engine.raw_connection()
                try:
                    raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
                finally:
                    raw.close()
            except Exception:
                log.exception("WAL checkpoint failed; retrying")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Database:
    """One engine and its session factory; ``transaction()`` is the unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
        # SQLite's busy handler (up to 100 ms a try): under load that made seconds-long tails.
        # Queueing writers on a mutex (threads) and a flock (processes) hands it over at once.
        self._write_lock: AbstractContextManager[object] = nullcontext()
        self._checkpointer: _Checkpointer | None = None
        if url.startswith("sqlite"):
            database = make_url(url).database
            if database and database != ":memory:":
                self._write_lock = _WriteLock(database + ".writelock")
                self._checkpointer = _Checkpointer(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A read-write unit of work: committed at the end, rolled back on an exception."""
        with self._write_lock, self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A consistent read that takes no write lock; nothing written in it is kept."""
        with self._read_sessions() as session:  # closing it rolls back
            yield session

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()
        if isinstance(self._write_lock, _WriteLock):
            self._write_lock.close()
