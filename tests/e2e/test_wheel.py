"""A wheel built from the checkout, installed in a fresh venv, must carry its data folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_wheel_in_fresh_venv_validates_and_scans(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    [wheel] = list(dist.glob("assessor-*.whl"))
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "assessor/_data/controls/frameworks/cis-docker-1.8.0.yaml" in names
    assert "assessor/_data/migrations/env.py" in names
    assert any(n.startswith("assessor/_data/migrations/versions/") for n in names)
    assert "assessor/py.typed" in names

    venv = tmp_path / "venv"
    # a fresh venv; dependencies come from this interpreter's site (no network needed)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    vpy = venv / "bin/python"
    site = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlalchemy,os;print(os.path.dirname(os.path.dirname(sqlalchemy.__file__)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (venv / "lib").mkdir(exist_ok=True)
    pth = next((venv / "lib").glob("python3*/site-packages"))
    (pth / "deps.pth").write_text(site + "\n")
    subprocess.run(
        [str(vpy), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, timeout=300
    )
    exe = venv / "bin/assessor"
    cwd = tmp_path  # away from the checkout, so nothing is imported from it
    where = subprocess.run(
        [str(vpy), "-c", "import assessor.resources as r; print(r.data_dir('controls'))"],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    ).stdout
    assert str(venv) in where, where
    validate = subprocess.run(
        [str(exe), "controls", "validate"], capture_output=True, text=True, cwd=cwd
    )
    assert validate.returncode == 0, validate.stderr
    root = tmp_path / "root/etc/docker"
    root.mkdir(parents=True)
    db = f"sqlite:///{tmp_path / 'w.db'}"
    scan = subprocess.run(
        [str(exe), "scan", f"host:{tmp_path / 'root'}", "--db", db, "--format", "json"],
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    assert scan.returncode == 0, scan.stderr
    doc = json.loads(scan.stdout)
    assert doc["assessment"]["status"] == "complete" and doc["results"]
    # the report templates and CSS ship in the wheel: an HTML report renders from it
    assert "assessor/_data/reports/templates/report.html.j2" in names
    assert "assessor/_data/reports/static/report.css" in names
    report = subprocess.run(
        [str(exe), "report", "--db", db, "-o", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    assert report.returncode == 0, report.stderr
    assert "Executive summary" in (tmp_path / "r.html").read_text()
