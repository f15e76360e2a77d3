"""A fleet: the host of a target, each host's latest reading in a period, and the trend over a
fleet counting each host once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from assessor.audit import trend as t
from assessor.audit.fleet import UNKNOWN_HOST, host_of, readings
from assessor.results import Result as EvalResult
from assessor.store import Store, open_store, queries
from assessor.store.models import Assessment
from assessor.vocab import AssessmentStatus, Status

FW = "fw"
SEV = {"r1": "high", "r2": "medium", "r3": "low"}
REFS = {"r1": {FW: ["1.1"]}, "r2": {FW: ["1.2"]}, "r3": {FW: ["1.3"]}}


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
    content: dict[str, list[tuple[str, str]]],
    *,
    scanner: str = "central",
    system: str = "fleet",
    started: datetime | None = None,
    complete: bool = True,
    finished: bool = False,
    unreachable: tuple[str, ...] = (),
) -> int:
    """An assessment of ``content`` (target uri -> [(rule, status)]), collected by ``scanner``;
    not ``complete``: ``finished`` (incomplete, as a scan that missed a target) or not (killed)."""
    aid = queries.create_assessment(store, period, sorted(content), "sha256:x", system=system)
    with store.session() as s:
        row = s.get(Assessment, aid)
        assert row is not None
        row.scanner_host = scanner
        if started is not None:
            row.started = started
        s.commit()
    for uri, rows in content.items():
        results = [
            EvalResult(rule, rule.upper(), SEV[rule], uri, "*", Status(st), st, None, REFS[rule])
            for rule, st in rows
        ]
        status = "unreachable" if uri in unreachable else "collected"
        queries.record_target(store, aid, uri, "host", status=status, identity={}, results=results)
    if complete:
        queries.finish_assessment(store, aid, AssessmentStatus.COMPLETE)
    elif finished:  # ended with a target not reached
        queries.finish_assessment(store, aid, AssessmentStatus.INCOMPLETE)
    return aid


@pytest.mark.parametrize(
    ("uri", "host"),
    [
        ("ssh://root@Web-1.Example:22", "web-1.example"),
        ("ssh://root@web-1.example", "web-1.example"),
        ("engine:ssh://admin@web-1.example:22?socket=/run/d.sock", "web-1.example"),
        ("ssh://root@127.0.0.1:2222", "127.0.0.1:2222"),  # another sshd: another machine
        ("engine:ssh://root@127.0.0.1:2222", "127.0.0.1:2222"),
        ("engine:tcp://10.0.0.7:2376", "10.0.0.7"),  # the engine's port, not the machine's
        ("ssh://[fe80::1]:22", "fe80::1"),
        ("ssh://[fe80::1]:2200", "[fe80::1]:2200"),
        ("ssh://root@h:99999", "scanner"),  # no port that: not a URI to read a host from
        ("host:/", "scanner"),
        ("engine:unix:///var/run/docker.sock", "scanner"),
        ("image:docker://registry.example/app:1", "scanner"),
        ("ssh://[broken", "scanner"),  # not a URI a host can be read from: its scanner's
        ("ssh://", "scanner"),
    ],
)
def test_host_of_a_target(uri: str, host: str) -> None:
    assert host_of(uri, "scanner") == host


def test_host_of_without_a_scanner_host() -> None:
    assert host_of("host:/", None) == UNKNOWN_HOST


def test_each_host_is_read_from_its_latest_reading(store: Store) -> None:
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    ssh = put(
        store,
        "2026-Q4",
        {
            "ssh://root@h1:22": [("r1", "fail")],
            "engine:ssh://root@h1:22": [("r2", "pass")],
            "ssh://root@h2:22": [("r1", "pass")],
        },
        started=t0,
    )
    b1 = put(store, "2026-Q4", {"host:/": [("r1", "fail")]}, scanner="n1", started=t0)
    again = put(store, "2026-Q4", {"ssh://u@H1:22": [("r1", "pass")]}, started=t0 + timedelta(1))
    # stored later but collected earlier (an old bundle ingested late): not the latest reading
    put(store, "2026-Q4", {"host:/": [("r1", "pass")]}, scanner="n1", started=t0 - timedelta(1))
    put(store, "2026-Q4", {"host:/": [("r1", "pass")]}, scanner="n2", complete=False)
    put(store, "2026-Q4", {"host:/": [("r1", "pass")]}, scanner="n3", system="other")
    q3 = put(store, "2026-Q3", {"host:/": [("r1", "pass")]}, scanner="n1")
    with store.session() as s:
        found = readings(s, "fleet", ["2026-Q4", "2026-Q3"])
    q4 = [(r.host, r.assessment_id, len(r.target_ids)) for r in found["2026-Q4"]]
    assert q4 == [("h1", again, 1), ("h2", ssh, 1), ("n1", b1, 1)]
    assert [(r.host, r.assessment_id) for r in found["2026-Q3"]] == [("n1", q3)]
    with store.session() as s:  # as stored up to the first SSH scan, with it as the anchor
        early = readings(s, "fleet", ["2026-Q4"], upto=ssh, anchor=ssh)["2026-Q4"]
    assert [(r.host, len(r.target_ids)) for r in early] == [("h1", 2), ("h2", 1)]


def test_trend_counts_each_host_once_per_period(store: Store) -> None:
    # Q4: three bundles, n1 read twice (the later reading passes); one host fails r3 (low)
    put(store, "2026-Q4", {"host:/": [("r1", "fail"), ("r2", "fail")]}, scanner="n1")
    put(store, "2026-Q4", {"host:/": [("r1", "pass"), ("r3", "fail")]}, scanner="n2")
    last = put(store, "2026-Q4", {"host:/": [("r1", "pass"), ("r2", "pass")]}, scanner="n1")
    a = t.anchor(store, "fleet")
    assert a.id == last
    (p,) = t.period_trend(store, a, [FW])
    assert p.hosts == 2
    assert len(p.assessments) == 2 and p.assessment_id == last
    # n1's earlier failures are superseded; n2's low failure counts (the latest assessment
    # alone would say nothing fails)
    assert p.failures[FW] == {"low": 1}
    assert p.counts[FW]["fail"] == 1  # 1.3
    assert p.counts[FW]["pass"] == 2  # 1.1 (both hosts), 1.2 (n1)
    doc = t.to_json(a, [p], [FW])
    assert doc["periods"][0]["hosts"] == 2
    assert doc["periods"][0]["assessments"] == p.assessments


def test_trend_of_one_assessment_per_period_is_that_assessment(store: Store) -> None:
    content = {
        "ssh://root@h1:22": [("r1", "fail"), ("r2", "pass")],
        "ssh://root@h2:22": [("r3", "fail")],
        "host:/": [("r2", "fail")],
    }
    put(store, "2026-Q3", content)
    b = put(store, "2026-Q4", content)
    row = t.anchor(store, "fleet")
    points = t.period_trend(store, row, [FW])
    with store.session() as s:
        a = s.get(Assessment, b)
        assert a is not None
        alone = t.assessment_point(s, a, [FW], "2026-Q4", points[-1].started)
    assert points[-1].counts == alone.counts and points[-1].failures == alone.failures
    assert points[-1].hosts == 3 and points[-1].assessments == [b]


def test_an_unreachable_latest_reading_stands_for_its_host(store: Store) -> None:
    put(store, "2026-Q4", {"ssh://root@h1:22": [("r1", "fail")]})
    put(store, "2026-Q4", {"ssh://root@h1:22": []}, unreachable=("ssh://root@h1:22",))
    (p,) = t.period_trend(store, t.anchor(store, "fleet"), [FW])
    assert p.hosts == 1
    assert p.failures[FW] == {}


def test_a_scan_that_missed_a_host_is_read_but_a_killed_one_is_not(store: Store) -> None:
    # a scan of two hosts that reached one: incomplete, but finished; it is the latest reading
    # of both (h2 not reached); a scan killed before its end is no reading at all
    put(store, "2026-Q4", {"ssh://root@h1:22": [("r1", "pass")], "ssh://root@h2:22": []})
    last = put(
        store,
        "2026-Q4",
        {"ssh://root@h1:22": [("r1", "fail")], "ssh://root@h2:22": []},
        unreachable=("ssh://root@h2:22",),
        complete=False,
        finished=True,
    )
    put(store, "2026-Q4", {"ssh://root@h1:22": [("r1", "pass")]}, complete=False)  # killed
    with store.session() as s:
        found = readings(s, "fleet", ["2026-Q4"])["2026-Q4"]
    assert [(r.host, r.assessment_id) for r in found] == [("h1", last), ("h2", last)]
    a = t.anchor(store, "fleet")
    assert a.id == last
    (p,) = t.period_trend(store, a, [FW], whole_history=True)
    assert p.hosts == 2 and p.failures[FW] == {"high": 1}
