"""Options and helpers shared by the command modules."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from assessor.errors import AssessorError

if TYPE_CHECKING:
    from assessor.catalog import Catalog
    from assessor.store import Store

DB_OPTION = typer.Option(
    None,
    "--db",
    envvar="ASSESSOR_DB",
    show_envvar=True,
    help="Database: a file path (./assessor.db, ~/a.db) or a URL (sqlite:///PATH, "
    "postgresql://USER@HOST/DB with the postgresql extra). A new file is created 0600. "
    "Default: assessor.db in the user data directory (folder 0700).",
)
CONTROLS_OPTION = typer.Option(
    None,
    "--controls",
    envvar="ASSESSOR_CONTROLS",
    show_envvar=True,
    help="An organisation's controls folder (rules/, frameworks/), added to the built-in ones. "
    "Repeatable.",
)


PERIOD_OPTION = typer.Option(
    None,
    "--period",
    envvar="ASSESSOR_PERIOD",
    help="Audit period, YYYY-Qn or YYYY-MM. Default: this quarter.",
)
KEY_OPTION = typer.Option(
    None, "--key", help="Signing key (PEM). Default: the key 'assessor keys init' made."
)
CERT_OPTION = typer.Option(None, "--cert", help="Certificate (PEM) of --key.")
PKCS12_OPTION = typer.Option(None, "--pkcs12", help="Key and certificate chain as PKCS#12.")
TSA_OPTION = typer.Option(
    None, "--tsa-url", envvar="ASSESSOR_TSA_URL", help="RFC 3161 timestamp authority."
)


def write_atomic(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write an output file atomically, never through a link: see assessor/outfile.py."""
    from assessor.outfile import write_file

    write_file(path, data, private=private)


def check_output(path: Path) -> None:
    """Refuse an output path that cannot be written before doing the work."""
    from assessor.outfile import check_destination

    check_destination(path)


@cache
def config_file() -> dict[str, Any]:
    """``assessor.toml`` in the working directory (or ASSESSOR_CONFIG): the last fallback."""
    path = Path(os.environ.get("ASSESSOR_CONFIG", "assessor.toml"))
    if not path.is_file():
        return {}
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise AssessorError(f"{path}: invalid TOML: {e}") from e
    section = data.get("assessor", data)
    return section if isinstance(section, dict) else {}


def setting(value: Any, name: str) -> Any:
    """A flag (or its environment variable) when given, else ``assessor.toml``'s value."""
    if value not in (None, [], ()):
        return value
    return config_file().get(name)


def open_db(url: str | None) -> Store:
    from assessor.store import open_store

    return open_store(setting(url, "db"))


def controls_dirs(controls: list[Path] | None) -> list[Path]:
    """The controls folders given (or ``assessor.toml``'s), added to the built-in ones."""
    dirs = setting(controls, "controls") or []
    if isinstance(dirs, str):
        dirs = [dirs]
    return [Path(d) for d in dirs]


def load(controls: list[Path] | None) -> Catalog:
    from assessor.catalog import load_catalog

    return load_catalog(controls_dirs(controls))


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


class ProgressMode(StrEnum):
    """``scan --progress``: what a scan shows while it runs (assessor/cli/_progress.py)."""

    AUTO = "auto"
    PLAIN = "plain"
    NONE = "none"


def interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")
