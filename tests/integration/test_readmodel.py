"""The one read model (assessor.readmodel) of a real assessment: this host, the sample image and
the engine, scanned by the CLI, with a waiver and an attestation (tests.conftest.exported).

Every output reads it, so what it says is checked here against the store itself, and the
trend points (the report's chart, ``assessor trend``) against it."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest

from assessor import readmodel
from assessor.catalog import load_catalog
from assessor.store import open_store
from assessor.vocab import REQUIREMENT_STATUSES
from tests.conftest import Exported


@pytest.fixture(scope="module")
def view(exported: Exported) -> readmodel.AssessmentView:
    store = open_store(exported.db)
    return readmodel.load(store, load_catalog([]), exported.id)


def _stored(exported: Exported) -> list[tuple[int, str, str, str]]:
    con = sqlite3.connect(exported.db.removeprefix("sqlite:///"))
    try:
        return list(
            con.execute(
                "SELECT id, rule, resource, status FROM result WHERE assessment_id = ?",
                (int(exported.id),),
            )
        )
    finally:
        con.close()


def test_every_stored_result_once_waived_fails_shown_waived(
    view: readmodel.AssessmentView, exported: Exported
) -> None:
    stored = _stored(exported)
    assert sorted(r.id for r in view.results) == sorted(i for i, *_ in stored)
    raw = {i: st for i, _, _, st in stored}
    for r in view.results:
        assert r.raw_status == raw[r.id]
        if r.status == "waived":
            assert r.raw_status == "fail" and r.waiver is not None
            assert r.rule == exported.waived_rule
        else:
            assert r.status == r.raw_status and r.waiver is None
    assert view.counts["waived"] > 0
    assert sum(view.counts.values()) == len(stored)
    # the applied waiver carries the date it was recorded
    (w,) = view.waivers
    assert w["created"] and w["created"] <= w["expires"]


def test_requirement_rollup_counts_every_requirement_once(view: readmodel.AssessmentView) -> None:
    for fw_id, fw in view.frameworks.items():
        assert set(fw.counts) == set(REQUIREMENT_STATUSES)
        assert sum(fw.counts.values()) == len(view.catalog.frameworks[fw_id].requirements)
        assert Counter(req.status for req in fw.requirements) == +Counter(fw.counts)
        # a result counts under a framework when it references one of its requirements
        referencing = [r for r in view.results if r.references.get(fw_id)]
        assert sum(fw.result_counts.values()) == len(referencing)


def test_the_attestation_answers_its_requirement(
    view: readmodel.AssessmentView, exported: Exported
) -> None:
    fw_id, req_id = exported.attested.split(":", 1)
    req = next(r for r in view.frameworks[fw_id].requirements if r.id == req_id)
    assert req.attestation is not None and req.attestation["status"] == "pass"
    # its rules' results are manual: the attestation's pass answers them
    assert "manual" in {r.status for r in view.results if r.id in req.result_ids}
    assert req.status == "pass"


def test_trend_point_counts_what_the_tables_count(view: readmodel.AssessmentView) -> None:
    """The chart's latest point and the summary table read the same numbers: attestations
    included (before, the trend left them out and the two disagreed)."""
    fws = sorted(view.frameworks)
    points = view.trend(fws)
    assert points and points[-1].assessment_id == view.id
    latest = points[-1]
    for fw_id in fws:
        table = dict(view.frameworks[fw_id].counts)
        table.pop("not_assessed")  # the chart does not draw requirements nothing refers to
        chart = {k: v for k, v in latest.counts[fw_id].items() if k != "not_assessed"}
        assert chart == table, fw_id
