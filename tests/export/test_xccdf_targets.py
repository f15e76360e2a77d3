"""XCCDF and ARF of a multi-target assessment: one TestResult per target, with its platform, the
finaliser as identity, and rule-results that say what the stored results say, per target and
per framework. The assessment is real: this host, the sample image and the engine running a
container of ours, scanned, one image failure waived, then finalised, all by the CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.conftest import ROOT, SOCKET, Docker, missing, run_cli
from tests.export.test_xccdf import NS, X, assert_valid, run_oscap

CPE_LANG = "http://cpe.mitre.org/language/2.0"
DC = "http://purl.org/dc/elements/1.1/"
ASSESSOR = "urn:assessor:xccdf:1"
FINALISER = "Dana Auditor <dana@example.org>"
# XCCDF result -> the status assessor shows; a waived failure is "fail" (XCCDF) or an override
# from fail (ARF), told apart by the rule-result's assessor metadata / the override
STATUS = {
    "pass": "pass",
    "fail": "fail",
    "error": "error",
    "notapplicable": "not_applicable",
    "notchecked": "manual",
}
REPORT_XSL = "/usr/share/openscap/xsl/xccdf-report.xsl"


@dataclass
class Multi:
    db: str
    id: str
    tmp: Path
    container: str  # our container's name
    waived_rule: str

    def cli(self, *args: str) -> Any:
        return run_cli(*args, db=self.db)

    def export(self, fmt: str) -> Path:
        out = self.tmp / f"multi.{fmt}.xml"
        r = self.cli("export", self.id, "--format", fmt, "-o", str(out))
        assert r.code == 0, r.err
        return out


@pytest.fixture(scope="module")
def multi(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Multi]:
    """The assessment; the module's container is removed after it."""
    try:
        yield _multi(docker, tmp_path_factory)
    finally:
        docker("rm", "-f", f"xccdf-web-{docker.label[:8]}", check=False)


def _multi(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> Multi:
    import datetime as _dt

    tmp = tmp_path_factory.mktemp("multi")
    image = tmp / "sample-image"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sample_image.py"), str(image)],
        check=True,
        capture_output=True,
    )
    cid = docker.create("xccdf-web", start=True)
    name = docker("inspect", "--format", "{{.Name}}", cid).lstrip("/")
    db = f"sqlite:///{tmp / 'assessor.db'}"
    targets = ["host:/", f"image:oci:{image}", f"engine:unix://{SOCKET}"]
    scan = run_cli("scan", *targets, "--system", "xccdf-multi", "--format", "json", db=db)
    assert scan.code in (0, 1), scan.err
    doc = scan.json()
    aid = str(doc["assessment"]["id"])
    image_fails = sorted(
        r["rule"]
        for r in doc["results"]
        if r["status"] == "fail" and r["rule"].startswith("image-")
    )
    assert image_fails
    expires = (_dt.datetime.now(_dt.UTC).date() + _dt.timedelta(days=100)).isoformat()
    w = run_cli(
        "waive", image_fails[0], "--reason", "accepted", "--approver", "CISO",
        "--expires", expires, "--system", "xccdf-multi", db=db,
    )  # fmt: skip
    assert w.code == 0, w.err
    f = run_cli("finalise", aid, "--by", FINALISER, db=db)
    assert f.code == 0, f.err
    return Multi(db, aid, tmp, name, image_fails[0])


@pytest.fixture(scope="module")
def oscap() -> str:
    import shutil

    path = shutil.which("oscap")
    if path is None:
        missing("oscap (openscap-scanner)")
    assert path is not None
    return path


def stored(m: Any, ref: str) -> dict[str, Any]:
    r = m.cli("results", ref, "--format", "json")
    assert r.code == 0, r.err
    doc: dict[str, Any] = r.json()
    return doc


def trs_of(tree: Any) -> list[etree._Element]:
    return list(tree.iter(f"{{{X}}}TestResult"))


def status_of(rr: etree._Element) -> str:
    """The assessor status a rule-result records, read the documented way."""
    result = rr.findtext("x:result", namespaces=NS) or ""
    override = rr.find("x:override", NS)
    if override is not None and override.findtext("x:old-result", namespaces=NS) == "fail":
        return "waived"
    meta = rr.find(f"x:metadata/{{{ASSESSOR}}}result", NS)
    if result == "fail" and meta is not None and meta.get("status") == "waived":
        return "waived"
    return STATUS[result]


def test_one_test_result_per_target_with_its_own_results(multi: Multi, oscap: str) -> None:
    doc = stored(multi, multi.id)
    scope = doc["assessment"]["scope"]
    per_target = Counter(r["target"] for r in doc["results"])
    per_target_status = Counter((r["target"], r["status"]) for r in doc["results"])
    for fmt in ("xccdf", "arf"):
        path = multi.export(fmt)
        if fmt == "xccdf":
            assert_valid(oscap, "xccdf", "validate", str(path))
        else:
            assert_valid(oscap, "ds", "rds-validate", str(path))
            assert_valid(oscap, "xccdf", "validate", "--skip-schematron", str(path))
        trs = trs_of(etree.parse(str(path)))
        assert [tr.findtext("x:target", namespaces=NS) for tr in trs] == scope, fmt
        assert len({tr.get("id") for tr in trs}) == len(scope)
        got: Counter[tuple[str, str]] = Counter()
        for tr in trs:
            target = tr.findtext("x:target", namespaces=NS) or ""
            rrs = tr.findall("x:rule-result", NS)
            assert len(rrs) == per_target[target], (fmt, target)
            for rr in rrs:
                inst = rr.findtext("x:instance[@context='target']", namespaces=NS)
                assert inst == target
                got[(target, status_of(rr))] += 1
        assert got == per_target_status, fmt
    # our container's results sit in the engine's TestResult, the resource named per result
    engine = next(t for t in trs if (t.findtext("x:target", namespaces=NS) or "").startswith("e"))
    resources = {i.text or "" for i in engine.iterfind("x:rule-result/x:instance", NS)}
    assert any(r.startswith(multi.container) for r in resources)


def test_platforms_name_what_each_target_is(multi: Multi) -> None:
    from assessor.catalog import load_catalog
    from assessor.export.data import load
    from assessor.store import open_store

    store = open_store(multi.db)
    try:
        data = load(store, load_catalog(), multi.id)
    finally:
        store.close()
    tree = etree.parse(str(multi.export("xccdf")))
    spec = {p.get("id") for p in tree.iter(f"{{{CPE_LANG}}}platform")}
    cpe23 = re.compile(r"cpe:2\.3:[aho](:[^:]+){10}")
    for t, tr in zip(data.targets, trs_of(tree), strict=True):
        refs = [p.get("idref") or "" for p in tr.findall("x:platform", NS)]
        assert refs[0] == f"#xccdf_dev.assessor_platform_{t.kind}" and refs[0][1:] in spec
        assert all(cpe23.fullmatch(r) for r in refs[1:]), refs
        ident = t.identity
        if t.kind == "host":
            kernel = re.match(r"\d+(\.\d+)*", ident["kernel"])
            assert kernel is not None
            assert f"cpe:2.3:o:linux:linux_kernel:{kernel.group(0)}:*:*:*:*:*:*:*" in refs
            facts = {f.get("name"): f.text for f in tr.iterfind("x:target-facts/x:fact", NS)}
            assert facts["urn:xccdf:fact:asset:identifier:host_name"] == ident["hostname"]
            assert facts["urn:xccdf:fact:identifier"] == ident["machine_id"]
        elif t.kind == "engine":
            version = re.sub(r"([^A-Za-z0-9._-])", r"\\\1", ident["server_version"])
            assert refs[1] == f"cpe:2.3:a:docker:engine:{version}:*:*:*:*:*:*:*"
        else:
            assert t.kind == "image" and refs == ["#xccdf_dev.assessor_platform_image"]
            digest = ident["images"][0]["digest"]
            facts = {f.get("name"): f.text for f in tr.iterfind("x:target-facts/x:fact", NS)}
            assert facts["urn:xccdf:fact:identifier"] == digest


def test_the_finaliser_is_the_identity(multi: Multi, oscap: str) -> None:
    path = multi.export("xccdf")
    for tr in trs_of(etree.parse(str(path))):
        who = tr.find("x:identity", NS)
        assert who is not None and who.text == FINALISER
        # named with --by, not authenticated by assessor; acting on the record, not the target
        assert who.get("authenticated") == "false" and who.get("privileged") == "false"
    page = run_oscap(oscap, "xccdf", "generate", "report", str(path))
    assert page.returncode == 0, page.stderr
    assert "unknown user" not in page.stdout
    assert re.search(
        r"Performed by</th>\s*<td>\s*Dana Auditor &lt;dana@example.org&gt;", page.stdout
    )


def test_an_unfinalised_assessment_says_so(exported: Any, oscap: str) -> None:
    path = exported.export("xccdf", "unfinalised.xml")
    trs = trs_of(etree.parse(str(path)))
    assert trs
    for tr in trs:
        who = tr.find("x:identity", NS)
        assert who is not None and "not finalised" in (who.text or "")
        note = tr.findtext(f"x:metadata/{{{DC}}}description", namespaces=NS) or ""
        assert "Not finalised" in note
    page = run_oscap(oscap, "xccdf", "generate", "report", str(path))
    assert page.returncode == 0 and "unknown user" not in page.stdout


def test_framework_counts_are_derivable(multi: Multi) -> None:
    """Per framework, the statuses of the rule-results identifying one of its requirements are
    the statuses of the stored results referencing it."""
    doc = stored(multi, multi.id)
    expected: Counter[tuple[str, str]] = Counter()
    for r in doc["results"]:
        for fw in r["references"] or {}:
            expected[(fw, r["status"])] += 1
    assert {fw for fw, _ in expected} >= {"cis-docker-1.8.0", "nistir-8176"}
    # the same counts the read model gives every output (assessor.readmodel)
    from assessor.catalog import load_catalog
    from assessor.readmodel import load
    from assessor.store import open_store

    store = open_store(multi.db)
    try:
        view = load(store, load_catalog(), multi.id)
        model = {
            (fw, status): n
            for fw, f in view.frameworks.items()
            for status, n in f.result_counts.items()
            if n
        }
    finally:
        store.close()
    assert model == dict(expected)
    for fmt in ("xccdf", "arf"):
        got: Counter[tuple[str, str]] = Counter()
        for rr in etree.parse(str(multi.export(fmt))).iter(f"{{{X}}}rule-result"):
            systems = {i.get("system") or "" for i in rr.findall("x:ident", NS)}
            for system in systems:
                assert system.startswith("urn:assessor:framework:")
                got[(system.removeprefix("urn:assessor:framework:"), status_of(rr))] += 1
        assert got == expected, fmt
        assert any(s == "waived" for _, s in got)


def test_oscap_renders_every_test_result(multi: Multi, oscap: str) -> None:
    """OpenSCAP's report renders each TestResult: by default (``oscap xccdf generate report``)
    and, for each, with its own stylesheet given the TestResult's id (``--result-id`` reaches
    the stylesheet under a name it does not read, in 1.3.7 as upstream: OpenSCAP's
    utils/oscap-xccdf.c passes "result-id", xsl/xccdf-report.xsl reads "testresult_id")."""
    if not Path(REPORT_XSL).exists():
        missing(f"OpenSCAP's report stylesheet {REPORT_XSL}")
    doc = stored(multi, multi.id)
    report = etree.XSLT(etree.parse(REPORT_XSL))
    for fmt in ("xccdf", "arf"):
        path = multi.export(fmt)
        proc = run_oscap(oscap, "xccdf", "generate", "report", str(path))
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        tree = etree.parse(str(path))
        for tr in trs_of(tree):
            target = tr.findtext("x:target", namespaces=NS)
            page = str(report(tree, testresult_id=etree.XSLT.strparam(tr.get("id") or "")))
            shown = re.search(r"Evaluation target</th>\s*<td>([^<]*)</td>", page)
            assert shown is not None and shown.group(1) == target
            fails = [r for r in doc["results"] if r["target"] == target and r["status"] == "fail"]
            assert fails and all(r["title"] in page for r in fails[:20])
            # a waived failure is a failure in XCCDF, an override to pass in ARF
            failing = ("fail", "waived") if fmt == "xccdf" else ("fail",)
            n = sum(1 for r in doc["results"] if r["target"] == target and r["status"] in failing)
            assert f"did not satisfy the conditions of {n} rules" in page
            if fmt == "arf" and target.startswith("image:"):
                assert "waived" in page


def test_arf_relates_each_report_to_its_asset(multi: Multi, oscap: str) -> None:
    path = multi.export("arf")
    root = etree.parse(str(path)).getroot()
    assets = {a.get("id"): a for a in root.findall("arf:assets/arf:asset", NS)}
    reports = {
        r.get("id"): r.find("arf:content/x:TestResult", NS)
        for r in root.findall("arf:reports/arf:report", NS)
        if r.find("arf:content/x:TestResult", NS) is not None
    }
    assert len(reports) == len(assets) == 3
    about: dict[str, list[str]] = {}
    for rel in root.findall("core:relationships/core:relationship", NS):
        if rel.get("type") == "arfvocab:isAbout":
            about.setdefault(rel.get("subject") or "", []).append(
                rel.findtext("core:ref", namespaces=NS) or ""
            )
    assert set(about) == set(reports)
    kinds = {"host": "computing-device", "engine": "software", "image": "software"}
    for report_id, tr in reports.items():
        assert tr is not None
        (asset_id,) = about[report_id]
        target = tr.findtext("x:target", namespaces=NS) or ""
        asset = assets[asset_id]
        synthetic = asset.find(".//ai:synthetic-id[@resource='urn:assessor:target']", NS)
        assert synthetic is not None and synthetic.get("id") == target
        assert etree.QName(asset[0]).localname == kinds[target.split(":", 1)[0]]
        refs = [r.get("name") for r in tr.findall("x:target-id-ref", NS)]
        assert refs == [asset_id]
        cpes = [c.text for c in asset.iter(f"{{{NS['ai']}}}cpe")]
        platforms = [p.get("idref") for p in tr.findall("x:platform", NS)]
        assert set(cpes) <= set(platforms)
        assert bool(cpes) == (not target.startswith("image:")), (target, cpes)
    info = run_oscap(oscap, "info", str(path))
    assert info.returncode == 0 and info.stderr == "", info.stderr
    for asset_id in assets:
        assert f"Asset: {asset_id}" in info.stdout
    for tr in reports.values():
        assert tr is not None and f"Result ID: {tr.get('id')}" in info.stdout


def test_platforms_from_hostile_identities_stay_valid(exported: Any, oscap: str) -> None:
    """Identity text is the target's own: a version CPE cannot bind becomes ANY, markup and
    control characters never break the XCCDF or ARF, and both still validate."""
    from assessor.catalog import load_catalog
    from assessor.export.arf import render_arf
    from assessor.export.data import ExportTarget, load
    from assessor.export.xccdf import render_xccdf
    from assessor.store import open_store

    store = open_store(exported.db)
    try:
        data = load(store, load_catalog(), exported.id, with_bodies=True)
    finally:
        store.close()
    engine = {
        "engine_id": "<id>&\x00",
        "product": "docker",
        "server_version": "24.0 (dev) é",
        "os": "Ubuntu 22.04.3 LTS",
        "kernel": "6.1.0-18-amd64",
    }
    host = {"hostname": "h\x1b</x>", "machine_id": "m&<", "os": "Plan 9", "kernel": "weird"}
    data.targets.extend(
        [
            ExportTarget(991, "engine:tcp://e.example:2376", "engine", "collected", engine, None),
            ExportTarget(992, "host:/mnt/other", "host", "collected", host, None),
        ]
    )
    for name, render, args in (
        ("x.xml", render_xccdf, ("xccdf", "validate")),
        ("a.xml", render_arf, ("ds", "rds-validate")),
    ):
        path = exported.tmp / f"hostile-identity-{name}"
        path.write_bytes(render(data))
        assert_valid(oscap, *args, str(path))
        trs = trs_of(etree.parse(str(path)))
        platforms = {
            tr.findtext("x:target", namespaces=NS): [
                p.get("idref") for p in tr.findall("x:platform", NS)
            ]
            for tr in trs
        }
        assert platforms["engine:tcp://e.example:2376"] == [
            "#xccdf_dev.assessor_platform_engine",
            "cpe:2.3:a:docker:engine:*:*:*:*:*:*:*:*",
            "cpe:2.3:o:canonical:ubuntu_linux:22.04:*:*:*:*:*:*:*",
            "cpe:2.3:o:linux:linux_kernel:6.1.0:*:*:*:*:*:*:*",
        ]
        assert platforms["host:/mnt/other"] == ["#xccdf_dev.assessor_platform_host"]
        facts = {
            f.get("name"): f.text
            for tr in trs
            if tr.findtext("x:target", namespaces=NS) == "host:/mnt/other"
            for f in tr.iterfind("x:target-facts/x:fact", NS)
        }
        assert facts["urn:xccdf:fact:asset:identifier:host_name"] == "h</x>"
        assert facts["urn:xccdf:fact:identifier"] == "m&<"
