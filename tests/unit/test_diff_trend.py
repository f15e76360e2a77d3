"""``assessor diff`` and ``assessor trend`` over a store: what changed, and per-period posture."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from assessor.audit import diff as d
from assessor.audit import trend as t
from assessor.errors import AssessorError, NotFoundError
from assessor.results import Result as EvalResult
from assessor.store import Store, open_store, queries
from assessor.store.models import Assessment, Result, Waiver
from assessor.vocab import AssessmentStatus, Status

FW = "fw"
SEV = {"r1": "high", "r2": "medium", "r3": "low"}
REFS = {"r1": {FW: ["1.1"]}, "r2": {FW: ["1.2"]}, "r3": {FW: ["1.1", "1.3"]}}

# uri -> [(rule, resource, status)]
Content = dict[str, list[tuple[str, str, str]]]


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A new store on SQLite and on PostgreSQL."""
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


def put(
    store: Store,
    period: str,
    content: Content,
    *,
    system: str | None = None,
    digest: str = "sha256:one",
    complete: bool = True,
) -> Assessment:
    aid = queries.create_assessment(store, period, sorted(content), digest, system=system)
    for uri, rows in content.items():
        results = [
            EvalResult(rule, rule.upper(), SEV[rule], uri, res, Status(st), f"{res} {st}", None,
                       REFS[rule])
            for rule, res, st in rows
        ]  # fmt: skip
        queries.record_target(
            store, aid, uri, "host", status="collected", identity={}, results=results
        )
    if complete:
        queries.finish_assessment(store, aid, AssessmentStatus.COMPLETE)
    return queries.get_assessment(store, str(aid))


def keys(items: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(i["rule"], i["target"], i["resource"]) for i in items]


# --- diff ------------------------------------------------------------------------------------


def test_diff_lists_new_failures_fixed_targets_and_catalog_changes(store: Store) -> None:
    a = put(
        store,
        "2026-Q3",
        {
            "host:/a": [("r1", "x", "fail"), ("r1", "y", "pass"), ("r2", "x", "fail"),
                        ("r1", "z", "error")],
            "host:/gone": [("r1", "x", "fail")],
        },
    )  # fmt: skip
    b = put(
        store,
        "2026-Q4",
        {
            "host:/a": [("r1", "x", "pass"), ("r1", "y", "fail"), ("r3", "x", "fail")],
            "host:/new": [("r1", "x", "error"), ("r1", "w", "pass")],
        },
        digest="sha256:two",
    )
    out = d.diff(store, a, b)
    # high (r1) before low (r3); a new target's failures are new failures
    assert keys(out.new_failures) == [
        ("r1", "host:/a", "y"),
        ("r1", "host:/new", "x"),
        ("r3", "host:/a", "x"),
    ]
    assert out.new_failures[0]["before"] == "pass"
    assert out.new_failures[0]["now"] == "fail"
    assert out.new_failures[1]["before"] is None
    # fixed: x passes now; z went away (target and rule still there); the removed target's
    # and the removed rule's failures are not "fixed"
    assert keys(out.fixed) == [("r1", "host:/a", "x"), ("r1", "host:/a", "z")]
    assert [(f["before"], f["now"]) for f in out.fixed] == [("fail", "pass"), ("error", None)]
    assert [x["uri"] for x in out.targets_added] == ["host:/new"]
    assert [x["uri"] for x in out.targets_removed] == ["host:/gone"]
    assert out.catalog_changed
    assert out.rules_added == ["r3"]
    assert out.rules_removed == ["r2"]
    doc = d.to_json(out, lambda x: {"id": x.id})
    assert doc["summary"] == {
        "new_failures": 3,
        "fixed": 2,
        "targets_added": 1,
        "targets_removed": 1,
        "no_longer_waived": 0,
        "newly_waived": 0,
        "rules_added": 1,
        "rules_removed": 1,
    }
    assert doc["catalog"]["before"] == "sha256:one"
    assert doc["catalog"]["after"] == "sha256:two"


def test_diff_of_identical_assessments_is_empty(store: Store) -> None:
    content: Content = {"host:/a": [("r1", "x", "fail"), ("r2", "x", "pass")]}
    out = d.diff(store, put(store, "2026-Q3", content), put(store, "2026-Q4", content))
    assert not any(d.summary(out).values())
    assert not out.catalog_changed


def test_default_pair_is_the_last_two_complete_of_the_system(store: Store) -> None:
    c: Content = {"host:/a": [("r1", "x", "pass")]}
    a1 = put(store, "2026-Q1", c, system="pay")
    put(store, "2026-Q1", c, system="web")
    a2 = put(store, "2026-Q2", c, system="pay")
    put(store, "2026-Q3", c, system="pay", complete=False)
    put(store, "2026-Q3", c, system="web")
    before, after = d.default_pair(store, "pay", system_given=True)
    assert (before.id, after.id) == (a1.id, a2.id)
    # without --system: the latest assessment's system (web), which has two
    before, after = d.default_pair(store, None, system_given=False)
    assert (before.system, after.system) == ("web", "web")
    assert d.previous_of(store, a2).id == a1.id
    with pytest.raises(AssessorError, match="no earlier complete assessment"):
        d.previous_of(store, a1)
    with pytest.raises(NotFoundError, match="no assessment of system 'nope'"):
        d.default_pair(store, "nope", system_given=True)


def test_default_pair_without_system_pairs_the_same_scope(store: Store) -> None:
    a1 = put(store, "2026-Q1", {"host:/a": [("r1", "x", "pass")]})
    put(store, "2026-Q1", {"host:/b": [("r1", "x", "pass")]})
    put(store, "2026-Q2", {"host:/a": [("r1", "x", "pass")]}, system="pay")
    a2 = put(store, "2026-Q2", {"host:/a": [("r1", "x", "fail")]})
    before, after = d.default_pair(store, None, system_given=False)
    assert (before.id, after.id) == (a1.id, a2.id)


def test_default_pair_needs_two(store: Store) -> None:
    put(store, "2026-Q1", {"host:/a": [("r1", "x", "pass")]}, system="pay")
    with pytest.raises(AssessorError, match="two complete assessments of system 'pay'; found 1"):
        d.default_pair(store, None, system_given=False)


def _fake_waivers(
    monkeypatch: pytest.MonkeyPatch, module: Any, waived: dict[int, set[int]]
) -> None:
    """applied_waivers answering ``waived``: assessment id -> result ids (waiver = result's rule)."""

    def applied(session: Any, a: Assessment) -> dict[int, dict[str, Any]]:
        ids = waived.get(a.id, set())
        rows = session.query(Result.id, Result.rule).filter(Result.id.in_(ids))
        return {rid: {"id": rule, "reason": f"accepted {rule}"} for rid, rule in rows}

    monkeypatch.setattr(module, "applied_waivers", applied)


def _result_id(store: Store, a: Assessment, rule: str, resource: str) -> int:
    with store.session() as s:
        return int(
            s.query(Result.id)
            .filter(Result.assessment_id == a.id, Result.rule == rule, Result.resource == resource)
            .scalar()
        )


def test_diff_lists_changed_waivers(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    c: Content = {"host:/a": [("r1", "x", "fail"), ("r2", "x", "fail")]}
    a, b = put(store, "2026-Q3", c), put(store, "2026-Q4", c)
    _fake_waivers(
        monkeypatch,
        d,
        {a.id: {_result_id(store, a, "r1", "x")}, b.id: {_result_id(store, b, "r2", "x")}},
    )
    out = d.diff(store, a, b)
    assert out.waivers_known
    assert keys(out.no_longer_waived) == [("r1", "host:/a", "x")]
    assert out.no_longer_waived[0]["waiver"] == {"id": "r1", "reason": "accepted r1"}
    assert keys(out.newly_waived) == [("r2", "host:/a", "x")]
    assert not out.new_failures


def test_diff_reads_stored_waivers(store: Store) -> None:
    c: Content = {"host:/a": [("r1", "x", "fail"), ("r2", "x", "fail")]}
    a = put(store, "2026-Q3", c)
    with store.session() as s:
        now = datetime.now(UTC)
        s.add(
            Waiver(rule="r2", resource_pattern="*", target_pattern="*", system=None,
                   reason="legacy", approver="CISO", compensating=None, created=now,
                   expires=now + timedelta(days=30), source="cli")
        )  # fmt: skip
        s.commit()
    b = put(store, "2026-Q4", c)
    out = d.diff(store, a, b)
    # a waiver applies to both (not finalised: waivers apply as of now), so nothing changed
    assert out.waivers_known
    assert not out.no_longer_waived
    assert not out.newly_waived
    point = t.period_trend(store, b, [FW])[-1]
    assert point.waivers_known
    assert point.waived_results == 1
    assert point.waivers == 1
    assert point.counts[FW]["waived"] == 1  # 1.2: r2 only
    assert point.failures[FW] == {"high": 1}


# --- trend -----------------------------------------------------------------------------------


def test_trend_follows_the_system_and_orders_periods(store: Store) -> None:
    ok: Content = {"host:/a": [("r1", "x", "pass"), ("r2", "x", "pass")]}
    bad: Content = {"host:/a": [("r1", "x", "fail"), ("r2", "x", "pass")]}
    q3 = put(store, "2026-Q3", bad, system="pay")
    q1 = put(store, "2026-Q1", ok, system="pay")
    put(store, "2026-Q2", ok, system="web")  # another system
    put(store, "2026-Q2", ok)  # no system
    q2a = put(store, "2026-Q2", bad, system="pay")
    q2b = put(store, "2026-Q2", ok, system="pay")  # the latest of its period wins
    put(store, "2026-Q2", bad, system="pay", complete=False)
    # another scope, same system: a system's history follows the system, not the scope
    q4 = put(store, "2026-Q4", {"host:/b": [("r1", "x", "pass")]}, system="pay")
    points = t.period_trend(store, q4, [FW])
    assert [(p.period, p.assessment_id) for p in points] == [
        ("2026-Q1", q1.id),
        ("2026-Q2", q2b.id),
        ("2026-Q3", q3.id),
        ("2026-Q4", q4.id),
    ]
    assert q2a.id not in [p.assessment_id for p in points]
    assert [p.period for p in t.period_trend(store, q4, [FW], limit=2)] == ["2026-Q3", "2026-Q4"]
    # an earlier anchor stops at its period, and at what was stored by then (a report of it
    # reads the same later): Q3 was stored first, so alone
    assert [p.period for p in t.period_trend(store, q2b, [FW])] == ["2026-Q1", "2026-Q2"]
    assert [p.period for p in t.period_trend(store, q3, [FW])] == ["2026-Q3"]
    assert t.anchor(store, "pay").id == q4.id
    assert t.anchor(store, "web").system == "web"
    with pytest.raises(NotFoundError, match="no finished assessment of system 'nope'"):
        t.anchor(store, "nope")


def test_trend_without_system_keeps_the_scope(store: Store) -> None:
    c: Content = {"host:/a": [("r1", "x", "pass")]}
    a1 = put(store, "2026-Q1", c)
    put(store, "2026-Q2", {"host:/b": [("r1", "x", "pass")]})
    put(store, "2026-Q2", c, system="pay")
    a3 = put(store, "2026-Q3", c)
    assert [p.assessment_id for p in t.period_trend(store, a3, [FW])] == [a1.id, a3.id]


def test_trend_share_and_failures(store: Store) -> None:
    a = put(
        store,
        "2026-Q4",
        {
            "host:/a": [("r1", "x", "pass"), ("r1", "y", "pass"), ("r2", "x", "fail"),
                        ("r3", "x", "not_applicable")],
            "host:/b": [("r2", "x", "fail"), ("r3", "x", "manual")],
        },
    )  # fmt: skip
    (p,) = t.period_trend(store, a, [FW, "other"])
    # 1.1: r1 pass, r3 n/a + manual -> manual; 1.2: fail; 1.3: manual
    assert p.counts[FW]["pass"] == 0
    assert p.counts[FW]["manual"] == 2
    assert p.counts[FW]["fail"] == 1
    assert p.failures[FW] == {"medium": 2}
    assert t.share_passed(p.counts[FW]) == 0.0
    assert t.share_passed({"pass": 3, "fail": 1, "not_applicable": 5, "not_assessed": 2}) == 0.75
    assert t.share_passed({"not_applicable": 5}) is None
    assert p.counts["other"]["pass"] == 0
    assert p.failures["other"] == {}


def test_grouped_counts_match_row_by_row_counts(store: Store) -> None:
    content: Content = {
        f"host:/{h}": [
            (rule, res, ("pass", "fail", "error", "not_applicable", "manual")[(h + i) % 5])
            for i, (rule, res) in enumerate([("r1", "x"), ("r2", "x"), ("r3", "x"), ("r1", "y")])
        ]
        for h in range(7)
    }
    a = put(store, "2026-Q4", content)
    (p,) = t.period_trend(store, a, [FW])
    rows = [(st, SEV[rule], REFS[rule]) for v in content.values() for rule, _r, st in v]
    counts, failures = t.requirement_counts(rows, [FW])
    assert p.counts == counts
    assert p.failures == failures


def test_trend_counts_waivers(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    c: Content = {
        "host:/a": [("r1", "x", "pass"), ("r2", "x", "fail"), ("r2", "y", "fail")],
        "host:/b": [("r2", "x", "fail")],
    }
    q3, q4 = put(store, "2026-Q3", c), put(store, "2026-Q4", c)
    with store.session() as s:
        r2 = [i for (i,) in s.query(Result.id).filter_by(assessment_id=q4.id, rule="r2")]
    _fake_waivers(monkeypatch, t, {q4.id: set(r2)})
    before, after = t.period_trend(store, q4, [FW])
    assert (before.waived_results, before.waivers, before.failures[FW]) == (0, 0, {"medium": 3})
    assert before.counts[FW]["fail"] == 1
    assert before.waivers_known
    assert (after.waived_results, after.waivers) == (3, 1)  # one waiver (r2), three results
    assert after.counts[FW]["fail"] == 0
    assert after.counts[FW]["waived"] == 1
    assert after.failures[FW] == {}
    assert t.share_passed(after.counts[FW]) == 0.5
    doc = t.to_json(q4, [before, after], [FW])
    assert doc["waivers_known"] is True
    assert doc["periods"][1]["frameworks"][FW]["share_passed"] == 0.5
    assert doc["periods"][1]["waived_results"] == 3
    assert q3.id == doc["periods"][0]["assessment"]


def test_trend_without_waiver_support(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    a = put(store, "2026-Q4", {"host:/a": [("r2", "x", "fail")]})
    monkeypatch.setattr(t, "applied_waivers", lambda _s, _a: None)
    (p,) = t.period_trend(store, a, [FW])
    assert not p.waivers_known
    assert p.waived_results == 0
    assert p.counts[FW]["fail"] == 1
