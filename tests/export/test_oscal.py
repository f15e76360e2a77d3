"""export --format oscal and controls export --format oscal: read back with compliance-trestle's
OSCAL models and validators, cross-checked against the results JSON of the same assessment."""

from __future__ import annotations

import argparse
import dataclasses
import json
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from trestle.core.validator_factory import validator_factory
from trestle.oscal import OSCAL_VERSION
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.catalog import Catalog
from trestle.oscal.common import SelectControlById
from trestle.oscal.profile import Profile

from assessor.catalog import load_catalog
from assessor.errors import AssessorError
from assessor.export.oscal import (
    NS,
    objective_id,
    render_assessment_results,
    requirement_token,
    token,
)
from tests.conftest import Exported, run_cli


def _value(x: Any) -> Any:
    """A trestle field as plain JSON (enums, root models and urls alike)."""
    if hasattr(x, "model_dump"):
        return x.model_dump(mode="json", by_alias=True, exclude_none=True)
    return getattr(x, "value", x)


def props(obj: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for p in obj.props or []:
        assert p.ns is None or str(p.ns) == NS
        out[p.name].append(p.value)
    return out


def prop(obj: Any, name: str) -> str | None:
    values = props(obj).get(name)
    assert values is None or len(values) == 1, (name, values)
    return values[0] if values else None


def all_valid(model: Any) -> None:
    """trestle's own validators beyond parsing: duplicate uuids, refs, links, catalog params."""
    validator = validator_factory.get(argparse.Namespace(mode="all"))
    assert validator.model_is_valid(model, True), validator.error_msg()


@dataclasses.dataclass
class Doc:
    path: Path
    ar: AssessmentResults
    raw: dict[str, Any]
    results: list[dict[str, Any]]  # `assessor results --format json` of the same assessment
    assessment: dict[str, Any]

    @property
    def result(self) -> Any:
        return self.ar.results[0]

    def observations(self) -> dict[str, Any]:
        return {o.uuid: o for o in self.result.observations or []}

    def by_key(self) -> dict[tuple[str, str, str], Any]:
        """Result observations by (target, rule, resource), the target read via the subject."""
        items = {i.uuid: prop(i, "target") for i in self.result.local_definitions.inventory_items}
        out = {}
        for o in self.result.observations:
            if prop(o, "rule") is None:
                continue  # an attestation
            (subject,) = o.subjects
            key = (items[subject.subject_uuid], prop(o, "rule"), prop(o, "resource"))
            assert key not in out, key
            out[key] = o
        return out


@pytest.fixture(scope="module")
def doc(exported: Exported) -> Doc:
    path = exported.export("oscal", "ar.json")
    ar = AssessmentResults.oscal_read(path)
    assert isinstance(ar, AssessmentResults)
    data = json.loads(exported.export("json", "ar-results.json").read_text())
    return Doc(path, ar, json.loads(path.read_text()), data["results"], data["assessment"])


def key(r: dict[str, Any]) -> tuple[str, str, str]:
    return (r["target"], r["rule"], r["resource"])


def _dt(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(microsecond=0)


def test_the_assessment_is_one_result(doc: Doc) -> None:
    assert list(doc.raw) == ["assessment-results"]
    md = doc.ar.metadata
    assert _value(md.oscal_version) == OSCAL_VERSION
    a = doc.assessment
    assert prop(md, "assessment-uuid") == a["uuid"]
    assert prop(md, "period") == a["period"] and prop(md, "system") == "export-test"
    assert prop(md, "catalog-digest") == a["catalog_digest"]
    assert f"Assessment {a['id']} " in md.title and a["period"] in md.title
    assert md.last_modified == _dt(a["finished"])
    (result,) = doc.ar.results
    assert prop(result, "assessment-uuid") == a["uuid"]
    assert result.start == _dt(a["started"]) and result.end == _dt(a["finished"])
    # every target is an inventory item, with its identity
    items = {prop(i, "target"): i for i in result.local_definitions.inventory_items}
    assert set(items) == set(a["scope"])
    assert prop(items["host:/"], "kind") == "host" and props(items["host:/"])["hostname"]
    # no assessment plan: import-ap names a back-matter resource that says so
    resources = {r.uuid: r for r in doc.ar.back_matter.resources}
    assert doc.ar.import_ap.href.startswith("#")
    assert "assessment plan" in resources[doc.ar.import_ap.href[1:]].title.lower()


def test_every_result_is_an_observation_with_its_evidence(doc: Doc) -> None:
    catalog = load_catalog()
    obs = doc.by_key()
    assert set(obs) == {key(r) for r in doc.results}
    resources = {r.uuid: r for r in doc.ar.back_matter.resources}
    failing = [r for r in doc.results if r["status"] in ("fail", "error")]
    assert failing
    for r in doc.results:
        o = obs[key(r)]
        assert prop(o, "status") == r["status"] and prop(o, "severity") == r["severity"]
        assert prop(o, "raw-status") == r.get("raw_status", r["status"])
        assert o.description == r["message"]
        rule = catalog.rules.get(r["rule"])
        manual = r["status"] == "manual" or (rule is not None and not rule.automated)
        assert [_value(m) for m in o.methods] == (["EXAMINE"] if manual else ["TEST"])
        if r["evidence"]:
            assert prop(o, "evidence-sha256") == r["evidence"]
            (ev,) = o.relevant_evidence
            (link,) = resources[ev.href[1:]].rlinks
            assert [(_value(h.algorithm), h.value) for h in link.hashes] == [
                ("SHA-256", r["evidence"])
            ]
    assert all(r["evidence"] for r in failing)


def test_waiver_is_an_approved_deviation(doc: Doc, exported: Exported) -> None:
    (risk,) = doc.result.risks
    assert prop(risk, "rule") == exported.waived_rule
    assert _value(risk.status) == "deviation-approved"
    assert prop(risk, "approver") == "CISO" and risk.deadline is not None
    # the fixture's hostile reason comes back as the same text, escaped only by JSON
    assert risk.description == 'accepted <risk> & "quoted"'
    assert 'accepted <risk> & \\"quoted\\"' in doc.path.read_text()
    waived = {key(r) for r in doc.results if r["status"] == "waived"}
    assert waived and all(k[1] == exported.waived_rule for k in waived)
    obs = doc.by_key()
    assert {o.observation_uuid for o in risk.related_observations} == {obs[k].uuid for k in waived}
    # every finding of a requirement a waived result references points at the risk
    reqs = {
        (fw, req)
        for r in doc.results
        if r["status"] == "waived"
        for fw, ids in r["references"].items()
        for req in ids
    }
    linked = {
        (prop(f, "framework"), prop(f, "requirement"))
        for f in doc.result.findings
        if risk.uuid in {x.risk_uuid for x in f.related_risks or []}
    }
    assert linked == reqs


def test_findings_target_the_requirements(doc: Doc) -> None:
    refs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in doc.results:
        for fw, ids in r["references"].items():
            for req in ids:
                refs[(fw, req)].append(r)
    reviewed = {
        c.control_id
        for sel in doc.result.reviewed_controls.control_selections
        for c in sel.include_controls
    }
    findings = {(prop(f, "framework"), prop(f, "requirement")): f for f in doc.result.findings}
    assert set(refs) <= set(findings)
    obs = doc.by_key()
    checked = defaultdict(int)
    for (fw, req), f in findings.items():
        assert _value(f.target.type) == "objective-id"
        # the target is the requirement's objective, a part of its control (which the
        # reviewed controls list): both are in the catalog `controls export` writes
        assert f.target.target_id == objective_id(fw, req)
        assert requirement_token(fw, req) in reviewed
        related = {o.observation_uuid for o in f.related_observations}
        assert {obs[key(r)].uuid for r in refs[(fw, req)]} <= related
        statuses = {r["status"] for r in refs[(fw, req)]}
        state = _value(f.target.status.state)
        if "fail" in statuses:
            assert state == "not-satisfied", (fw, req)
            checked["not-satisfied"] += 1
        elif statuses == {"pass"}:
            assert state == "satisfied", (fw, req)
            checked["satisfied"] += 1
    assert checked["not-satisfied"] and checked["satisfied"]


def test_attestation_answers_its_requirement(doc: Doc, exported: Exported) -> None:
    fw, req = exported.attested.split(":")
    f = next(
        f
        for f in doc.result.findings
        if (prop(f, "framework"), prop(f, "requirement")) == (fw, req)
    )
    observations = doc.observations()
    (att,) = [
        observations[x.observation_uuid]
        for x in f.related_observations
        if prop(observations[x.observation_uuid], "attestation")
    ]
    assert [_value(m) for m in att.methods] == ["EXAMINE"]
    assert prop(att, "by") == "auditor" and prop(att, "status") == "pass"
    assert att.description == "checked by hand"


def test_deterministic_and_internally_consistent(doc: Doc, exported: Exported) -> None:
    first = doc.path.read_bytes()
    again = exported.export("oscal", "ar-again.json").read_bytes()
    assert first == again and first.endswith(b"}\n")
    all_valid(doc.ar)
    text = first.decode()
    uuids = set()
    for field in ("uuid",):
        for value in _find(doc.raw, field):
            assert uuid.UUID(value).version == 5
            assert value not in uuids, value
            uuids.add(value)
    for field in ("observation-uuid", "risk-uuid", "subject-uuid"):
        refs = list(_find(doc.raw, field))
        assert refs and set(refs) <= uuids, field
    hrefs = [h for h in _find(doc.raw, "href") if h.startswith("#")]
    resources = {r.uuid for r in doc.ar.back_matter.resources}
    assert hrefs and {h[1:] for h in hrefs} <= resources
    assert '"ns": "' + NS + '"' in text


def _find(node: Any, field: str) -> Any:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == field:
                yield v
            else:
                yield from _find(v, field)
    elif isinstance(node, list):
        for v in node:
            yield from _find(v, field)


def test_hostile_text_stays_text(exported: Exported) -> None:
    from assessor.export.data import load
    from assessor.store import open_store

    store = open_store(exported.db)
    try:
        data = load(store, load_catalog(), exported.id)
    finally:
        store.close()
    evil = 'evil\nname "<script>alert(1)</script>"\r\n'
    message = 'line one\n<img src=x onerror="alert(1)"> & "quotes"'
    data.results[0] = dataclasses.replace(
        data.results[0], resource=evil, message=message, title="two\nlines"
    )
    out = render_assessment_results(data)
    ar = AssessmentResults.model_validate(json.loads(out)["assessment-results"])
    o = next(o for o in ar.results[0].observations if o.description == message)
    assert prop(o, "resource") == 'evil name "<script>alert(1)</script>"'
    assert o.title == "two lines"
    # no assessment data, no document: one clear error
    data.results, data.attestations = [], []
    with pytest.raises(AssessorError, match="no results"):
        render_assessment_results(data)


def test_requirement_tokens_are_valid_and_distinct() -> None:
    assert requirement_token("nistir-8176", "5.2.1-c-ii") == "nistir-8176_5.2.1-c-ii"
    assert requirement_token("cis-docker-1.8.0", "1.1.1") == "cis-docker-1.8.0_1.1.1"
    assert requirement_token("nist-800-53r5", "CM-7(1)") == "nist-800-53r5_CM-7_28_1_29_"
    assert token("container-privileged") == "container-privileged" and token("8176") == "_8176"
    odd = ["a_b", "a_5f_b", "a b", "a(b", "é", "1", "_1", "-x"]
    catalog = load_catalog()
    pairs = [(fw, r.id) for fw, f in catalog.frameworks.items() for r in f.requirements]
    pairs += [("x", s) for s in odd] + [("1x", s) for s in odd]
    tokens = [requirement_token(fw, req) for fw, req in pairs]
    assert len(set(tokens)) == len(tokens)
    for t in tokens + [token(s) for s in odd]:
        SelectControlById(control_id=t)  # trestle checks the OSCAL token pattern


def test_controls_export_writes_catalog_and_profiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trestle.core.profile_resolver import ProfileResolver

    out = tmp_path / "oscal"
    r = run_cli("controls", "export", "--format", "oscal", "-o", str(out))
    assert r.code == 0, r.err
    catalog = load_catalog()
    # every framework has a profile: its requirements are controls of the catalog
    frameworks = sorted(catalog.frameworks)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["catalog.json"] + [f"profile-{fw}.json" for fw in frameworks]
    )
    cat = Catalog.oscal_read(out / "catalog.json")
    assert isinstance(cat, Catalog)
    all_valid(cat)
    rule_groups = [g for g in cat.groups if g.class_ == "rules"]
    controls = {c.id: (g.id, c) for g in rule_groups for c in g.controls}
    assert set(controls) == {token(rid) for rid in catalog.rules}
    for rid, rule in catalog.rules.items():
        group, c = controls[token(rid)]
        assert group == rule.target.value and c.title == rule.title
        assert prop(c, "severity") == rule.severity.value
        assert {p.value for p in c.props if p.name == "label"} == {rid}
        parts = {p.name: p.prose for p in c.parts}
        assert parts["statement"] == rule.description.strip()
        assert parts["guidance"] == rule.rationale.strip()
        if rule.remediation.strip():
            assert parts["remediation"] == rule.remediation.strip()
        assert len(c.links or []) == len(rule.references)
    # one group per framework, one control per requirement, linking to its rules
    fw_groups = {g.id: g for g in cat.groups if g.class_ == "framework"}
    assert set(fw_groups) == {token(fw) for fw in frameworks}
    for fw in frameworks:
        reqs = catalog.frameworks[fw].requirements
        group = fw_groups[token(fw)]
        assert [c.id for c in group.controls] == [requirement_token(fw, r.id) for r in reqs]
        for req, c in zip(reqs, group.controls, strict=True):
            assert c.title == req.title.strip() and prop(c, "requirement") == req.id
            assert {p.value for p in c.props if p.name == "label"} == {req.id}
            assert [link.href for link in c.links or []] == [
                f"#{token(r)}" for r in req.rules if r in catalog.rules
            ]
            (objective,) = [p for p in c.parts if p.name == "assessment-objective"]
            assert objective.id == objective_id(fw, req.id) and objective.prose
    (out / ".trestle").mkdir()  # a trestle workspace, for trestle's profile resolver
    monkeypatch.chdir(out)
    for fw in frameworks:
        path = out / f"profile-{fw}.json"
        profile = Profile.oscal_read(path)
        assert isinstance(profile, Profile)
        all_valid(profile)
        (imp,) = profile.imports
        assert imp.href == "catalog.json"
        selected = {_value(i) for i in imp.include_controls[0].with_ids}
        requirements = {requirement_token(fw, r.id) for r in catalog.frameworks[fw].requirements}
        expected = {rid for req in catalog.frameworks[fw].requirements for rid in req.rules} & set(
            catalog.rules
        )
        assert selected == requirements | {token(rid) for rid in expected}
        meets = {
            a.control_id: sorted(p.value for add in a.adds for p in add.props)
            for a in (profile.modify.alters if profile.modify else [])
        }
        assert meets == {token(rid): sorted(catalog.references[rid][fw]) for rid in expected}
        resolved = ProfileResolver.get_resolved_profile_catalog(out, str(path))
        got = {
            c.id: sorted(p.value for p in c.props if p.name == "requirement")
            for g in resolved.groups
            if g.class_ == "rules"
            for c in g.controls
        }
        assert got == meets, fw
        assert {c.id for g in resolved.groups if g.class_ == "framework" for c in g.controls} == (
            requirements
        )
    again = tmp_path / "again"
    assert run_cli("controls", "export", "--format", "oscal", "-o", str(again)).code == 0
    for p in again.iterdir():
        assert p.read_bytes() == (out / p.name).read_bytes(), p.name
