"""export --format xccdf|arf and controls export --format xccdf, checked by OpenSCAP itself."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import re
import shutil
import subprocess
from collections import Counter

import pytest
from lxml import etree

from tests.conftest import Exported, missing

X = "http://checklists.nist.gov/xccdf/1.2"
ARF = "http://scap.nist.gov/schema/asset-reporting-format/1.1"
DS = "http://scap.nist.gov/schema/scap/source/1.2"
NS = {
    "x": X,
    "arf": ARF,
    "ds": DS,
    "core": "http://scap.nist.gov/schema/reporting-core/1.1",
    "ai": "http://scap.nist.gov/schema/asset-identification/1.1",
    "ev": "urn:assessor:evidence:1",
    "ocil": "http://scap.nist.gov/schema/ocil/2.0",
}
# stored status -> XCCDF result: in the XCCDF export a waived failure stays a fail (with the
# waiver as a message); in ARF it is an override whose new result is pass
XCCDF_RESULT = {
    "pass": "pass",
    "fail": "fail",
    "waived": "fail",
    "error": "error",
    "not_applicable": "notapplicable",
    "manual": "notchecked",
}
ARF_RESULT = {**XCCDF_RESULT, "waived": "pass"}
REASON = 'accepted <risk> & "quoted"'


@pytest.fixture(scope="module")
def oscap() -> str:
    path = shutil.which("oscap")
    if path is None:
        missing("oscap (openscap-scanner)")
    assert path is not None
    return path


def run_oscap(oscap: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([oscap, *args], capture_output=True, text=True, timeout=300, check=False)


def assert_valid(oscap: str, *args: str) -> str:
    """Run an oscap validation: exit 0, and no schematron error or FAIL in its output (oscap
    exits 0 when a data stream's schematron fails)."""
    proc = run_oscap(oscap, *args)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    bad = [line for line in out.splitlines() if line.startswith("Error") or ": FAIL" in line]
    assert not bad, bad[:10]
    return out


def stored_statuses(exported: Exported) -> Counter[str]:
    r = exported.cli("results", exported.id, "--format", "json")
    assert r.code == 0, r.err
    return Counter(x["status"] for x in r.json()["results"])


def results_of(tree: etree._ElementTree) -> list[etree._Element]:
    return tree.findall(".//x:TestResult/x:rule-result", NS)


# --- XCCDF ------------------------------------------------------------------------------------


def test_xccdf_export_validates_and_counts(exported: Exported, oscap: str) -> None:
    path = exported.export("xccdf", "a.xccdf.xml")
    assert_valid(oscap, "xccdf", "validate", str(path))
    tree = etree.parse(str(path))
    root = tree.getroot()
    assert root.tag == f"{{{X}}}Benchmark"
    assert root.get("id") == "xccdf_dev.assessor_benchmark_assessor"
    expected: Counter[str] = Counter()
    for status, n in stored_statuses(exported).items():
        expected[XCCDF_RESULT[status]] += n
    got = Counter(rr.findtext("x:result", namespaces=NS) for rr in results_of(tree))
    assert got == expected and sum(got.values()) > 0
    # every idref names a Rule of the Benchmark, every rule-result names its resource
    rule_ids = {r.get("id") for r in root.iter(f"{{{X}}}Rule")}
    for rr in results_of(tree):
        assert rr.get("idref") in rule_ids
        contexts = {i.get("context"): i.text for i in rr.findall("x:instance", NS)}
        assert contexts.keys() == {"target", "resource"} and all(contexts.values())
    # one TestResult per target (the assessment's n-th target: id suffix -n), scored alone
    trs = root.findall("x:TestResult", NS)
    assert [tr.get("id") for tr in trs] == [
        f"xccdf_dev.assessor_testresult_{exported.id}-{n}" for n in range(1, len(trs) + 1)
    ]
    targets = [t.text for tr in trs for t in tr.findall("x:target", NS)]
    assert len(targets) == len(trs) >= 2
    assert "host:/" in targets and any(t and t.startswith("image:oci:") for t in targets)
    for tr in trs:
        score = tr.find("x:score", NS)
        assert score is not None and score.get("system") == "urn:xccdf:scoring:flat"
        mine = Counter(r.text for r in tr.findall("x:rule-result/x:result", NS))
        assert float(score.text or "") == mine["pass"]
        assert float(score.get("maximum") or "") == mine["pass"] + mine["fail"] + mine["error"]


def test_several_resources_of_one_rule_share_the_idref(exported: Exported) -> None:
    tree = etree.parse(str(exported.export("xccdf", "multi.xml")))
    by_rule: dict[str, list[tuple[str | None, ...]]] = {}
    for rr in results_of(tree):
        key = tuple(i.text for i in rr.findall("x:instance", NS))
        by_rule.setdefault(rr.get("idref") or "", []).append(key)
    assert any(len(v) > 1 for v in by_rule.values())
    for instances in by_rule.values():
        assert len(set(instances)) == len(instances)  # same idref, a different instance


def test_waiver_in_xccdf_is_a_failure_with_its_waiver_escaped(exported: Exported) -> None:
    path = exported.export("xccdf", "w.xml")
    body = path.read_bytes()
    assert b'accepted &lt;risk&gt; &amp; "quoted"' in body and b"<risk>" not in body
    tree = etree.parse(str(path))
    waived = [
        rr
        for rr in results_of(tree)
        if rr.get("idref") == f"xccdf_dev.assessor_rule_{exported.waived_rule}"
        and rr.findtext("x:result", namespaces=NS) == "fail"
    ]
    assert waived
    for rr in waived:
        assert rr.find("x:override", NS) is None  # see test_arf_override_records_the_waiver
        texts = [m.text or "" for m in rr.findall("x:message", NS)]
        assert any(REASON in t and "CISO" in t for t in texts), texts


def test_html_report_shows_failures(exported: Exported, oscap: str) -> None:
    """``oscap xccdf generate report`` renders the TestResult it picks (XCCDF: the last, ARF:
    the first); each TestResult by id is tested in test_xccdf_targets."""
    doc = exported.cli("results", exported.id, "--format", "json").json()
    for fmt in ("xccdf", "arf"):
        path = exported.export(fmt, f"report.{fmt}.xml")
        proc = run_oscap(oscap, "xccdf", "generate", "report", str(path))
        assert proc.returncode == 0, proc.stderr
        page = html.unescape(proc.stdout)
        shown = re.search(r"Evaluation target</th><td>([^<]*)</td>", page)
        assert shown is not None, fmt
        failing = next(
            r for r in doc["results"] if r["status"] == "fail" and r["target"] == shown.group(1)
        )
        assert failing["title"] in page and failing["resource"] in page, fmt
    # the waived failure, in ARF an override, in the report of its TestResult
    tree = etree.parse(str(path))
    override = tree.find(".//x:rule-result/x:override", NS)
    assert override is not None
    tr = override.getparent().getparent()  # type: ignore[union-attr]
    report = etree.XSLT(etree.parse("/usr/share/openscap/xsl/xccdf-report.xsl"))
    page = str(report(tree, testresult_id=etree.XSLT.strparam(tr.get("id") or "")))
    assert "waived" in page and html.unescape(page).count(REASON) >= 1


def test_controls_export_is_a_valid_benchmark(exported: Exported, oscap: str) -> None:
    from assessor.catalog import load_catalog

    out = exported.tmp / "catalog.xccdf.xml"
    r = exported.cli("controls", "export", "--format", "xccdf", "-o", str(out))
    assert r.code == 0, r.err
    assert_valid(oscap, "xccdf", "validate", str(out))
    root = etree.parse(str(out)).getroot()
    catalog = load_catalog()
    rules = {r.get("id"): r for r in root.iter(f"{{{X}}}Rule")}
    assert set(rules) == {f"xccdf_dev.assessor_rule_{rid}" for rid in catalog.rules}
    groups = {g.get("id") for g in root.iter(f"{{{X}}}Group")}
    assert {f"xccdf_dev.assessor_group_{k}" for k in ("host", "engine", "container")} <= groups
    for rid, rule in catalog.rules.items():
        el = rules[f"xccdf_dev.assessor_rule_{rid}"]
        check = el.find("x:check", NS)
        assert check is not None
        system = check.get("system")
        assert system == (
            "urn:assessor:check:1" if rule.automated else "urn:assessor:check:manual:1"
        )
        refs = {ref.text for ref in el.findall("x:reference", NS)}
        for fw, reqs in catalog.references.get(rid, {}).items():
            assert {f"{fw}:{req}" for req in reqs} <= refs
    profiles = {p.get("id"): p for p in root.iter(f"{{{X}}}Profile")}
    assert set(profiles) == {f"xccdf_dev.assessor_profile_{f}" for f in catalog.frameworks}
    for fw_id, fw in catalog.frameworks.items():
        selects = profiles[f"xccdf_dev.assessor_profile_{fw_id}"].findall("x:select", NS)
        assert len(selects) == len(catalog.rules)
        chosen = {s.get("idref") for s in selects if s.get("selected") == "true"}
        used = {r for req in fw.requirements for r in req.rules if r in catalog.rules}
        assert chosen == {f"xccdf_dev.assessor_rule_{r}" for r in used}
    again = exported.tmp / "catalog2.xccdf.xml"
    assert exported.cli("controls", "export", "--format", "xccdf", "-o", str(again)).code == 0
    assert again.read_bytes() == out.read_bytes()


# --- ARF --------------------------------------------------------------------------------------


def test_arf_validates_and_oscap_reads_it(exported: Exported, oscap: str) -> None:
    path = exported.export("arf", "a.arf.xml")
    assert_valid(oscap, "ds", "rds-validate", str(path))
    # no ARF schematron exists: oscap validates ARF against its schema only
    assert_valid(oscap, "xccdf", "validate", "--skip-schematron", str(path))
    info = run_oscap(oscap, "info", str(path))
    assert info.returncode == 0, info.stderr
    assert "Result Data Stream" in info.stdout and info.stderr == ""
    trs = etree.parse(str(path)).findall(".//x:TestResult", NS)
    assert len(trs) >= 2
    for tr in trs:  # every target's TestResult, under its asset
        assert f"Result ID: {tr.get('id')}" in info.stdout
    # the request's source data stream is valid SCAP 1.3, schematron included
    tree = etree.parse(str(path))
    collection = tree.find(".//arf:report-request/arf:content/ds:data-stream-collection", NS)
    assert collection is not None
    ds = exported.tmp / "request-ds.xml"
    ds.write_bytes(etree.tostring(collection, xml_declaration=True, encoding="UTF-8"))
    assert_valid(oscap, "ds", "sds-validate", str(ds))
    out = assert_valid(oscap, "xccdf", "validate", str(ds))
    assert "Complete result of schematron validation" in out and ": PASS" in out


def test_arf_structure(exported: Exported) -> None:
    from assessor.catalog import load_catalog

    tree = etree.parse(str(exported.export("arf", "s.arf.xml")))
    root = tree.getroot()
    assert root.tag == f"{{{ARF}}}asset-report-collection"
    assets = {a.get("id"): a for a in root.findall("arf:assets/arf:asset", NS)}
    targets = [t.text for t in root.findall(".//x:TestResult/x:target", NS)]
    assert len(assets) == len(targets)
    ids = {
        s.get("id"): a
        for a in assets
        for s in assets[a].findall(".//ai:synthetic-id[@resource='urn:assessor:target']", NS)
    }
    assert set(ids) == set(targets)
    assert assets[ids["host:/"]].find("ai:computing-device", NS) is not None
    image = next(t for t in targets if t and t.startswith("image:"))
    assert assets[ids[image]].find("ai:software", NS) is not None
    rels = root.findall("core:relationships/core:relationship", NS)
    about = {
        r.findtext("core:ref", namespaces=NS) for r in rels if r.get("type") == "arfvocab:isAbout"
    }
    assert about == set(assets)
    request = root.find("arf:report-requests/arf:report-request", NS)
    assert request is not None
    created_for = {
        r.findtext("core:ref", namespaces=NS)
        for r in rels
        if r.get("type") == "arfvocab:createdFor"
    }
    assert created_for == {request.get("id")}
    # manual rules are OCIL questionnaires in the data stream; automated rules have no check
    checks = [c for r in root.iter(f"{{{X}}}Rule") if (c := r.find("x:check", NS)) is not None]
    catalog = load_catalog()
    assert len(checks) == sum(1 for r in catalog.rules.values() if not r.automated) > 0
    assert {c.get("system") for c in checks} == {"http://scap.nist.gov/schema/ocil/2"}
    names = {ref.get("name") for c in checks for ref in c.findall("x:check-content-ref", NS)}
    questionnaires = {q.get("id") for q in root.iter(f"{{{NS['ocil']}}}questionnaire")}
    # and the platforms of kinds no CPE name describes (images, registries): OCIL questions
    facts = list(root.iter("{http://cpe.mitre.org/language/2.0}check-fact-ref"))
    assert {f.get("system") for f in facts} == {"http://scap.nist.gov/schema/ocil/2"}
    kinds = {f.get("id-ref") for f in facts}
    assert kinds == {
        f"ocil:dev.assessor.target-kind-{k}:questionnaire:1" for k in ("image", "registry")
    }
    assert names | kinds == questionnaires and not names & kinds


def test_arf_counts_overrides_and_evidence(exported: Exported) -> None:
    tree = etree.parse(str(exported.export("arf", "c.arf.xml")))
    stored = stored_statuses(exported)
    expected: Counter[str] = Counter()
    for status, n in stored.items():
        expected[ARF_RESULT[status]] += n
    rrs = results_of(tree)
    assert Counter(rr.findtext("x:result", namespaces=NS) for rr in rrs) == expected
    overrides = [rr for rr in rrs if rr.find("x:override", NS) is not None]
    assert len(overrides) == stored["waived"] > 0
    # evidence: each report's text is the canonical JSON its hash names
    reports = tree.findall(".//arf:report/arf:content/ev:evidence", NS)
    hashes = {rr.findtext("x:check/x:check-import", namespaces=NS) for rr in rrs} - {None}
    assert {e.get("sha256") for e in reports} == hashes
    for e in reports:
        assert e.get("form") == "canonical"
        assert hashlib.sha256((e.text or "").encode()).hexdigest() == e.get("sha256")
        ref = f"#evidence-{e.get('sha256')}"
        assert tree.find(f".//x:check-content-ref[@href='{ref}']", NS) is not None


def test_arf_override_records_the_waiver(exported: Exported) -> None:
    path = exported.export("arf", "o.arf.xml")
    tree = etree.parse(str(path))
    overrides = tree.findall(".//x:rule-result/x:override", NS)
    assert overrides
    for o in overrides:
        rr = o.getparent()
        assert rr is not None
        assert rr.get("idref") == f"xccdf_dev.assessor_rule_{exported.waived_rule}"
        assert rr.findtext("x:result", namespaces=NS) == o.findtext("x:new-result", namespaces=NS)
        assert o.findtext("x:old-result", namespaces=NS) == "fail"
        assert o.get("authority") == "CISO" and o.get("time")
        assert REASON in (o.findtext("x:remark", namespaces=NS) or "")  # the exact text, parsed


def test_same_assessment_same_bytes(exported: Exported) -> None:
    for fmt in ("xccdf", "arf"):
        a = exported.export(fmt, f"d1.{fmt}.xml").read_bytes()
        b = exported.export(fmt, f"d2.{fmt}.xml").read_bytes()
        assert a == b, fmt
        assert a.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n")


def test_hostile_text_is_escaped_and_illegal_characters_dropped(exported: Exported) -> None:
    """Text XML 1.0 cannot hold (control characters in a container name or message) is
    dropped, the rest escaped by lxml: the export parses back to the same text."""
    from assessor.catalog import load_catalog
    from assessor.export.arf import render_arf
    from assessor.export.data import load
    from assessor.export.xccdf import render_xccdf
    from assessor.store import open_store

    store = open_store(exported.db)
    try:
        data = load(store, load_catalog(), exported.id, with_bodies=True)
    finally:
        store.close()
    first = data.results[0]
    evil = dataclasses.replace(
        first,
        resource="web\x00\x1b[31m</instance><x/>\ufffe",
        message='boom\x07 ]]> <script>&amp; "q"',
    )
    data.results[0] = evil
    for render in (render_xccdf, render_arf):
        out = render(data)
        assert render(data) == out
        tree = etree.fromstring(out)
        rr = tree.find(".//x:rule-result", NS)
        assert rr is not None
        resource = rr.find("x:instance[@context='resource']", NS)
        assert resource is not None and resource.text == "web[31m</instance><x/>"
        message = rr.findtext("x:message", namespaces=NS)
        assert message == 'web[31m</instance><x/>: boom ]]> <script>&amp; "q"'


def test_arf_assets_for_every_target_kind(exported: Exported, oscap: str) -> None:
    """Registries, tcp engines and unreachable targets (not in the fixture) become valid
    assets; a target that could not be collected is named in the TestResult's metadata."""
    from assessor.catalog import load_catalog
    from assessor.export.arf import render_arf
    from assessor.export.data import ExportTarget, load
    from assessor.store import open_store

    store = open_store(exported.db)
    try:
        data = load(store, load_catalog(), exported.id, with_bodies=True)
    finally:
        store.close()
    extra = [
        ExportTarget(901, "registry:https://10.0.0.7:5000", "registry", "collected", {}, None),
        ExportTarget(902, "registry:http://[::1]", "registry", "collected", {}, None),
        ExportTarget(903, "registry:https://reg.example", "registry", "unreachable", {}, "no\x00"),
        ExportTarget(904, "engine:tcp://docker.example:2376", "engine", "collected", {}, None),
        ExportTarget(905, "host:/mnt/x", "host", "error", {"hostname": "bad name!"}, "oops"),
    ]
    data.targets.extend(extra)
    path = exported.tmp / "kinds.arf.xml"
    path.write_bytes(render_arf(data))
    assert_valid(oscap, "ds", "rds-validate", str(path))
    root = etree.parse(str(path)).getroot()
    assets = root.findall("arf:assets/arf:asset", NS)
    assert len(assets) == len(data.targets)
    kinds = [etree.QName(a[0]).localname for a in assets[-len(extra) :]]
    assert kinds == ["service", "service", "service", "software", "computing-device"]
    services = assets[-len(extra) : -2]
    assert services[0].findtext(".//ai:ip-v4", namespaces=NS) == "10.0.0.7"
    assert services[0].findtext("ai:service/ai:port", namespaces=NS) == "5000"
    assert (
        services[1].findtext(".//ai:ip-v6", namespaces=NS)
        == "0000:0000:0000:0000:0000:0000:0000:0001"
    )
    assert services[2].findtext(".//ai:fqdn", namespaces=NS) == "reg.example"
    assert assets[-1].find(".//ai:hostname", NS) is None  # not a valid hostname: left out
    addresses = [a.text for a in root.findall(".//x:TestResult/x:target-address", NS)]
    assert addresses == ["10.0.0.7", "::1", "reg.example", "docker.example"]
    # the target that could not be collected has its TestResult, saying so, without results
    trs = root.findall(".//x:TestResult", NS)
    assert len(trs) == len(data.targets)
    tr = next(t for t in trs if t.findtext("x:target", namespaces=NS) == extra[2].uri)
    note = tr.findtext("x:metadata/{http://purl.org/dc/elements/1.1/}description", namespaces=NS)
    assert "registry:https://reg.example was not assessed (unreachable): no." in (note or "")
    assert tr.find("x:rule-result", NS) is None
