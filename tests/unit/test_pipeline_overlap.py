"""A scan collects its targets at once (up to collection.AHEAD), and still evaluates and stores
them in the order given, each whole: two collectors that each wait for the other to have
started both finish, and the stored targets keep the command line's order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assessor import collection, pipeline
from assessor.catalog import load_catalog
from assessor.collectors import collector_for
from assessor.evidence import Evidence
from assessor.store import open_store, queries
from assessor.targets import Target, parse_target
from assessor.vocab import AssessmentStatus


class _Waiting:
    """A real host collector that first waits until every other one has started."""

    def __init__(self, real: Any, started: threading.Barrier) -> None:
        self.real = real
        self.kinds = real.kinds
        self.started = started

    def collect(self, target: Target) -> Iterator[Evidence]:
        self.started.wait(timeout=20)  # BrokenBarrierError when collected one after another
        yield from self.real.collect(target)

    def identity(self) -> dict[str, Any]:
        return self.real.identity()  # type: ignore[no-any-return]

    def warnings(self) -> list[str]:
        return []

    def failure_evidence(self, target: Target, message: str) -> list[Evidence]:
        return self.real.failure_evidence(target, message)  # type: ignore[no-any-return]


def test_targets_are_collected_at_once_and_stored_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = []
    for name in ("b", "a", "c"):
        root = tmp_path / name
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "hostname").write_text(f"{name}\n")
        targets.append(parse_target(f"host:{root}"))
    started = threading.Barrier(len(targets))
    monkeypatch.setattr(
        collection, "collector_for", lambda t, o=None: _Waiting(collector_for(t, o), started)
    )
    monkeypatch.delenv("ASSESSOR_DEBUG", raising=False)
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    summary = pipeline.run_scan(store, load_catalog(), targets, "2026-Q4")

    assert summary.status == AssessmentStatus.COMPLETE, [t.error for t in summary.targets]
    assert [str(t.target) for t in summary.targets] == [str(t) for t in targets]
    stored = queries.get_targets(store, summary.assessment_id)
    assert [t.uri for t in sorted(stored, key=lambda t: t.id)] == [str(t) for t in targets]
