"""Every case of the hostile corpus ends in its expected answer, bounded, without a traceback.

See corpus.py for what a case is. Each case runs the real command line in a subprocess with
an address-space limit (RLIMIT_AS) and a wall-clock timeout; a case that hangs or grows
without bound fails its test instead of stalling the suite.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.corpus import Case, Ctx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _cases() -> list[Case]:
    cases: list[Case] = []
    for info in sorted(pkgutil.iter_modules([str(HERE)]), key=lambda m: m.name):
        if info.name.startswith("cases_"):
            module = importlib.import_module(f"tests.hostile.{info.name}")
            cases.extend(module.CASES)
    return cases


CASES = _cases()


def test_the_corpus_is_large_and_names_are_unique() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert len(CASES) >= 60, len(CASES)


def _limit(memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    db = f"sqlite:///{work / 'assessor.db'}"
    with contextlib.ExitStack() as stack:
        ctx = Ctx(work=work, db=db, stack=stack)
        argv = case.build(ctx)
        env = {
            **os.environ,
            "HOME": str(work),
            "ASSESSOR_DB": db,
            "ASSESSOR_CACHE_DIR": "",
            "XDG_DATA_HOME": str(work / ".local" / "share"),
            "COLUMNS": "200",
            **ctx.env,
        }
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "assessor", *argv],
                capture_output=True,
                text=True,
                errors="replace",
                timeout=case.timeout,
                env=env,
                cwd=work,
                check=False,
                preexec_fn=lambda: _limit(case.memory),
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{case.name}: no answer within {case.timeout:.0f} s ({case.defect})")
        out, err = proc.stdout, proc.stderr
        assert "Traceback" not in err and "Traceback" not in out, err[-3000:]
        assert proc.returncode == case.code, (case.name, proc.returncode, err[-2000:])
        lines = err.splitlines()
        errors = [ln for ln in lines if ln.startswith("assessor: error:")]
        for line in errors:
            assert len(line) < 600, line
        if case.error is not None:
            assert any(re.search(case.error, ln) for ln in lines), (case.error, err[-2000:])
        if case.check is not None:
            case.check(ctx, out, err)
