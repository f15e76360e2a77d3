"""The report's data: requirement roll-up, per-period trend, what build() reads, the HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assessor.audit.rollup import rollup
from assessor.audit.trend import requirement_counts
from assessor.catalog import load_catalog
from assessor.errors import AssessorError, NotFoundError
from assessor.report.data import _excerpt, build
from assessor.report.render import _prefix_ids, _safe_svg, render_html
from assessor.store import open_store, queries
from tests.reportdata import ENGINE, make_assessment


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "not_assessed"),
        (["pass", "pass"], "pass"),
        (["pass", "fail", "error"], "fail"),
        (["pass", "error", "manual"], "error"),
        (["pass", "manual"], "manual"),
        (["not_applicable", "not_applicable"], "not_applicable"),
        (["not_applicable", "pass"], "pass"),
        (["waived", "pass"], "waived"),
        (["waived", "fail"], "fail"),
    ],
)
def test_rollup_precedence(statuses: list[str], expected: str) -> None:
    assert rollup(statuses) == expected


def test_requirement_counts_roll_up_per_framework() -> None:
    rows = [
        ("pass", "low", {"fw": ["1", "2"]}),
        ("fail", "high", {"fw": ["2"], "other": ["x"]}),
        ("not_applicable", "low", {"fw": ["3"]}),
        ("manual", "medium", {}),
    ]
    counts, failures = requirement_counts(rows, ["fw", "other"])
    assert counts["fw"]["pass"] == 1
    assert counts["fw"]["fail"] == 1
    assert counts["fw"]["not_applicable"] == 1
    assert counts["other"]["fail"] == 1
    assert failures == {"fw": {"high": 1}, "other": {"high": 1}}


def test_excerpt_keeps_what_the_message_names_and_is_bounded() -> None:
    files = {f"/etc/f{i}": {"mode": "0644", "owner": "root"} for i in range(200)}
    doc = {"data": {"files": files, "x": {"y": 1}}}
    text = _excerpt(doc, ["files", "x.y", "missing.path"], "bad mode on /etc/f17")
    assert '"/etc/f17"' in text
    assert '"/etc/f18"' not in text
    assert '"x.y": 1' in text
    assert '"missing.path": "(absent)"' in text
    long = _excerpt({"data": {"v": "a" * 5000}}, ["v"])
    assert len(long) <= 600


@pytest.fixture(scope="module")
def two_periods(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('rep') / 'r.db'}"
    make_assessment(url, 2, period="2026-Q2")
    make_assessment(url, 3, period="2026-Q3")
    make_assessment(url, 4, period="2026-Q4")
    return url


def test_build_reads_one_assessment_with_trend(two_periods: str) -> None:
    catalog = load_catalog()
    store = open_store(two_periods)
    try:
        data = build(store, catalog, None, organisation="Org")
        earlier = build(store, catalog, "2")
    finally:
        store.close()
    assert [f.id for f in data.frameworks] == ["nistir-8176", "cis-docker-1.8.0", "sp800-190"]
    cis = data.frameworks[1]
    assert sum(cis.counts.values()) == len(catalog.frameworks["cis-docker-1.8.0"].requirements)
    reqs = {r.id: r for s in cis.sections for r in s.requirements}
    memory = reqs["5.11"]
    assert memory.status == "fail"
    rule = next(v for v in memory.rules if v.id == "container-memory-limited")
    assert rule.counts == {"fail": 4}
    assert [f.resource.split(" ")[0] for f in rule.findings] == [f"bench-{i:05d}" for i in range(4)]
    assert all(f.excerpt and f.evidence_hash for f in rule.findings)
    # host rules had no target in scope: their requirements are not assessed, never passed
    assert cis.counts["not_assessed"] > 0
    assert [p.period for p in cis.trend] == ["2026-Q2", "2026-Q3", "2026-Q4"]
    # the trend of an earlier assessment stops at its own period
    assert [p.period for p in earlier.frameworks[0].trend] == ["2026-Q2", "2026-Q3"]
    assert data.targets[0].uri == ENGINE
    assert data.meta.catalog_matches


def test_trend_ignores_other_scopes_and_incomplete_assessments(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    make_assessment(url, 1, period="2026-Q1")
    store = open_store(url)
    try:
        other = queries.create_assessment(store, "2026-Q2", ["host:/"], "sha256:x")
        queries.finish_assessment(store, other, queries.COMPLETE)
        queries.create_assessment(store, "2026-Q2", [ENGINE], "sha256:x")  # left incomplete
    finally:
        store.close()
    aid, _ = make_assessment(url, 1, period="2026-Q3")
    store = open_store(url)
    try:
        data = build(store, load_catalog(), str(aid))
    finally:
        store.close()
    assert [p.period for p in data.frameworks[0].trend] == ["2026-Q1", "2026-Q3"]


def test_max_findings_counts_the_rest(two_periods: str) -> None:
    store = open_store(two_periods)
    try:
        data = build(store, load_catalog(), None, max_findings=1)
    finally:
        store.close()
    views = [
        v for f in data.frameworks for s in f.sections for r in s.requirements for v in r.rules
    ]
    memory = next(v for v in views if v.id == "container-memory-limited")
    assert len(memory.findings) == 1
    assert memory.hidden == 3


def test_unknown_framework_is_refused(two_periods: str) -> None:
    store = open_store(two_periods)
    try:
        with pytest.raises(NotFoundError, match="no framework 'nope'"):
            build(store, load_catalog(), None, frameworks=["nope"])
    finally:
        store.close()


def test_html_has_every_part_unique_ids_and_a_catalog_change_warning(two_periods: str) -> None:
    catalog = load_catalog()
    store = open_store(two_periods)
    try:
        data = build(store, catalog, None, frameworks=["cis-docker-1.8.0", "sp800-190"])
    finally:
        store.close()
    html = render_html(data)
    for part in ("cover", "contents", "summary", "scope", "methodology", "appendix"):
        assert f'id="{part}"' in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids"
    for href in set(re.findall(r'href="#([^"]+)"', html)):
        assert href in ids, f"broken anchor #{href}"
    assert html.count("<svg") == 2
    assert "<script" not in html
    assert "catalog has changed" not in html
    data.meta.current_catalog_digest = "sha256:other"
    assert "catalog has changed" in render_html(data)


def test_chart_ids_are_prefixed_and_active_svg_refused() -> None:
    svg = '<svg><defs><path id="g1"/></defs><use xlink:href="#g1"/><g clip-path="url(#c)"/></svg>'
    out = _prefix_ids(svg, "a-")
    assert 'id="a-g1"' in out and 'href="#a-g1"' in out and "url(#a-c)" in out
    assert "<!--" not in str(_safe_svg("<svg><!-- x --></svg>"))
    for bad in ("<svg><script>1</script></svg>", '<svg onload="x()"></svg>'):
        with pytest.raises(AssessorError):
            _safe_svg(bad)


def test_a_framework_named_twice_is_reported_once(two_periods: str) -> None:
    store = open_store(two_periods)
    try:
        data = build(store, load_catalog(), None, frameworks=["sp800-190", "sp800-190"])
    finally:
        store.close()
    assert [f.id for f in data.frameworks] == ["sp800-190"]


def test_changes_since_the_previous_period(two_periods: str) -> None:
    store = open_store(two_periods)
    try:
        data = build(store, load_catalog(), None)  # Q4: 4 containers; Q3 had 3
    finally:
        store.close()
    c = data.changes
    assert c is not None
    assert c.previous_period == "2026-Q3"
    assert c.fixed_total == 0
    # the fourth container's failures are the only new ones
    assert c.new_total == len(c.new) > 0
    assert {ch.resource.split(" ")[0] for ch in c.new} == {"bench-00003"}
    html = render_html(data)
    assert "Changes since 2026-Q3" in html


def test_incomplete_assessment_and_unreachable_target_are_shown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'i.db'}"
    store = open_store(url)
    try:
        aid = queries.create_assessment(store, "2026-Q4", ["host:/", ENGINE], "sha256:x")
        queries.record_target(
            store,
            aid,
            ENGINE,
            "engine",
            status="unreachable",
            identity={},
            error="engine:unix:///var/run/docker.sock: connection refused",
        )  # never finished: the scan was killed
        data = build(store, load_catalog(), str(aid))
    finally:
        store.close()
    assert [t.uri for t in data.unreachable] == [ENGINE]
    html = render_html(data)
    assert "This assessment is <strong>incomplete</strong>" in html
    assert "connection refused" in html
    assert "Not reachable or not fully collected" in html
    # nothing was judged: every requirement is not assessed, none passed
    assert all(f.counts["pass"] == 0 for f in data.frameworks)
    assert all(f.counts["not_assessed"] == f.total for f in data.frameworks)


def test_finalised_assessment_shows_its_digest_in_the_report(tmp_path: Path) -> None:
    from assessor.audit.history import finalise

    url = f"sqlite:///{tmp_path / 'f.db'}"
    aid, _ = make_assessment(url, 1)
    store = open_store(url)
    try:
        before = render_html(build(store, load_catalog(), str(aid)))
        done = finalise(store, str(aid), "J. Roe")
        after = render_html(build(store, load_catalog(), str(aid)))
    finally:
        store.close()
    assert "not finalised" in before
    assert "by J. Roe" in after
    assert done.digest in after
    assert "none (the first of its chain)" in after
