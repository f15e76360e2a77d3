"""Two ``assessor scan`` processes writing one SQLite database at once both complete."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _start(args: list[str], db: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ASSESSOR_DB": db}
    env.pop("ASSESSOR_PERIOD", None)
    env.pop("ASSESSOR_SYSTEM", None)
    return subprocess.Popen(
        [sys.executable, "-m", "assessor", "scan", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("img") / "sample"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sample_image.py"), str(out)],
        check=True,
        capture_output=True,
    )
    return f"image:oci:{out}"


@pytest.mark.parametrize("existing", [False, True], ids=["new-db", "existing-db"])
def test_two_scans_into_one_sqlite_file_both_complete(
    tmp_path: Path, image: str, existing: bool
) -> None:
    path = tmp_path / "shared.db"
    db = f"sqlite:///{path}"
    if existing:
        from assessor.store import open_store

        open_store(db).close()
    # a new database is the harder case: both processes find no schema and migrate
    procs = [
        _start(["host:/", "--system", "a"], db),
        _start([image, "--system", "b"], db),
        _start(["host:/", "--system", "c"], db),
        _start([image, "--system", "d"], db),
    ]
    outcomes = []
    for p in procs:  # communicate, not wait: a full pipe would block the scan
        _out, err = p.communicate(timeout=180)
        outcomes.append((p.returncode, err))
    for code, err in outcomes:
        assert code in (0, 1), f"exit {code}: {err.strip()[-500:]}"
        assert "locked" not in err and "already exists" not in err
        assert "Traceback" not in err
    con = sqlite3.connect(path)
    rows = con.execute("SELECT system, status FROM assessment ORDER BY system").fetchall()
    counts = con.execute(
        "SELECT a.system, count(r.id) FROM assessment a JOIN result r ON r.assessment_id = a.id "
        "GROUP BY a.system ORDER BY a.system"
    ).fetchall()
    con.close()
    assert rows == [("a", "complete"), ("b", "complete"), ("c", "complete"), ("d", "complete")]
    assert [s for s, n in counts if n > 0] == ["a", "b", "c", "d"]
