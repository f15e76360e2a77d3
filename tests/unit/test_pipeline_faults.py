"""A collector that fails on something unforeseen loses its own target, never the scan.

The pipeline turns any exception a collector raises (a defect met on a target's content) into
that target's one-line error: the target is recorded as failed, the assessment is
incomplete, and the targets after it are collected and stored as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assessor import collection, pipeline
from assessor.catalog import load_catalog
from assessor.collectors import collector_for
from assessor.evidence import Evidence
from assessor.store import open_store
from assessor.targets import Target, parse_target
from assessor.vocab import AssessmentStatus


class _Broken:
    """Wraps a real collector; raises an unforeseen error after its first document."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.kinds = real.kinds

    def collect(self, target: Target) -> Iterator[Evidence]:
        yield from []
        raise ValueError("bad byte \udcff in\nsecond line")

    def failure_evidence(self, target: Target, message: str) -> list[Evidence]:
        return self.real.failure_evidence(target, message)  # type: ignore[no-any-return]

    def identity(self) -> dict[str, Any]:
        return {}


def test_an_unforeseen_collector_error_fails_its_target_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("good\n")
    broken = parse_target(f"host:{tmp_path / 'broken'}")
    good = parse_target(f"host:{root}")

    def pick(target: Target, options: Any = None) -> Any:
        real = collector_for(target, options)
        return _Broken(real) if target == broken else real

    monkeypatch.setattr(collection, "collector_for", pick)
    monkeypatch.delenv("ASSESSOR_DEBUG", raising=False)
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    summary = pipeline.run_scan(store, load_catalog(), [broken, good], "2026-Q4")

    assert summary.status == AssessmentStatus.INCOMPLETE
    outcomes = {str(t.target): t for t in summary.targets}
    failed = outcomes[str(broken)]
    assert failed.status == "error"
    assert failed.error is not None
    assert "\n" not in failed.error
    assert "ValueError: bad byte \\udcff in" in failed.error
    assert str(broken) in failed.error
    assert outcomes[str(good)].status == "collected"
    assert outcomes[str(good)].evidence > 0


def test_assessor_debug_re_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = parse_target(f"host:{tmp_path}")
    monkeypatch.setattr(collection, "collector_for", lambda t, o=None: _Broken(collector_for(t, o)))
    monkeypatch.setenv("ASSESSOR_DEBUG", "1")
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(ValueError, match="bad byte"):
        pipeline.run_scan(store, load_catalog(), [broken], "2026-Q4")
