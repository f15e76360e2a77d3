"""OSCAL exports as one closed set: the assessment results of a real, finalised assessment
and the catalog and profiles `assessor controls export --format oscal` writes, validated
against NIST's OSCAL 1.2.1 JSON schema, with every reference in the results resolved (findings
to objectives of the catalog through the framework's profile, uuids to what they name, roles
to roles) and every requirement status read from the read model, never "satisfied" unless
it passed."""

from __future__ import annotations

import argparse
import copy
import json
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from trestle.core.validator_factory import validator_factory
from trestle.oscal import OSCAL_VERSION
from trestle.oscal.assessment_results import AssessmentResults

from assessor.catalog import load_catalog
from assessor.export.oscal import NS, objective_id, requirement_token, token
from tests.conftest import ROOT, Exported, run_cli

SCHEMA = ROOT / "tests" / "fixtures" / "oscal-schema" / "oscal_complete_schema-1.2.1.json"
FINALISER = 'Ada "QA" <Lovelace>'
ATTACHED_NAME = 'review minutes "Q4" <draft>.txt'
ATTACHED_BODY = b"minutes of the access review\x00\xff binary too\n"


# --- the NIST schema -------------------------------------------------------------------------


# RFC 3986: the characters a URI reference may hold (percent-escapes whole), and a scheme
_URI_REF = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _uri_reference(v: str) -> bool:
    return bool(_URI_REF.fullmatch(v))


def _pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Iterator[Any]:
    """jsonschema's pattern keyword with the Unicode classes OSCAL's token pattern uses, which
    Python's re lacks: \\p{L} (a letter) as [^\\W\\d_] and \\p{N} (a number) as \\d. Both are
    exact on ASCII, and every token assessor writes is ASCII."""
    if not validator.is_type(instance, "string"):
        return
    translated = patrn.replace(r"\p{L}", r"[^\W\d_]").replace(r"\p{N}", r"\d")
    if not re.search(translated, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")


@pytest.fixture(scope="module")
def oscal_validator() -> jsonschema.Draft7Validator:
    """NIST's OSCAL complete schema (the release trestle models), formats checked too."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$id"].endswith(f"/{OSCAL_VERSION}/oscal-complete-schema.json")
    # the metaschema, regex format aside (\p{..} is ECMA-262, not Python)
    jsonschema.Draft7Validator.check_schema(schema, format_checker=None)
    formats = jsonschema.FormatChecker()
    formats.checks("uri", raises=ValueError)(
        lambda v: not isinstance(v, str) or (_uri_reference(v) and bool(_SCHEME.match(v)))
    )
    formats.checks("uri-reference", raises=ValueError)(
        lambda v: not isinstance(v, str) or _uri_reference(v)
    )
    formats.checks("date-time", raises=ValueError)(
        lambda v: not isinstance(v, str) or datetime.fromisoformat(v).tzinfo is not None
    )
    cls = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": _pattern})
    return cls(schema, format_checker=formats)  # type: ignore[no-any-return]


def schema_errors(validator: jsonschema.Draft7Validator, doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}"[:300] for e in validator.iter_errors(doc)]


# --- one finalised assessment and the catalog, exported by the CLI ---------------------------


@dataclass
class Bundle:
    results: list[dict[str, Any]]  # `export --format json` of the same assessment
    ar: dict[str, Any]  # the "assessment-results" object
    catalog: dict[str, Any]  # the "catalog" object
    profiles: dict[str, dict[str, Any]]  # framework id -> the "profile" object
    resolved: dict[str, dict[str, Any]]  # framework id -> trestle's resolved profile catalog
    catalog_dir: Path
    view: Any  # assessor.readmodel.AssessmentView of the same assessment

    @property
    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = self.ar["results"][0]
        return out


def _copy_db(src: str, dst: Path) -> str:
    """A consistent copy of the fixture's SQLite store (WAL included), to finalise."""
    with sqlite3.connect(src.removeprefix("sqlite:///")) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    return f"sqlite:///{dst}"


@pytest.fixture(scope="module")
def bundle(exported: Exported, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bundle]:
    from trestle.core.profile_resolver import ProfileResolver

    from assessor.readmodel import load
    from assessor.store import open_store

    tmp = tmp_path_factory.mktemp("oscal-refs")
    db = _copy_db(exported.db, tmp / "final.db")
    # one more attestation, a failure with a file attached, on a requirement left manual
    store = open_store(db)
    try:
        before = load(store, load_catalog(), exported.id)
        manual = next(
            rs
            for fw in before.frameworks.values()
            for rs in fw.requirements
            if rs.status == "manual" and rs.attestation is None
        )
    finally:
        store.close()
    attached = tmp / ATTACHED_NAME
    attached.write_bytes(ATTACHED_BODY)
    r = run_cli(
        "attest", f"{manual.framework}:{manual.id}", "--status", "fail", "--by", "auditor",
        "--note", "the review found no owner", "--evidence", str(attached),
        "--system", "export-test", "--period", before.period, db=db,
    )  # fmt: skip
    assert r.code == 0, r.err
    r = run_cli("finalise", exported.id, "--by", FINALISER, db=db)
    assert r.code == 0, r.err
    out = tmp / "ar.json"
    r = run_cli("export", exported.id, "--format", "oscal", "-o", str(out), db=db)
    assert r.code == 0, r.err
    r = run_cli("export", exported.id, "--format", "json", "-o", str(tmp / "r.json"), db=db)
    assert r.code == 0, r.err
    cat_dir = tmp / "catalog"
    r = run_cli("controls", "export", "--format", "oscal", "-o", str(cat_dir))
    assert r.code == 0, r.err
    profiles = {
        p.name.removeprefix("profile-").removesuffix(".json"): json.loads(p.read_text())["profile"]
        for p in sorted(cat_dir.glob("profile-*.json"))
    }
    (cat_dir / ".trestle").mkdir()  # a trestle workspace, for trestle's profile resolver
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cat_dir)  # the profiles import "catalog.json", relative to the workspace
        resolved = {
            fw: json.loads(
                ProfileResolver.get_resolved_profile_catalog(
                    cat_dir, str(cat_dir / f"profile-{fw}.json")
                ).oscal_serialize_json()
            )["catalog"]
            for fw in profiles
        }
    store = open_store(db)
    try:
        view = load(store, load_catalog(), exported.id)
        view.frameworks  # noqa: B018  (rolled up while the store is open)
        yield Bundle(
            json.loads((tmp / "r.json").read_text())["results"],
            json.loads(out.read_text())["assessment-results"],
            json.loads((cat_dir / "catalog.json").read_text())["catalog"],
            profiles,
            resolved,
            cat_dir,
            view,
        )
    finally:
        store.close()


def walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str, Any]]:
    """(path, key, value) of every key anywhere in a JSON document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from walk(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, (*path, i))


def props(obj: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for p in obj.get("props", []):
        out[p["name"]].append(p["value"])
    return out


def prop(obj: dict[str, Any], name: str) -> str | None:
    values = props(obj).get(name)
    assert values is None or len(values) == 1, (name, values)
    return values[0] if values else None


def catalog_ids(catalog: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Controls by id, and assessment-objective part id -> its control id."""
    controls: dict[str, dict[str, Any]] = {}
    objectives: dict[str, str] = {}

    def parts(control_id: str, node: dict[str, Any]) -> None:
        for part in node.get("parts", []):
            if part["name"] == "assessment-objective":
                objectives[part["id"]] = control_id
            parts(control_id, part)

    def visit(node: dict[str, Any]) -> None:
        for group in node.get("groups", []):
            visit(group)
        for control in node.get("controls", []):
            controls[control["id"]] = control
            parts(control["id"], control)
            visit(control)

    visit(catalog)
    return controls, objectives


# --- the tests -------------------------------------------------------------------------------


def test_nist_schema_accepts_the_results_catalog_and_profiles(
    bundle: Bundle, oscal_validator: jsonschema.Draft7Validator
) -> None:
    assert schema_errors(oscal_validator, {"assessment-results": bundle.ar}) == []
    assert schema_errors(oscal_validator, {"catalog": bundle.catalog}) == []
    assert sorted(bundle.profiles) == sorted(load_catalog().frameworks)
    for fw, profile in bundle.profiles.items():
        assert schema_errors(oscal_validator, {"profile": profile}) == [], fw
    # the validator does reject what is wrong: a state OSCAL lacks, a bad uuid, a time
    # without zone, a token with a space, an unknown key (on a trimmed copy, for speed: the
    # schema checks no references)
    small = copy.deepcopy(bundle.ar)
    for key in ("observations", "findings"):
        small["results"][0][key] = small["results"][0][key][:3]
    assert schema_errors(oscal_validator, {"assessment-results": small}) == []
    finding = ("results", 0, "findings", 0)
    for path, value in (
        ((*finding, "target", "status", "state"), "not-applicable"),
        ((*finding, "uuid"), "not-a-uuid"),
        (("metadata", "last-modified"), "2026-01-01T00:00:00"),
        ((*finding, "target", "target-id"), "has space"),
        ((*finding, "target", "bogus"), 1),
    ):
        broken = copy.deepcopy(small)
        node = broken
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        assert schema_errors(oscal_validator, {"assessment-results": broken}), path


def test_every_reference_in_the_results_resolves(bundle: Bundle) -> None:
    """Findings and reviewed controls name controls and objectives of the exported catalog,
    selected by the framework's profile; every uuid, role and fragment names what it should."""
    ar, result = bundle.ar, bundle.result
    controls, objectives = catalog_ids(bundle.catalog)
    findings = result["findings"]
    assert findings
    for f in findings:
        fw, req = prop(f, "framework"), prop(f, "requirement")
        assert fw is not None and req is not None
        target = f["target"]
        assert target["type"] == "objective-id"
        assert target["target-id"] == objective_id(fw, req)
        # the objective is in the catalog, a part of the requirement's control ...
        control_id = objectives[target["target-id"]]
        control = controls[control_id]
        assert control_id == requirement_token(fw, req) and control["class"] == "requirement"
        assert prop(control, "framework") == fw and prop(control, "requirement") == req
        # ... and in the framework's profile, resolved by trestle
        _, resolved_objectives = catalog_ids(bundle.resolved[fw])
        assert resolved_objectives.get(target["target-id"]) == control_id, (fw, req)
    reviewed = result["reviewed-controls"]
    for sel in reviewed["control-selections"]:
        fw = prop(sel, "framework")
        assert fw is not None
        resolved_controls, _ = catalog_ids(bundle.resolved[fw])
        for c in sel["include-controls"]:
            assert c["control-id"] in resolved_controls, (fw, c)
    for sel in reviewed["control-objective-selections"]:
        fw = prop(sel, "framework")
        assert fw is not None
        _, resolved_objectives = catalog_ids(bundle.resolved[fw])
        for o in sel["include-objectives"]:
            assert o["objective-id"] in resolved_objectives, (fw, o)
    # the rule controls a requirement control links to exist and are rules
    for control in controls.values():
        for link in control.get("links", []):
            if link["href"].startswith("#") and link.get("rel") == "related":
                assert controls[link["href"][1:]]["class"] == "rule"

    # every uuid reference, by kind
    local = result["local-definitions"]
    assets = local["assessment-assets"]
    named = {
        "observation": {o["uuid"] for o in result["observations"]},
        "risk": {r["uuid"] for r in result.get("risks", [])},
        "inventory-item": {i["uuid"] for i in local["inventory-items"]},
        "party": {p["uuid"] for p in ar["metadata"]["parties"]},
        "tool": {c["uuid"] for c in assets["components"]},
        "assessment-platform": {p["uuid"] for p in assets["assessment-platforms"]},
        "resource": {r["uuid"] for r in ar["back-matter"]["resources"]},
    }
    roles = {r["id"] for r in ar["metadata"]["roles"]}
    checked: Counter[str] = Counter()
    for path, key, value in walk(ar):
        parent: Any = ar
        for p in path:
            parent = parent[p]
        if key == "observation-uuid":
            assert value in named["observation"]
        elif key == "risk-uuid":
            assert value in named["risk"]
        elif key == "subject-uuid":
            assert parent["type"] == "inventory-item" and value in named["inventory-item"]
        elif key in ("party-uuid", "party-uuids"):
            for u in value if isinstance(value, list) else [value]:
                assert u in named["party"]
        elif key == "actor-uuid":
            assert value in named[parent["type"]]  # party | tool | assessment-platform
        elif key == "component-uuid":
            assert value in named["tool"]
        elif key == "role-id":
            assert value in roles
        elif key == "href" and isinstance(value, str) and value.startswith("#"):
            assert value[1:] in named["resource"], value
            checked["fragment"] += 1
            continue
        elif key.endswith(("-uuid", "-uuids")):
            pytest.fail(f"unchecked reference {key} at {path}")
        else:
            continue
        checked[key] += 1
    for key in (
        "observation-uuid",
        "risk-uuid",
        "subject-uuid",
        "party-uuid",
        "party-uuids",
        "actor-uuid",
        "component-uuid",
        "role-id",
        "fragment",
    ):
        assert checked[key], key  # each kind of reference occurs, so each was checked
    # every uuid is defined once, and trestle's own validators agree
    uuids = [v for _, k, v in walk(ar) if k == "uuid"]
    assert len(uuids) == len(set(uuids))
    validator = validator_factory.get(argparse.Namespace(mode="all"))
    model = AssessmentResults.model_validate(ar)
    assert validator.model_is_valid(model, True), validator.error_msg()


def test_catalog_ids_are_unique_and_follow_the_token_rules(bundle: Bundle) -> None:
    catalog = load_catalog()
    ids = [v for _, k, v in walk(bundle.catalog) if k == "id"]
    assert len(ids) == len(set(ids))
    controls, objectives = catalog_ids(bundle.catalog)
    expected = {token(r) for r in catalog.rules} | {
        requirement_token(fw, req.id)
        for fw, f in catalog.frameworks.items()
        for req in f.requirements
    }
    assert set(controls) == expected
    assert set(objectives) == {
        objective_id(fw, req.id) for fw, f in catalog.frameworks.items() for req in f.requirements
    }
    # each framework's profile selects all its requirements and the rules they use
    for fw, f in catalog.frameworks.items():
        resolved, _ = catalog_ids(bundle.resolved[fw])
        rules = {r for req in f.requirements for r in req.rules if r in catalog.rules}
        assert set(resolved) == {requirement_token(fw, q.id) for q in f.requirements} | {
            token(r) for r in rules
        }, fw


def test_statuses_are_the_read_models_and_never_satisfied_unless_passed(bundle: Bundle) -> None:
    view = bundle.view
    findings: dict[tuple[str, str], dict[str, Any]] = {
        (str(prop(f, "framework")), str(prop(f, "requirement"))): f
        for f in bundle.result["findings"]
    }
    seen: Counter[str] = Counter()
    for fw_id, fw in view.frameworks.items():
        by_status: Counter[str] = Counter()
        satisfied = 0
        for rs in fw.requirements:
            f = findings.get((fw_id, rs.id))
            if rs.status == "not_assessed":
                assert f is None, (fw_id, rs.id)
                continue
            assert f is not None, (fw_id, rs.id)
            assert prop(f, "status") == rs.status
            target = f["target"]
            by_status[rs.status] += 1
            seen[rs.status] += 1
            if target["status"]["state"] == "satisfied":
                satisfied += 1
                assert rs.status == "pass"
            else:
                assert target["status"]["state"] == "not-satisfied"
                assert rs.status != "pass"
            if rs.status == "not_applicable":
                assert target["implementation-status"]["state"] == "not-applicable"
                assert target["status"]["reason"] == "other"
                assert "Not applicable" in target["status"]["remarks"]
            if rs.status == "waived":
                assert f.get("related-risks"), (fw_id, rs.id)
            # the observations are exactly the requirement's results and its attestation
            related = {o["observation-uuid"] for o in f.get("related-observations", [])}
            assert len(related) == len(rs.result_ids) + (rs.attestation is not None)
        assert satisfied == fw.counts["pass"], fw_id
        # the reviewed controls carry the framework's counts, not_assessed included (a
        # framework nothing addressed is not among them)
        sels = [
            c
            for c in bundle.result["reviewed-controls"]["control-selections"]
            if prop(c, "framework") == fw_id
        ]
        assert len(sels) == (1 if by_status else 0), fw_id
        for sel in sels:
            counts = {
                p["class"]: int(p["value"]) for p in sel["props"] if p["name"] == "requirements"
            }
            assert counts == fw.counts, fw_id
    # the fixture has each of these, so each branch above ran
    assert seen["pass"] and seen["fail"] and seen["waived"] and seen["not_applicable"], seen


def test_not_applicable_from_the_results_themselves(bundle: Bundle, exported: Exported) -> None:
    """Independently of the read model: a requirement all of whose results are
    not_applicable (per `assessor results --format json`) is a not-satisfied finding."""
    r = exported.cli("results", exported.id, "--format", "json")
    assert r.code == 0, r.err
    statuses: dict[tuple[str, str], set[str]] = defaultdict(set)
    for res in r.json()["results"]:
        for fw, reqs in res["references"].items():
            for req in reqs:
                statuses[(fw, req)].add(res["status"])
    attested = {(a["framework"], a["requirement"]) for a in bundle.view.attestations}
    na = [k for k, s in statuses.items() if s == {"not_applicable"} and k not in attested]
    assert na
    findings = {
        (prop(f, "framework"), prop(f, "requirement")): f for f in bundle.result["findings"]
    }
    for k in na:
        assert findings[k]["target"]["status"]["state"] == "not-satisfied", k


def test_parties_roles_and_assets(bundle: Bundle, exported: Exported) -> None:
    ar, result = bundle.ar, bundle.result
    md = ar["metadata"]
    party = {p["name"]: p["uuid"] for p in md["parties"]}
    assert all(p["type"] == "person" for p in md["parties"])
    holders = {rp["role-id"]: set(rp["party-uuids"]) for rp in md["responsible-parties"]}
    assert holders["assessor"] == {party[FINALISER]}
    assert prop(md, "finalised-by") == FINALISER
    assert holders["approver"] == {party["CISO"]}
    assert holders["attester"] == {party["auditor"]}
    assert {r["id"] for r in md["roles"]} == {"assessor", "approver", "attester"}
    # the waiver's risk log: approved by the approver, on the date it was recorded
    (risk,) = result["risks"]
    (waiver,) = bundle.view.waivers
    (entry,) = risk["risk-log"]["entries"]
    assert entry["logged-by"] == [{"party-uuid": party["CISO"], "role-id": "approver"}]
    assert entry["status-change"] == "deviation-approved"
    assert datetime.fromisoformat(entry["start"]) == datetime.fromisoformat(
        waiver["created"]
    ).replace(microsecond=0)
    # the attestation's observation comes from the attester
    obs = {o["uuid"]: o for o in result["observations"]}
    attestations = [o for o in obs.values() if prop(o, "attestation")]
    assert len(attestations) == len(bundle.view.attestations) == 2
    for att in attestations:
        (origin,) = att["origins"]
        assert origin["actors"] == [
            {"type": "party", "actor-uuid": party["auditor"], "role-id": "attester"}
        ]
    # the tool: one component on one platform; every result observation comes from it and
    # is about its target's inventory item
    assets = result["local-definitions"]["assessment-assets"]
    (tool,) = assets["components"]
    assert tool["type"] == "software" and prop(tool, "version")
    (platform,) = assets["assessment-platforms"]
    assert platform["uses-components"] == [{"component-uuid": tool["uuid"]}]
    items = {prop(i, "target"): i for i in result["local-definitions"]["inventory-items"]}
    assert set(items) == set(bundle.view.scope)
    for t in bundle.view.targets:
        assert prop(items[t.uri], "kind") == t.kind
    for o in obs.values():
        if prop(o, "rule") is None:
            continue
        assert o["origins"] == [{"actors": [{"type": "tool", "actor-uuid": tool["uuid"]}]}]
        (subject,) = o["subjects"]
        assert subject["subject-uuid"] in {i["uuid"] for i in items.values()}
    assert all(str(p.get("ns", NS)) == NS for p in props_everywhere(ar))


def props_everywhere(doc: Any) -> Iterator[dict[str, Any]]:
    for _, k, v in walk(doc):
        if k == "props":
            yield from v


def test_attestation_files_travel_with_the_results(bundle: Bundle) -> None:
    """The attested failure: a not-satisfied finding whose attestation observation cites the
    attached file, embedded in the back matter (base64) with its name and SHA-256."""
    import base64
    import hashlib

    result = bundle.result
    (att,) = [a for a in bundle.view.attestations if a.get("evidence")]
    (file,) = att["evidence"]
    sha = hashlib.sha256(ATTACHED_BODY).hexdigest()
    assert file["sha256"] == sha
    finding = next(
        f
        for f in result["findings"]
        if (prop(f, "framework"), prop(f, "requirement")) == (att["framework"], att["requirement"])
    )
    assert prop(finding, "status") == "fail"
    assert finding["target"]["status"] == {
        "state": "not-satisfied",
        "reason": "fail",
        "remarks": finding["target"]["status"]["remarks"],
    }
    obs = {o["uuid"]: o for o in result["observations"]}
    (o,) = [
        obs[r["observation-uuid"]]
        for r in finding["related-observations"]
        if prop(obs[r["observation-uuid"]], "attestation")
    ]
    assert o["description"] == "the review found no owner"
    (cited,) = o["relevant-evidence"]
    resources = {r["uuid"]: r for r in bundle.ar["back-matter"]["resources"]}
    res = resources[cited["href"][1:]]
    assert base64.b64decode(res["base64"]["value"]) == ATTACHED_BODY
    # an OSCAL file name is a token: the name as recorded is in the title and a prop
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9._-]*", res["base64"]["filename"])
    assert res["base64"]["filename"].endswith(".txt") and prop(res, "name") == ATTACHED_NAME
    (link,) = res["rlinks"]
    assert link["hashes"] == [{"algorithm": "SHA-256", "value": sha}]


def test_result_counts_per_framework_equal_the_json_export(bundle: Bundle) -> None:
    """Per framework, the results behind its findings (each once, by status) are the results
    the JSON export says reference it; overall, one observation per result, same statuses."""
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for r in bundle.results:
        for fw in r["references"]:
            expected[fw][r["status"]] += 1
    obs = {o["uuid"]: o for o in bundle.result["observations"]}
    got: dict[str, Counter[str]] = defaultdict(Counter)
    behind: dict[str, set[str]] = defaultdict(set)
    for f in bundle.result["findings"]:
        for rel in f.get("related-observations", []):
            o = obs[rel["observation-uuid"]]
            if prop(o, "rule") is not None:  # a result, not an attestation
                behind[str(prop(f, "framework"))].add(o["uuid"])
    for fw, uuids in behind.items():
        got[fw] = Counter(str(prop(obs[u], "status")) for u in uuids)
    assert got == expected
    for fw, status in bundle.view.frameworks.items():
        assert {s: n for s, n in status.result_counts.items() if n} == dict(expected[fw]), fw
    assert Counter(str(prop(o, "status")) for o in obs.values() if prop(o, "rule")) == Counter(
        r["status"] for r in bundle.results
    )


def test_hostile_names_are_data_on_one_line(bundle: Bundle) -> None:
    """Names come from people (--by, --approver): line breaks become spaces, the rest is kept
    as text; the same name in two roles is one party."""
    import dataclasses

    from assessor.export.oscal import render_assessment_results

    evil = 'Mallory\n"</script>" \u202e'
    view = dataclasses.replace(
        bundle.view,
        assessment={**bundle.view.assessment, "finalised_by": evil},
        waivers=[{**w, "approver": evil} for w in bundle.view.waivers],
    )
    md = json.loads(render_assessment_results(view))["assessment-results"]["metadata"]
    (party,) = [p for p in md["parties"] if "Mallory" in p["name"]]
    assert party["name"] == 'Mallory "</script>" \u202e'
    holders = {rp["role-id"]: rp["party-uuids"] for rp in md["responsible-parties"]}
    assert holders["assessor"] == holders["approver"] == [party["uuid"]]


def test_a_clash_of_ids_is_one_clear_error() -> None:
    """A framework named like a rule would give its group the rule's control id: the catalog
    export refuses (references must resolve to one thing) instead of writing it."""
    import dataclasses

    from assessor.errors import AssessorError
    from assessor.export.oscal import render_catalog

    catalog = load_catalog()
    rule = sorted(catalog.rules)[0]
    fw = next(iter(catalog.frameworks.values()))
    clash = fw.model_copy(update={"framework": fw.framework.model_copy(update={"id": rule})})
    bad = dataclasses.replace(catalog, frameworks={**catalog.frameworks, rule: clash})
    with pytest.raises(AssessorError, match=f"id '{rule}' names two things") as e:
        render_catalog(bad)
    assert "\n" not in str(e.value)
    assert "catalog.json" in render_catalog(catalog)  # the real catalog has no clash
