"""Evidence says what was read, on a real scan: the real dockerd, labelled containers, the
stored assessment read back through ``assessor results --format json`` and the HTML report."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SOCKET, Docker, run_cli

pytestmark = pytest.mark.docker

ENGINE = f"engine:unix://{SOCKET}"


@pytest.fixture(scope="module")
def stored(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The module's scan; its two containers are removed after it."""
    try:
        yield _stored(docker, tmp_path_factory)
    finally:
        docker(
            "rm", "-f", *(f"{n}-{docker.label[:8]}" for n in ("src-good", "src-priv")), check=False
        )


def _stored(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # no network: the judged setting does not need one, and a started container then does not
    # depend on the default bridge (tests of daemon variants may have it down)
    good = docker.create("src-good", "--network", "none", start=True)
    privileged = docker.create("src-priv", "--privileged")  # created only: cannot start here
    folder = tmp_path_factory.mktemp("sources")
    db = f"sqlite:///{folder / 'a.db'}"
    scan = run_cli("scan", ENGINE, db=db)
    assert scan.code in (0, 1), scan.err  # 1: something on this engine fails
    results = run_cli("results", "--format", "json", db=db)
    assert results.code == 0, results.err
    return {
        "results": results.json()["results"],
        "good": good,
        "privileged": privileged,
        "db": db,
        "folder": folder,
    }


def _result(stored: dict[str, Any], rule: str, cid: str) -> dict[str, Any]:
    found = [
        r
        for r in stored["results"]
        if r["rule"] == rule and r["resource"].endswith(f"({cid[:12]})")
    ]
    assert len(found) == 1, [r["resource"] for r in stored["results"] if r["rule"] == rule]
    return found[0]


def test_a_pass_names_the_endpoint_field_and_value(stored: dict[str, Any]) -> None:
    cid = stored["good"]
    r = _result(stored, "container-privileged-disabled", cid)
    assert r["status"] == "pass", r
    assert r["sources"] == [
        f"read: Engine API unix://{SOCKET} GET /containers/{cid[:12]}/json, "
        "field HostConfig.Privileged = false"
    ]


def test_a_fail_names_the_offending_value(stored: dict[str, Any]) -> None:
    cid = stored["privileged"]
    r = _result(stored, "container-privileged-disabled", cid)
    assert r["status"] == "fail", r
    assert r["sources"] == [
        f"read: Engine API unix://{SOCKET} GET /containers/{cid[:12]}/json, "
        "field HostConfig.Privileged = true"
    ]


def test_a_daemon_setting_names_where_the_daemon_took_it_from(stored: dict[str, Any]) -> None:
    (r,) = [x for x in stored["results"] if x["rule"] == "engine-icc-disabled"]
    (line,) = [s for s in r["sources"] if "field daemon.effective.icc = " in s]
    # the collector read dockerd's process here: the value's origin is known, not guessed
    assert (
        "key 'icc'" in line
        or "flag --icc" in line
        or "dockerd's built-in default: no --icc" in line
        or "GET /info (the running daemon's value of icc)" in line
    ), line


def test_every_result_with_evidence_has_a_source_per_declared_path(stored: dict[str, Any]) -> None:
    from assessor.catalog import load_catalog

    catalog = load_catalog()
    for r in stored["results"]:
        if r["evidence"] is None:
            assert r["sources"] == [], r
            continue
        declared = catalog.rules[r["rule"]].evidence
        assert len(r["sources"]) == len(declared), r
        for line, path in zip(r["sources"], declared, strict=True):
            assert line.startswith("read: ") and f", field {path} = " in line, (line, path)
        assert all("no source known" not in s for s in r["sources"]), r


def test_the_report_shows_what_a_finding_read(stored: dict[str, Any]) -> None:
    out = Path(stored["folder"]) / "report.html"
    run = run_cli("report", "--format", "html", "-o", str(out), db=stored["db"])
    assert run.code == 0, run.err
    html = out.read_text()
    cid = stored["privileged"][:12]
    # the finding names where it read (one line per source, the fields read there) and the
    # excerpt the value; resources that failed alike share the finding, so the line names the
    # first of them, and every one of them is listed (appendix B)
    read = re.findall(r"GET /containers/([0-9a-f]{12})/json: HostConfig\.Privileged<", html)
    assert read, "the privileged finding does not say what it read"
    assert "HostConfig.Privileged&#34;: true" in html
    assert cid in html
