"""One assessment, every output, the same numbers.

A real assessment (this host, the sample image and the engine, a waiver, an attestation:
tests.conftest.exported) is exported by the CLI to every format a user hands on. From each
file alone the counts are read back, per framework, and must equal those of the read model
(assessor.readmodel), which the report shows:

- **results by shown status** (fail, error, waived, manual, pass, not_applicable) among the
  results that reference the framework: report data, JSON, CSV, SARIF (``--all``), JUnit,
  XCCDF, ARF and OSCAL (its observations, through the findings of the framework);
- **requirements by status**: report data and OSCAL (one finding per requirement that has a
  status other than not_assessed).

Each reader knows only the documented shape of its format (the module docstrings of
assessor/export/*), not the code that wrote it.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from lxml import etree

from assessor import readmodel, vocab
from assessor.catalog import load_catalog
from assessor.store import open_store
from tests.conftest import Exported

STATUSES = vocab.RESULT_STATUSES
Counts = dict[str, dict[str, int]]  # framework -> status -> n


def _tally(items: Iterable[tuple[str, Iterable[str]]]) -> Counts:
    """(status, frameworks referenced) items -> counts per framework, every status present."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for status, frameworks in items:
        assert status in STATUSES, status
        for fw in set(frameworks):
            counts[fw][status] += 1
    return {fw: {s: c.get(s, 0) for s in STATUSES} for fw, c in counts.items()}


@pytest.fixture(scope="module")
def view(exported: Exported) -> readmodel.AssessmentView:
    return readmodel.load(open_store(exported.db), load_catalog([]), exported.id)


@pytest.fixture(scope="module")
def expected(view: readmodel.AssessmentView) -> Counts:
    got = {fw: dict(f.result_counts) for fw, f in view.frameworks.items()}
    # frameworks no result references are absent from the files, not zero
    return {fw: c for fw, c in got.items() if sum(c.values())}


def from_json(path: Path) -> Counts:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return _tally((r["status"], r["references"]) for r in doc["results"])


def from_csv(path: Path) -> Counts:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))

    def frameworks(text: str) -> list[str]:
        return [part.split(":", 1)[0] for part in text.split("; ") if part]

    return _tally((r["status"], frameworks(r["references"])) for r in rows)


def from_sarif(path: Path) -> Counts:
    doc = json.loads(path.read_text(encoding="utf-8"))
    (run,) = doc["runs"]
    return _tally(
        (r["properties"]["status"], r["properties"]["references"]) for r in run["results"]
    )


def from_junit(path: Path) -> Counts:
    root = etree.parse(str(path)).getroot()
    items = []
    for case in root.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if "status" not in props:  # a target that could not be collected: not a result
            continue
        refs = [k.split(":", 1)[1] for k in props if k.startswith("reference:")]
        items.append((props["status"], refs))
    return _tally(items)


XCCDF = "http://checklists.nist.gov/xccdf/1.2"
AS = "urn:assessor:xccdf:1"


def _xccdf_rule_results(root: etree._Element) -> list[tuple[str, list[str]]]:
    items = []
    for rr in root.iter(f"{{{XCCDF}}}rule-result"):
        (meta,) = rr.iter(f"{{{AS}}}result")
        fws = [
            i.get("system").removeprefix("urn:assessor:framework:")
            for i in rr.findall(f"{{{XCCDF}}}ident")
            if i.get("system", "").startswith("urn:assessor:framework:")
        ]
        items.append((meta.get("status"), fws))
    return items


def from_xccdf(path: Path) -> Counts:
    root = etree.parse(str(path)).getroot()
    assert root.findall(f".//{{{XCCDF}}}TestResult"), "no TestResult"
    return _tally(_xccdf_rule_results(root))


def from_arf(path: Path) -> Counts:
    return from_xccdf(path)


def _oscal(path: Path) -> tuple[dict[str, dict[str, str]], list[dict[str, object]]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    (result,) = doc["assessment-results"]["results"]

    def props(x: dict[str, object]) -> dict[str, str]:
        return {str(p["name"]): str(p["value"]) for p in x.get("props", [])}  # type: ignore[attr-defined]

    observations = {o["uuid"]: props(o) for o in result.get("observations", [])}
    return observations, result.get("findings", [])


def from_oscal(path: Path) -> Counts:
    observations, findings = _oscal(path)
    by_fw: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        fw = {str(p["name"]): str(p["value"]) for p in f["props"]}["framework"]  # type: ignore[index]
        for rel in f.get("related-observations", []):  # type: ignore[attr-defined]
            if "rule" in observations[rel["observation-uuid"]]:  # a result, not an attestation
                by_fw[fw].add(rel["observation-uuid"])
    status_of = {u: o["status"] for u, o in observations.items() if "rule" in o}
    fws_of: dict[str, list[str]] = defaultdict(list)
    for fw, uuids in by_fw.items():
        for u in uuids:
            fws_of[u].append(fw)
    # a result no finding relates to still counts nowhere: it must reference no framework
    return _tally((status_of[u], fws) for u, fws in fws_of.items())


READERS: dict[str, tuple[Callable[[Path], Counts], tuple[str, ...]]] = {
    "json": (from_json, ()),
    "csv": (from_csv, ()),
    "sarif": (from_sarif, ("--all",)),
    "junit": (from_junit, ()),
    "xccdf": (from_xccdf, ()),
    "arf": (from_arf, ()),
    "oscal": (from_oscal, ()),
}


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_result_counts_per_framework_agree(fmt: str, exported: Exported, expected: Counts) -> None:
    reader, extra = READERS[fmt]
    path = exported.export(fmt, f"counts.{fmt}", *extra)
    got = reader(path)
    assert got == expected
    assert any(c["waived"] for c in got.values()) and any(c["manual"] for c in got.values())


def test_requirement_counts_agree_in_oscal(
    exported: Exported, view: readmodel.AssessmentView
) -> None:
    _, findings = _oscal(exported.export("oscal", "req.json"))
    got: dict[str, Counter[str]] = defaultdict(Counter)
    for f in findings:
        p = {str(x["name"]): str(x["value"]) for x in f["props"]}  # type: ignore[index]
        got[p["framework"]][p["status"]] += 1
    for fw_id, fw in view.frameworks.items():
        want = {s: n for s, n in fw.counts.items() if n and s != "not_assessed"}
        assert dict(got.get(fw_id, {})) == want, fw_id


def test_report_data_counts_agree(exported: Exported, view: readmodel.AssessmentView) -> None:
    from assessor.report.data import build

    store = open_store(exported.db)
    try:
        data = build(store, view.catalog, exported.id, frameworks=sorted(view.frameworks))
    finally:
        store.close()
    assert {f.id for f in data.frameworks} == set(view.frameworks)
    for f in data.frameworks:
        assert f.counts == view.frameworks[f.id].counts, f.id
        assert f.result_counts == view.frameworks[f.id].result_counts, f.id
    assert {k: v for k, v in data.counts.items() if v} == {
        k: v for k, v in view.counts.items() if v
    }
