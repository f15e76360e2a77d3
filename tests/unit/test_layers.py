"""Dependencies run one way (DESIGN §2): the CLI calls the stages; reports, exports and the read
model read stored assessments and never import the CLI, a collector or the pipeline; evaluation
never imports a collector or the store. Checked on the source (every import statement, also
those inside functions), so a shortcut taken in a hurry fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# module prefix -> imports it must never make
FORBIDDEN = {
    "assessor.readmodel": ("assessor.cli", "assessor.collectors", "assessor.pipeline"),
    "assessor.export": ("assessor.cli", "assessor.collectors", "assessor.pipeline"),
    "assessor.report": ("assessor.cli", "assessor.collectors", "assessor.pipeline"),
    "assessor.audit": ("assessor.cli", "assessor.collectors", "assessor.pipeline"),
    "assessor.evaluate": ("assessor.cli", "assessor.collectors", "assessor.store"),
    "assessor.catalog": ("assessor.cli", "assessor.store", "assessor.collectors"),
}


def _module(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module an import statement names (absolute imports: the package uses no
    relative ones, which the walk refuses so that none slips through unseen)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{path}:{node.lineno}: relative import"
            name = node.module or ""
            found.append((node.lineno, name))
            found.extend((node.lineno, f"{name}.{alias.name}") for alias in node.names)
    return found


def _offences(root: Path, prefix: str, banned: tuple[str, ...]) -> list[str]:
    out = []
    for path in sorted((root / "assessor").rglob("*.py")):
        module = _module(path, root)
        if module != prefix and not module.startswith(prefix + "."):
            continue
        for line, name in _imports(path):
            if any(name == b or name.startswith(b + ".") for b in banned):
                out.append(f"{path.relative_to(root)}:{line} imports {name}")
    return out


@pytest.mark.parametrize("prefix", sorted(FORBIDDEN))
def test_dependencies_run_one_way(prefix: str) -> None:
    assert _offences(ROOT, prefix, FORBIDDEN[prefix]) == []


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    pkg = tmp_path / "assessor" / "export"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "x.py").write_text(
        "def f():\n    from assessor.cli._output import console\n", encoding="utf-8"
    )
    found = _offences(tmp_path, "assessor.export", FORBIDDEN["assessor.export"])
    assert found == [
        "assessor/export/x.py:2 imports assessor.cli._output",
        "assessor/export/x.py:2 imports assessor.cli._output.console",
    ]
