"""The rule conditions' mutants (tools/mutate_conditions.py, ``make mutation-conditions``):
at least 99% of them change a golden fixture's status, and every entry of
tests/mutation/equivalent-conditions.txt still names a surviving mutant."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "mutate_conditions.py"


def test_condition_mutants_are_killed() -> None:
    spec = importlib.util.spec_from_file_location("mutate_conditions", TOOL)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = tool
    spec.loader.exec_module(tool)
    reports, problems = tool.run()
    total = sum(r.total for r in reports)
    killed = sum(r.killed for r in reports)
    equivalent = sum(len(r.equivalent) for r in reports)
    survivors = [f"{r.rule} {s}" for r in reports for s in r.survivors]
    assert total > 300, "the mutator made too few mutants: is the catalog loaded?"
    assert problems == []
    assert killed / (total - equivalent) >= 0.99, "\n".join(survivors)
