"""assessor's and docker-bench-security's verdicts on the same host, engine and containers.

The scenario and the comparison are in tests/peer/peer.py; the verdicts of both tools are
recorded in tests/peer/verdicts.json. A test fails when a recorded verdict changes, naming
every changed id. When the change is intended (a new rule, a fixed collector, another peer
version), look at the table and record it again:

    .venv/bin/python -m tests.peer.compare --markdown     # side by side, with the reasons
    .venv/bin/python -m tests.peer.compare --write        # record the current verdicts
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import missing
from tests.peer.peer import (
    VERDICTS_FILE,
    Comparison,
    PeerUnavailable,
    bench_checks,
    compare,
    diff_records,
    load_record,
    parse_bench_json,
    v1_6_0_to_v1_8_0,
)


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    try:
        return compare()
    except PeerUnavailable as e:
        missing(str(e))
        raise


@pytest.fixture(scope="module")
def changes(comparison: Comparison) -> dict[str, list[str]]:
    old = load_record()
    if old is None:
        pytest.fail(
            f"{VERDICTS_FILE} is missing: record it with "
            "`.venv/bin/python -m tests.peer.compare --write`"
        )
    return diff_records(old, comparison.record())


def _explain(tool: str, lines: list[str]) -> str:
    return (
        f"{len(lines)} {tool} verdict(s) differ from {VERDICTS_FILE.name}:\n  "
        + "\n  ".join(lines)
        + "\nIf intended, re-record: .venv/bin/python -m tests.peer.compare --write"
    )


@pytest.mark.docker
@pytest.mark.slow
def test_docker_bench_wall_time(
    comparison: Comparison, changes: dict[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print(
            f"\n[peer] docker-bench-security wall time: {comparison.bench.wall:.2f} s; "
            f"assessor scan: {comparison.assessor.wall:.2f} s "
            f"({len(comparison.scenario.running())} running scenario containers; "
            f"{comparison.containers_on_daemon} containers on the daemon)"
        )
        for line in changes["ambient"]:
            print(f"[peer] changed, not failed on: {line}")
    assert comparison.bench.wall > 0


@pytest.mark.docker
@pytest.mark.slow
def test_scenario_was_judged_by_both(comparison: Comparison) -> None:
    """Guard against a harness that silently compares nothing."""
    checks = comparison.bench.checks
    assert "5.10" in checks, "docker-bench saw no running container (section 5 skipped)"
    hostns = comparison.scenario.containers["hostns"].name
    assert checks["5.10"].result == "WARN" and hostns in (checks["5.10"].items or [])
    # the well-configured container is listed only where CIS asks what no container can
    # give here: an AppArmor profile (no AppArmor on this kernel), no open port, a ulimit
    good = comparison.scenario.containers["good"].name
    listed = {c.id for c in checks.values() if any(good in i.split(":") for i in c.items or [])}
    assert listed <= {"5.2", "5.9", "5.19"}, f"good container listed by docker-bench in {listed}"
    roles = set(comparison.verdicts.per_container)
    assert set(comparison.scenario.containers) <= roles, f"assessor judged only {roles}"


@pytest.mark.docker
@pytest.mark.slow
def test_docker_bench_verdicts_unchanged(changes: dict[str, list[str]]) -> None:
    lines = changes["docker-bench"]
    assert not lines, _explain("docker-bench", lines)


@pytest.mark.docker
@pytest.mark.slow
def test_assessor_verdicts_unchanged(changes: dict[str, list[str]]) -> None:
    lines = changes["assessor"]
    assert not lines, _explain("assessor", lines)


# ---------------------------------------------------------------------------------------------
# The parsing, without Docker


def test_v1_6_0_ids_map_to_v1_8_0() -> None:
    assert v1_6_0_to_v1_8_0("2.6") == "2.6"
    assert v1_6_0_to_v1_8_0("2.7") == "2.8"
    assert v1_6_0_to_v1_8_0("2.18") == "2.19"
    assert v1_6_0_to_v1_8_0("1.2.7") == "1.2.7"
    assert v1_6_0_to_v1_8_0("5.30") == "5.30"


def test_unescaped_bench_json_is_repaired_and_console_markers_are_kept() -> None:
    raw = (
        '{\n  "dockerbenchsecurity": "1.6.0",\n  "start": 1,\n  "tests": [\n    {\n'
        '      "id": "2",\n      "desc": "Docker daemon configuration",\n      "results": [\n'
        '        {\n          "id": "2.1",\n          "desc": "Run the Docker daemon as a '
        'non-root user, if possible (Manual)",\n          "result": "INFO"\n        },\n'
        '        {\n          "id": "2.18",\n          "desc": "Ensure that experimental '
        'features are not implemented in production (Scored)",\n          "result": "INFO"'
        '\n        },\n        {\n          "id": "2.9",\n          "desc": "Enable user '
        'namespace support (Scored)",\n          "result": "WARN",\n          "details": '
        '"a "quoted" \\ value: x y",\n          "items": [\n            "x","y"\n'
        '          ]\n        }\n      ]\n    }\n  ],\n  "checks": 3,\n  "score": 0,\n'
        '  "end": 2\n}'
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    doc, repaired = parse_bench_json(raw)
    assert repaired
    log = (
        "[NOTE] 2.1 - Run the Docker daemon as a non-root user, if possible (Manual)\n"
        "[INFO] Ensure that experimental features are not implemented in production "
        "(Scored) (Deprecated)\n"
        "[WARN] 2.9 - Enable user namespace support (Scored)\n"
    )
    checks: dict[str, Any] = bench_checks(doc, log)
    assert checks["2.1"].result == "INFO" and checks["2.1"].console == "NOTE"
    assert checks["2.19"].id == "2.18" and checks["2.19"].console == "INFO"
    assert checks["2.10"].details == 'a "quoted" \\ value: x y'
    assert checks["2.10"].items == ["x", "y"]


def test_a_changed_verdict_is_reported_per_tool() -> None:
    old = {
        "requirements": {
            "5.10": {"docker_bench": "WARN", "docker_bench_console": "WARN", "assessor": "fail"}
        },
        "containers": {
            "good": {"verdicts": {"5.10": {"docker_bench": "PASS", "assessor": "pass"}}}
        },
    }
    new = json.loads(json.dumps(old))
    new["requirements"]["5.10"]["assessor"] = "pass"
    new["containers"]["good"]["verdicts"]["5.10"]["docker_bench"] = "WARN"
    d = diff_records(old, new)
    assert d["assessor"] == ["5.10 assessor: fail -> pass"]
    assert d["docker-bench"] == ["container good 5.10: PASS -> WARN"]
