"""The control catalog as OSCAL (``assessor controls export --format oscal``): one catalog with
a group per rule target kind and one per framework, and one profile per framework (see the
package's docstring)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from assessor.errors import AssessorError
from assessor.export.oscal.base import (
    NS,
    Ids,
    dump,
    line,
    objective_id,
    prop,
    prop_list,
    requirement_token,
    token,
)
from assessor.vocab import Coverage

if TYPE_CHECKING:
    from trestle.core.base_model import OscalBaseModel
    from trestle.oscal import catalog as cat
    from trestle.oscal import common

    from assessor.catalog import Catalog
    from assessor.catalog.schema import Framework, Requirement, Rule

_KINDS = ("host", "engine", "container", "image", "registry")


def render_catalog(catalog: Catalog) -> dict[str, bytes]:
    """``{"catalog.json": ..., "profile-<framework>.json": ...}``: the rules and the framework
    requirements as one OSCAL catalog, and a profile per framework selecting its requirements
    and the rules that meet them."""
    try:
        for fw_id in sorted(catalog.frameworks):
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", fw_id):
                raise AssessorError(f"framework id {fw_id!r} cannot name a file")
        model = _catalog(catalog)
        _unique_ids(model)
        files = {"catalog.json": dump(model)}
        for fw_id in sorted(catalog.frameworks):
            files[f"profile-{fw_id}.json"] = dump(_profile(catalog, fw_id))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AssessorError(f"cannot export the catalog as OSCAL: {where}: {first['msg']}") from e
    return files


def _unique_ids(model: OscalBaseModel) -> None:
    """Every group, control and part id once (OSCAL's catalog index), or one clear error."""
    seen: Counter[str] = Counter()

    def walk(node: Any) -> None:
        for group in getattr(node, "groups", None) or []:
            seen[group.id] += 1
            walk(group)
        for control in getattr(node, "controls", None) or []:
            seen[control.id] += 1
            walk(control)
        for part in getattr(node, "parts", None) or []:
            if part.id:
                seen[part.id] += 1
            walk(part)

    walk(model)
    twice = sorted(i for i, n in seen.items() if n > 1)
    if twice:
        raise AssessorError(
            f"cannot export the catalog as OSCAL: id {twice[0]!r} names two things (a rule, "
            "framework or requirement id clashes with another)"
        )


def _catalog_metadata(catalog: Catalog, title: str, *extra: Any) -> common.Metadata:
    from trestle.oscal import OSCAL_VERSION, common

    return common.Metadata(
        title=line(title),
        last_modified=_catalog_date(catalog),
        version=catalog.digest or "unknown",
        oscal_version=OSCAL_VERSION,
        props=prop_list(prop("catalog-digest", catalog.digest), *extra),
        remarks="last-modified is the newest publication date of the catalog's frameworks: "
        "control files carry no dates, and exports never read the clock.",
    )


def _catalog_date(catalog: Catalog) -> datetime:
    dates = []
    for fw in catalog.frameworks.values():
        m = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", fw.framework.published.strip())
        if m:
            dates.append(datetime(int(m[1]), int(m[2] or 1), int(m[3] or 1), tzinfo=UTC))
    return max(dates, default=datetime(1970, 1, 1, tzinfo=UTC))


def _ordered_rules(catalog: Catalog) -> Iterable[Rule]:
    kinds = {k: i for i, k in enumerate(_KINDS)}
    return sorted(catalog.rules.values(), key=lambda r: (kinds.get(r.target.value, 99), r.id))


def _catalog(catalog: Catalog) -> OscalBaseModel:
    from trestle.oscal import catalog as cat
    from trestle.oscal import common

    ids = Ids(catalog.digest or "catalog")
    refs: dict[tuple[str, str], common.Resource] = {}
    groups: dict[str, list[cat.Control]] = defaultdict(list)
    for rule in _ordered_rules(catalog):
        links = []
        for ref in rule.references:
            key = (ref.title, ref.url or "")
            if key not in refs:
                refs[key] = common.Resource(
                    uuid=ids("reference", *key),
                    title=line(ref.title) or None,
                    rlinks=[common.Rlink(href=ref.url)] if ref.url else None,
                )
            links.append(
                common.Link(href=f"#{refs[key].uuid}", rel="reference", text=line(ref.title))
            )
        groups[rule.target.value].append(_control(rule, links or None))
    kinds = [k for k in _KINDS if k in groups] + sorted(k for k in groups if k not in _KINDS)
    return cat.Catalog(
        uuid=ids("catalog"),
        metadata=_catalog_metadata(
            catalog,
            "assessor rules and the framework requirements they meet",
            prop("rules", len(catalog.rules)),
            prop("frameworks", len(catalog.frameworks)),
        ),
        groups=[
            cat.Group2(
                id=token(k), class_="rules", title=f"{k.capitalize()} rules", controls=groups[k]
            )
            for k in kinds
        ]
        + [_framework_group(catalog, catalog.frameworks[fw]) for fw in sorted(catalog.frameworks)],
        back_matter=common.BackMatter(resources=list(refs.values())) if refs else None,
    )


def _control(rule: Rule, links: list[common.Link] | None) -> cat.Control:
    from trestle.oscal import catalog as cat
    from trestle.oscal import common

    cid = token(rule.id)
    method = "TEST" if rule.automated else "EXAMINE"
    procedure = "\n\n".join(
        t.strip() for t in (rule.audit, rule.manual.procedure if rule.manual else "") if t.strip()
    )
    texts = (
        ("statement", "smt", None, rule.description),
        ("guidance", "gdn", None, rule.rationale),
        ("impact", "imp", NS, rule.impact),
        ("assessment-method", "asm", None, procedure),
        ("remediation", "rem", NS, rule.remediation),
        ("default-value", "dfv", NS, rule.default_value),
    )
    parts = [
        common.Part(
            id=f"{cid}_{suffix}",
            name=name,
            ns=ns,
            prose=text.strip(),
            props=[common.Property(name="method", value=method)]
            if name == "assessment-method"
            else None,
        )
        for name, suffix, ns, text in texts
        if text.strip()
    ]
    return cat.Control(
        id=cid,
        class_="rule",
        title=line(rule.title),
        props=prop_list(
            common.Property(name="label", value=rule.id),
            prop("severity", rule.severity.value),
            prop("target", rule.target.value),
            prop("assessment", Coverage.AUTOMATED if rule.automated else Coverage.MANUAL),
            *(prop("tag", t) for t in rule.tags),
        ),
        links=links,
        parts=parts or None,
    )


def _framework_group(catalog: Catalog, fw: Framework) -> cat.Group2:
    from trestle.oscal import catalog as cat

    info = fw.framework
    return cat.Group2(
        id=token(info.id),
        class_="framework",
        title=line(f"{info.title} {info.version}"),
        props=prop_list(
            prop("framework", info.id),
            prop("framework-version", info.version),
            prop("framework-source", info.source),
            prop("framework-published", info.published),
        ),
        controls=[_requirement_control(catalog, info.id, req) for req in fw.requirements],
    )


def _requirement_control(catalog: Catalog, fw_id: str, req: Requirement) -> cat.Control:
    """A framework requirement as a control: its words, an assessment objective (what a
    finding targets) and links to the rule controls that meet it."""
    from trestle.oscal import catalog as cat
    from trestle.oscal import common

    cid = requirement_token(fw_id, req.id)
    rules = [r for r in req.rules if r in catalog.rules]
    coverage = catalog.coverage(req).value
    statement = req.text.strip() or req.summary.strip() or req.title.strip()
    if rules:
        met = (
            "Determine if every result of the rule(s) "
            + ", ".join(rules)
            + " on the targets in scope passes"
        )
        met += (
            ", and, for what no rule observes, an attestation answers it as passed."
            if coverage in (Coverage.PARTIAL, Coverage.MANUAL)
            else "."
        )
    else:
        met = "Determine, by an attestation, whether the requirement is met: no rule observes it."
    parts = [
        common.Part(id=f"{cid}_smt", name="statement", prose=statement),
        common.Part(
            id=objective_id(fw_id, req.id),
            name="assessment-objective",
            prose=met,
            props=[common.Property(name="method", value="TEST" if rules else "EXAMINE")],
        ),
    ]
    return cat.Control(
        id=cid,
        class_="requirement",
        title=line(req.title),
        props=prop_list(
            common.Property(name="label", value=line(req.id)),
            prop("framework", fw_id),
            prop("requirement", req.id),
            prop("section", req.section),
            prop("section-title", req.section_title),
            prop("level", req.level),
            prop("profile", req.profile),
            prop("modality", req.modality),
            prop("assessment", req.assessment),
            prop("coverage", coverage),
            prop("mapping-basis", req.mapping.basis if req.mapping else None),
        ),
        links=[common.Link(href=f"#{token(r)}", rel="related", text=r) for r in rules] or None,
        parts=parts,
    )


def _profile(catalog: Catalog, fw_id: str) -> OscalBaseModel:
    from trestle.oscal import common
    from trestle.oscal import profile as prof

    fw = catalog.frameworks[fw_id]
    meets: dict[str, list[Any]] = defaultdict(list)  # rule id -> requirements it meets
    for req in fw.requirements:
        for rule_id in req.rules:
            if rule_id in catalog.rules:
                meets[rule_id].append(req)
    selected = [r.id for r in _ordered_rules(catalog) if r.id in meets]
    ids = Ids(catalog.digest or "catalog")
    info = fw.framework
    alters = [
        prof.Alter(
            control_id=token(rule_id),
            adds=[
                prof.Add(
                    position="ending",
                    props=[
                        common.Property(
                            name="requirement",
                            ns=NS,
                            value=line(req.id),
                            class_=token(fw_id),
                            remarks=req.title,
                        )
                        for req in meets[rule_id]
                    ],
                )
            ],
        )
        for rule_id in selected
    ]
    with_ids = [requirement_token(fw_id, req.id) for req in fw.requirements]
    return prof.Profile(
        uuid=ids("profile", fw_id),
        metadata=_catalog_metadata(
            catalog,
            f"{info.title} {info.version}: its requirements and the assessor rules that meet them",
            prop("framework", info.id),
            prop("framework-version", info.version),
            prop("framework-source", info.source),
            prop("framework-published", info.published),
            prop("requirements", len(fw.requirements)),
        ),
        imports=[
            prof.Import2(
                href="catalog.json",
                include_controls=[
                    prof.SelectControl(with_ids=with_ids + [token(r) for r in selected])
                ],
            )
        ],
        merge=prof.Merge2(as_is=True),
        modify=prof.Modify(alters=alters) if alters else None,
    )
