"""Fresh databases for the tests, made ahead of time.

Making a PostgreSQL database for a test (CREATE DATABASE, the migrations, DROP afterwards)
cost about 1.4 s on our 2-core machines, and some 350 tests take one. ``PostgresPool``
migrates one template database once, and a background thread keeps a few copies of it
(``CREATE DATABASE ... TEMPLATE``) ready while tests run; another drops used ones. For
SQLite a migrated file is copied. Every test still gets a database nobody else has used,
with the newest schema (the ``db`` fixture's upgrade is then a no-op).
"""

from __future__ import annotations

import queue
import secrets
import shutil
import threading
from pathlib import Path

import psycopg
from sqlalchemy import URL, make_url

from aidc.store import migrate
from aidc.store.db import Database

_STOP = ""


def migrated(url: str) -> None:
    database = Database(url)
    try:
        migrate.upgrade(database.engine)
    finally:
        database.dispose()


def migrated_sqlite_copy(template: Path, path: Path) -> str:
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


class PostgresPool:
    def __init__(self, admin_url: str, ahead: int = 2) -> None:
        self.admin: URL = make_url(admin_url)
        self.conninfo = self.admin.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self.prefix = f"aidc_test_{secrets.token_hex(4)}"
        self.template = f"{self.prefix}_template"
        self.ready: queue.Queue[str] = queue.Queue(maxsize=ahead)
        self.used: queue.Queue[str] = queue.Queue()
        self.failure: BaseException | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> PostgresPool:
        """Connect (raises psycopg.OperationalError when the server does not answer), make
        the migrated template, and start making copies."""
        self._execute(f'CREATE DATABASE "{self.template}"')
        migrated(self.url(self.template))
        for target in (self._make_copies, self._drop_used):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def url(self, name: str) -> str:
        return self.admin.set(database=name).render_as_string(hide_password=False)

    def take(self) -> str:
        while True:
            try:
                return self.url(self.ready.get(timeout=1))
            except queue.Empty:
                if self.failure is not None:
                    raise RuntimeError(f"making test databases failed: {self.failure}") from None

    def give_back(self, url: str) -> None:
        name = make_url(url).database
        assert name is not None
        self.used.put(name)

    def close(self) -> None:
        self._stopping.set()
        while True:  # let the maker see the stop
            try:
                self.used.put(self.ready.get_nowait())
            except queue.Empty:
                break
        self.used.put(_STOP)
        for t in self._threads:
            t.join(timeout=60)
        while True:  # a copy the maker finished after the stop
            try:
                self._execute(f'DROP DATABASE IF EXISTS "{self.ready.get_nowait()}" WITH (FORCE)')
            except queue.Empty:
                break
        self._execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')

    def _make_copies(self) -> None:
        try:
            with psycopg.connect(self.conninfo, autocommit=True) as conn:
                while not self._stopping.is_set():
                    name = f"{self.prefix}_{secrets.token_hex(6)}"
                    conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                    while True:
                        try:
                            self.ready.put(name, timeout=0.5)
                            break
                        except queue.Full:
                            if self._stopping.is_set():
                                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                                return
        except BaseException as e:  # the test that waits for a copy reports it
            self.failure = e

    def _drop_used(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            while (name := self.used.get()) != _STOP:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _execute(self, sql: str) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(sql)
