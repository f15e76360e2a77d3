"""Finalisation, the per-system digest chain, its verification, and re-evaluation."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from assessor.audit import history
from assessor.audit.waivers import WaiverSpec, add_waiver
from assessor.catalog import load_catalog
from assessor.errors import AssessorError
from assessor.evidence import Evidence
from assessor.pipeline import evaluate_stored
from assessor.store import Store, open_store, queries
from assessor.store.models import Assessment, Attestation
from assessor.vocab import AssessmentStatus
from tests.conftest import sql
from tests.reportdata import ENGINE, make_assessment


@pytest.fixture
def db(store_url: str) -> str:
    """Each test here runs on SQLite and on PostgreSQL."""
    return store_url


def _scan(db: str, system: str | None, *, period: str = "2026-Q4", n: int = 2) -> int:
    """A scan-like assessment (real catalog, synthetic containers) of ``system``."""
    aid, _ = make_assessment(db, n, period=period, system=system)
    return aid


@pytest.fixture
def store(db: str) -> Iterator[Store]:
    store = open_store(db)
    try:
        yield store
    finally:
        store.close()


def _breaks(store: Store, system: str | None = "prod") -> list[history.Break]:
    (chain,) = history.verify(store, system)
    return chain.breaks


def test_chain_links_each_finalised_assessment_to_the_previous_of_its_system(
    db: str, store: Store
) -> None:
    a1 = _scan(db, "prod", period="2026-Q3")
    other = _scan(db, None)
    a2 = _scan(db, "prod")
    f1 = history.finalise(store, str(a1), "alice")
    fo = history.finalise(store, str(other), "carol")
    f2 = history.finalise(store, str(a2), "bob")
    assert f1.previous_digest is None
    assert fo.previous_digest is None  # no system: its own chain
    assert f2.previous_digest == f1.digest and f2.previous_id == a1
    assert len({f1.digest, f2.digest, fo.digest}) == 3
    chains = {c.system: c for c in history.verify(store)}
    assert set(chains) == {None, "prod"}
    assert all(c.intact for c in chains.values())
    assert [e.id for e in chains["prod"].entries] == [a1, a2]
    with store.session() as s:
        row = s.get(Assessment, a2)
        assert row is not None
        # recomputing gives the stored digest (datetimes and JSON survive the round trip)
        assert history.assessment_digest(s, row) == row.digest == f2.digest
        assert row.finalised_by == "bob" and row.frozen is not None


def test_finalise_refuses_twice_an_incomplete_and_a_missing_assessment(
    db: str, store: Store
) -> None:
    aid = _scan(db, "prod")
    history.finalise(store, str(aid), "alice")
    with pytest.raises(history.AlreadyFinalisedError, match="finalised on"):
        history.finalise(store, str(aid), "mallory")
    with store.session() as s:
        row = s.get(Assessment, aid)
        assert row is not None and row.finalised_by == "alice"
    bad = _scan(db, "prod")
    sql(db, f"UPDATE assessment SET status='incomplete' WHERE id={bad}")
    with pytest.raises(AssessorError, match="is incomplete"):
        history.finalise(store, str(bad), "alice")
    with pytest.raises(AssessorError, match="no assessment"):
        history.finalise(store, "999", "alice")
    with pytest.raises(AssessorError, match="--by"):
        history.finalise(store, str(bad), "  ")


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE result SET message='all good' WHERE id=(SELECT min(id) FROM result "
        "WHERE assessment_id={a} AND status='fail')",
        "UPDATE result SET status='pass' WHERE id=(SELECT min(id) FROM result "
        "WHERE assessment_id={a} AND status='fail')",
        "DELETE FROM result WHERE id=(SELECT min(id) FROM result WHERE assessment_id={a})",
        "UPDATE target SET identity='{{}}' WHERE assessment_id={a}",
        "UPDATE assessment SET finalised_by='mallory' WHERE id={a}",
        'UPDATE assessment SET frozen=\'{{"waivers": {{}}, "attestations": []}}\' WHERE id={a}',
    ],
)
def test_editing_a_finalised_assessment_is_detected_and_named(
    db: str, store: Store, edit: str
) -> None:
    a1 = _scan(db, "prod")
    a2 = _scan(db, "prod")
    history.finalise(store, str(a1), "alice")
    history.finalise(store, str(a2), "bob")
    assert _breaks(store) == []
    sql(db, edit.format(a=a1))
    breaks = _breaks(store)
    assert [(b.assessment_id, b.problem) for b in breaks] == [(a1, "content-changed")]
    with store.session() as s:
        row = s.get(Assessment, a1)
        assert row is not None
        assert breaks[0].uuid == row.uuid and breaks[0].period == "2026-Q4"


def test_deleting_a_finalised_assessment_breaks_its_successor(db: str, store: Store) -> None:
    a1, a2, a3 = (_scan(db, "prod") for _ in range(3))
    for a in (a1, a2, a3):
        history.finalise(store, str(a), "alice")
    sql(db, f"DELETE FROM assessment WHERE id={a1}")  # cascades to targets and results
    breaks = _breaks(store)
    assert [(b.assessment_id, b.problem) for b in breaks] == [(a2, "chain-broken")]
    assert "no longer there" in breaks[0].detail


def test_deleting_or_unfinalising_the_middle_one_is_detected(db: str, store: Store) -> None:
    a1, a2, a3 = (_scan(db, "prod") for _ in range(3))
    for a in (a1, a2, a3):
        history.finalise(store, str(a), "alice")
    sql(db, f"UPDATE assessment SET finalised_at=NULL WHERE id={a2}")
    breaks = _breaks(store)
    assert [(b.assessment_id, b.problem) for b in breaks] == [(a3, "chain-broken")]
    assert f"assessment {a1}" in breaks[0].detail


def test_rewriting_a_digest_to_match_is_caught_by_the_successor(db: str, store: Store) -> None:
    a1 = _scan(db, "prod")
    a2 = _scan(db, "prod")
    history.finalise(store, str(a1), "alice")
    history.finalise(store, str(a2), "alice")
    sql(db, f"UPDATE result SET status='pass' WHERE assessment_id={a1}")
    with store.session() as s:  # the forger recomputes and stores a1's digest
        row = s.get(Assessment, a1)
        assert row is not None
        row.digest = history.assessment_digest(s, row)
        s.commit()
    breaks = _breaks(store)
    assert [(b.assessment_id, b.problem) for b in breaks] == [(a2, "chain-broken")]


def test_tampered_evidence_body_is_detected(db: str, store: Store) -> None:
    a1 = _scan(db, "prod")
    history.finalise(store, str(a1), "alice")
    ((h, body),) = sql(db, "SELECT hash, body FROM evidence ORDER BY hash LIMIT 1")
    doc = json.loads(zlib.decompress(body))  # type: ignore[arg-type]
    doc["data"]["HostConfig"]["Memory"] = 1 << 30
    sql(
        db,
        "UPDATE evidence SET body=:body WHERE hash=:h",
        body=zlib.compress(json.dumps(doc).encode()),
        h=h,
    )
    breaks = _breaks(store)
    assert [(b.assessment_id, b.problem) for b in breaks] == [(a1, "evidence-changed")]
    assert h[:16] in breaks[0].detail
    # re-evaluation refuses it too, naming the evidence
    with pytest.raises(AssessorError, match=f"evidence {h[:16]} .* was changed"):
        evaluate_stored(store, load_catalog(), a1)


def test_frozen_waivers_and_attestations_are_kept_and_hashed(db: str, store: Store) -> None:
    aid = _scan(db, "prod")
    now = datetime.now(UTC)
    with store.session() as s:
        add_waiver(
            s,
            WaiverSpec(
                "container-memory-limited",
                "*",
                "*",
                "prod",
                "batch jobs size themselves",
                "ciso",
                datetime.now(UTC).date() + timedelta(days=30),
                None,
            ),
            "cli",
        )
        s.add(
            Attestation(
                framework="nistir-8176",
                requirement="4.1",
                system="prod",
                period="2026-Q4",
                status="pass",
                by="auditor",
                note="reviewed",
                created=now - timedelta(minutes=1),
                expires=None,
                evidence=[],
            )
        )
        s.commit()
    done = history.finalise(store, str(aid), "alice")
    assert done.waivers == 2 and done.attestations == 1  # two containers fail the rule
    with store.session() as s:
        row = s.get(Assessment, aid)
        assert row is not None and row.frozen is not None
        assert {w["reason"] for w in row.frozen["waivers"].values()} == {
            "batch jobs size themselves"
        }
        assert [a["requirement"] for a in row.frozen["attestations"]] == ["4.1"]
    # revoking the waiver later changes nothing frozen
    sql(db, "UPDATE waiver SET revoked_at='2026-12-01 00:00:00', revoked_by='x'")
    assert _breaks(store) == []
    ((frozen,),) = sql(db, f"SELECT frozen FROM assessment WHERE id={aid}")
    edited = json.dumps(frozen if isinstance(frozen, dict) else json.loads(str(frozen)))
    sql(
        db,
        f"UPDATE assessment SET frozen=:f WHERE id={aid}",
        f=edited.replace("reviewed", "waved"),
    )
    assert [b.problem for b in _breaks(store)] == ["content-changed"]


def _outcomes(store: Store, aid: int) -> list[tuple[str, str, str, str, str | None]]:
    return sorted(
        (t, r.rule, r.resource, r.status, r.evidence_hash)
        for r, t in queries.get_results(store, aid)
    )


def test_evaluate_stored_reproduces_results_into_a_new_assessment(db: str, store: Store) -> None:
    a1 = _scan(db, "prod")
    before = history.finalise(store, str(a1), "alice")
    ((evidence_rows,),) = sql(db, "SELECT count(*) FROM evidence")
    summary = evaluate_stored(store, load_catalog(), a1, period="2027-Q1")
    assert summary.assessment_id != a1 and summary.status == "complete"
    assert _outcomes(store, summary.assessment_id) == _outcomes(store, a1)
    new = queries.get_assessment(store, str(summary.assessment_id))
    assert new.period == "2027-Q1" and new.system == "prod" and new.scope == [ENGINE]
    assert new.finalised_at is None
    assert new.note is not None and new.note.startswith(f"re-evaluated from assessment {a1}")
    assert sql(db, "SELECT count(*) FROM evidence") == [(evidence_rows,)]
    # the finalised source is untouched
    (chain,) = history.verify(store, "prod")
    assert chain.intact and [e.digest for e in chain.entries] == [before.digest]


def test_evaluate_stored_carries_unreachable_targets(db: str, store: Store) -> None:
    catalog = load_catalog()
    aid = queries.create_assessment(store, "2026-Q4", ["host:/", ENGINE], catalog.digest)
    queries.record_target(
        store, aid, "host:/", "host", status="unreachable", identity={}, error="no such root"
    )
    ev = Evidence("engine", ENGINE, "engine", {"Info": {}})
    queries.record_target(
        store, aid, ENGINE, "engine", status="collected", identity={"x": 1}, evidence=[ev]
    )
    queries.finish_assessment(store, aid, AssessmentStatus.INCOMPLETE, "host:/: no such root")
    summary = evaluate_stored(store, catalog, aid)
    assert summary.status == "incomplete"
    targets = queries.get_targets(store, summary.assessment_id)
    assert [(t.uri, t.status, t.error) for t in targets] == [
        ("host:/", "unreachable", "no such root"),
        (ENGINE, "collected", None),
    ]
    results = queries.get_results(store, summary.assessment_id)
    assert results and {t for _, t in results} == {ENGINE}
    assert all(r.rule.startswith("engine-") for r, _ in results)


def test_digest_covers_the_documented_fields(db: str, store: Store) -> None:
    aid = _scan(db, "prod")
    history.finalise(store, str(aid), "alice")
    with store.session() as s:
        row = s.get(Assessment, aid)
        assert row is not None
        content = history.canonical_content(s, row)
        assert set(content) == {
            "digest_version",
            "assessment",
            "targets",
            "results",
            "frozen",
            "finalised_at",
            "finalised_by",
            "previous_digest",
        }
        assert set(content["targets"][0]) == {
            "uri",
            "kind",
            "status",
            "identity",
            "error",
            "evidence",
        }
        assert content["targets"][0]["evidence"] == sorted(content["targets"][0]["evidence"])
        assert len(content["targets"][0]["evidence"]) == 2
        digest = history.assessment_digest(s, row)
        assert digest == row.digest
        row.previous_digest = "0" * 64
        assert history.assessment_digest(s, row) != digest
        s.rollback()
