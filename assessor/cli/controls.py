"""``assessor controls``: list, show and validate the catalog; coverage and diff of frameworks."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from assessor.cli._common import CONTROLS_OPTION, check_output, load, print_json, write_atomic
from assessor.errors import AssessorError, NotFoundError
from assessor.extras import require
from assessor.vocab import Coverage

if TYPE_CHECKING:
    from assessor.catalog import Catalog
    from assessor.catalog.compare import FrameworkDiff
    from assessor.catalog.schema import Framework

app = typer.Typer(help="The control catalog: rules and frameworks.", no_args_is_help=True)


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


COVERAGE_STYLE: dict[str, str] = {
    Coverage.AUTOMATED: "green",
    Coverage.PARTIAL: "yellow",
    Coverage.MANUAL: "cyan",
    Coverage.NOT_APPLICABLE: "dim",
    Coverage.NOT_COVERED: "red",
}


class SchemaKind(StrEnum):
    RULE = "rule"
    FRAMEWORK = "framework"


@app.command("list")
def list_(
    controls: list[Path] = CONTROLS_OPTION,
    target: str = typer.Option(None, "--target", help="Only rules of this target kind."),
    fmt: ListFormat = typer.Option(ListFormat.TABLE, "--format"),
) -> None:
    """List every rule with its severity and the requirements it meets."""
    cat = load(controls)
    rules = [r for r in cat.rules.values() if target is None or r.target.value == target]
    rules.sort(key=lambda r: (r.target.value, r.id))
    if fmt is ListFormat.JSON:
        print_json(
            {
                "rules": [
                    {
                        "id": r.id,
                        "title": r.title,
                        "severity": r.severity.value,
                        "target": r.target.value,
                        "automated": r.automated,
                        "references": cat.references.get(r.id, {}),
                    }
                    for r in rules
                ]
            }
        )
        return
    from rich.table import Table

    from assessor.cli._output import console

    table = Table()
    for col in ("rule", "target", "severity", "kind", "references"):
        table.add_column(col, overflow="fold")
    for r in rules:
        refs = "; ".join(
            f"{fw} {','.join(ids)}" for fw, ids in sorted(cat.references.get(r.id, {}).items())
        )
        table.add_row(
            r.id,
            r.target.value,
            r.severity.value,
            Coverage.AUTOMATED if r.automated else Coverage.MANUAL,
            refs,
        )
    out = console()
    out.print(table)
    out.print(f"{len(rules)} rules; {len(cat.frameworks)} frameworks; catalog {cat.digest}")


@app.command("show")
def show(
    rule_id: str = typer.Argument(..., metavar="ID", help="A rule id."),
    controls: list[Path] = CONTROLS_OPTION,
    fmt: ListFormat = typer.Option(ListFormat.TABLE, "--format"),
) -> None:
    """Show one rule in full, with the file it comes from."""
    cat = load(controls)
    rule = cat.rules.get(rule_id)
    if rule is None:
        raise NotFoundError(f"no rule {rule_id!r}", hint="'assessor controls list' shows them")
    data = rule.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["file"] = cat.rule_files[rule_id]
    data["references"] = cat.references.get(rule_id, {})
    if fmt is ListFormat.JSON:
        print_json(data)
        return
    import yaml

    typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).rstrip())


@app.command("validate")
def validate(
    path: Path = typer.Argument(
        None,
        metavar="[PATH]",
        help="A rule file, framework file or controls folder. Default: the built-in catalog.",
    ),
    controls: list[Path] = CONTROLS_OPTION,
) -> None:
    """Validate control files (schema, ids, cross-references); exit 2 naming file:line on error."""
    from assessor.catalog import load_catalog, validate_path

    extra = [Path(p) for p in controls or []]
    cat = validate_path(path, extra) if path is not None else load_catalog(extra)
    for w in cat.warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"ok: {len(cat.rules)} rules, {len(cat.frameworks)} frameworks ({cat.digest})")


@app.command("schema")
def schema(
    kind: SchemaKind = typer.Argument(SchemaKind.RULE, help="rule or framework."),
) -> None:
    """Print the JSON Schema of rule files or framework files (for editors)."""
    from assessor.catalog.schema import framework_json_schema, rule_json_schema

    print_json(rule_json_schema() if kind is SchemaKind.RULE else framework_json_schema())


_FRAMEWORK = typer.Option(
    None, "--framework", metavar="ID", help="Only this framework (repeatable). Default: all."
)


@app.command("coverage")
def coverage(
    framework: list[str] = _FRAMEWORK,
    controls: list[Path] = CONTROLS_OPTION,
    fmt: ListFormat = typer.Option(ListFormat.TABLE, "--format", help="table or json."),
) -> None:
    """Per framework: each requirement's coverage and the rules meeting it.

    Coverage is automated, partial, manual, not_applicable or not_covered. The table starts
    with the counts per framework; --framework ID (repeatable) keeps only those frameworks.
    """
    from assessor.catalog.compare import (
        coverage_document,
        get_framework,
        sorted_frameworks,
    )

    cat = load(controls)
    if framework:
        chosen = [get_framework(cat, f) for f in dict.fromkeys(framework)]
    else:
        chosen = sorted_frameworks(cat)
    if fmt is ListFormat.JSON:
        print_json(coverage_document(cat, chosen))
        return
    _print_coverage(cat, chosen)


def _print_coverage(cat: Catalog, chosen: list[Framework]) -> None:
    """The counts per framework, then each framework's requirements and their rules."""
    from rich.markup import escape
    from rich.table import Table

    from assessor.catalog.compare import coverage_summary
    from assessor.cli._output import console

    out = console()
    summary = Table(title="coverage by framework")
    summary.add_column("framework", no_wrap=True)
    summary.add_column("title", overflow="fold")
    summary.add_column("requirements", justify="right")
    for c in Coverage:
        summary.add_column(c.value, justify="right")
    for fw in chosen:
        counts = coverage_summary(cat, fw)
        summary.add_row(
            escape(fw.framework.id),
            escape(f"{fw.framework.title} {fw.framework.version}".strip()),
            str(len(fw.requirements)),
            *(str(counts[c.value]) for c in Coverage),
        )
    out.print(summary)
    for fw in chosen:
        info = fw.framework
        table = Table(title=escape(f"{info.id}: {info.title} {info.version}"))
        table.add_column("requirement", no_wrap=True)
        table.add_column("coverage", no_wrap=True)
        table.add_column("title", overflow="fold")
        table.add_column("rules", overflow="fold")
        for req in fw.requirements:
            cov = cat.coverage(req).value
            table.add_row(
                escape(req.id),
                f"[{COVERAGE_STYLE[cov]}]{cov}[/]",
                escape(req.title),
                ", ".join(req.rules),
            )
        out.print()
        out.print(table)


@app.command("diff")
def diff(
    old: str = typer.Argument(..., metavar="A", help="A framework id, e.g. cis-docker-1.6.0."),
    new: str = typer.Argument(..., metavar="B", help="A framework id, e.g. cis-docker-1.8.0."),
    controls: list[Path] = CONTROLS_OPTION,
    fmt: ListFormat = typer.Option(ListFormat.TABLE, "--format", help="table or json."),
) -> None:
    """Requirements renumbered, added, removed or retitled from framework A to B.

    Renumbered: the same requirement under another id. Added: in B only. Removed: in A only.
    Requirements are matched through previous_ids/later_ids keyed by the other framework's
    version, in either file, then by identical title (then by equal id when neither file
    links to the other).
    """
    from assessor.catalog.compare import diff_frameworks, get_framework

    cat = load(controls)
    a, b = get_framework(cat, old), get_framework(cat, new)
    result = diff_frameworks(a, b)
    if fmt is ListFormat.JSON:
        print_json(result.to_json())
        return
    _print_diff(a, b, result)


def _print_diff(a: Framework, b: Framework, result: FrameworkDiff) -> None:
    """A table per kind of change that has any, then the counts."""
    from rich.markup import escape
    from rich.table import Table

    from assessor.cli._output import console

    out = console()
    sections: list[tuple[str, list[str], list[tuple[str, ...]]]] = [
        (
            "renumbered",
            ["from", "to", "title"],
            [(p.old.id, p.new.id, p.new.title) for p in result.renumbered],
        ),
        ("added", ["id", "title"], [(r.id, r.title) for r in result.added]),
        ("removed", ["id", "title"], [(r.id, r.title) for r in result.removed]),
        (
            "retitled",
            ["from", "to", "old title", "new title"],
            [(p.old.id, p.new.id, p.old.title, p.new.title) for p in result.retitled],
        ),
    ]
    where = {
        "renumbered": f"{a.framework.id} -> {b.framework.id}",
        "added": f"in {b.framework.id} only",
        "removed": f"in {a.framework.id} only",
        "retitled": f"{a.framework.id} -> {b.framework.id}",
    }
    for name, columns, rows in sections:
        if not rows:
            continue
        table = Table(title=escape(f"{name} ({len(rows)}): {where[name]}"))
        for col in columns:
            table.add_column(col, overflow="fold", no_wrap=col in ("from", "to", "id"))
        for row in rows:
            table.add_row(*(escape(v) for v in row))
        out.print(table)
    counts = result.to_json()["summary"]
    out.print(
        escape(f"{a.framework.id} -> {b.framework.id}: ")
        + ", ".join(f"{n} {k}" for k, n in counts.items()),
        highlight=False,
    )


class CatalogExportFormat(StrEnum):
    OSCAL = "oscal"
    XCCDF = "xccdf"


@app.command("export")
def export(
    fmt: CatalogExportFormat = typer.Option(
        ...,
        "--format",
        help="oscal: a folder with the rules as an OSCAL catalog (catalog.json) and one OSCAL "
        "profile per framework (profile-FRAMEWORK.json; needs the 'oscal' extra); xccdf: one "
        "XCCDF 1.2 Benchmark file (rules as XCCDF rules, frameworks as profiles).",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="oscal: the folder to write (made if absent); xccdf: a file."
    ),
    controls: list[Path] = CONTROLS_OPTION,
) -> None:
    """Export the control catalog for other tools. Same catalog, same bytes."""
    catalog = load(controls)
    files: dict[Path, bytes]
    if fmt is CatalogExportFormat.OSCAL:
        require("oscal", "OSCAL exports")
        from assessor.export.oscal import render_catalog

        if output.exists() and not output.is_dir():
            raise AssessorError(f"{output}: not a folder (oscal writes a catalog and profiles)")
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise AssessorError(f"{output}: cannot make the folder: {e.strerror}") from e
        files = {output / name: body for name, body in render_catalog(catalog).items()}
    else:
        from assessor.export.xccdf import render_benchmark

        check_output(output)
        files = {output: render_benchmark(catalog)}
    for path, body in files.items():
        write_atomic(path, body)
        sys.stderr.write(f"assessor: wrote {path} ({len(body)} bytes)\n")
