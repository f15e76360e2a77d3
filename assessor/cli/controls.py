"""``assessor controls``: list, show, validate and publish the schema of the control catalog."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from assessor.cli._common import CONTROLS_OPTION, load, print_json
from assessor.errors import NotFoundError

app = typer.Typer(help="The control catalog: rules and frameworks.", no_args_is_help=True)


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


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
            r.id, r.target.value, r.severity.value, "automated" if r.automated else "manual", refs
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
