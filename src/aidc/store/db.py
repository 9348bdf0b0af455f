"""Database engines and sessions. SQLite runs in WAL mode with immediate write locks."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

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


class Database:
    """One engine and its session factory; ``transaction()`` is the unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
        # SQLite's busy handler (up to 100 ms a try): under load that made seconds-long tails.
        # Queueing writers on a mutex (threads) and a flock (processes) hands it over at once.
        self._write_lock: AbstractContextManager[object] = nullcontext()
        if url.startswith("sqlite"):
            database = make_url(url).database
            if database and database != ":memory:":
                self._write_lock = _WriteLock(database + ".writelock")
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
        self.engine.dispose()
        if isinstance(self._write_lock, _WriteLock):
            self._write_lock.close()
