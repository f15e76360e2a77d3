"""``assessor ingest``: verify evidence bundles, then evaluate and store each as an assessment."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from typer import echo

from assessor.cli import uncollected_imports
from assessor.cli._common import (
    CONTROLS_OPTION,
    DB_OPTION,
    controls_dirs,
    print_json,
    setting,
)
from assessor.errors import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, AssessorError
from assessor.vocab import TargetStatus

if TYPE_CHECKING:
    from assessor.bundle import BundleError
    from assessor.pipeline import IngestOutcome


_ERROR_FIELD = "error"  # the key of a target's error in the JSON output


class IngestFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


_BUNDLES = typer.Argument(
    ...,
    metavar="BUNDLE",
    help="Bundles 'assessor collect' wrote, or folders of them (each folder's *.bundle files, "
    "by name).",
)
_TRUST = typer.Option(
    None,
    "--trust",
    metavar="CERT",
    help="Certificate(s) whose signatures are trusted, PEM or DER (repeatable): the fleet's "
    "collector certificates, or the CA that issued them. Default: the certificate in the key "
    "directory.",
)
_ALLOW_UNSIGNED = typer.Option(
    False,
    "--allow-unsigned",
    help="Store unsigned bundles too (written with 'collect --unsigned'); their assessments "
    "say so in their note. A signed bundle must still verify.",
)
_SYSTEM = typer.Option(
    None,
    "--system",
    envvar="ASSESSOR_SYSTEM",
    help="The system these hosts belong to (its history, waivers and attestations are kept "
    "per system). Default: none.",
)
_PERIOD = typer.Option(
    None,
    "--period",
    envvar="ASSESSOR_PERIOD",
    help="Audit period, YYYY-Qn or YYYY-MM. Default: the quarter each bundle was collected in.",
)
_LIMITS = typer.Option(
    None,
    "--limit",
    envvar="ASSESSOR_BUNDLE_LIMITS",
    metavar="NAME=VALUE",
    help="Raise or lower one bound of the bundle reader (repeatable), e.g. "
    "max_bundle_bytes=4G, max_member_bytes=512M. See docs/bundles.md.",
)
_FMT = typer.Option(IngestFormat.TABLE, "--format", help="table or json.")
_JOBS = typer.Option(
    1,
    "--jobs",
    envvar="ASSESSOR_INGEST_JOBS",
    min=1,
    help="Bundles read, verified and evaluated at once, each in a process of its own (this "
    "one writes the store, in the order given). Default: 1.",
)


def ingest(
    bundles: list[Path] = _BUNDLES,
    trust: list[Path] = _TRUST,
    allow_unsigned: bool = _ALLOW_UNSIGNED,
    system: str = _SYSTEM,
    period: str = _PERIOD,
    db: str = DB_OPTION,
    controls: list[Path] = CONTROLS_OPTION,
    limits: list[str] = _LIMITS,
    jobs: int = _JOBS,
    fmt: IngestFormat = _FMT,
) -> None:
    """Verify evidence bundles, then evaluate and store each as one assessment.

    Each bundle's signature must be valid and made by a trusted certificate (--trust), and
    every member must match the signed manifest; a refused bundle stores nothing and the
    others go on. A bundle stored already (the same manifest) adds nothing. See
    docs/bundles.md. Exit codes: 0 every bundle stored (or stored already); 2 a bundle was
    refused, or a target in one could not be read; 3 a target in one could not be reached.
    """
    with uncollected_imports():
        from assessor import pipeline
        from assessor.bundle import parse_limits

    bounds = setting(limits, "bundle_limits") or []
    request = pipeline.IngestRequest(
        _bundle_files(bundles),
        list(trust or []),
        allow_unsigned,
        pipeline.check_period(setting(period, "period")) if setting(period, "period") else None,
        pipeline.check_system(setting(system, "system")),
        parse_limits([bounds] if isinstance(bounds, str) else list(bounds)),
        controls_dirs(controls),
        setting(db, "db"),
        jobs,
    )
    done = pipeline.ingest(request, _tell if fmt is IngestFormat.TABLE else _quiet)
    if fmt is IngestFormat.JSON:
        print_json({"bundles": [_json(o) for o in done]})
    if code := _exit_code(done):
        raise typer.Exit(code)


def _bundle_files(given: list[Path]) -> list[Path]:
    """The bundles given, a folder standing for its ``*.bundle`` files (by name, not below)."""
    found: list[Path] = []
    for path in given:
        if not path.is_dir():
            found.append(path)
            continue
        inside = sorted(p for p in path.iterdir() if p.name.endswith(".bundle") and p.is_file())
        if not inside:
            raise AssessorError(
                f"{path}: a folder with no *.bundle file in it",
                hint="give the bundle files, or the folder 'assessor collect -o' wrote them to",
            )
        found.extend(inside)
    return found


def _quiet(_: IngestOutcome | BundleError) -> None:
    """JSON: nothing until the end."""


def _tell(o: IngestOutcome | BundleError) -> None:
    """One line per bundle as it is done; a refusal on standard error."""
    from assessor.bundle import BundleError

    if isinstance(o, BundleError):
        echo(f"assessor: error: {o.message}", err=True)
        return
    b = o.bundle
    if not o.stored:
        echo(f"{b.path}: already stored as assessment {o.assessment_id}; nothing added")
        return
    signed = f"signed by {b.signer}" if b.signer else "UNSIGNED"
    missed = [t for t in o.targets if t.status != TargetStatus.COLLECTED]
    echo(
        f"{b.path}: stored as assessment {o.assessment_id} ({o.status}): {b.hostname}, "
        f"{len(o.targets)} target(s), {o.results} results, {signed}"
    )
    for t in missed:
        echo(f"assessor: warning: {b.path}: {t.error}", err=True)


def _json(o: IngestOutcome | BundleError) -> dict[str, object]:
    from assessor.bundle import BundleError

    if isinstance(o, BundleError):
        return {"stored": False, "refused": o.message}
    b = o.bundle
    return {
        "bundle": str(b.path),
        "digest": b.digest,
        "stored": o.stored,
        "assessment": o.assessment_id,
        "hostname": b.hostname,
        "signer": b.signer,
        "collected_at": b.collected_at.isoformat(),
        "targets": [
            {"target": str(t.target), "status": str(t.status), _ERROR_FIELD: t.error}
            for t in o.targets
        ],
    }


def _exit_code(done: list[IngestOutcome | BundleError]) -> int:
    from assessor.bundle import BundleError

    if any(isinstance(o, BundleError) for o in done):
        return EXIT_USAGE
    statuses = {t.status for o in done if not isinstance(o, BundleError) for t in o.targets}
    if TargetStatus.UNREACHABLE in statuses:
        return EXIT_UNREACHABLE
    return EXIT_USAGE if TargetStatus.ERROR in statuses else EXIT_OK
