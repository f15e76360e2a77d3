"""Waivers and attestations: matching, activity, expiry, revocation, frozen snapshots, the
reviewed YAML file's errors, and what a report makes of them."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from assessor.audit.attestations import (
    AttestationSpec,
    add_attestation,
    attestations_for,
    read_attachment,
    read_evidence,
    resolve_requirement,
)
from assessor.audit.waivers import (
    WaiverSpec,
    add_waiver,
    applied_waivers,
    check_spec,
    expired_waivers,
    import_waivers,
    read_waivers_file,
    revoke,
)
from assessor.catalog import load_catalog
from assessor.errors import AssessorError, ControlDefinitionError
from assessor.store import Store, open_store
from assessor.store.models import Assessment, Attachment, Result, Waiver
from tests.reportdata import ENGINE, make_assessment

RULE = "container-memory-limited"
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
CATALOG = load_catalog()


@pytest.fixture
def store(store_url: str) -> Store:
    """An assessment of 3 containers, on SQLite and on PostgreSQL."""
    url = store_url
    make_assessment(url, 3)
    s = open_store(url)
    yield s  # type: ignore[misc]
    s.close()


def spec(**kw: object) -> WaiverSpec:
    base: dict[str, object] = {
        "rule": RULE,
        "resource": "*",
        "target": "*",
        "system": None,
        "reason": "batch jobs size themselves",
        "approver": "ciso",
        "expires": date(2026, 12, 31),
        "compensating": None,
    }
    base.update(kw)
    return WaiverSpec(**base)  # type: ignore[arg-type]


def waive(store: Store, created: datetime = NOW - timedelta(days=1), **kw: object) -> int:
    with store.session() as s:
        row, _ = add_waiver(s, spec(**kw), "test", now=created)
        s.commit()
        return row.id


def applied(store: Store, at: datetime = NOW) -> dict[int, dict[str, object]]:
    with store.session() as s:
        a = s.get(Assessment, 1)
        assert a is not None
        return applied_waivers(s, a, at)


def fail_ids(store: Store, rule: str = RULE) -> dict[str, int]:
    """resource -> result id of the rule's fails."""
    with store.session() as s:
        rows = s.execute(
            select(Result.resource, Result.id).where(Result.rule == rule, Result.status == "fail")
        )
        return {res: int(i) for res, i in rows}


def test_waiver_covers_only_its_rule_and_matching_resources(store: Store) -> None:
    fails = fail_ids(store)
    assert len(fails) == 3
    wid = waive(store, resource="bench-0000[01]*")
    got = applied(store)
    covered = {res for res, rid in fails.items() if rid in got}
    assert covered == {r for r in fails if r.startswith(("bench-00000", "bench-00001"))}
    assert {w["id"] for w in got.values()} == {wid}
    w = next(iter(got.values()))
    assert w["expires"] == "2026-12-31T23:59:59Z" and w["approver"] == "ciso"
    assert set(w) == {
        "id",
        "rule",
        "resource_pattern",
        "target_pattern",
        "system",
        "reason",
        "approver",
        "compensating",
        "expires",
        "source",
        "created",
    }
    assert w["created"].endswith("Z") and w["created"] <= w["expires"]  # the recorded date
    # other rules' fails of the same resources stay failed
    other = fail_ids(store, "container-no-new-privileges")
    assert other and not set(other.values()) & set(got)


def test_target_pattern_and_system_must_match(store: Store) -> None:
    waive(store, target="engine:tcp://*")
    waive(store, system="payments")
    assert applied(store) == {}
    waive(store, target=ENGINE.replace("/var/run", "/var/*"), reason="another")
    assert len(applied(store)) == 3


def test_pass_results_are_never_waived(store: Store) -> None:
    waive(store, rule="container-host-network-not-shared")
    assert applied(store) == {}


def test_expiry_is_the_end_of_the_day(store: Store) -> None:
    waive(store, expires=date(2026, 11, 15))
    assert len(applied(store, datetime(2026, 11, 15, 23, 59, 58, tzinfo=UTC))) == 3
    assert applied(store, datetime(2026, 11, 16, 0, 0, 1, tzinfo=UTC)) == {}


def test_a_waiver_does_not_apply_before_it_was_created(store: Store) -> None:
    waive(store, created=NOW + timedelta(hours=1))
    assert applied(store) == {}
    assert len(applied(store, NOW + timedelta(hours=2))) == 3


def test_revocation_stops_it_from_then_on(store: Store) -> None:
    wid = waive(store)
    with store.session() as s:
        revoke(s, wid, "ciso", "no longer accepted")
        s.commit()
        with pytest.raises(AssessorError, match="already revoked"):
            revoke(s, wid, "ciso", "again")
        with pytest.raises(AssessorError, match="no waiver 99"):
            revoke(s, 99, "ciso", "x")
    assert applied(store, datetime.now(UTC) + timedelta(seconds=1)) == {}
    assert len(applied(store, datetime.now(UTC) - timedelta(minutes=5))) == 3


def test_expired_waivers_are_listed_unless_another_covers(store: Store) -> None:
    old = waive(store, created=NOW - timedelta(days=90), expires=date(2026, 10, 31))
    with store.session() as s:
        a = s.get(Assessment, 1)
        assert a is not None
        listed = expired_waivers(s, a, NOW)
    assert [(w["id"], w["results"]) for w in listed] == [(old, 3)]
    assert applied(store) == {}
    waive(store, reason="renewed")
    with store.session() as s:
        a = s.get(Assessment, 1)
        assert a is not None
        assert expired_waivers(s, a, NOW) == []


def test_finalised_assessment_reads_its_frozen_snapshot(store: Store) -> None:
    fails = fail_ids(store)
    rid = next(iter(fails.values()))
    frozen_w = {"id": 77, "rule": RULE, "reason": "frozen", "approver": "x", "expires": "Z"}
    frozen_a = [{"id": 5, "framework": "nistir-8176", "requirement": "5.2.4", "status": "pass"}]
    waive(store)  # a live waiver that must be ignored
    with store.session() as s:
        a = s.get(Assessment, 1)
        assert a is not None
        a.frozen = {"waivers": {str(rid): frozen_w}, "attestations": frozen_a}
        a.finalised_at = NOW
        s.commit()
        assert applied_waivers(s, a, NOW) == {rid: frozen_w}
        assert attestations_for(s, a, NOW) == frozen_a


def test_identical_waivers_are_not_duplicated(store: Store) -> None:
    first = waive(store)
    assert waive(store) == first
    assert waive(store, reason="different") != first
    with store.session() as s:
        assert len(list(s.scalars(select(Waiver)))) == 2


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"reason": "  "}, "reason must not be empty"),
        ({"approver": ""}, "approver must not be empty"),
        ({"expires": date(2026, 11, 14)}, "in the past"),
        ({"expires": date(2027, 11, 17)}, "more than 366 days"),
        ({"rule": "no-such-rule"}, "no rule 'no-such-rule'"),
    ],
)
def test_check_spec_refuses(kw: dict[str, object], message: str) -> None:
    with pytest.raises(AssessorError, match=message):
        check_spec(spec(**kw), CATALOG, today=NOW.date())


def test_check_spec_allows_long_on_request() -> None:
    check_spec(spec(expires=date(2027, 11, 16)), CATALOG, today=NOW.date())
    check_spec(spec(expires=date(2029, 1, 1)), CATALOG, today=NOW.date(), allow_long=True)


# --- the waivers file -------------------------------------------------------------------------

GOOD = f"""\
# reviewed by the security board
- rule: {RULE}
  resource: "bench-*"
  reason: batch jobs size themselves
  approver: ciso
  expires: 2026-12-31
  compensating: cgroup quota on the node
- rule: container-no-new-privileges
  system: payments
  reason: legacy image
  approver: ciso
  expires: "2026-12-01"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "waivers.yaml"
    p.write_text(text)
    return p


def test_waivers_file_is_read_with_sources(tmp_path: Path) -> None:
    items = read_waivers_file(write(tmp_path, GOOD), CATALOG, NOW.date())
    assert [i.spec.rule for i in items] == [RULE, "container-no-new-privileges"]
    assert items[0].spec.resource == "bench-*" and items[0].spec.target == "*"
    assert items[0].spec.compensating == "cgroup quota on the node"
    assert items[1].spec.system == "payments" and items[1].spec.expires == date(2026, 12, 1)
    assert items[0].source.endswith("waivers.yaml:2") and items[1].source.endswith(":8")


def test_waivers_mapping_form(tmp_path: Path) -> None:
    text = "waivers:\n" + "".join("  " + line + "\n" for line in GOOD.splitlines())
    items = read_waivers_file(write(tmp_path, text), CATALOG, NOW.date())
    assert len(items) == 2 and items[1].source.endswith(":9")


@pytest.mark.parametrize(
    ("text", "line", "field", "problem"),
    [
        (GOOD + "  colour: red\n", 13, "[1].colour", "unknown key"),
        (
            GOOD.replace("  approver: ciso\n  expires: 2026-12-31\n", ""),
            2,
            "[0].approver",
            "missing",
        ),
        (
            GOOD.replace("reason: legacy image", "reason: '  '"),
            10,
            "[1].reason",
            "must not be empty",
        ),
        (GOOD.replace("expires: 2026-12-31", "expires: 20261231"), 6, "[0].expires", "YYYY-MM-DD"),
        (
            GOOD.replace("expires: 2026-12-31", "expires: 2026-13-01"),
            6,
            "[0].expires",
            "invalid date",
        ),
        (GOOD.replace("expires: 2026-12-31", "expires: 2029-12-31"), 6, "[0].expires", "366 days"),
        (GOOD.replace(f"rule: {RULE}", "rule: nope"), 2, "[0].rule", "no rule 'nope'"),
        (GOOD.replace("approver: ciso", "approver: 42", 1), 5, "[0].approver", "string"),
        (
            GOOD.replace("system: payments", "system: payments\n  system: other"),
            10,
            "system",
            "duplicate",
        ),
    ],
)
def test_waivers_file_errors_name_file_line_field(
    tmp_path: Path, text: str, line: int, field: str, problem: str
) -> None:
    with pytest.raises(ControlDefinitionError) as e:
        read_waivers_file(write(tmp_path, text), CATALOG, NOW.date())
    assert e.value.path.endswith("waivers.yaml")
    assert (e.value.line, e.value.field) == (line, field)
    assert problem in e.value.problem
    assert f"waivers.yaml:{line}: {field}" in e.value.message


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("rule: x\n", 1, "expected a list of waivers"),
        ("- rule: [\n", 2, "invalid YAML"),
        ("- 1\n", 1, "valid dictionary"),
    ],
)
def test_waivers_file_shape_errors(tmp_path: Path, text: str, line: int, problem: str) -> None:
    with pytest.raises(ControlDefinitionError) as e:
        read_waivers_file(write(tmp_path, text), CATALOG, NOW.date())
    assert e.value.line == line and problem in e.value.problem


def test_allow_long_per_entry(tmp_path: Path) -> None:
    text = GOOD.replace("expires: 2026-12-31", "expires: 2029-12-31\n  allow_long: true")
    assert (
        read_waivers_file(write(tmp_path, text), CATALOG, NOW.date())[0].spec.expires.year == 2029
    )


def test_import_keeps_identical_waivers_once_and_warns_on_expired(
    store: Store, tmp_path: Path
) -> None:
    items = read_waivers_file(write(tmp_path, GOOD), CATALOG, NOW.date())
    with store.session() as s:
        first = import_waivers(s, items, NOW.date())
        s.commit()
        again = import_waivers(s, items, NOW.date())
        s.commit()
        later = import_waivers(s, items, date(2026, 12, 15))
        assert len(list(s.scalars(select(Waiver)))) == 2
    assert len(first.added) == 2 and not first.existing and not first.warnings
    assert not again.added and again.existing == first.added
    assert len(later.warnings) == 1 and "expired on 2026-12-01" in later.warnings[0]


# --- attestations -----------------------------------------------------------------------------


def attest(store: Store, created: datetime = NOW, **kw: object) -> int:
    base: dict[str, object] = {
        "framework": "cis-docker-1.8.0",
        "requirement": "5.9",
        "system": None,
        "period": "2026-Q4",
        "status": "pass",
        "by": "jane",
        "note": "ports reviewed",
        "expires": None,
    }
    base.update(kw)
    with store.session() as s:
        row = add_attestation(
            s,
            AttestationSpec(**base),
            [("ports.txt", b"80/tcp\n")],
            now=created,  # type: ignore[arg-type]
        )
        s.commit()
        return row.id


def attested(store: Store, at: datetime = NOW + timedelta(days=1)) -> list[dict[str, object]]:
    with store.session() as s:
        a = s.get(Assessment, 1)
        assert a is not None
        return attestations_for(s, a, at)


def test_attestations_match_system_and_period_newest_wins(store: Store) -> None:
    attest(store, period="2026-Q3")
    attest(store, system="payments")
    assert attested(store) == []
    first = attest(store)
    newest = attest(store, created=NOW + timedelta(hours=1), status="fail", note="port 22 open")
    got = attested(store)
    assert [(a["id"], a["status"]) for a in got] == [(newest, "fail")]
    sha = hashlib.sha256(b"80/tcp\n").hexdigest()
    assert got[0]["evidence"] == [{"name": "ports.txt", "sha256": sha, "size": 7}]
    # before the newer one was made, the first one stood
    assert [a["id"] for a in attested(store, NOW + timedelta(minutes=1))] == [first]


def test_expired_attestation_no_longer_counts(store: Store) -> None:
    attest(store, expires=datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC))
    assert len(attested(store, datetime(2026, 11, 20, 12, tzinfo=UTC))) == 1
    assert attested(store, datetime(2026, 11, 21, tzinfo=UTC)) == []


def test_evidence_is_stored_once_by_hash(store: Store, tmp_path: Path) -> None:
    attest(store)
    attest(store, requirement="5.2.4", framework="nistir-8176")
    with store.session() as s:
        rows = list(s.scalars(select(Attachment)))
        assert len(rows) == 1 and rows[0].size == 7
        assert read_attachment(s, rows[0].sha256) == b"80/tcp\n"
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 11)
    with pytest.raises(AssessorError, match="larger than"):
        read_evidence(big, limit=10)
    assert read_evidence(big, limit=11) == ("big.bin", b"x" * 11)


def test_attestation_input_is_checked(store: Store) -> None:
    with pytest.raises(AssessorError, match="--note must not be empty"):
        attest(store, note=" ")
    with pytest.raises(AssessorError, match="in the past"):
        attest(store, expires=NOW - timedelta(days=1))


@pytest.mark.parametrize(
    ("requirement", "framework", "expected"),
    [
        ("nistir-8176:5.2.4", None, ("nistir-8176", "5.2.4")),
        ("5.9", "cis-docker-1.8.0", ("cis-docker-1.8.0", "5.9")),
        ("cis-docker-1.8.0:5.9", "cis-docker-1.8.0", ("cis-docker-1.8.0", "5.9")),
    ],
)
def test_resolve_requirement(requirement: str, framework: str | None, expected: object) -> None:
    assert resolve_requirement(CATALOG, requirement, framework) == expected


@pytest.mark.parametrize(
    ("requirement", "framework", "message"),
    [
        ("5.9", None, "give FRAMEWORK:ID"),
        ("nope:5.9", None, "no framework 'nope'"),
        ("cis-docker-1.8.0:99.99", None, "no requirement '99.99'"),
        ("cis-docker-1.8.0:5.11", None, "automated"),
        ("cis-docker-1.8.0:5.9", "nistir-8176", "names framework"),
    ],
)
def test_resolve_requirement_refuses(requirement: str, framework: str | None, message: str) -> None:
    with pytest.raises(AssessorError, match=message):
        resolve_requirement(CATALOG, requirement, framework)


# --- the report -------------------------------------------------------------------------------


def _req(data: object, fw: str, rid: str) -> object:
    for f in data.frameworks:  # type: ignore[attr-defined]
        if f.id == fw:
            for sec in f.sections:
                for req in sec.requirements:
                    if req.id == rid:
                        return req
    raise AssertionError(rid)


def test_report_rolls_up_waived_and_attested(store: Store) -> None:
    from assessor.report.data import build

    before = build(store, CATALOG, None)
    assert _req(before, "cis-docker-1.8.0", "5.11").status == "fail"  # type: ignore[attr-defined]
    assert _req(before, "cis-docker-1.8.0", "5.9").status == "manual"  # type: ignore[attr-defined]
    wid = waive(store, created=datetime.now(UTC) - timedelta(days=1), expires=date.max)
    attest(store, created=datetime.now(UTC) - timedelta(minutes=1))
    after = build(store, CATALOG, None)
    req = _req(after, "cis-docker-1.8.0", "5.11")
    assert req.status == "waived"  # type: ignore[attr-defined]
    findings = req.rules[0].findings  # type: ignore[attr-defined]
    assert {f.status for f in findings} == {"waived"}
    assert all(f.waiver["id"] == wid for f in findings)
    att_req = _req(after, "cis-docker-1.8.0", "5.9")
    assert att_req.status == "pass"  # type: ignore[attr-defined]
    assert att_req.attestation.by == "jane"  # type: ignore[attr-defined]
    assert [w.results for w in after.waivers] == [3]
    assert after.counts["waived"] == 3 and "fail" in after.counts
    assert len(after.attestations) == 1
