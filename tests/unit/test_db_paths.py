"""--db and ASSESSOR_DB: what a person types, and the permissions of a new database (item 12)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from assessor.errors import StoreError
from assessor.store import open_store
from assessor.store.db import as_url, database_url


def test_plain_paths_are_sqlite_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert as_url("./a.db") == f"sqlite:///{tmp_path / 'a.db'}"
    assert as_url("a.db") == f"sqlite:///{tmp_path / 'a.db'}"
    assert as_url("/tmp/x.db") == "sqlite:////tmp/x.db"
    assert as_url("~/a.db") == f"sqlite:///{tmp_path / 'home' / 'a.db'}"
    assert as_url("sqlite:///~/b.db") == f"sqlite:///{tmp_path / 'home' / 'b.db'}"
    assert as_url("sqlite:////tmp/y.db") == "sqlite:////tmp/y.db"
    assert as_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    # SQLAlchemy's default PostgreSQL driver is psycopg2, which assessor does not install
    assert as_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert as_url("postgresql://u:p%40ss@h:5433/d?host=/run/pg") == (
        "postgresql+psycopg://u:p%40ss@h:5433/d?host=%2Frun%2Fpg"
    )
    assert as_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"  # as asked


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("ftp://x", "unknown database URL scheme 'ftp'"),
        ("postgres://u@h/d", "spells it postgresql://"),
        ("sqlite://a.db", "three slashes"),
        ("sqlite:a.db", "neither a path nor a URL"),
        ("", "not a database path or URL"),
        ("a\x00b", "not a database path or URL"),
    ],
)
def test_mistakes_say_what_to_type(text: str, want: str) -> None:
    with pytest.raises(StoreError) as e:
        as_url(text)
    assert want in e.value.message and e.value.hint and "./assessor.db" in e.value.hint


def test_new_database_is_private(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    store = open_store(str(path))
    with store.session() as s:  # a write, so that -wal and -shm exist
        s.execute(__import__("sqlalchemy").text("CREATE TABLE t (x)"))
        s.commit()
    for suffix in ("", "-wal", "-shm", ".migrate-lock"):
        side = path.with_name(path.name + suffix)
        if suffix in ("", "-wal"):
            assert side.exists(), suffix
        if side.exists():
            assert stat.S_IMODE(side.stat().st_mode) == 0o600, (suffix, oct(side.stat().st_mode))
    store.close()


def test_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    open_store(str(path)).close()
    path.chmod(0o640)
    open_store(str(path)).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_default_location_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSESSOR_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    url = database_url(None)
    path = Path(url.removeprefix("sqlite:///"))
    assert path == tmp_path / "share" / "assessor" / "assessor.db"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_folder_and_missing_parent(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder, not a database file"):
        database_url(str(tmp_path))
    with pytest.raises(StoreError, match=r"the folder .*/no does not exist"):
        database_url(str(tmp_path / "no" / "a.db"))
    assert not (tmp_path / "no").exists()
