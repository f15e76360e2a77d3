"""Generate docs/controls.md, the controls reference, from the built-in catalog (controls/).

Per framework: its requirements with our coverage and the rules meeting each. Then every rule:
title, target, severity, automated or manual, description, what the check reads (or the manual
procedure), audit, remediation, and every framework requirement that lists it. The output
depends only on the control files, so a test can keep the committed page up to date:

    python tools/gen_docs.py           # write docs/controls.md (what `make docs` runs)
    python tools/gen_docs.py --check   # write nothing; exit 1 when docs/controls.md is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from assessor.catalog import Catalog, load_catalog
from assessor.catalog.compare import coverage_summary, natural_key, sorted_frameworks
from assessor.catalog.schema import (
    AllOf,
    AnyOf,
    Condition,
    Framework,
    FunctionCheck,
    Leaf,
    NotOf,
    Rule,
)
from assessor.errors import AssessorError
from assessor.vocab import Coverage, RuleTarget

OUT = Path(__file__).resolve().parent.parent / "docs/controls.md"
COVERAGE_MEANING = {
    Coverage.AUTOMATED: "every rule listed is automated",
    Coverage.PARTIAL: "automated in part; a person judges the rest",
    Coverage.MANUAL: "only manual rules: a person follows the procedure and attests",
    Coverage.NOT_APPLICABLE: "does not apply to the deployments assessor judges",
    Coverage.NOT_COVERED: "no rule yet",
}

# ---- Markdown escaping ---------------------------------------------------------------------

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&])")
_LIST_START = re.compile(r"^([-+])(?=\s|$)")
_SETEXT = re.compile(r"^(=+|-+)(?=\s*$)")
_ORDERED_START = re.compile(r"^(\d+)([.)])(?=\s|$)")


def text(s: str) -> str:
    """Prose: Markdown and HTML characters escaped; line breaks and paragraphs kept."""
    paragraphs = []
    for para in re.split(r"\n\s*\n", s.strip()):
        lines = []
        for line in para.splitlines():
            line = _SPECIAL.sub(r"\\\1", line.strip())
            line = _LIST_START.sub(r"\\\1", line)
            line = _SETEXT.sub(r"\\\1", line)
            line = _ORDERED_START.sub(r"\1\\\2", line)
            lines.append(line)
        paragraphs.append("\\\n".join(lines))
    return "\n\n".join(paragraphs)


def cell(s: str) -> str:
    """A table cell: escaped prose on one line, line breaks as <br>."""
    return "<br>".join(text(line) for line in s.strip().splitlines() if line.strip())


def code(s: str, *, in_table: bool = False) -> str:
    """An inline code span holding ``s`` verbatim (on one line)."""
    s = " ".join(s.split("\n"))
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    ticks = "`" * (longest + 1)
    if s.startswith("`") or s.endswith("`"):
        s = f" {s} "
    if in_table:
        s = s.replace("|", "\\|")
    return f"{ticks}{s}{ticks}"


def fenced(s: str) -> str:
    """A fenced text block holding ``s`` verbatim."""
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{s.rstrip()}\n{ticks}"


def value(v: Any) -> str:
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


# ---- anchors and links ---------------------------------------------------------------------


def fw_anchor(fw_id: str) -> str:
    return f"framework-{fw_id}"


def rule_anchor(rule_id: str) -> str:
    return f"rule-{rule_id}"


def rule_link(rule_id: str) -> str:
    return f"[{rule_id}](#{rule_anchor(rule_id)})"


# ---- sections ------------------------------------------------------------------------------


def condition_lines(node: Condition, depth: int = 0) -> list[str]:
    pad = "  " * depth
    if isinstance(node, AllOf):
        return [f"{pad}- all of:"] + [ln for c in node.all for ln in condition_lines(c, depth + 1)]
    if isinstance(node, AnyOf):
        return [f"{pad}- any of:"] + [ln for c in node.any for ln in condition_lines(c, depth + 1)]
    if isinstance(node, NotOf):
        return [f"{pad}- not:", *condition_lines(node.not_, depth + 1)]
    assert isinstance(node, Leaf)
    line = f"{pad}- {code(node.evidence)} {node.op.value}"
    if "value" in node.model_fields_set:
        line += f" {code(value(node.value))}"
    if node.has_default:
        line += f" (when absent: {code(value(node.default))})"
    return [line]


def framework_section(cat: Catalog, fw: Framework) -> list[str]:
    info = fw.framework
    counts = coverage_summary(cat, fw)
    out = [
        f'<a id="{fw_anchor(info.id)}"></a>',
        "",
        f"## {text(info.title)} {text(info.version)} ({code(info.id)})",
        "",
    ]
    source = (
        f"<{info.source}>" if re.fullmatch(r"https?://[^\s<>]+", info.source) else text(info.source)
    )
    facts = [f"Source: {source}"] if info.source else []
    if info.published:
        facts.append(f"published {text(info.published)}")
    if facts:
        out += ["; ".join(facts) + ".", ""]
    if info.notes:
        out += [text(info.notes), ""]
    summary = ", ".join(f"{n} {c}" for c, n in counts.items() if n)
    out += [f"{len(fw.requirements)} requirements: {summary}.", ""]
    has_level = any(r.level is not None for r in fw.requirements)
    has_assessment = any(r.assessment for r in fw.requirements)
    has_notes = any(r.notes for r in fw.requirements)
    header = ["Requirement", "Title"]
    if has_level:
        header.append("Level")
    if has_assessment:
        header.append("Assessment")
    header += ["Coverage", "Rules"]
    if has_notes:
        header.append("Notes")
    out += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for req in fw.requirements:
        row = [cell(req.id), cell(req.title)]
        if has_level:
            row.append("" if req.level is None else str(req.level))
        if has_assessment:
            row.append(req.assessment or "")
        row += [cat.coverage(req).value, ", ".join(rule_link(r) for r in req.rules)]
        if has_notes:
            row.append(cell(req.notes))
        out.append("| " + " | ".join(row) + " |")
    return [*out, ""]


def mappings(cat: Catalog) -> dict[str, list[str]]:
    """Rule id -> one Markdown line per framework requirement that lists the rule."""
    out: dict[str, list[str]] = {}
    for fw in sorted_frameworks(cat):
        info = fw.framework
        for req in fw.requirements:
            for rule_id in req.rules:
                out.setdefault(rule_id, []).append(
                    f"- [{text(info.title)} {text(info.version)}](#{fw_anchor(info.id)}) "
                    f"{text(req.id)}: {text(req.title)}"
                )
    return out


def block(label: str, body: str) -> list[str]:
    """One line of prose as a paragraph; several lines (commands, steps) verbatim."""
    if "\n" in body.strip():
        return [f"**{label}:**", "", fenced(body), ""]
    return [f"**{label}.** {text(body)}", ""]


def rule_section(rule: Rule, maps: list[str]) -> list[str]:
    kind = "automated" if rule.automated else "manual"
    path = f"controls/rules/{rule.target.value}/{rule.id}.yaml"
    out = [
        f'<a id="{rule_anchor(rule.id)}"></a>',
        "",
        f"### {rule.id}",
        "",
        f"**{text(rule.title)}**",
        "",
        "| Target | Severity | Kind | File |",
        "| --- | --- | --- | --- |",
        f"| {rule.target.value} | {rule.severity.value} | {kind} | {code(path, in_table=True)} |",
        "",
        text(rule.description),
        "",
        f"**Rationale.** {text(rule.rationale)}",
        "",
    ]
    if rule.impact:
        out += [f"**Impact.** {text(rule.impact)}", ""]
    if rule.applies_if is not None:
        out += ["**Applies only if:**", "", *condition_lines(rule.applies_if), ""]
    if isinstance(rule.check, FunctionCheck):
        line = f"**Check:** the registered evaluator {code(rule.check.function)}"
        if rule.check.args:
            line += f" with {code(value(rule.check.args))}"
        out += [line + f", reading {', '.join(code(e) for e in rule.evidence)}.", ""]
    elif rule.check is not None:
        out += ["**Check** (passes when this holds):", "", *condition_lines(rule.check), ""]
    if rule.manual is not None:
        out += block("Manual procedure", rule.manual.procedure)
    if rule.audit:
        out += block("Audit", rule.audit)
    if rule.remediation:
        out += block("Remediation", rule.remediation)
    if rule.default_value:
        out += [f"**Default value.** {text(rule.default_value)}", ""]
    if rule.references:
        refs = [
            f"- [{text(r.title)}](<{r.url}>)" if r.url else f"- {text(r.title)}"
            for r in rule.references
        ]
        out += ["**References:**", "", *refs, ""]
    out += ["**Mappings:**", "", *(maps or ["- none: no framework lists this rule"]), ""]
    return out


def render(cat: Catalog) -> str:
    frameworks = sorted_frameworks(cat)
    targets = list(RuleTarget)
    rules = sorted(cat.rules.values(), key=lambda r: (targets.index(r.target), natural_key(r.id)))
    out = [
        "# Controls reference",
        "",
        "<!-- Generated by tools/gen_docs.py (`make docs`) from controls/: do not edit. -->",
        "",
        f"The built-in catalog: {len(frameworks)} frameworks and {len(rules)} rules. Rules are "
        "framework-neutral checks; each framework lists, per requirement, the rules that meet "
        "it. `assessor controls coverage` and `assessor controls show RULE` print the same "
        "from the installed catalog.",
        "",
        "Coverage of a requirement:",
        "",
        *(f"- **{c.value}**: {COVERAGE_MEANING[c]}" for c in Coverage),
        "",
        "## Frameworks",
        "",
        "| Framework | Title | Requirements | " + " | ".join(c.value for c in Coverage) + " |",
        "|" + " --- |" * (3 + len(Coverage)),
    ]
    for fw in frameworks:
        counts = coverage_summary(cat, fw)
        out.append(
            f"| [{fw.framework.id}](#{fw_anchor(fw.framework.id)}) "
            f"| {cell(fw.framework.title)} {cell(fw.framework.version)} "
            f"| {len(fw.requirements)} | " + " | ".join(str(n) for n in counts.values()) + " |"
        )
    out.append("")
    for fw in frameworks:
        out += framework_section(cat, fw)
    out += ["## Rules", ""]
    out += [
        f"- {t.value}: " + ", ".join(rule_link(r.id) for r in rules if r.target is t)
        for t in targets
        if any(r.target is t for r in rules)
    ]
    out.append("")
    maps = mappings(cat)
    for rule in rules:
        out += rule_section(rule, maps.get(rule.id, []))
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when the file is stale"
    )
    parser.add_argument("-o", "--output", type=Path, default=OUT, help="default: docs/controls.md")
    args = parser.parse_args(argv)
    try:
        page = render(load_catalog())
    except AssessorError as e:
        print(f"gen_docs: {e.diagnostics()}", file=sys.stderr)
        return 2
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if page != current:
            print(f"{args.output} is stale: run make docs", file=sys.stderr)
            return 1
        return 0
    if page != current:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(page, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
