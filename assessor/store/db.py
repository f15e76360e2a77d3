"""Opening the store: default location, SQLite pragmas, and migrations on open.

The schema changes only through Alembic (``migrations/``). Opening an older database
upgrades it; a newer one (from a later assessor) is refused with a clear message.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from platformdirs import user_data_dir
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from assessor.errors import StoreError
from assessor.extras import require
from assessor.resources import data_dir

# Every migration this version knows, oldest first; the last is the head. A test checks
# this list against migrations/versions/.
REVISIONS = ("0001", "0002", "0003", "0004", "0005")
HEAD = REVISIONS[-1]


def default_path() -> Path:
    """``assessor.db`` in the user data directory."""
    return Path(user_data_dir("assessor")) / "assessor.db"


def default_url() -> str:
    """``ASSESSOR_DB`` (a path or a URL), else ``assessor.db`` in the user data directory."""
    env = os.environ.get("ASSESSOR_DB")
    if env:
        return as_url(env)
    return f"sqlite:///{default_path()}"


# SQLAlchemy's backends; anything else before :// is a typing mistake
_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql")
_TYPE_INSTEAD = (
    "type a file path (./assessor.db, ~/assessor.db, /var/lib/assessor/assessor.db), "
    "sqlite:///PATH, or postgresql+psycopg://USER@HOST/DBNAME"
)


def as_url(text: str) -> str:
    """What a person types for --db or ASSESSOR_DB, as a database URL.

    A plain path (``./a.db``, ``~/a.db``, ``/tmp/x.db``) is a SQLite file; a URL
    (``sqlite:///PATH``, ``postgresql+psycopg://...``) is taken as it is, with ``~`` expanded
    in a SQLite path. A mistake (an unknown scheme, ``sqlite://`` with two slashes, a NUL
    byte) is a StoreError saying what to type instead.
    """
    text = text.strip()
    if not text or "\x00" in text:
        raise StoreError(f"--db {text[:80]!r}: not a database path or URL", hint=_TYPE_INSTEAD)
    scheme, sep, _ = text.partition("://")
    if not sep:
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:(?!/)", text):  # 'sqlite:x.db', 'postgres:x'
            raise StoreError(
                f"--db {text[:80]!r}: neither a path nor a URL (a URL has '://')",
                hint=f"{_TYPE_INSTEAD}; a file whose name has a colon: ./{text[:40]}",
            )
        return f"sqlite:///{Path(text).expanduser().absolute()}"
    backend = scheme.partition("+")[0].lower()
    if backend not in _BACKENDS:
        also = " (SQLAlchemy spells it postgresql://)" if backend == "postgres" else ""
        raise StoreError(
            f"--db {text[:80]!r}: unknown database URL scheme {scheme[:30]!r}{also}",
            hint=_TYPE_INSTEAD,
        )

    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as e:
        raise StoreError(f"--db: not a database URL: {e}", hint=_TYPE_INSTEAD) from None
    if backend == "sqlite":
        if url.host or url.port:
            raise StoreError(
                f"--db {_describe(text)}: a SQLite file URL has three slashes "
                f"(sqlite:///RELATIVE or sqlite:////ABSOLUTE), not a host {url.host!r}",
                hint=_TYPE_INSTEAD,
            )
        name = url.database
        if name and name.startswith("~"):
            return url.set(database=str(Path(name).expanduser())).render_as_string(
                hide_password=False
            )
    if url.drivername == "postgresql":  # SQLAlchemy's default driver is psycopg2; ours is psycopg 3
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return text


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None: not SQLite, in memory, or a file: URI)."""
    if not url.startswith("sqlite"):
        return None

    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name).expanduser()


def prepare_database(url: str, *, default: bool = False) -> None:
    """Make sure a SQLite database file can be opened, creating it private.

    A new file is created 0600 before SQLite opens it (SQLite gives its -wal and -shm files
    the database file's permissions), and the default location's folder 0700. A folder
    given as the database, or a missing folder for a database the user named, is a
    StoreError saying what to type instead. An existing file keeps its permissions.
    """
    path = _sqlite_file(url)
    if path is None:
        return
    if path.is_dir():
        raise StoreError(
            f"database {path}: is a folder, not a database file",
            hint=f"type a file path such as {path / 'assessor.db'}",
        )
    folder = path.parent
    if not folder.exists():
        if not default:
            raise StoreError(
                f"database {path}: the folder {folder} does not exist",
                hint=f"create it first (mkdir -p {folder}) or type a path in an existing folder",
            )
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(
                f"database {path}: cannot create its folder {folder}: {e.strerror or e}"
            ) from e
    elif not folder.is_dir():
        raise StoreError(
            f"database {path}: {folder} is not a folder", hint="type a path in an existing folder"
        )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return  # an existing database (or one another process just made): used as it is
    except OSError as e:
        raise StoreError(f"database {path}: cannot create it: {e.strerror or e}") from e
    os.close(fd)


def _describe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported as given, minus nothing secret
        return "the database URL"


# SQLite's words for a file system problem; the file system is asked what it was.
_VAGUE = ("unable to open database file", "disk I/O error", "readonly database", "disk is full")


def _file_problem(url: str) -> str | None:
    """Why a SQLite database's file or folder cannot be written, as the file system says."""
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


def _read_only_media(url: str, path: Path) -> str:
    """The URL that opens a SQLite file kept on read-only media (an archived audit copy).

    SQLite in WAL mode creates ``-shm`` beside the database even to read it, which a read-only
    file system refuses. When the folder is read-only and no ``-wal`` file holds unmerged
    writes, the file is opened ``immutable`` (read-only, no locks, nothing created): every
    reading command works and every writing one fails with "readonly database".
    """
    try:
        read_only = bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return url
    if not read_only or not path.is_file() or path.with_name(path.name + "-wal").exists():
        return url

    return f"sqlite:///file:{quote(str(path.resolve()))}?mode=ro&immutable=1&uri=true"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
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
            url = _read_only_media(url, Path(path).expanduser())
    if url.startswith("postgresql+psycopg:"):
        require("postgresql", "PostgreSQL databases")
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


def _advisory_key(name: str) -> int:
    """A PostgreSQL advisory lock key (a signed 64-bit integer) naming ``name``."""
    digest = hashlib.sha256(f"assessor: {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_until_commit(s: Session, name: str) -> None:
    """Wait for, then hold until this transaction ends, the lock called ``name``: the
    transactions that take it run one after the other. On PostgreSQL an advisory transaction
    lock; on SQLite nothing, as its database write lock serialises writers already."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _advisory_key(name)})


T = TypeVar("T")

# deadlock_detected, serialization_failure: the transaction was rolled back and may be retried
_RETRYABLE = ("40P01", "40001")


def retried(work: Callable[[], T], attempts: int = 4) -> T:
    """``work()`` (one transaction, from its own ``store.session()``), run again when the
    database rolled it back for a deadlock or a serialization failure (PostgreSQL, when
    transactions wait on each other's rows), at most ``attempts`` times in all."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except StoreError as e:
            state = getattr(getattr(e.__cause__, "orig", None), "sqlstate", None)
            if state not in _RETRYABLE or attempt == attempts:
                raise
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


@contextmanager
def _pg_migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations of one PostgreSQL database across processes: a session advisory
    lock, held on a connection of its own while Alembic migrates on another."""
    key = {"key": _advisory_key("migrations")}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), key)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations of one database across processes.

    Two processes opening a new (or older) database at once would both create its tables
    and one would fail ("table ... already exists" on SQLite; a unique violation of
    pg_type_typname_nsp_index on PostgreSQL). SQLite's own locks cannot guard this
    (Alembic migrates on its own connection), so an advisory lock on a file beside the
    database does; on PostgreSQL an advisory lock of the server. It is taken only when a
    migration looks needed. Elsewhere (in-memory SQLite, platforms without fcntl) this does
    nothing.
    """
    if engine.dialect.name == "postgresql":
        with _pg_migration_lock(engine):
            yield
        return
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    try:
        import fcntl
    except ImportError:  # not POSIX
        path = None
    if not path or path == ":memory:" or path.startswith("file:"):
        yield
        return
    lock_path = Path(path).expanduser().with_name(Path(path).name + ".migrate-lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with open(fd, "a+b") as lock:
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

        migrating = _migration_engine(engine)
        try:
            command.upgrade(alembic_config(migrating), "head")
        finally:
            if migrating is not engine:
                migrating.dispose()
    return before, HEAD


def _migration_engine(engine: Engine) -> Engine:
    """The engine migrations run on: on a SQLite file, one where a migration is one
    transaction, all or nothing.

    pysqlite opens a transaction only before INSERT/UPDATE/DELETE, so each CREATE TABLE of a
    migration was committed on its own: a first scan killed while it created the schema left
    some tables and no version, and every later command failed ("table assessment already
    exists"). Here the driver's own handling is off and each transaction is an explicit
    BEGIN IMMEDIATE (SQLite's DDL is transactional). In-memory databases keep their engine.
    """
    name = engine.url.database
    if (
        engine.dialect.name != "sqlite"
        or not name
        or name == ":memory:"
        or name.startswith("file:")
    ):
        return engine

    migrating = create_engine(engine.url, poolclass=NullPool)

    def connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # no implicit BEGIN/COMMIT by the driver
        _sqlite_pragmas(dbapi_conn, record)
        # Batch mode alters a table by copying it and dropping the old one; with foreign keys
        # on, that DROP deletes every row referencing it (ON DELETE CASCADE): 0004 emptied the
        # results of every assessment. SQLite's own procedure for altering a table: keys off,
        # then PRAGMA foreign_key_check before commit (migrations/env.py).
        dbapi_conn.execute("PRAGMA foreign_keys=OFF")

    def begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(migrating, "connect", connect)
    event.listen(migrating, "begin", begin)
    return migrating


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


def database_url(given: str | None = None) -> str:
    """The URL of the database to use: ``given`` (a path or URL), else ASSESSOR_DB, else
    the default file; a SQLite file is prepared (see :func:`prepare_database`)."""
    text = given or os.environ.get("ASSESSOR_DB")
    if text:
        url = as_url(text)
        prepare_database(url)
    else:
        url = f"sqlite:///{default_path()}"
        prepare_database(url, default=True)
    return url


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    url = database_url(url)
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
