"""The Typer application: one module per command group, listed in COMMANDS."""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup, TyperOption

from assessor import __version__

# Every command, in the order `assessor --help` lists them (commands, then groups): name ->
# (its module under assessor.cli, the attribute there, whether it is a group of subcommands).
# A module is imported only when its command runs or a listing needs it (see make_app).
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "scan": ("scan", "scan", False),
    "assessments": ("results", "assessments", False),
    "results": ("results", "results", False),
    "report": ("report", "report", False),
    "verify": ("verify", "verify", False),
    "waive": ("waivers", "waive", False),
    "attest": ("attest", "attest", False),
    "finalise": ("history", "finalise", False),
    "evaluate": ("evaluate", "evaluate", False),
    "diff": ("diff", "diff", False),
    "trend": ("trend", "trend", False),
    "export": ("export", "export", False),
    "collect": ("collect", "collect", False),
    "ingest": ("ingest", "ingest", False),
    "keys": ("keys", "app", True),
    "controls": ("controls", "app", True),
    "db": ("db", "app", True),
    "waivers": ("waivers", "app", True),
    "history": ("history", "app", True),
    "import": ("importer", "app", True),
}


class _Group(TyperGroup):
    """The root group. Its --help flag defaults to False rather than None: Typer then takes
    the bool as it is instead of building a pydantic adapter for it (0.07 s of every
    `assessor CMD --help` and `assessor CMD`)."""

    def get_help_option(self, ctx: Any) -> TyperOption | None:  # ctx: Typer's click Context
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option


def _version(value: bool) -> None:
    if value:
        typer.echo(f"assessor {__version__}")
        raise typer.Exit()


def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Assess Linux container deployments against the CIS Docker Benchmark and NIST IR 8176."""


def make_app(args: list[str]) -> typer.Typer:
    """The application for one command line: with only the invoked command registered when
    ``args`` name one of COMMANDS (its first word that is not an option: the root takes no
    option value), else with every command (``assessor``, ``assessor --help``, a typo)."""
    invoked = next((a for a in args if not a.startswith("-")), None)
    app = typer.Typer(
        cls=_Group,
        name="assessor",
        help="Assess Linux container deployments against the CIS Docker Benchmark and NIST IR "
        "8176.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,
    )
    app.callback()(root)
    for name in [invoked] if invoked in COMMANDS else COMMANDS:
        module, attribute, group = COMMANDS[name]
        found = getattr(importlib.import_module(f"assessor.cli.{module}"), attribute)
        if group:
            app.add_typer(found, name=name)
        else:
            app.command(name)(found)
    return app
