"""assessor's and docker-bench-security's verdicts on the same host, engine, images and containers.

The scenario and the comparison are in tests/peer/peer.py (shared with `make compare`); the
verdicts and offender sets of both tools are recorded in tests/peer/verdicts.json and every
difference is explained in tests/peer/explanations.yaml. The tests fail when a difference has
no matching explanation (or an explanation is stale), and when a recorded verdict changes,
naming every changed id. When the change is intended (a fixed rule, another peer version),
look at the page and record it again:

    make compare        # run, record verdicts.json, regenerate docs/peer-comparison.md
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import missing
from tests.peer.peer import (
    VERDICTS_FILE,
    BenchCheck,
    Comparison,
    PeerUnavailable,
    Scenario,
    Staged,
    StagedImage,
    bench_checks,
    compare,
    diff_records,
    explanation_problems,
    load_explanations,
    load_record,
    parse_bench_json,
    peer_offenders,
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
        pytest.fail(f"{VERDICTS_FILE} is missing: record it with `make compare`")
    return diff_records(old, comparison.record())


def _explain(tool: str, lines: list[str]) -> str:
    return (
        f"{len(lines)} {tool} verdict(s) differ from {VERDICTS_FILE.name}:\n  "
        + "\n  ".join(lines)
        + "\nIf intended, re-record: make compare"
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
    sc = comparison.scenario
    assert "5.10" in checks, "docker-bench saw no running container (section 5 skipped)"
    assert peer_offenders(checks["5.10"], sc) == {"hostns"}
    # docker-bench saw our images (-t filters them by label) and the audit rules we loaded
    assert peer_offenders(checks["4.6"], sc) == {"image:plain"}
    assert checks["1.1.6"].result == "PASS", "our watch on /etc/docker was not seen"
    # the well-configured container is listed only where CIS asks what no container can
    # give here: an AppArmor profile (no AppArmor on this kernel), no open port, a ulimit
    listed = {c.id for c in checks.values() if "good" in peer_offenders(c, sc)}
    assert listed <= {"5.2", "5.9", "5.19"}, f"good container listed by docker-bench in {listed}"
    v = comparison.verdicts
    assert v.offenders["4.10"] == {"image:risky"}, "assessor missed the password in ENV"
    assert "privileged-stopped" in v.stopped_offenders.get("5.5", set())
    assert "good-stopped" not in set().union(*v.stopped_offenders.values())
    assert v.running["1.1.6"] == "pass", "assessor did not see our watch on /etc/docker"


@pytest.mark.docker
@pytest.mark.slow
def test_every_difference_is_explained(comparison: Comparison) -> None:
    """A verdict or offender-set difference without a matching entry in explanations.yaml,
    or an entry that no longer matches a difference, fails (as `make compare` does)."""
    problems = explanation_problems(comparison.record(), load_explanations())
    assert not problems, (
        "differences between docker-bench and assessor without a matching explanation in "
        "tests/peer/explanations.yaml:\n  " + "\n  ".join(problems)
    )


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


def test_a_changed_verdict_or_offender_set_is_reported_per_tool() -> None:
    old = {
        "requirements": {
            "5.10": {
                "docker_bench": "WARN",
                "docker_bench_console": "WARN",
                "assessor": "fail",
                "assessor_offenders": ["hostns"],
            }
        },
    }
    new = json.loads(json.dumps(old))
    new["requirements"]["5.10"]["assessor"] = "pass"
    new["requirements"]["5.10"]["assessor_offenders"] = []
    new["requirements"]["5.10"]["docker_bench"] = "PASS"
    d = diff_records(old, new)
    assert d["assessor"] == [
        "5.10 assessor: fail -> pass",
        "5.10 assessor_offenders: ['hostns'] -> []",
    ]
    assert d["docker-bench"] == ["5.10 docker_bench: WARN -> PASS"]


def _scenario() -> Scenario:
    sc = Scenario("0123456789abcdef0123456789abcdef")
    sc.images["plain"] = StagedImage(
        "plain", "assessor-peer/plain:0123456789ab", "sha256:" + "ab" * 32, ""
    )
    sc.containers["hostns"] = Staged("hostns", "peer-hostns-01234567", "cd" * 32, True, (), "")
    return sc


def _check(items: list[str] | None) -> BenchCheck:
    return BenchCheck("5.7", "5.7", "", "WARN", "WARN", None, items)


def test_peer_items_name_our_containers_and_images_only() -> None:
    sc = _scenario()
    items = [
        "peer-hostns-01234567:/etc",  # name:path
        "[assessor-peer/plain:0123456789ab other/image:1]",  # RepoTags
        "peer-other-76543210",  # someone else's
        f"{'cd' * 6}:peer-hostns-01234567",  # 5.30's id:name
    ]
    assert peer_offenders(_check(items), sc) == {"hostns", "image:plain"}
    assert peer_offenders(_check([f"sha256:{'ab' * 32}"]), sc) == {"image:plain"}
    assert peer_offenders(_check(None), sc) == set()


def _entry(**kw: Any) -> dict[str, Any]:
    base = {
        "docker_bench": "WARN",
        "assessor": "fail",
        "agreement": "agree",
        "docker_bench_offenders": ["hostns"],
        "assessor_offenders": ["hostns"],
    }
    return base | kw


def test_explanations_must_match_the_difference_exactly(tmp_path: Any) -> None:
    f = tmp_path / "explanations.yaml"
    f.write_text(
        '"5.7":\n  docker_bench: WARN\n  assessor: fail\n  only_docker_bench: [hostns]\n'
        "  right: assessor\n  why: >-\n    hostns shares the host's PID namespace, so the "
        "peer's ps lists the host's processes and finds another container's sshd.\n"
    )
    exp = load_explanations(f)
    differ = _entry(agreement="offenders differ", assessor_offenders=["sshd"])
    differ["docker_bench_offenders"] = ["hostns", "sshd"]
    assert explanation_problems({"requirements": {"5.7": differ}}, exp) == []
    # the same verdicts, another offender: the explanation no longer matches
    moved = differ | {"assessor_offenders": []}
    (problem,) = explanation_problems({"requirements": {"5.7": moved}}, exp)
    assert "the run gives" in problem and "only docker-bench flags hostns, sshd" in problem
    # the tools now agree: the explanation is stale
    (problem,) = explanation_problems({"requirements": {"5.7": _entry()}}, exp)
    assert "stale" in problem
    # a difference without an entry
    (problem,) = explanation_problems(
        {"requirements": {"5.7": differ, "5.10": _entry(assessor="pass", agreement="disagree")}},
        exp,
    )
    assert problem.startswith("5.10: unexplained")
