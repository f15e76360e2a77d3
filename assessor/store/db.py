"""Opening the store: default location, SQLite pragmas, and migrations on open.

The schema changes only through Alembic (``migrations/``). Opening an older database
upgrades it; a newer one (from a later assessor) is refused with a clear message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from assessor.errors import StoreError
from assessor.resources import data_dir

# Every migration this version knows, oldest first; the last is the head. A test checks
# this list against migrations/versions/.
REVISIONS = ("0001", "0002", "0003")
HEAD = REVISIONS[-1]


def default_url() -> str:
    """``ASSESSOR_DB``, else ``assessor.db`` in the user data directory."""
    env = os.environ.get("ASSESSOR_DB")
    if env:
        return env
    from platformdirs import user_data_dir

    return f"sqlite:///{Path(user_data_dir('assessor')) / 'assessor.db'}"


def _describe(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported as given, minus nothing secret
        return "the database URL"


# SQLite's words for a file system problem; the file system is asked what it was.
_VAGUE = ("unable to open database file", "disk I/O error", "readonly database", "disk is full")


def _file_problem(url: str) -> str | None:
    """Why a SQLite database's file or folder cannot be written, as the file system says."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url) if "://" in url else None
        name = u.database if u is not None and u.drivername.startswith("sqlite") else None
    except Exception:  # described elsewhere
        return None
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    path = Path(name).expanduser()
    folder = path.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        fs = os.statvfs(folder)
    except OSError:
        return None
    if fs.f_flag & os.ST_RDONLY:
        return f"{folder} is on a read-only file system"
    if fs.f_bavail == 0:
        return f"no space left on the device holding {folder}"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable by this user"
    return None


def _store_error(url: str, e: Exception) -> StoreError:
    text_ = str(getattr(e, "orig", e)).strip().splitlines()[0] if str(e) else type(e).__name__
    where = _describe(url)
    if "locked" in text_:
        return StoreError(
            f"database {where} is locked by another process", hint="retry when it ends"
        )
    if "not a database" in text_ or "malformed" in text_:
        return StoreError(f"database {where} is not a readable SQLite database: {text_}")
    if any(v in text_ for v in _VAGUE) and (problem := _file_problem(url)):
        return StoreError(f"database {where}: {text_}: {problem}")
    return StoreError(f"database {where}: {text_}")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        path = make_url(url).database
        if path and path != ":memory:":
            folder = Path(path).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(
                    f"database {_describe(url)}: cannot create its folder {folder}: "
                    f"{e.strerror or e}"
                ) from e
    try:
        engine = create_engine(url)
    except Exception as e:  # unknown dialect or driver
        raise StoreError(f"cannot use database {_describe(url)}: {e}") from e
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(data_dir("migrations")))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The stored schema revision; None for an empty database."""
    with engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        if "alembic_version" not in tables:
            if tables:
                raise StoreError(
                    f"database {_describe(str(engine.url))} has tables but is not an assessor "
                    "database (no alembic_version)"
                )
            return None
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return str(row[0]) if row else None


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations of one SQLite file across processes.

    Two processes opening a new (or older) database at once would both create its tables
    and one would fail ("table ... already exists"). SQLite's own locks cannot guard this
    (Alembic migrates on its own connection), so an advisory lock on a file beside the
    database does; it is taken only when a migration looks needed. Elsewhere (PostgreSQL,
    in-memory SQLite, platforms without fcntl) this does nothing.
    """
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    try:
        import fcntl
    except ImportError:  # not POSIX
        path = None
    if not path or path == ":memory:" or path.startswith("file:"):
        yield
        return
    lock_path = Path(path).expanduser().with_name(Path(path).name + ".migrate-lock")
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to HEAD; returns (before, after). Safe to run from two processes at
    once on one SQLite file: the second waits, then finds the schema current."""
    try:
        if current_revision(engine) == HEAD:
            return HEAD, HEAD
    except StoreError:
        pass  # checked again under the lock: another process may be creating the tables
    with _migration_lock(engine):
        return _upgrade(engine)


def _upgrade(engine: Engine) -> tuple[str | None, str]:
    before = current_revision(engine)
    if before is not None and before not in REVISIONS:
        raise StoreError(
            f"database {_describe(str(engine.url))} has schema revision {before}, newer than "
            f"this assessor knows (head {HEAD})",
            hint="upgrade assessor to open it; it was left unchanged",
        )
    if before != HEAD:
        from alembic import command

        command.upgrade(alembic_config(engine), "head")
    return before, HEAD


@dataclass
class Store:
    engine: Engine
    sessions: sessionmaker[Session]
    url: str

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as s:
            try:
                yield s
            except (OperationalError, DatabaseError) as e:
                s.rollback()
                raise _store_error(self.url, e) from e

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    url = url or default_url()
    engine = make_engine(url)
    try:
        if migrate:
            upgrade(engine)
        elif current_revision(engine) != HEAD:
            raise StoreError(
                f"database {_describe(url)} is not at schema {HEAD}; run 'assessor db upgrade'"
            )
    except (OperationalError, DatabaseError) as e:
        engine.dispose()
        raise _store_error(url, e) from e
    except StoreError:
        engine.dispose()
        raise
    return Store(engine, sessionmaker(engine, expire_on_commit=False), url)
