"""The database: one SQLite file in the data dir by default, PostgreSQL when several servers share one memory.

Why a database: counters, de-duplication, the outcome log and event sequence numbers are updated by many writers at
once, which takes transactions and atomic statements, not read-modify-write in Python.

- SQLite: WAL journal, ``synchronous=FULL`` (a commit is on disk when it returns), every write transaction begins
  ``IMMEDIATE`` (it takes the write lock first, so two writers never deadlock upgrading a read lock).
- PostgreSQL (psycopg 3): a pool whose connections are checked before use, connect, TCP and statement
  timeouts, so a database that is down or unreachable gives an error within seconds, not a hang; the pool reconnects
  by itself when it is back.
- Schema: Alembic migrations (``migrations/``) run on open, under a lock (an advisory lock on PostgreSQL, a file
  lock beside an SQLite file), so servers starting together migrate once. A new database is created from
  ``schema.py`` as the migrations would leave it and recorded at the newest revision, without alembic.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp_memory.config import redact_url, sqlalchemy_url
from mcp_memory.errors import CannotStart, StoreDamaged, Unavailable
from mcp_memory.storage.data_dir import check_data_dir
from mcp_memory.storage.space import SpaceReserve

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 30_000
# Sent data unacknowledged this long, or an idle link silent for idle + interval * count seconds: the connection is
# dead and the call fails (a healthy loopback or LAN acknowledges within milliseconds).
TCP_USER_TIMEOUT_MS = 10_000
KEEPALIVE_IDLE_SECONDS = 10
KEEPALIVE_INTERVAL_SECONDS = 5
KEEPALIVE_COUNT = 3
MIGRATION_LOCK_KEY = 0x6D656D6F  # PostgreSQL advisory lock id for migrations ("memo")
# Alembic keeps the running migration's context in module globals: two databases of one process migrate in turn.
_ALEMBIC_LOCK = threading.Lock()


class Database:
    """An engine, opened and migrated once, with read and write transactions whose failures become our errors."""

    def __init__(self, database_url: str | None, data_dir: Path | None) -> None:
        self.url = sqlalchemy_url(database_url, data_dir)
        self.is_sqlite = self.url.startswith("sqlite")
        self.shown = redact_url(self.url.replace("+psycopg", ""))
        self.path = Path(self.url.removeprefix("sqlite:///")) if self.is_sqlite else None
        self._engine: Any = None
        self._open_lock = threading.Lock()
        # SQLite writers of this process queue here: only writers of other processes meet SQLite's busy handler,
        # which sleeps in steps of up to 100 ms.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self.reserve = SpaceReserve(self.path.with_name(f".{self.path.name}.reserve")) if self.path else None

    @property
    def is_open(self) -> bool:
        return self._engine is not None

    @property
    def shared(self) -> bool:
        """Whether other servers may write to this database (PostgreSQL)."""
        return not self.is_sqlite

    def open(self) -> None:
        """Connect, and create or migrate the schema (idempotent)."""
        if self._engine is not None:
            return
        with self._open_lock:
            if self._engine is not None:
                return
            from sqlalchemy.exc import DBAPIError

            engine = self._create_engine()
            try:
                self._migrate(engine)
            except BaseException as exc:
                engine.dispose()
                if isinstance(exc, Unavailable | DBAPIError) and not isinstance(exc, CannotStart):
                    raise self._cannot_open(exc) from exc
                raise
            self._engine = engine
            if self.reserve is not None:
                self.reserve.keep()

    def _cannot_open(self, exc: Exception) -> CannotStart:
        """Why the database did not open, and what to do about it (not the advice for a failed store)."""
        problem = exc.__cause__ if isinstance(exc, Unavailable) else exc
        if self.is_sqlite:
            fix = (
                f"Check that {self.path} is a memory database this user can read and write, or choose another "
                "data dir with --data-dir (MCP_MEMORY_DATA_DIR)."
            )
        else:
            fix = (
                "Check that PostgreSQL runs there and accepts this user, or fix --database-url "
                "(MCP_MEMORY_DATABASE_URL)."
            )
        reason = _first_line(getattr(problem, "orig", problem))
        return CannotStart(f"Cannot open the database {self.shown} ({reason}). {fix}")

    def close(self) -> None:
        with self._open_lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def _create_engine(self) -> Any:
        from sqlalchemy import create_engine, event

        if self.is_sqlite:
            assert self.path is not None
            check_data_dir(self.path.parent)
            engine = create_engine(
                self.url,
                connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False, "isolation_level": None},
                pool_size=8,
                max_overflow=8,
            )

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
                dbapi_connection.execute("PRAGMA journal_mode=WAL")
                dbapi_connection.execute("PRAGMA synchronous=FULL")
                dbapi_connection.execute("PRAGMA foreign_keys=ON")

            @event.listens_for(engine, "begin")
            def _begin(connection: Any) -> None:
                immediate = connection.get_execution_options().get("write", False)
                connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

            return engine
        return create_engine(
            self.url,
            pool_pre_ping=True,
            pool_size=8,
            max_overflow=8,
            pool_timeout=BUSY_TIMEOUT_SECONDS,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                # A host that stops answering (network loss, failover) sends no reset: without these a query or
                # the pool's pre-ping would wait on the socket for the kernel's retransmission limit (~15 min).
                "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
                "keepalives": 1,
                "keepalives_idle": KEEPALIVE_IDLE_SECONDS,
                "keepalives_interval": KEEPALIVE_INTERVAL_SECONDS,
                "keepalives_count": KEEPALIVE_COUNT,
            },
        )

    def _migrate(self, engine: Any) -> None:
        if self._at_head(engine):  # a restart: no migration to run, and alembic's import (~0.15 s) is not paid
            return
        from sqlalchemy import text

        with _ALEMBIC_LOCK, self._migration_lock(), self._translated(), engine.connect() as connection:
            if not self.is_sqlite:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                connection.commit()
            try:
                if _holds_none_of_ours(connection):
                    _create_at_head(connection)
                else:
                    _upgrade(connection)
                connection.commit()
            finally:
                if not self.is_sqlite:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                    connection.commit()

    def _at_head(self, engine: Any) -> bool:
        """Whether the schema is already at the newest migration (read without alembic)."""
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        with self._translated(), engine.connect() as connection:  # a database out of reach fails here, once
            try:
                versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            except DBAPIError:  # no version table yet (a new database), or a file that is not one: migrate says
                return False
        return versions == [schema_head()]

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if not self.is_sqlite:
            yield
            return
        assert self.path is not None
        lock_path = self.path.with_name(self.path.name + ".migrate.lock")
        with open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @property
    def engine(self) -> Any:
        if self._engine is None:
            self.open()
        return self._engine

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A connection in one read transaction (one snapshot)."""
        with self._translated(), self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def write(self, frees_space: bool = False) -> Iterator[Any]:
        """A connection in one write transaction: committed when the block ends, rolled back if it raises.

        A write that ``frees_space`` (a delete) may use the reserve on a full disk: undoing a half-done store, or
        making room, must not fail for want of the room it makes.
        """
        lock = self._write_lock or _NO_LOCK
        if frees_space and self.reserve is not None:
            self.reserve.release_if_low()
        with lock, self._translated(), self.engine.connect() as connection:
            connection = connection.execution_options(write=True)
            with connection.begin():
                yield connection
        if frees_space and self.reserve is not None:
            self.reserve.keep()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Driver failures as ``Unavailable`` naming the database and what to do; our own errors pass through."""
        from sqlalchemy.exc import DBAPIError
        from sqlalchemy.exc import TimeoutError as PoolTimeout

        try:
            yield
        except PoolTimeout as exc:
            raise Unavailable(
                f"The database {self.shown} is busy: no connection was free within {BUSY_TIMEOUT_SECONDS:.0f} s. "
                "Retry shortly."
            ) from exc
        except DBAPIError as exc:
            cause = _first_line(exc.orig)
            if _is_disk_full(exc):
                raise Unavailable(
                    f"The disk holding the database {self.shown} is full ({cause}): this request was not saved. "
                    "Free space on that disk, then retry."
                ) from exc
            if self.is_sqlite and any(sign in cause for sign in DAMAGED_SIGNS):
                raise StoreDamaged(
                    f"The database file {self.path} is damaged ({cause}). Stop every server on it, move it aside, "
                    "and restore the latest backup into a new data dir: mcp-memory import BACKUP.jsonl --data-dir DIR."
                ) from exc
            if exc.connection_invalidated or _is_unavailable(exc):
                raise Unavailable(
                    f"The database {self.shown} cannot be used now ({_first_line(exc.orig)}). Retry in a few "
                    "seconds; a store that failed here may or may not have been saved, and storing it again is "
                    "safe (stores are de-duplicated)."
                ) from exc
            raise

    def insert_or_ignore(self, table: Any, values: dict[str, Any]) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING, in this database's dialect."""
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).values(**values).on_conflict_do_nothing()
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table).values(**values).on_conflict_do_nothing()

    def backup_to(self, target: Path) -> bool:
        """Copy an SQLite database with SQLite's online backup (safe while others write); False for PostgreSQL."""
        if not self.is_sqlite:
            return False
        assert self.path is not None
        self.open()
        source = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS)
        destination = sqlite3.connect(target)
        try:
            source.backup(destination)
        finally:
            destination.close()
            source.close()
        return True

    def size_on_disk(self) -> int | None:
        if not self.is_sqlite or self.path is None:
            return None
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


_NO_LOCK = _NoLock()


# What SQLite (ours, or the one inside Chroma) says of a file that is not, or no longer, a database.
DAMAGED_SIGNS = ("file is not a database", "database disk image is malformed")


def schema_head() -> str:
    """The newest migration's revision: migrations are files named by their revision, ``NNNN_what.py``, each
    revising the one before."""
    versions = Path(__file__).parent / "migrations" / "versions"
    return max(path.name.split("_", 1)[0] for path in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))


def _holds_none_of_ours(connection: Any) -> bool:
    """Whether the database is new to us: no table of the schema and no migration recorded."""
    from sqlalchemy import inspect

    from mcp_memory.storage.schema import metadata

    present = set(inspect(connection).get_table_names())
    return not present & {*metadata.tables, "alembic_version"}


def _create_at_head(connection: Any) -> None:
    """A new database: the schema as the migrations leave it, created at once and recorded at the newest revision.

    Alembic's import and seven migrations cost a first start ~0.2 s; ``tests/test_migrations.py`` checks that the
    tables, columns, defaults, keys and indexes made here are the ones the migrations make.
    """
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, insert

    from mcp_memory.storage.schema import metadata

    metadata.create_all(connection)
    version = Table(  # as alembic makes its version table
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(connection)
    connection.execute(insert(version).values(version_num=schema_head()))


def _upgrade(connection: Any) -> None:
    """Run the migrations from the database's revision to the newest."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _is_disk_full(exc: Any) -> bool:
    """SQLite's SQLITE_FULL, or PostgreSQL's disk_full (SQLSTATE 53100)."""
    return "database or disk is full" in str(exc.orig) or getattr(exc.orig, "sqlstate", None) == "53100"


def _is_unavailable(exc: Any) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


def _first_line(exc: BaseException | None) -> str:
    text = str(exc or "").strip().splitlines()
    return text[0] if text else type(exc).__name__


IN_CHUNK = 500  # ids per IN (...) list


def in_chunks(ids: list[str]) -> Iterator[list[str]]:
    """``ids`` in lists short enough for one ``IN (...)`` each."""
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start : start + IN_CHUNK]
