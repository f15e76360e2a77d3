"""``assessor diff`` and ``assessor trend`` as a user runs them: every format, and bad input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.reportdata import make_assessment


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two periods of system "pay" (2 then 3 containers), and one of system "web"."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dt') / 'a.db'}"
    make_assessment(url, 2, period="2026-Q3", system="pay")
    make_assessment(url, 1, period="2026-Q3", system="web")
    make_assessment(url, 3, period="2026-Q4", system="pay")
    return url


def no_traceback(err: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2


def test_diff_table_defaults_to_the_last_two_of_the_system(two: str) -> None:
    r = run_cli("diff", db=two)
    assert r.code == 0, r.err
    assert "assessment 1 (2026-Q3, pay" in r.out
    assert "-> 3 (2026-Q4, pay" in r.out
    assert "new failures (7)" in r.out
    assert "bench-00002" in r.out
    assert "7 new failures, 0 fixed" in r.out


def test_diff_json(two: str) -> None:
    r = run_cli("diff", "--format", "json", "--system", "pay", db=two)
    assert r.code == 0, r.err
    doc = r.json()
    assert set(doc) == {
        "before", "after", "summary", "new_failures", "fixed", "targets", "waivers", "catalog",
    }  # fmt: skip
    assert (doc["before"]["id"], doc["after"]["id"]) == (1, 3)
    assert doc["summary"]["new_failures"] == 7
    first = doc["new_failures"][0]
    assert set(first) == {
        "rule", "title", "severity", "target", "resource", "before", "now", "message",
    }  # fmt: skip
    assert first["before"] is None
    assert first["now"] == "fail"
    assert first["resource"].startswith("bench-00002")
    assert doc["targets"] == {"added": [], "removed": []}
    assert doc["catalog"]["changed"] is False
    assert doc["catalog"]["rules_added"] == []
    assert set(doc["waivers"]) == {"known", "no_longer_waived", "newly_waived"}


def test_diff_named_assessments_either_way(two: str) -> None:
    back = run_cli("diff", "3", "1", "--format", "json", db=two).json()
    assert back["summary"]["fixed"] == 7
    assert back["summary"]["new_failures"] == 0
    assert all(f["now"] is None for f in back["fixed"])  # the container went away
    one = run_cli("diff", "3", "--format", "json", db=two).json()
    assert (one["before"]["id"], one["after"]["id"]) == (1, 3)
    # across systems, when named
    other = run_cli("diff", "2", "3", "--format", "json", db=two)
    assert other.code == 0, other.err
    assert other.json()["summary"]["new_failures"] == 14


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("1", "99"), "no assessment '99'"),
        (("nope",), "no assessment 'nope'"),
        (("--system", "web"), "diff needs two complete assessments of system 'web'; found 1"),
        (("2",), "assessment 2 has no earlier complete assessment of the same system"),
        (("--system", "nope"), "no assessment of system 'nope'"),
        (("1", "2", "3"), "at most two assessments"),
        (("1", "--system", "pay"), "do not name them too"),
        (("--format", "csv"), "'csv' is not one of"),
    ],
)
def test_diff_bad_input_exits_2(two: str, args: tuple[str, ...], message: str) -> None:
    r = run_cli("diff", *args, db=two)
    assert r.code == 2, r.out
    assert message in r.err
    assert "Traceback" not in r.err


def test_diff_with_one_assessment_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    make_assessment(url, 1)
    r = run_cli("diff", db=url)
    assert r.code == 2
    assert "diff needs two complete assessments of scope" in r.err
    assert "found 1" in r.err
    no_traceback(r.err)
    empty = run_cli("diff", db=f"sqlite:///{tmp_path / 'empty.db'}")
    assert empty.code == 2
    assert "no assessment stored yet" in empty.err


def test_trend_table(two: str) -> None:
    r = run_cli("trend", db=two)
    assert r.code == 0, r.err
    assert "trend of system pay: 2 period(s)" in r.out
    for fw in ("nistir-8176", "cis-docker-1.8.0", "sp800-190"):
        assert fw in r.out
    assert "2026-Q3" in r.out
    assert "2026-Q4" in r.out
    assert "passed = pass / (pass + fail + error + waived + manual)" in r.out


def test_trend_json(two: str) -> None:
    r = run_cli("trend", "--format", "json", "--framework", "cis-docker-1.8.0", db=two)
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["system"] == "pay"
    assert doc["frameworks"] == ["cis-docker-1.8.0"]
    assert [p["period"] for p in doc["periods"]] == ["2026-Q3", "2026-Q4"]
    assert [p["assessment"] for p in doc["periods"]] == [1, 3]
    q3, q4 = (p["frameworks"]["cis-docker-1.8.0"] for p in doc["periods"])
    assert 0 < q3["share_passed"] < 1
    req = q4["requirements"]
    judged = sum(req[k] for k in ("pass", "fail", "error", "waived", "manual"))
    assert q4["share_passed"] == round(req["pass"] / judged, 4)
    # the same containers fail the same rules: 3 failures per rule now, 2 before
    assert sum(q4["failures"].values()) * 2 == sum(q3["failures"].values()) * 3
    web = run_cli("trend", "--format", "json", "--system", "web", db=two).json()
    assert [p["assessment"] for p in web["periods"]] == [2]
    last = run_cli("trend", "--format", "json", "--periods", "1", db=two).json()
    assert [p["period"] for p in last["periods"]] == ["2026-Q4"]


def test_trend_csv(two: str) -> None:
    r = run_cli("trend", "--format", "csv", db=two)
    assert r.code == 0, r.err
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert len(rows) == 2 * 3  # periods x default frameworks
    assert rows[0]["period"] == "2026-Q3"
    assert rows[0]["framework"] == "nistir-8176"
    wanted = {"share_passed", "requirements_pass", "failures_medium", "waived_results"}
    assert wanted <= set(rows[0])
    assert float(rows[0]["share_passed"]) > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--framework", "nope"), "unknown framework 'nope'"),
        (("--system", "nope"), "no finished assessment of system 'nope'"),
        (("--periods", "0"), "--periods"),
        (("--format", "xml"), "'xml' is not one of"),
    ],
)
def test_trend_bad_input_exits_2(two: str, args: tuple[str, ...], message: str) -> None:
    r = run_cli("trend", *args, db=two)
    assert r.code == 2, r.out
    assert message in r.err
    assert "Traceback" not in r.err


def test_trend_on_an_empty_store(tmp_path: Path) -> None:
    r = run_cli("trend", db=f"sqlite:///{tmp_path / 'empty.db'}")
    assert r.code == 2
    assert "no complete assessment stored yet" in r.err
    no_traceback(r.err)
