"""The image-only pipeline gate: `assessor scan image:... --fail-on SEVERITY`, no host checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "image"
    subprocess.run(
        [sys.executable, str(ROOT / "tools/sample_image.py"), str(out)], check=True, timeout=60
    )
    return out


def test_fail_on_gates_a_pipeline_on_the_image_alone(sample: Path, db: str) -> None:
    run = run_cli("scan", f"image:oci:{sample}", "--fail-on", "high", "--format", "json", db=db)
    assert run.code == 1, run.err  # a token in /app/.env: image-no-secrets is high
    doc = run.json()
    assert doc["assessment"]["scope"] == [f"image:oci:{sample}"]
    assert not [r for r in doc["results"] if not r["rule"].startswith("image-")]
    assert "demo-not-a-real-token" not in run.out
    run = run_cli("scan", f"image:oci:{sample}", "--fail-on", "critical", db=db)
    assert run.code == 0, run.err


@pytest.mark.parametrize("fmt", ["sarif", "junit"])
def test_scan_writes_sarif_or_junit_as_export_does(sample: Path, db: str, fmt: str) -> None:
    """A CI job gates an image and gets its SARIF or JUnit from the one command: the same
    bytes 'assessor export --format FORMAT -o -' writes of that assessment, the same exit."""
    run = run_cli("scan", f"image:oci:{sample}", "--fail-on", "high", "--format", fmt, db=db)
    assert run.code == 1, run.err
    exported = run_cli("export", "--format", fmt, "-o", "-", db=db)
    assert exported.code == 0, exported.err
    assert run.out == exported.out
    if fmt == "sarif":
        doc = json.loads(run.out)
        assert {r["ruleId"] for r in doc["runs"][0]["results"]} >= {"image-no-secrets"}
        assert "demo-not-a-real-token" not in run.out
    else:
        assert run.out.startswith("<?xml") and "<testsuites" in run.out


def test_bad_image_targets_are_usage_errors(tmp_path: Path, db: str) -> None:
    run = run_cli("scan", "image:tarball:/x.tar", db=db)
    assert run.code == 2 and "transports: docker-archive:PATH[:REF]" in run.err
    run = run_cli("scan", f"image:docker-archive:{tmp_path / 'missing.tar'}", db=db)
    assert run.code == 3 and "cannot open" in run.err
    run = run_cli("scan", f"image:oci:{tmp_path}", "--image-limit", "max_ratio=abc", db=db)
    assert run.code == 2 and "max_ratio: 'abc' is not a number" in run.err
    run = run_cli("scan", f"image:oci:{tmp_path}", db=db)  # a directory, but no layout
    assert run.code == 2 and "oci-layout: missing" in run.err
    assert all("Traceback" not in r for r in (run.err, run.out))
