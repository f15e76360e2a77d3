"""What users give as the database: --db and ASSESSOR_DB, paths and URLs (issue 17, item 12).

A plain path is a SQLite file; a URL is used as it is. A new database file is created 0600
(its -wal and -shm files follow it) and the default folder 0700. A mistake is one line.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.hostile.corpus import Case, Ctx


def _make_db(ctx: Ctx, path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "assessor", "db", "upgrade", "--db", f"sqlite:///{path}"],
        cwd=ctx.work,
        env={**os.environ, "HOME": str(ctx.work)},
        capture_output=True,
        check=True,
        timeout=60,
    )


def _argv(*argv: str, env: dict[str, str] | None = None) -> Callable[[Ctx], list[str]]:
    def build(ctx: Ctx) -> list[str]:
        ctx.env.update(env or {})
        return list(argv)

    return build


def _mode(rel: str, want: int) -> Callable[[Ctx, str, str], None]:
    def check(ctx: Ctx, out: str, err: str) -> None:
        path = ctx.work / rel
        assert path.is_file(), f"{rel} was not created"
        assert stat.S_IMODE(path.stat().st_mode) == want, oct(path.stat().st_mode)
        for extra in ("-wal", "-shm"):
            side = path.with_name(path.name + extra)
            if side.exists():
                assert stat.S_IMODE(side.stat().st_mode) == want, (extra, oct(side.stat().st_mode))

    return check


def _garbage(ctx: Ctx) -> list[str]:
    (ctx.work / "junk.db").write_bytes(b"not a database at all\n" * 200)
    return ["assessments", "--db", "junk.db"]


def _newer(ctx: Ctx) -> list[str]:
    path = ctx.work / "newer.db"
    _make_db(ctx, path)
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num = '9999'")
    con.commit()
    con.close()
    (ctx.work / "newer.sha").write_bytes(path.read_bytes())
    return ["assessments", "--db", "newer.db"]


def _unchanged(ctx: Ctx, out: str, err: str) -> None:
    assert (ctx.work / "newer.db").read_bytes() == (ctx.work / "newer.sha").read_bytes()


def _read_only(ctx: Ctx) -> list[str]:
    path = ctx.work / "ro.db"
    _make_db(ctx, path)
    path.chmod(0o444)
    return ["assessments", "--db", "ro.db"]


def _default_folder_is_a_file(ctx: Ctx) -> list[str]:
    share = ctx.work / ".local" / "share"
    share.mkdir(parents=True)
    (share / "assessor").write_text("a file where the data folder goes\n")
    ctx.env["ASSESSOR_DB"] = ""
    return ["assessments"]


def _default_private(ctx: Ctx, out: str, err: str) -> None:
    folder = ctx.work / ".local" / "share" / "assessor"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700, oct(folder.stat().st_mode)
    _mode(".local/share/assessor/assessor.db", 0o600)(ctx, out, err)


CASES = [
    Case("db-is-a-folder", "db", "--db names a folder", _argv("assessments", "--db", "."), 2,
         r"^assessor: error: database .*: is a folder, not a database file"),
    Case("db-missing-parent", "db", "--db in a folder that does not exist",
         _argv("assessments", "--db", "nowhere/a.db"), 2,
         r"^assessor: error: database .*/nowhere/a\.db: the folder .*/nowhere does not exist"),
    Case("db-garbage-file", "db", "--db names a file that is not SQLite", _garbage, 2,
         r"^assessor: error: database .*junk\.db.* is not a readable SQLite database"),
    Case("db-newer-schema", "db", "a database of schema revision 9999", _newer, 2,
         r"^assessor: error: database .*newer\.db has schema revision 9999, newer than",
         check=_unchanged),
    Case("db-plain-relative-path", "db", "--db ./a.db (a plain path, not a URL)",
         _argv("assessments", "--db", "./a.db"), 0, None, check=_mode("a.db", 0o600)),
    Case("db-plain-tilde-path", "db", "--db ~/t.db with the ~ not expanded by a shell",
         _argv("assessments", "--db", "~/t.db"), 0, None, check=_mode("t.db", 0o600)),
    Case("db-plain-path-in-env", "db", "ASSESSOR_DB=env.db (a plain path)",
         _argv("scan", "host:/nonexistent-root", env={"ASSESSOR_DB": "env.db"}), 3, None,
         check=_mode("env.db", 0o600)),
    Case("db-url-file-created-private", "db", "a new database named by a sqlite:/// URL",
         _argv("scan", "host:/nonexistent-root", "--db", "sqlite:///u.db"), 3, None,
         check=_mode("u.db", 0o600)),
    Case("db-default-location-private", "db", "the default database, created on first use",
         _argv("assessments", env={"ASSESSOR_DB": ""}), 0, None, check=_default_private),
    Case("db-default-folder-is-a-file", "db", "a file where the default data folder goes",
         _default_folder_is_a_file, 2, r"^assessor: error: database .*assessor is not a folder"),
    Case("db-unknown-scheme", "db", "--db ftp://x", _argv("assessments", "--db", "ftp://x"), 2,
         r"^assessor: error: --db 'ftp://x': unknown database URL scheme 'ftp'"),
    Case("db-postgres-spelling", "db", "--db postgres://u@h/d (SQLAlchemy wants postgresql)",
         _argv("assessments", "--db", "postgres://u@h/d"), 2, r"spells it postgresql://"),
    Case("db-sqlite-two-slashes", "db", "--db sqlite://a.db (a host, so an in-memory database)",
         _argv("assessments", "--db", "sqlite://a.db"), 2, r"three slashes"),
    Case("db-sqlite-no-slashes", "db", "--db sqlite:a.db",
         _argv("assessments", "--db", "sqlite:a.db"), 2, r"neither a path nor a URL"),
    Case("db-read-only-file", "db", "a valid database file of mode 0444 (read by root: listed, "
         "its mode kept)", _read_only, 0, None, check=_mode("ro.db", 0o444)),
]  # fmt: skip
