"""Dependencies run one way (DESIGN §2, docs/architecture.md): the import-linter contracts of
pyproject.toml (`[tool.importlinter]`) hold the layers, the forbidden imports and the absence
of cycles between sibling modules. `make lint` runs them; this test runs them too, so that
`make test` (and CI) fails on an import against the flow, also one inside a function."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, missing


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    try:
        import importlinter  # noqa: F401
    except ImportError:
        missing("import-linter (the dev extra)")
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
            "--no-cache",
        ],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "assessor", tmp_path / "assessor", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold() -> None:
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


@pytest.mark.parametrize(
    ("module", "source", "contract"),
    [
        # an export reaching up to the CLI, inside a function (the shortcut taken in a hurry)
        (
            "assessor/export/x.py",
            "def f():\n    from assessor.cli import main\n",
            "Layers: target -> collector",
        ),
        # the store using an evaluation module (they are independent siblings)
        ("assessor/store/x.py", "import assessor.evaluate.paths\n", "Layers: target -> collector"),
        # a collector judging
        (
            "assessor/collectors/x.py",
            "from assessor.catalog import Catalog\n",
            "Collectors observe and never judge",
        ),
        # a report reaching a live target
        (
            "assessor/report/x.py",
            "from assessor.targets import parse_target\n",
            "never reach a\nlive target",
        ),
        # two modules of one package importing each other
        (
            "assessor/sign/x.py",
            "import assessor.sign.y\n",
            "No cycles between the modules of a package",
        ),
    ],
    ids=["export-to-cli", "store-to-evaluate", "collector-judging", "report-to-target", "cycle"],
)
def test_a_planted_import_breaks_a_contract(
    tmp_path: Path, module: str, source: str, contract: str
) -> None:
    root = _copy(tmp_path)
    (root / module).write_text(source, encoding="utf-8")
    if module == "assessor/sign/x.py":
        (root / "assessor/sign/y.py").write_text("import assessor.sign.x\n", encoding="utf-8")
    run = _lint_imports(root)
    assert run.returncode == 1, run.stdout + run.stderr
    broken = run.stdout.split("Broken contracts", 1)[1]
    assert contract in broken, run.stdout
