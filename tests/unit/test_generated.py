"""Generated files stay in step with their sources: cis-docker-1.6.0.yaml and docs/controls.md."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import yaml

from tests.conftest import ROOT

TOOLS = ROOT / "tools"


def tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOLS / name), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cis_1_6_0_framework_is_up_to_date() -> None:
    run = tool("gen_cis_framework.py", "--check")
    assert run.returncode == 0, run.stderr + "\nrun: python tools/gen_cis_framework.py"


def test_cis_1_6_0_check_fails_when_1_8_0_rules_change(tmp_path: Path) -> None:
    shutil.copy(ROOT / "controls/frameworks/cis-docker-1.8.0.yaml", tmp_path)
    args = ("--frameworks", str(tmp_path))
    assert tool("gen_cis_framework.py", "--check", *args).returncode == 1  # no 1.6.0 file yet
    assert tool("gen_cis_framework.py", *args).returncode == 0
    assert tool("gen_cis_framework.py", "--check", *args).returncode == 0
    v180 = tmp_path / "cis-docker-1.8.0.yaml"
    doc = yaml.safe_load(v180.read_text())
    tls = next(r for r in doc["requirements"] if r["id"] == "2.8")
    tls["rules"] = [*tls.get("rules", []), "engine-some-new-rule"]
    v180.write_text(yaml.safe_dump(doc, sort_keys=False))  # any YAML style will do

    stale = tool("gen_cis_framework.py", "--check", *args)
    assert stale.returncode == 1
    assert "cis-docker-1.6.0.yaml is stale" in stale.stderr
    assert tool("gen_cis_framework.py", *args).returncode == 0
    assert tool("gen_cis_framework.py", "--check", *args).returncode == 0
    v160 = yaml.safe_load((tmp_path / "cis-docker-1.6.0.yaml").read_text())
    req = next(r for r in v160["requirements"] if r["id"] == "2.7")
    assert req["later_ids"] == {"1.8.0": "2.8"}
    assert req["rules"][-1] == "engine-some-new-rule"
    assert all(r["later_ids"]["1.8.0"] != "2.7" for r in v160["requirements"])


def test_controls_reference_is_up_to_date() -> None:
    run = tool("gen_docs.py", "--check")
    assert run.returncode == 0, run.stderr


def test_markdown_escaping() -> None:
    docs = load_tool("gen_docs")
    assert docs.cell("a | b\nc <d>") == "a \\| b<br>c \\<d\\>"
    assert docs.text("1. not a list\n- nor this") == "1\\. not a list\\\n\\- nor this"
    assert docs.text("1.1.9 *bold* _x_") == "1.1.9 \\*bold\\* \\_x\\_"
    assert docs.code("a`b|c", in_table=True) == "``a`b\\|c``"
    assert docs.fenced("x\n```\ny") == "````text\nx\n```\ny\n````"
