"""The report's data: requirement roll-up, per-period trend, what build() reads, the HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assessor.audit.rollup import rollup
from assessor.audit.trend import requirement_counts
from assessor.catalog import load_catalog
from assessor.errors import AssessorError, NotFoundError
from assessor.evidence import Evidence
from assessor.report.data import build
from assessor.report.data.findings import evidence_excerpt
from assessor.report.render import _safe_svg, render_html
from assessor.store import open_store, queries
from assessor.vocab import AssessmentStatus
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
    text, cut = evidence_excerpt(doc, ["files", "x.y", "missing.path"], "bad mode on /etc/f17")
    assert '"/etc/f17"' in text
    assert '"/etc/f18"' not in text
    assert '"x.y": 1' in text
    assert '"missing.path": "(absent)"' in text
    assert cut, "a mapping reduced to what the message names is a cut excerpt"
    long, cut = evidence_excerpt({"data": {"v": "a" * 5000}}, ["v"])
    assert len(long) <= 600 and long.endswith("\u2026") and cut
    whole, cut = evidence_excerpt({"data": {"v": "short"}}, ["v"])
    assert whole == '{"v": "short"}' and not cut


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
        queries.finish_assessment(store, other, AssessmentStatus.COMPLETE)
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
    for part in (
        "cover",
        "contents",
        "summary",
        "findings",
        "waivers",
        "changes",
        "coverage-cis-docker-1.8.0",
        "coverage-sp800-190",
        "manual",
        "all-findings",
        "full-evidence",
        "scope",
        "methodology",
        "appendix",
    ):
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


def test_active_svg_is_refused() -> None:
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


def _body(html: str, part: str) -> str:
    """One <section id=part> of the HTML."""
    start = html.index(f'id="{part}"')
    return html[start : html.index("</section>", start)]


def test_findings_list_each_failing_rule_once_by_severity(two_periods: str) -> None:
    from assessor import readmodel

    catalog = load_catalog()
    store = open_store(two_periods)
    try:
        data = build(store, catalog, None)
        view = readmodel.load(store, catalog)
        failing = {r.rule for r in view.results if r.status in ("fail", "error")}
    finally:
        store.close()
    assert [f.id for f in data.open_findings] == list(dict.fromkeys(f.id for f in data.findings))
    assert {f.id for f in data.open_findings} == failing
    order = [data.severities.index(f.severity) for f in data.open_findings]
    assert order == sorted(order)
    assert [f.number for f in data.findings] == [f"F{i}" for i in range(1, len(data.findings) + 1)]
    html = render_html(data)
    findings = _body(html, "findings")
    for rule in failing:
        # once in the findings, whatever the number of requirements and frameworks it meets
        assert findings.count(f'id="finding-{rule}"') == 1
        assert html.count(f'id="finding-{rule}"') == 1
    memory = next(f for f in data.findings if f.id == "container-memory-limited")
    # the requirements it maps to, per framework, linked into the coverage matrix
    shorts = [short for short, _ in memory.refs_by_framework()]
    assert shorts == ["NIST IR 8176", "CIS Docker 1.8.0", "SP 800-190"]
    assert 'href="#req-cis-docker-1.8.0-5.11"' in findings
    assert 'id="req-cis-docker-1.8.0-5.11"' in html
    # 4 containers failing alike: one row naming the 4 (the message without the leading name)
    [group] = memory.body_groups
    assert [res.split(" ")[0] for _, res in group.resources] == [f"bench-{i:05d}" for i in range(4)]
    assert group.message.startswith("\u2026 has no memory limit"), group.message
    assert memory.more == 0 and f'href="#all-{memory.id}"' not in findings


def test_a_finding_names_a_few_resources_and_appendix_b_every_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'many.db'}"
    make_assessment(url, 9)
    store = open_store(url)
    try:
        data = build(store, load_catalog(), None)
    finally:
        store.close()
    memory = next(f for f in data.findings if f.id == "container-memory-limited")
    [group] = memory.body_groups
    assert len(group.resources) == 4 and group.hidden == 5 and memory.more == 5
    html = render_html(data)
    body = _body(html, "findings")
    assert "and 5 more" in body and f'href="#all-{memory.id}"' in body
    appendix = _body(html, "all-findings")
    assert f'id="all-{memory.id}"' in appendix
    for i in range(9):
        assert f"bench-{i:05d}" in appendix


def test_counts_are_the_read_models(two_periods: str) -> None:
    from assessor import readmodel

    catalog = load_catalog()
    store = open_store(two_periods)
    try:
        data = build(store, catalog, None)
        view = readmodel.load(store, catalog)
    finally:
        store.close()
    assert data.counts == {k: n for k, n in view.counts.items() if n}
    for fw in data.frameworks:
        status = view.frameworks[fw.id]
        assert fw.counts == status.counts
        assert fw.result_counts == status.result_counts
        rows = {r.id: r for r in fw.requirements}
        assert [r.id for r in status.requirements] == list(rows)
        for req in status.requirements:
            assert rows[req.id].status == req.status
            assert rows[req.id].counts == req.counts


def test_every_filterable_block_carries_its_data_attributes(two_periods: str) -> None:
    store = open_store(two_periods)
    try:
        data = build(store, load_catalog(), None)
    finally:
        store.close()
    html = render_html(data)
    blocks = re.findall(r'<(?:article|tr)\b[^>]*\bclass="[^"]*\bfilterable\b[^"]*"[^>]*>', html)
    # every finding, every matrix row (one per requirement of each framework), every procedure
    expected = len(data.findings) + sum(f.total for f in data.frameworks) + len(data.manual)
    assert len(blocks) == expected + len(data.waivers) + len(data.attestations)
    for tag in blocks:
        for attr in ("data-status", "data-severity", "data-frameworks", "data-target"):
            assert f"{attr}=" in tag, tag
    memory = re.search(r'<article[^>]*id="finding-container-memory-limited"[^>]*>', html)
    assert memory is not None
    assert 'data-status="fail"' in memory[0] and 'data-severity="medium"' in memory[0]
    assert 'data-frameworks="nistir-8176 cis-docker-1.8.0 sp800-190"' in memory[0]
    assert f'data-target="{ENGINE}"' in memory[0]


def test_not_applicable_and_not_assessed_rows_say_why(two_periods: str) -> None:
    from assessor import readmodel

    catalog = load_catalog()
    store = open_store(two_periods)
    try:
        data = build(store, catalog, None)
        view = readmodel.load(store, catalog)
    finally:
        store.close()
    messages = {
        fw: {r.message for r in view.results if r.status == "not_applicable" and fw in r.references}
        for fw in view.frameworks
    }
    html = render_html(data)
    rows = [r for f in data.frameworks for r in f.requirements]
    quiet = [r for r in rows if r.status in ("not_applicable", "not_assessed")]
    assert quiet, "the fixture has requirements nothing judged"
    for row in quiet:
        assert row.reasons and all(row.reasons)
        m = re.search(rf'<tr[^>]*id="{re.escape(row.anchor)}".*?</tr>', html, re.S)
        assert m is not None and row.reasons[0].replace("'", "&#39;") in m[0], row.id
    na = [r for r in rows if r.status == "not_applicable"]
    assert na, "the fixture has not-applicable requirements"
    for row in na:  # the N/A results' own messages, in plain words, not a generic phrase
        assert row.counts["not_applicable"] > 0
        assert set(row.reasons) <= messages[row.framework], (row.id, row.reasons)


def test_fixed_findings_are_shown_fixed_never_failed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fixed.db'}"
    make_assessment(url, 3, period="2026-Q3")
    make_assessment(url, 2, period="2026-Q4")  # the third container is gone: its failures fixed
    store = open_store(url)
    try:
        data = build(store, load_catalog(), None)
    finally:
        store.close()
    c = data.changes
    assert c is not None and c.fixed_total > 0 and c.new_total == 0
    assert {ch.resource.split(" ")[0] for ch in c.fixed} == {"bench-00002"}
    assert all(ch.status == "fail" and ch.now == "" for ch in c.fixed)
    fixed = _body(render_html(data), "changes")
    table = fixed[fixed.index("Fixed since 2026-Q3") :]
    assert 'class="badge fixed"' in table
    assert 'class="badge fail"' not in table, "a fixed finding must not wear a fail badge"
    assert "was failed" in table and "resource gone" in table


def test_changes_are_what_assessor_diff_lists(tmp_path: Path) -> None:
    """The report's changes are ``assessor diff PREVIOUS LATEST``'s new failures and fixed
    findings; a target no longer assessed is not "fixed" (before, every failure of a target
    left out of the later scan counted as fixed)."""
    from assessor.audit.diff import diff
    from assessor.evaluate.engine import evaluate
    from tests.reportdata import container_docs

    url = f"sqlite:///{tmp_path / 'scope.db'}"
    catalog = load_catalog()
    other = "engine:tcp://10.0.0.9:2376"
    store = open_store(url)
    try:
        first = queries.create_assessment(
            store, "2026-Q3", [ENGINE, other], catalog.digest, system="s"
        )
        for uri, n in ((ENGINE, 3), (other, 2)):
            docs = [
                Evidence(e.kind, uri, e.resource, e.data)
                for e in container_docs(n, label="" if uri == ENGINE else "other")
            ]
            queries.record_target(
                store, first, uri, "engine", status="collected", identity={},
                evidence=docs, results=evaluate(catalog, docs, {uri: ["container"]}),
            )  # fmt: skip
        queries.finish_assessment(store, first, AssessmentStatus.COMPLETE)
    finally:
        store.close()
    make_assessment(url, 2, period="2026-Q4", system="s")  # one container fixed, a target gone
    store = open_store(url)
    try:
        data = build(store, catalog, None)
        latest = queries.get_assessment(store, None)
        d = diff(store, queries.get_assessment(store, str(first)), latest)
    finally:
        store.close()
    c = data.changes
    assert c is not None
    key = ("rule", "target", "resource")
    assert [tuple(getattr(ch, k) for k in key) for ch in c.fixed] == [
        tuple(i[k] for k in key) for i in d.fixed
    ]
    assert [tuple(getattr(ch, k) for k in key) for ch in c.new] == [
        tuple(i[k] for k in key) for i in d.new_failures
    ]
    assert c.fixed and all(ch.target == ENGINE for ch in c.fixed)
    assert {ch.resource.split(" ")[0] for ch in c.fixed} == {"bench-00002"}


def test_cover_names_the_finaliser_from_the_store_and_the_preparer_as_such(
    tmp_path: Path,
) -> None:
    from assessor.audit.history import finalise

    url = f"sqlite:///{tmp_path / 'cover.db'}"
    aid, _ = make_assessment(url, 1)
    store = open_store(url)
    try:
        before = render_html(build(store, load_catalog(), str(aid), assessor="Typed Name"))
        finalise(store, str(aid), "Fin Aliser")
        after = render_html(build(store, load_catalog(), str(aid), assessor="Typed Name"))
    finally:
        store.close()
    cover = _body(before, "cover")
    assert "Report prepared by" in cover and "Typed Name" in cover
    assert "Not finalised." in cover
    assert re.search(r"<th[^>]*>Assessor</th>", cover) is None
    cover = _body(after, "cover")
    assert "by <strong>Fin Aliser</strong>" in cover
    assert "Not finalised" not in cover


def test_waivers_show_their_recorded_date_and_attestation_files_link_to_attachments(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.conftest import run_cli

    url = f"sqlite:///{tmp_path / 'w.db'}"
    make_assessment(url, 2)
    expires = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    run = run_cli(
        "waive",
        "container-memory-limited",
        "--reason",
        "batch jobs <b>sized</b> by the scheduler",
        "--approver",
        "R. Approver",
        "--expires",
        expires,
        "--compensating",
        "cgroup limits on the host",
        db=url,
    )
    assert run.code == 0, run.err
    proof = tmp_path / "proof.txt"
    proof.write_text("checked\n")
    run = run_cli(
        "attest",
        "cis-docker-1.8.0:1.2.2",
        "--status",
        "pass",
        "--by",
        "J. Tester",
        "--note",
        "patched",
        "--evidence",
        str(proof),
        "--period",
        "2026-Q4",
        db=url,
    )
    assert run.code == 0, run.err
    store = open_store(url)
    try:
        data = build(store, load_catalog(), None)
    finally:
        store.close()
    [w] = data.waivers
    assert w.created == datetime.now(UTC).date().isoformat() and w.results == 2
    [att] = data.attestations
    [file] = att.evidence
    data.attachments = {f"attestation:{att.id}:{file.sha256}": "attachments/proof.txt"}
    html = render_html(data)
    waivers = _body(html, "waivers")
    row = re.search(rf'<tr[^>]*id="waiver-{w.id}".*?</tr>', waivers, re.S)
    assert row is not None
    assert f'<td class="date">{w.created}</td><td class="date">{expires}</td>' in row[0]
    assert "cgroup limits on the host" in row[0] and "R. Approver" in row[0]
    assert "&lt;b&gt;sized&lt;/b&gt;" in row[0]
    assert '<a href="attachments/proof.txt">proof.txt</a> (attached)' in waivers
    ids = set(re.findall(r'\sid="([^"]+)"', html))
    for href in set(re.findall(r'href="#([^"]+)"', html)):  # waiver, attestation, F and M links
        assert href in ids, f"broken anchor #{href}"
    # waived failures are reported waived, in their own list, never as open findings
    assert [f.id for f in data.waived_findings] == ["container-memory-limited"]
    assert "container-memory-limited" not in [f.id for f in data.open_findings]


PROCEDURE = """1. List the device grants of each container:
     docker ps -q | xargs docker inspect --format '{{ .Name }}: <devices>'
   A container with no extra device uses Docker's defaults.
2. For each container with extra devices, compare with its MAC profile:
   - AppArmor: the profile named by docker inspect, for docker-default,
     docker's built-in template
   - SELinux: ls -Z /dev/DEVICE
   The devices allowed must match.
Pass: every container's grants match.
Fail: a device allowed by one mechanism
and denied by the other.
"""


def test_rule_text_keeps_steps_bullets_and_commands_and_escapes_everything() -> None:
    from assessor.report.text import Code, Para, Steps, parse, to_html

    blocks = parse(PROCEDURE)
    assert [type(b) for b in blocks] == [Steps, Para, Para]
    steps = blocks[0]
    assert isinstance(steps, Steps) and steps.ordered and len(steps.items) == 2
    first, second = steps.items
    assert [type(b) for b in first.blocks] == [Para, Code, Para]
    code = first.blocks[1]
    assert isinstance(code, Code)
    assert code.lines == ["docker ps -q | xargs docker inspect --format '{{ .Name }}: <devices>'"]
    bullets = second.blocks[1]
    assert isinstance(bullets, Steps) and not bullets.ordered and len(bullets.items) == 2
    # a bullet's wrapped line stays in the bullet's paragraph, not a code block
    assert [type(b) for b in bullets.items[0].blocks] == [Para]
    fail = blocks[2]
    assert isinstance(fail, Para) and fail.text == (
        "Fail: a device allowed by one mechanism and denied by the other."
    )
    html = str(to_html(PROCEDURE))
    assert html.startswith('<ol class="steps"><li><p>List the device grants')
    assert (
        '<pre class="cmd"><code>docker ps -q | xargs docker inspect --format &#39;{{ .Name }}: &lt;devices&gt;&#39;</code></pre>'
        in html
    )
    assert '<ul class="steps"><li><p>AppArmor:' in html
    assert "<p>Pass: every container&#39;s grants match.</p>" in html
    assert "<script" not in str(to_html("<script>alert(1)</script>\n  <img src=x onerror=y>"))
    lead = str(to_html("Recreate it:\n  docker run --rm IMAGE\nthen check.", "Remediation"))
    assert lead == (
        '<p><strong class="label">Remediation:</strong> Recreate it:</p>'
        '<pre class="cmd"><code>docker run --rm IMAGE</code></pre><p>then check.</p>'
    )
    assert str(to_html("3. third\n4. fourth")).startswith('<ol class="steps" start="3">')


def test_every_rule_text_of_the_catalog_converts() -> None:
    """No rule text loses a character: the text content of the HTML is the text's words."""
    from html import unescape

    from assessor.report.text import to_html

    catalog = load_catalog()
    texts = [r.remediation for r in catalog.rules.values() if r.remediation]
    texts += [r.manual.procedure for r in catalog.rules.values() if r.manual]
    assert len(texts) > 100
    for text in texts:
        html = str(to_html(text))
        words = unescape(re.sub(r"<[^>]+>", " ", html)).split()
        # the step numbers and bullet marks at the start of a line become list markup
        unmarked = re.sub(r"(?m)^(\s*)(?:\d{1,3}[.)]|[-*\u2022])\s+", r"\1", text)
        expected = unmarked.split()
        assert words == expected, text[:80]


def test_trend_chart_and_posture_table_show_the_same_numbers(tmp_path: Path) -> None:
    """The summary's posture table (the read model) and the chart's latest bar (period_trend)
    count the same requirements, attestations included."""
    from tests.conftest import run_cli

    url = f"sqlite:///{tmp_path / 'trend.db'}"
    make_assessment(url, 2, period="2026-Q3")
    make_assessment(url, 2, period="2026-Q4")
    for req in ("cis-docker-1.8.0:5.9", "nistir-8176:5.2.4"):  # manual parts answered
        run = run_cli(
            "attest", req, "--status", "pass", "--by", "J. T", "--note", "seen",
            "--period", "2026-Q4", db=url,
        )  # fmt: skip
        assert run.code == 0, run.err
    store = open_store(url)
    try:
        data = build(store, load_catalog(), None)
    finally:
        store.close()
    html = render_html(data)
    for fw in data.frameworks:
        drawn = fw.trend[-1].counts[fw.id]
        for status in ("pass", "fail", "error", "waived", "manual"):
            assert drawn.get(status, 0) == fw.counts[status], (fw.id, status)
        judged = sum(fw.counts[s] for s in ("pass", "fail", "error", "waived", "manual"))
        row = f"{fw.counts['pass']} / {fw.counts['fail']} / {judged}"
        assert row in _body(html, "summary"), (fw.id, row)
    cis = next(f for f in data.frameworks if f.id == "cis-docker-1.8.0")
    attested = {r.id: r for r in cis.requirements}
    assert attested["5.9"].attestation is not None and attested["5.9"].status == "pass"
