"""``assessor controls coverage`` and ``assessor controls diff`` as a user runs them."""

from __future__ import annotations

import csv

from tests.conftest import ROOT, run_cli

COVERAGES = {"automated", "partial", "manual", "not_applicable", "not_covered"}


def cis_1_8_0_ids() -> list[str]:
    """The 118 ids of CIS Docker v1.8.0, as committed in the framework file."""
    import yaml

    doc = yaml.safe_load((ROOT / "controls/frameworks/cis-docker-1.8.0.yaml").read_text())
    return [r["id"] for r in doc["requirements"]]


def test_coverage_json_lists_every_framework_and_requirement() -> None:
    run = run_cli("controls", "coverage", "--format", "json")
    assert run.code == 0, run.err
    doc = run.json()
    assert set(doc) == {"frameworks"}
    frameworks = {f["id"]: f for f in doc["frameworks"]}
    assert {"cis-docker-1.6.0", "cis-docker-1.8.0"} <= set(frameworks)
    for f in doc["frameworks"]:
        assert set(f) == {"id", "title", "summary", "requirements"}
        assert set(f["summary"]) == COVERAGES
        assert sum(f["summary"].values()) == len(f["requirements"])
        for req in f["requirements"]:
            assert set(req) == {"id", "title", "coverage", "rules"}
            assert req["coverage"] in COVERAGES
            assert isinstance(req["rules"], list)
            if not req["rules"]:
                assert req["coverage"] in ("not_covered", "not_applicable", "manual")
    cis = frameworks["cis-docker-1.8.0"]
    ids = [r["id"] for r in cis["requirements"]]
    assert ids == cis_1_8_0_ids()
    assert len(ids) == 118 and "2.7" in ids and "5.32" in ids
    reference = ROOT.parent / "shared/reference/cis-docker-1.8.0.csv"
    if reference.exists():  # the shared reference, where this checkout has it
        with reference.open(encoding="utf-8") as f:
            assert ids == [row["id"] for row in csv.DictReader(f)]
    by_id = {r["id"]: r for r in cis["requirements"]}
    assert "container-privileged-disabled" in by_id["5.5"]["rules"]
    assert by_id["5.5"]["coverage"] in ("automated", "partial")


def test_coverage_framework_filter_and_table() -> None:
    run = run_cli("controls", "coverage", "--framework", "cis-docker-1.6.0", "--format", "json")
    assert run.code == 0, run.err
    (only,) = run.json()["frameworks"]
    assert only["id"] == "cis-docker-1.6.0" and len(only["requirements"]) == 117
    table = run_cli("controls", "coverage", "--framework", "cis-docker-1.8.0")
    assert table.code == 0, table.err
    assert "cis-docker-1.8.0" in table.out and "cis-docker-1.6.0" not in table.out
    assert "not_covered" in table.out and "container-privileged-disabled" in table.out
    assert "\x1b[" not in table.out  # piped: no colour codes


def test_coverage_unknown_framework_is_a_one_line_usage_error() -> None:
    run = run_cli("controls", "coverage", "--framework", "cis-docker-9.9")
    assert run.code == 2
    assert run.out == ""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert "no framework 'cis-docker-9.9'" in lines[0]
    assert "cis-docker-1.6.0" in lines[0] and "cis-docker-1.8.0" in lines[0]


def test_diff_cis_1_6_0_to_1_8_0() -> None:
    run = run_cli("controls", "diff", "cis-docker-1.6.0", "cis-docker-1.8.0", "--format", "json")
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["from"]["id"] == "cis-docker-1.6.0" and doc["to"]["id"] == "cis-docker-1.8.0"
    assert [(r["from"], r["to"]) for r in doc["renumbered"]] == [
        (f"2.{n}", f"2.{n + 1}") for n in range(7, 19)
    ]
    assert {r["matched_by"] for r in doc["renumbered"]} == {"link"}
    assert [r["id"] for r in doc["added"]] == ["2.7"]
    assert "devicemapper" in doc["added"][0]["title"]
    assert doc["removed"] == []
    assert [(r["from"], r["to"]) for r in doc["retitled"]] == [("1.1.9", "1.1.9")]
    assert doc["summary"]["unchanged"] == 117 - 12 - 1

    back = run_cli("controls", "diff", "cis-docker-1.8.0", "cis-docker-1.6.0", "--format", "json")
    assert [r["id"] for r in back.json()["removed"]] == ["2.7"]
    assert back.json()["added"] == []

    table = run_cli("controls", "diff", "cis-docker-1.6.0", "cis-docker-1.8.0")
    assert table.code == 0, table.err
    assert "renumbered (12)" in table.out and "added (1)" in table.out
    assert table.out.rstrip().endswith("1 added, 0 removed")


def test_diff_unknown_framework() -> None:
    run = run_cli("controls", "diff", "cis-docker-1.6.0", "nope")
    assert run.code == 2
    assert len(run.err.strip().splitlines()) == 1
    assert "no framework 'nope' (known: " in run.err


def test_help_names_the_commands() -> None:
    run = run_cli("controls", "--help")
    assert run.code == 0
    for cmd in ("list", "show", "validate", "coverage", "diff", "schema"):
        assert cmd in run.out
