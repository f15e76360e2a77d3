"""The fleet report's data (assessor.report.fleet) on SQLite and on PostgreSQL: the same hosts
in the same order, each host's counts equal to what the read model of its assessment says for
its targets, and waivers applied as every other output applies them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assessor import readmodel
from assessor.audit.waivers import WaiverSpec, add_waiver
from assessor.catalog import load_catalog
from assessor.report import fleet
from assessor.report.fleet import FleetRequest, build
from assessor.store import open_store
from assessor.store.models import Assessment
from tests.fleetdata import HostSpec, default_hosts, make_fleet

WAIVED_RULE = "container-memory-limited"


def test_fleet_data_matches_the_read_model_on_both_backends(store_url: str) -> None:
    catalog = load_catalog()
    hosts = default_hosts(4, containers=3, unreachable=1)
    make_fleet(store_url, hosts, catalog=catalog)
    make_fleet(store_url, [HostSpec("ssh-host", "loose", 2)], bundles=False, catalog=catalog)
    # an older SSH scan of host-0000 and of one more host, stored last but read a day before:
    # not host-0000's latest reading (its bundle is), the other host's only one
    late_hosts = [HostSpec(hosts[0].name, "hardened", 1), HostSpec("late-only", "mixed", 1)]
    (late,) = make_fleet(store_url, late_hosts, bundles=False, catalog=catalog)
    store = open_store(store_url)
    try:
        with store.session() as s:
            row = s.get(Assessment, late)
            assert row is not None
            row.started -= timedelta(days=1)
            s.commit()
        with store.session() as s:
            spec = WaiverSpec(
                WAIVED_RULE, "*", "*", "fleet", "accepted", "CISO",
                (datetime.now(UTC) + timedelta(days=30)).date(), None,
            )  # fmt: skip
            add_waiver(s, spec, "cli")
            s.commit()
        data = build(store, catalog, FleetRequest("fleet", "2026-Q4", max_findings=0))
        names = [h.name for h in data.hosts]
        assert sorted(names) == sorted([h.name for h in hosts] + ["ssh-host", "late-only"])
        first = next(h for h in data.hosts if h.name == hosts[0].name)
        assert first.assessment_id != late
        assert data.hosts[-1].name == "host-0003.fleet.test"  # not reached: after every failing
        assert data.hosts[-1].status == "unreachable"
        for h in data.hosts:
            view = readmodel.load(store, catalog, str(h.assessment_id))
            shown = [r for r in view.results if _host(r.target, view, h.name)]
            assert sum(h.counts.values()) == len(shown), h.name
            assert h.counts["waived"] == sum(1 for r in shown if r.status == "waived")
            assert h.counts["fail"] == sum(1 for r in shown if r.status == "fail")
            waived = [f for f in h.findings if f.rule == WAIVED_RULE]
            if h.status != "unreachable" and h.counts["waived"]:
                assert waived and waived[0].status == "waived"
        control = next(c for c in data.controls if c.rule == WAIVED_RULE)
        assert control.hosts["waived"] >= 1 and control.hosts["fail"] == 0
        assert data.point is not None and data.point.hosts == len(data.hosts)
        assert len(data.assessments) == 6 and late in {a.id for a in data.assessments}
        # the trend's period reads the very assessments the report does
        assert data.point.assessments == sorted(a.id for a in data.assessments)
    finally:
        store.close()


def _host(uri: str, view: readmodel.AssessmentView, name: str) -> bool:
    from assessor.audit.fleet import host_of

    return host_of(uri, view.scanner_host) == name


def test_a_pdf_holds_the_worst_hosts_detail_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    make_fleet(url, default_hosts(5, containers=4))
    store = open_store(url)
    try:
        data = build(store, load_catalog(), FleetRequest("fleet", "2026-Q4", max_findings=0))
    finally:
        store.close()
    monkeypatch.setattr(fleet, "PDF_DETAIL_HOSTS", 2)
    fleet.cut_for_pdf(data)
    assert data.detail_hosts == data.hosts[:2]
    assert all(len(f.shown) <= 3 for h in data.detail_hosts for f in h.findings)
    assert any(f.results > len(f.shown) for f in data.detail_hosts[0].findings)
    assert [h.href for h in data.hosts[2:]] == ["", "", ""]  # no link to detail not there
    assert "The other 3 hosts' findings are not in this PDF" in data.detail_note
