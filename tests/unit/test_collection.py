"""Collecting in a child process (assessor.collection, what `assessor scan` does): the
evidence handed over is what collecting here gives, hash for hash; a child that dies loses
only the targets it had not handed over, named with the reason; a plugin that does not load
stops the scan before anything is stored; closing ends a child that hangs."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assessor import collection, pipeline
from assessor.catalog import load_catalog
from assessor.collectors import collector_for
from assessor.errors import AssessorError, TargetUnreachableError
from assessor.evidence import Evidence
from assessor.extensions import PluginError
from assessor.store import open_store, queries
from assessor.targets import Target, parse_target
from assessor.vocab import AssessmentStatus, TargetStatus
from tests.conftest import run_cli


def _root(tmp_path: Path, name: str) -> Target:
    root = tmp_path / name
    (root / "etc" / "docker").mkdir(parents=True)
    (root / "etc" / "hostname").write_text(f"{name}\n")
    token = "ghp_" + "a1B2" * 9  # a secret's shape: swept in the child, never handed over
    (root / "etc" / "docker" / "daemon.json").write_text(
        json.dumps({"icc": False, "labels": [f"api_token={token}"]})
    )
    return parse_target(f"host:{root}")


class _Doomed:
    """Wraps a real collector; ends the process it runs in, after ``delay`` seconds."""

    def __init__(self, real: Any, delay: float, how: int = signal.SIGKILL) -> None:
        self.real, self.kinds, self.delay, self.how = real, real.kinds, delay, how

    def collect(self, target: Target) -> Iterator[Evidence]:
        time.sleep(self.delay)
        os.kill(os.getpid(), self.how)
        yield from []

    def identity(self) -> dict[str, Any]:
        return {}

    def failure_evidence(self, target: Target, message: str) -> list[Evidence]:
        return []

    def warnings(self) -> list[str]:
        return []


def test_the_child_hands_over_what_collecting_here_gives(tmp_path: Path) -> None:
    targets = [_root(tmp_path, "a"), _root(tmp_path, "b"), parse_target("host:/nonexistent")]
    here = collection.start(targets)
    child = collection.start(targets, child=True)
    assert isinstance(child, collection.ChildCollection)
    try:
        child.ready()
        for i in range(len(targets)):
            mine, theirs = here.result(i), child.result(i)
            assert [e.sha256 for e in theirs.evidence] == [e.sha256 for e in mine.evidence]
            assert (theirs.identity, theirs.warnings, theirs.kinds) == (
                mine.identity,
                mine.warnings,
                mine.kinds,
            )
            assert type(theirs.error) is type(mine.error)
            assert (theirs.error and theirs.error.message) == (mine.error and mine.error.message)
    finally:
        here.close()
        child.close()
    redacted = [e for e in child.result(0).evidence if e.redactions]
    assert redacted  # the token in daemon.json was swept in the child, and stays swept
    assert "a1B2a1B2" not in str([e.document() for e in redacted])


def test_a_child_that_dies_loses_only_what_it_had_not_handed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, doomed = _root(tmp_path, "good"), _root(tmp_path, "doomed")

    def pick(target: Target, options: Any = None) -> Any:
        real = collector_for(target, options)
        return _Doomed(real, delay=2.0) if target == doomed else real

    monkeypatch.setattr(collection, "collector_for", pick)
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    started = collection.start([good, doomed], child=True)
    summary = pipeline.run_scan(
        store, load_catalog(), [good, doomed], "2026-Q4", collection=started
    )
    assert summary.status == AssessmentStatus.INCOMPLETE
    outcomes = {str(t.target): t for t in summary.targets}
    assert outcomes[str(good)].status == TargetStatus.COLLECTED
    lost = outcomes[str(doomed)]
    assert lost.status == TargetStatus.ERROR
    assert lost.error is not None
    assert str(doomed) in lost.error
    assert "killed by signal 9 (SIGKILL)" in lost.error
    stored = queries.get_targets(store, summary.assessment_id)
    assert [t.status for t in stored] == [TargetStatus.COLLECTED, TargetStatus.ERROR]


def test_a_collector_that_does_not_load_stops_the_scan_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(target: Target, options: Any = None) -> Any:
        raise PluginError("plugin 'x' (from x-dist) does not load: ImportError: no module y")

    monkeypatch.setattr(collection, "collector_for", broken)
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    target = _root(tmp_path, "a")
    started = collection.start([target], child=True)
    with pytest.raises(AssessorError, match=r"plugin 'x' .* does not load") as caught:
        pipeline.run_scan(store, load_catalog(), [target], "2026-Q4", collection=started)
    assert caught.value.exit_code == PluginError("").exit_code
    assert queries.list_assessments(store) == []  # nothing stored


def test_closing_ends_a_child_that_hangs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class _Hangs(_Doomed):
        def collect(self, target: Target) -> Iterator[Evidence]:
            time.sleep(600)
            yield from []

    monkeypatch.setattr(
        collection, "collector_for", lambda t, o=None: _Hangs(collector_for(t, o), 0)
    )
    started = collection.start([_root(tmp_path, "a")], child=True)
    assert isinstance(started, collection.ChildCollection)
    started.ready()
    began = time.monotonic()
    started.close()
    assert time.monotonic() - began < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(started._pid, os.WNOHANG)  # reaped: no zombie left
    lost = started.result(0)
    assert lost.error is not None
    assert "killed by signal 9" in lost.error.message


def test_assessor_debug_collects_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSESSOR_DEBUG", "1")
    started = collection.start([_root(tmp_path, "a")], child=True)
    try:
        assert not isinstance(started, collection.ChildCollection)  # a traceback shows here
    finally:
        started.close()


def test_a_child_keeps_an_ignored_interrupt_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan started with SIGINT ignored (nohup, a background job of a script) is not ended
    by one; its child is not either."""

    class _Slow(_Doomed):
        def collect(self, target: Target) -> Iterator[Evidence]:
            time.sleep(1.0)
            yield from self.real.collect(target)

    monkeypatch.setattr(
        collection, "collector_for", lambda t, o=None: _Slow(collector_for(t, o), 0)
    )
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        started = collection.start([_root(tmp_path, "a")], child=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert isinstance(started, collection.ChildCollection)
    try:
        started.ready()
        os.kill(started._pid, signal.SIGINT)
        done = started.result(0)
        assert done.error is None, done.error
        assert done.evidence
    finally:
        started.close()


def test_a_defect_in_the_child_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An identity that is not JSON (a defect of a collector) ends the child; the targets it
    had not handed over say what it failed on."""

    class _Odd(_Doomed):
        def collect(self, target: Target) -> Iterator[Evidence]:
            yield from self.real.collect(target)

        def identity(self) -> dict[str, Any]:
            return {"when": object()}

    monkeypatch.setattr(collection, "collector_for", lambda t, o=None: _Odd(collector_for(t, o), 0))
    started = collection.start([_root(tmp_path, "a")], child=True)
    try:
        lost = started.result(0)
    finally:
        started.close()
    assert lost.error is not None
    message = lost.error.message
    assert "collection ended before this target was read" in message
    assert "internal error (TypeError: Object of type object is not JSON serializable" in message


class _Hanging(_Doomed):
    def collect(self, target: Target) -> Iterator[Evidence]:
        time.sleep(600)
        yield from []


@pytest.mark.parametrize("child", [False, True], ids=["threads", "child"])
def test_a_hanging_target_is_given_up_and_the_others_go_on(
    child: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hangs, *good = _root(tmp_path, "hangs"), _root(tmp_path, "b"), _root(tmp_path, "c")

    def pick(target: Target, options: Any = None) -> Any:
        real = collector_for(target, options)
        return _Hanging(real, 0) if target == hangs else real

    monkeypatch.setattr(collection, "collector_for", pick)
    began = time.monotonic()
    # one at a time: the two after it start only because the hanging one's slot is handed on
    pace = collection.Pace(jobs=1, deadline=1.0)
    started = collection.start([hangs, *good], child=child, pace=pace)
    try:
        lost = started.result(0)
        assert isinstance(lost.error, TargetUnreachableError)
        assert lost.error.message == (
            f"{hangs}: not collected within 1 s (--target-timeout); the other targets went on"
        )
        for i in (1, 2):
            done = started.result(i)
            assert done.error is None and done.evidence
    finally:
        started.close()
    assert time.monotonic() - began < 30


def test_jobs_bounds_the_targets_read_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock, now, most = threading.Lock(), [0], [0]

    class _Counted(_Doomed):
        def collect(self, target: Target) -> Iterator[Evidence]:
            with lock:
                now[0] += 1
                most[0] = max(most[0], now[0])
            time.sleep(0.2)
            with lock:
                now[0] -= 1
            yield from self.real.collect(target)

    monkeypatch.setattr(
        collection, "collector_for", lambda t, o=None: _Counted(collector_for(t, o), 0)
    )
    targets = [_root(tmp_path, f"t{i}") for i in range(6)]
    started = collection.start(targets, pace=collection.Pace(jobs=2))
    assert all(started.result(i).error is None for i in range(6))
    assert most[0] == 2


def test_pace_settings_are_checked_in_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    bad = run_cli("scan", "host:/nonexistent", "--jobs", "0", db=db)
    assert bad.code == 2 and "--jobs" in bad.err and "Traceback" not in bad.err
    (tmp_path / "assessor.toml").write_text('jobs = "many"\ntarget_timeout = 0\n')
    bad = run_cli("scan", "host:/nonexistent", db=db, cwd=tmp_path)
    assert bad.code == 2
    assert bad.err.strip() == "assessor: error: jobs: 'many' is not a number of targets (1 or more)"
    (tmp_path / "assessor.toml").write_text("target_timeout = 0\n")
    bad = run_cli("scan", "host:/nonexistent", db=db, cwd=tmp_path)
    assert "target_timeout: 0 is not a number of seconds" in bad.err
    good = run_cli("scan", f"host:{tmp_path}", "--jobs", "1", "--target-timeout", "60", db=db)
    assert good.code in (0, 1), good.err


@pytest.mark.parametrize("child", [False, True], ids=["threads", "child"])
def test_each_target_is_told_as_it_starts_and_ends(
    child: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-host progress: every target is told READING once, then one end (collected,
    failed, unreachable after its timeout) as it happens, not in the order handed over."""
    slow, hangs, fast = _root(tmp_path, "slow"), _root(tmp_path, "hangs"), _root(tmp_path, "fast")
    missing = parse_target(f"host:{tmp_path / 'absent'}")

    class _Slow(_Doomed):
        def collect(self, target: Target) -> Iterator[Evidence]:
            time.sleep(1.5)
            yield from self.real.collect(target)

    def pick(target: Target, options: Any = None) -> Any:
        real = collector_for(target, options)
        return {slow: _Slow(real, 0), hangs: _Hanging(real, 0)}.get(target, real)

    monkeypatch.setattr(collection, "collector_for", pick)
    events: list[collection.TargetEvent] = []
    lock = threading.Lock()

    def watch(e: collection.TargetEvent) -> None:
        with lock:
            events.append(e)

    targets = [slow, hangs, fast, missing]
    pace = collection.Pace(jobs=4, deadline=3.0)
    started = collection.start(targets, child=child, pace=pace, watch=watch)
    try:
        for i in range(len(targets)):
            started.result(i)
    finally:
        started.close()
    time.sleep(0.2)  # the child's last frames are read by a thread of their own
    with lock:
        told = [(e.index, e.state) for e in events]
    for i in range(len(targets)):
        states = [s for j, s in told if j == i]
        assert len(states) == 2 and states[0] == collection.READING, told
    ends = [(i, s) for i, s in told if s != collection.READING]
    # the fast one and the missing one end (and are told) before the slow one, though the
    # slow one is handed over first
    assert ends.index((2, collection.COLLECTED)) < ends.index((0, collection.COLLECTED))
    assert ends.index((3, collection.UNREACHABLE)) < ends.index((0, collection.COLLECTED))
    assert (1, collection.UNREACHABLE) in ends
    gave_up = next(e for e in events if e.index == 1 and e.state != collection.READING)
    assert "not collected within 3 s (--target-timeout)" in gave_up.error
    assert gave_up.seconds >= 3.0
    slow_end = next(e for e in events if e.index == 0 and e.state != collection.READING)
    assert slow_end.seconds >= 1.5 and slow_end.error == ""
