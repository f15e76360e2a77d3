"""export --format junit: JUnit XML a JUnit reader (junitparser) counts as the stored results,
a failure per failing result with its message, hostile text escaped, same bytes.

No JUnit XSD is available offline (none ships with junitparser, pytest or the system), so the
shape is checked by junitparser and lxml only."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from lxml import etree

from assessor.catalog import load_catalog
from assessor.export.data import ExportData, ExportResult, ExportTarget, iso, load
from assessor.export.junit import render_junit
from assessor.store import open_store
from tests.conftest import Exported
from tests.reportdata import make_assessment

HOSTILE = "\"><x a='1'>&amp;\x00\x01\x1b[31m\u202e\ufffe\ud7ff😀 ]]> \\n\r\n\t<!--"
# what XML 1.0 can hold of it: NUL, SOH, ESC and U+FFFE dropped; \r\n kept (escaped by lxml)
HOSTILE_XML = "\"><x a='1'>&amp;[31m\u202e\ud7ff😀 ]]> \\n\r\n\t<!--"
# a resource or message as the store keeps it (NUL written as the text \x00), and in XML
STORED = HOSTILE.replace("\x00", "\\x00")
STORED_XML = HOSTILE_XML.replace("&amp;", "&amp;\\x00")


@pytest.fixture(scope="module")
def junit(exported: Exported) -> Path:
    return exported.export("junit", "a.xml")


def stored(exported: Exported) -> list[dict[str, Any]]:
    r = exported.cli("results", exported.id, "--format", "json")
    assert r.code == 0, r.err
    out: list[dict[str, Any]] = r.json()["results"]
    return out


def export_data(exported: Exported) -> ExportData:
    store = open_store(exported.db)
    try:
        return load(store, load_catalog(), exported.id)
    finally:
        store.close()


def test_counts_are_the_stored_counts(junit: Path, exported: Exported) -> None:
    xml = JUnitXml.fromfile(str(junit))
    results = stored(exported)
    by_status = Counter(r["status"] for r in results)
    targets = export_data(exported).targets
    extra = sum(1 for t in targets if t.status != "collected")  # one error test case each
    expected = {
        "tests": len(results) + extra,
        "failures": by_status["fail"],
        "errors": by_status["error"] + extra,
        "skipped": by_status["not_applicable"] + by_status["manual"] + by_status["waived"],
    }
    assert expected["failures"] > 0 and by_status["waived"] > 0
    assert {k: getattr(xml, k) for k in expected} == expected
    # the elements agree with the attributes, suite by suite and in total
    seen: Counter[str] = Counter()
    suites = list(xml)
    assert [s.name for s in suites] == [t.uri for t in targets]
    for suite in suites:
        kinds: Counter[str] = Counter()
        n = 0
        for case in suite:
            n += 1
            for res in case.result:
                kinds[type(res).__name__] += 1
        assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (
            n, kinds["Failure"], kinds["Error"], kinds["Skipped"]
        )  # fmt: skip
        seen.update(kinds)
        seen["tests"] += n
    assert (seen["tests"], seen["Failure"], seen["Error"], seen["Skipped"]) == tuple(
        expected.values()
    )


def test_each_failure_carries_its_message(junit: Path, exported: Exported) -> None:
    xml = JUnitXml.fromfile(str(junit))
    # each case's properties name its rule and resource (its name is "RULE [RESOURCE]")
    judged = {
        (c.get("classname"), c.get("name")): {
            p.get("name"): p.get("value") for p in c.iter("property")
        }
        for c in etree.parse(str(junit)).getroot().iter("testcase")
    }
    cases = {}
    for suite in xml:
        for case in suite:
            props = judged[(case.classname, case.name)]
            assert case.name.startswith(f"{props['rule']} [")
            cases[(suite.name, props["rule"], props["resource"])] = case
    catalog = load_catalog()
    results = stored(exported)
    for r in results:
        case = cases[(r["target"], r["rule"], r["resource"])]
        if r["status"] == "fail":
            (failure,) = case.result
            assert isinstance(failure, Failure)
            assert failure.message == r["message"] and failure.type == r["severity"]
            assert failure.text.startswith(r["message"] + "\n")
            assert catalog.rules[r["rule"]].remediation.strip() in failure.text
        elif r["status"] == "waived":
            (skipped,) = case.result
            assert isinstance(skipped, Skipped)
            w = r["waiver"]
            assert skipped.message == (
                f"waived: {w['reason']} ({w['approver']}, expires {w['expires'][:10]})"
            )
            assert skipped.message.startswith('waived: accepted <risk> & "quoted" (CISO, ')
        elif r["status"] in ("not_applicable", "manual"):
            (skipped,) = case.result
            assert isinstance(skipped, Skipped) and r["message"] in skipped.message
        elif r["status"] == "pass":
            assert case.is_passed and not case.result
    assert len(cases) == len(results)


def test_suites_describe_targets_and_the_assessment(junit: Path, exported: Exported) -> None:
    root = etree.parse(str(junit)).getroot()
    assert root.tag == "testsuites" and root.get("name") == "assessor"
    a = exported.cli("results", exported.id, "--format", "json").json()["assessment"]
    started = datetime.fromisoformat(a["started"]).astimezone(UTC).replace(tzinfo=None)
    for suite in root.iter("testsuite"):
        # xs:dateTime without a zone (Ant/Jenkins schemas): the assessment's start in UTC
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp", ""))
        assert suite.get("timestamp") == started.replace(microsecond=0).isoformat()
        assert suite[0].tag == "properties"  # first, as the schemas order it
        props = {p.get("name"): p.get("value") for p in suite[0]}
        assert props["assessment.uuid"] == a["uuid"]
        assert props["assessment.period"] == a["period"]
        assert props["assessment.system"] == "export-test"
        if suite.get("name") == "host:/":
            assert suite.get("hostname") == props["identity.hostname"]
        for case in suite.iter("testcase"):
            assert case.get("classname") == suite.get("name")  # the target URI


def test_same_assessment_same_bytes(exported: Exported) -> None:
    a = exported.export("junit", "d1.xml").read_bytes()
    b = exported.export("junit", "d2.xml").read_bytes()
    assert a == b and a.startswith(b"<?xml")


def test_hostile_text_is_escaped_exactly(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hostile.db'}"
    aid, fails = make_assessment(db, 2, label=HOSTILE, system=HOSTILE)
    store = open_store(db)
    try:
        data = load(store, load_catalog(), str(aid))
    finally:
        store.close()
    out = tmp_path / "hostile.xml"
    out.write_bytes(render_junit(data))
    root = etree.parse(str(out)).getroot()
    assert len(root) == 1  # one target; nothing injected became an element
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(data.results)
    resources = [{p.get("name"): p.get("value") for p in c.iter("property")} for c in cases]
    assert sum(STORED_XML in (props["resource"] or "") for props in resources) > len(cases) // 2
    for case, props, r in zip(cases, resources, data.results, strict=True):
        # the property keeps the resource as XML can hold it; the name stays on one line
        assert props["resource"] == r.resource.replace(STORED, STORED_XML)
        name = case.get("name") or ""
        assert name.startswith(f"{r.rule} [") and name.endswith("]")
        assert not any(ch in name for ch in "\r\n\t\x1b")
        failure = case.find("failure")
        if r.status == "fail":
            assert failure is not None
            assert failure.get("message") == r.message.replace(STORED, STORED_XML)
            assert (failure.text or "").startswith(r.message.replace(STORED, STORED_XML))
        else:
            assert failure is None
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["assessment.system"] == HOSTILE_XML
    assert JUnitXml.fromfile(str(out)).failures == fails > 0


def test_errors_and_unreachable_targets() -> None:
    host, registry = "host:/", "registry:https://r.example"
    at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    results = [
        ExportResult(1, "host-docker-service-mode-644", "T", "medium", host, "node1", "error",
                     "error", f"boom {HOSTILE}", None, {}, None),
        ExportResult(2, "host-daemon-json-mode-644", "T", "medium", host, "node1", "pass",
                     "pass", "ok", None, {}, None),
    ]  # fmt: skip
    data = ExportData(
        {"id": 1, "uuid": "6f1c1f6e-8d3a-4c43-9d3e-2f7d0c1d2b3a", "period": "2026-Q4",
         "system": None, "status": "incomplete", "started": iso(at)},
        at, None,
        [ExportTarget(1, host, "host", "collected", {"hostname": "node1"}, None),
         ExportTarget(2, registry, "registry", "unreachable", {}, f"refused {HOSTILE}")],
        results, [], [], {}, load_catalog(), "0.1.0",
    )  # fmt: skip
    body = render_junit(data)
    root = etree.fromstring(body)
    assert (root.get("tests"), root.get("errors"), root.get("failures")) == ("3", "2", "0")
    host_suite, reg_suite = root.findall("testsuite")
    error = host_suite.find("testcase/error")
    assert error is not None and error.get("message") == f"boom {HOSTILE_XML}"
    assert error.get("type") == "evaluation-error"
    (case,) = reg_suite.findall("testcase")
    assert case.get("classname") == registry and case.get("name") == "collect [whole registry]"
    unreached = case.find("error")
    assert unreached is not None and unreached.get("message") == f"refused {HOSTILE_XML}"
    assert reg_suite.get("hostname") is None and "assessment.system" not in body.decode()
    xml = JUnitXml.fromstring(body)
    assert [isinstance(c.result[0], Error) for s in xml for c in s if c.result] == [True, True]
    assert render_junit(data) == body


def test_names_stay_unique_when_resources_read_the_same() -> None:
    """A line break in a resource becomes a space; two cases that then read the same get
    ' #2'; a target-wide result reads '[whole KIND]'."""
    engine = "engine:unix:///run/x.sock"
    at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    results = [
        ExportResult(n, "container-privileged-disabled", "T", "high", engine, resource, "fail", "fail",
                     "m", None, {"cis-docker-1.8.0": ["5.5"]}, None)
        for n, resource in enumerate(("web\nprod", "web prod", "web\tprod"), 1)
    ] + [ExportResult(4, "engine-icc-disabled", "T", "medium", engine, "*", "pass", "pass",
                      "ok", None, {}, None)]  # fmt: skip
    data = ExportData(
        {"id": 1, "uuid": "6f1c1f6e-8d3a-4c43-9d3e-2f7d0c1d2b3a", "period": "2026-Q4",
         "system": None, "status": "complete", "started": iso(at)},
        at, at, [ExportTarget(1, engine, "engine", "collected", {}, None)],
        results, [], [], {}, load_catalog(), "0.1.0",
    )  # fmt: skip
    root = etree.fromstring(render_junit(data))
    names = [c.get("name") for c in root.iter("testcase")]
    assert names == [
        "container-privileged-disabled [web prod]",
        "container-privileged-disabled [web prod] #2",
        "container-privileged-disabled [web prod] #3",
        "engine-icc-disabled [whole engine]",
    ]
    props = [
        {p.get("name"): p.get("value") for p in c.iter("property")} for c in root.iter("testcase")
    ]
    assert [p["resource"] for p in props] == ["web\nprod", "web prod", "web\tprod", "*"]
    assert (
        props[0]["reference:cis-docker-1.8.0"] == "5.5" and props[0]["resource_kind"] == "container"
    )
