"""The cost of each import inside a function of assessor/ (tests/unit/test_inner_imports.py):
the wall time of the import statement run right after importing its module, in a fresh
interpreter, median of N runs (what moving it to the top would add to importing the module).

    python tools/inner_import_costs.py [--runs 3] [MODULE_PREFIX]

prints `module  imported  ms` per (module, imported module) pair, most expensive first."""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
PROBE = """
import importlib, sys, time
importlib.import_module(sys.argv[1])
t = time.perf_counter()
exec(sys.argv[2])
print(int((time.perf_counter() - t) * 1e6))
"""


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def statements() -> dict[tuple[str, str], str]:
    """(module, imported module) -> the first import statement naming it inside a function."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted((ROOT / "assessor").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        module = ".".join(parts)

        def walk(node: ast.AST, inside: bool, module: str = module) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _type_checking(child):
                    continue
                if inside and isinstance(child, ast.Import | ast.ImportFrom):
                    names = (
                        [a.name for a in child.names]
                        if isinstance(child, ast.Import)
                        else [child.module or ""]
                    )
                    for name in names:
                        found.setdefault((module, name), ast.unparse(child))
                walk(child, inside or isinstance(child, SCOPES))

        walk(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def cost(module: str, statement: str, runs: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, module, statement],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
        )
        times.append(int(out.stdout.split()[-1]))
    return statistics.median(times) / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prefix", nargs="?", default="assessor")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rows = [
        (module, name, cost(module, statement, args.runs))
        for (module, name), statement in statements().items()
        if module.startswith(args.prefix)
    ]
    for module, name, ms in sorted(rows, key=lambda r: -r[2]):
        print(f"{module:40} {name:45} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
