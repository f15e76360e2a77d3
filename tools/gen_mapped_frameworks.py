"""Generate the mapped framework files from their sources and the CIS Docker v1.8.0 mapping.

    controls/frameworks/nistir-8176.yaml     from tools/frameworks/nistir-8176.src.yaml
    controls/frameworks/sp800-190.yaml       from tools/frameworks/sp800-190.src.yaml
    controls/frameworks/nist-800-53r5.yaml   from tools/frameworks/nist-800-53r5.src.yaml

A source requirement names the CIS Docker Benchmark v1.8.0 recommendations it maps to
(``cis: ["5.10", "2.*"]``; ``N.*`` means every recommendation of section N) and optionally
extra rules (``rules: [host-x]``, the manual rules written for what CIS does not cover), less
``except_rules`` (rules a CIS recommendation brings that do not bear on this requirement). The
output requirement's ``rules`` are the rules that controls/frameworks/cis-docker-1.8.0.yaml
lists for those recommendations, in the order the source names them, then the extra rules,
each once. Its ``notes`` say which CIS ids the mapping went through. The CIS file is read
every time, so when its rule lists grow, run this again:

    .venv/bin/python tools/gen_mapped_frameworks.py           # write the three files
    .venv/bin/python tools/gen_mapped_frameworks.py --check   # exit 1 if one is stale

Other source keys:
- ``status: partial`` (when the rules meet only part of the requirement) is copied when at
  least one of the requirement's rules is automated; with manual rules only it is left out and
  the coverage is derived from the rules (the catalog allows 'partial' only with an automated
  rule).
- ``mapping`` overrides the source file's ``defaults.mapping`` (``defaults.mapping_without_cis``
  for a requirement that names no CIS id).
- framework-level ``only_with_rules: true`` leaves out requirements that end up with no rule
  (800-53: only the controls that rules support); ``each_cis_once: true`` checks that every
  CIS id is mapped to exactly one requirement.
- ``cis_basis`` (800-53) tells, per CIS id, where the link comes from when it is not the
  MITRE tag: ``overlay`` (the CMS overlay's tag), ``replaced`` ({cis id: MITRE's tag}, our
  choice of the control the check supports) or ``untagged`` (no MITRE tag; ours by analogy).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "tools/frameworks"
FRAMEWORKS = ROOT / "controls/frameworks"
RULES = ROOT / "controls/rules"
CIS_FILE = FRAMEWORKS / "cis-docker-1.8.0.yaml"
NAMES = ("nistir-8176", "sp800-190", "nist-800-53r5")
CIS_NAME = "CIS Docker Benchmark v1.8.0"
WIDTH = 100
SOURCE_KEYS = {
    "id",
    "title",
    "section",
    "section_title",
    "summary",
    "modality",
    "cis",
    "rules",
    "status",
    "mapping",
    "rationale",
    "notes",
    "cis_basis",
    "except_rules",
}
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SourceError(Exception):
    pass


def load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (safe loader)


def cis_rules() -> dict[str, list[str]]:
    """CIS v1.8.0 id -> the rules its requirement lists, in file order."""
    doc = load(CIS_FILE)
    return {str(r["id"]): list(r.get("rules") or []) for r in doc["requirements"]}


class Rules:
    """Every rule file: whether it is automated."""

    def __init__(self) -> None:
        self.automated: dict[str, bool] = {}
        for path in sorted(RULES.rglob("*.y*ml")):
            doc = load(path)
            if isinstance(doc, dict) and "id" in doc:
                self.automated[str(doc["id"])] = "check" in doc


def expand(patterns: list[str], cis: dict[str, list[str]], where: str) -> list[str]:
    ids: list[str] = []
    for p in patterns:
        if p.endswith(".*"):
            found = [i for i in cis if i.startswith(p[:-1])]
        else:
            found = [p] if p in cis else []
        if not found:
            raise SourceError(f"{where}: no {CIS_NAME} recommendation {p!r}")
        ids.extend(i for i in found if i not in ids)
    return ids


def clean(text: Any) -> str:
    return " ".join(str(text).split())


def route_note(
    patterns: list[str], ids: list[str], cis: dict[str, list[str]], basis: dict[str, Any]
) -> str:
    """Which CIS ids the mapping went through, and (800-53) where each link comes from."""
    if not ids:
        return f"No {CIS_NAME} counterpart; the rules are listed directly."
    ruled = [i for i in ids if cis[i]]
    unruled = [i for i in ids if not cis[i]]
    if all(p.endswith(".*") for p in patterns):
        sections = [p[:-2] for p in patterns]
        return (
            f"Rules come through {CIS_NAME} section{'s' if len(sections) > 1 else ''} "
            f"{', '.join(sections)} (every recommendation; {len(ruled)} of {len(ids)} have "
            "rules so far)."
        )
    replaced = basis.get("replaced") or {}

    def label(i: str) -> str:
        if not basis:
            return i
        if i in basis.get("overlay", []):
            return f"{i} (CMS overlay)"
        if i in replaced:
            return f"{i} (ours; MITRE: {replaced[i]})"
        if i in basis.get("untagged", []):
            return f"{i} (ours; no MITRE tag)"
        return f"{i} (MITRE)"

    def listing(some: list[str]) -> str:
        return ", ".join(label(i) for i in some)

    if not ruled:
        return f"Mapped to {CIS_NAME} {listing(ids)}, none of which has a rule yet."
    note = f"Rules come through {CIS_NAME} {listing(ruled)}."
    if unruled:
        note += f" Also mapped, no rule yet: {listing(unruled)}."
    return note


def build(src: dict[str, Any], cis: dict[str, list[str]], rules: Rules) -> list[dict[str, Any]]:
    name = src["framework"]["id"]
    defaults = src.get("defaults") or {}
    only_with_rules = bool(src.get("only_with_rules"))
    seen_cis: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for req in src["requirements"]:
        where = f"{name}.src.yaml: requirement {req.get('id')!r}"
        unknown = set(req) - SOURCE_KEYS
        if unknown:
            raise SourceError(f"{where}: unknown keys {sorted(unknown)}")
        patterns = [str(p) for p in req.get("cis") or []]
        ids = expand(patterns, cis, where)
        basis = req.get("cis_basis") or {}
        named = set(basis.get("overlay", [])) | set(basis.get("replaced") or {})
        named |= set(basis.get("untagged", []))
        if named - set(ids):
            raise SourceError(
                f"{where}: cis_basis names ids not in cis: {sorted(named - set(ids))}"
            )
        if src.get("each_cis_once"):
            for i in ids:
                if i in seen_cis:
                    raise SourceError(f"{where}: CIS {i} is already mapped to {seen_cis[i]}")
                seen_cis[i] = str(req["id"])
        extra = [str(r) for r in req.get("rules") or []]
        for r in extra:
            if r not in rules.automated:
                raise SourceError(f"{where}: no rule file for {r!r}")
        dropped = {str(r) for r in req.get("except_rules") or []}
        unused = dropped - {r for i in ids for r in cis[i]}
        if unused:
            raise SourceError(f"{where}: except_rules names rules CIS does not bring: {unused}")
        merged: list[str] = []
        for r in [*(r for i in ids for r in cis[i] if r not in dropped), *extra]:
            if r not in merged:
                merged.append(r)
        if only_with_rules and not merged:
            continue
        if not merged:
            print(f"warning: {where} has no rule", file=sys.stderr)
        status = req.get("status")
        if status == "partial" and not any(rules.automated.get(r) for r in merged):
            status = None
        mapping = req.get("mapping") or (
            defaults.get("mapping") if ids else defaults.get("mapping_without_cis")
        )
        notes = [clean(req["notes"])] if req.get("notes") else []
        notes.append(route_note(patterns, ids, cis, basis))
        item: dict[str, Any] = {
            "id": str(req["id"]),
            "title": clean(req["title"]),
            "section": str(req["section"]),
            "section_title": clean(req.get("section_title", "")),
            "summary": clean(req.get("summary", "")),
            "modality": req.get("modality"),
            "rules": merged,
            "status": status,
            "mapping": (
                {
                    "basis": mapping["basis"],
                    "source": clean(mapping["source"]),
                    # why these rules meet this requirement (one line, per requirement)
                    **({"rationale": clean(req["rationale"])} if req.get("rationale") else {}),
                }
                if mapping
                else None
            ),
            "notes": " ".join(notes),
        }
        out.append({k: v for k, v in item.items() if v not in (None, "")})
    if src.get("each_cis_once"):
        missing = [i for i in cis if i not in seen_cis]
        if missing:
            raise SourceError(f"{name}.src.yaml: CIS ids mapped to no requirement: {missing}")
    return out


# --- writing ---------------------------------------------------------------------------------


def quoted(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text(key: str, value: str, indent: int) -> list[str]:
    """``key: "value"`` on one line when it fits, else a folded block scalar."""
    pad = " " * indent
    line = f"{pad}{key}: {quoted(value)}"
    if len(line) <= WIDTH:
        return [line]
    body = textwrap.wrap(
        value,
        width=WIDTH - indent - 2,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [f"{pad}{key}: >-", *(f"{pad}  {b}" for b in body)]


def render(src: dict[str, Any], reqs: list[dict[str, Any]]) -> str:
    fw = src["framework"]
    name = fw["id"]
    lines = [f"# {fw['title']} ({name}): generated, do not edit."]
    lines += [
        f"# Generated by tools/gen_mapped_frameworks.py from tools/frameworks/{name}.src.yaml",
        "# and the rule lists of controls/frameworks/cis-docker-1.8.0.yaml. Edit the source,",
        "# then run: .venv/bin/python tools/gen_mapped_frameworks.py",
    ]
    lines += [f"# {c}" for c in (src.get("header") or "").strip().splitlines()]
    lines.append("framework:")
    lines.append(f"  id: {name}")
    lines += text("title", clean(fw["title"]), 2)
    lines.append(f"  version: {quoted(str(fw['version']))}")
    lines.append(f"  source: {fw['source']}")
    if fw.get("published"):
        lines.append(f"  published: {quoted(str(fw['published']))}")
    if fw.get("notes"):
        lines += text("notes", clean(fw["notes"]), 2)
    lines.append("requirements:")
    for req in reqs:
        lines.append(f"  - id: {quoted(req['id'])}")
        for key in ("title", "section", "section_title", "summary"):
            if key in req:
                lines += text(key, req[key], 4)
        if "modality" in req:
            lines.append(f"    modality: {req['modality']}")
        if req["rules"]:
            lines.append("    rules:")
            lines += [f"      - {r}" for r in req["rules"]]
        else:
            lines.append("    rules: []")
        if "status" in req:
            lines.append(f"    status: {req['status']}")
        if "mapping" in req:
            lines.append("    mapping:")
            lines.append(f"      basis: {req['mapping']['basis']}")
            lines += text("source", req["mapping"]["source"], 6)
            if "rationale" in req["mapping"]:
                lines += text("rationale", req["mapping"]["rationale"], 6)
        if "notes" in req:
            lines += text("notes", req["notes"], 4)
    out = "\n".join(lines) + "\n"
    # the text must read back as exactly what was meant
    back = yaml.load(out, Loader=_Loader)  # noqa: S506 (safe loader)
    expected = {k: v for k, v in fw.items() if k in ("id", "version", "source", "published")}
    expected = {k: str(v) for k, v in expected.items()}
    got = {k: str(back["framework"][k]) for k in expected}
    if got != expected or back["requirements"] != reqs:
        raise SourceError(f"{name}: the rendered YAML does not read back as generated")
    return out


def generate() -> dict[Path, str]:
    cis = cis_rules()
    rules = Rules()
    out: dict[Path, str] = {}
    for name in NAMES:
        src = load(SOURCES / f"{name}.src.yaml")
        if src["framework"]["id"] != name:
            raise SourceError(f"{name}.src.yaml: framework id is {src['framework']['id']!r}")
        out[FRAMEWORKS / f"{name}.yaml"] = render(src, build(src, cis, rules))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a committed output differs from the source"
    )
    args = parser.parse_args(argv)
    try:
        outputs = generate()
    except (SourceError, OSError, KeyError, yaml.YAMLError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stale = []
    for path, content in outputs.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == content:
            continue
        if args.check:
            stale.append(path.relative_to(ROOT).as_posix())
        else:
            path.write_text(content, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT).as_posix()}")
    if stale:
        print(
            "stale (regenerate with .venv/bin/python tools/gen_mapped_frameworks.py): "
            + ", ".join(stale),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
