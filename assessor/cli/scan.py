"""``assessor scan``: collect, evaluate and store an assessment of one or more targets."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from assessor.cli._common import (
    CONTROLS_OPTION,
    DB_OPTION,
    interactive,
    load,
    open_db,
    print_json,
    setting,
)
from assessor.errors import EXIT_FINDINGS, EXIT_UNREACHABLE, EXIT_USAGE, TargetError


class FailOn(StrEnum):
    NONE = "none"
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ScanFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"


SEVERITIES = ("info", "low", "medium", "high", "critical")


def scan(
    targets: list[str] = typer.Argument(
        None,
        metavar="[TARGET]...",
        help="host:/ , host:/some/root , engine:unix:///var/run/docker.sock , "
        "engine:tcp://h:2376 , image:docker-archive:PATH[:REF] , image:oci:DIR[:TAG] , "
        "image:docker-daemon:NAME:TAG , image:docker://HOST[:PORT]/REPO:TAG , "
        "registry:https://HOST[:PORT] , registry:http://HOST[:PORT]. "
        "Default: this host, plus the local engine (and its images) when its socket exists.",
    ),
    period: str = typer.Option(
        None,
        "--period",
        envvar="ASSESSOR_PERIOD",
        help="Audit period, YYYY-Qn or YYYY-MM. Default: this quarter.",
    ),
    system: str = typer.Option(
        None,
        "--system",
        envvar="ASSESSOR_SYSTEM",
        help="The system under assessment these targets belong to (its history, waivers and "
        "attestations are kept per system). Default: none.",
    ),
    db: str = DB_OPTION,
    controls: list[Path] = CONTROLS_OPTION,
    waivers_file: Path = typer.Option(
        None,
        "--waivers",
        metavar="FILE",
        help="A reviewed YAML list of waivers, validated and stored before scanning (a malformed "
        "file stops the scan). See docs/audit.md.",
    ),
    fail_on: FailOn = typer.Option(
        None,
        "--fail-on",
        envvar="ASSESSOR_FAIL_ON",
        help="Exit 1 when a fail or error result has this severity or higher. Default: none.",
    ),
    fmt: ScanFormat = typer.Option(
        ScanFormat.TABLE,
        "--format",
        help="table, json (as 'assessor results --format json'), or the stored assessment as "
        "sarif or junit on standard output (the bytes 'assessor export --format FORMAT -o -' "
        "writes).",
    ),
    all_results: bool = typer.Option(
        False, "--all", help="Table: list every result, not only findings."
    ),
    platform: str = typer.Option(
        None,
        "--platform",
        envvar="ASSESSOR_PLATFORM",
        help="Images: the platform picked from a multi-platform index, OS/ARCH[/VARIANT]. "
        "Default: linux/amd64.",
    ),
    image_limits: list[str] = typer.Option(
        None,
        "--image-limit",
        envvar="ASSESSOR_IMAGE_LIMITS",
        metavar="NAME=VALUE",
        help="Images: raise or lower one bound of the image reader (repeatable), e.g. "
        "max_ratio=500, max_entries=3000000, max_layer_bytes=32G. See docs/images.md.",
    ),
    creds: str = typer.Option(
        None,
        "--creds",
        envvar="ASSESSOR_REGISTRY_CREDS",
        metavar="USER:PASSWORD",
        help="Registry images: credentials (else ~/.docker/config.json or --authfile).",
    ),
    authfile: Path = typer.Option(
        None, "--authfile", help="Registry images: a Docker config.json holding credentials."
    ),
    cert_dir: Path = typer.Option(
        None,
        "--cert-dir",
        help="Registry images: a directory of *.crt CA certificates to trust "
        "(default /etc/docker/certs.d/HOST:PORT).",
    ),
    insecure: bool = typer.Option(
        False,
        "--insecure",
        help="Registry images: plain HTTP or unverified TLS, for a loopback registry only.",
    ),
    timeout: float = typer.Option(
        None,
        "--timeout",
        envvar="ASSESSOR_TIMEOUT",
        min=0.5,
        help="Registries: seconds to wait for a connection, a response, and a whole JSON body. "
        "Default: 30.",
    ),
    deep: bool = typer.Option(
        False,
        "--deep",
        help="Registry targets: also read every tag's image (up to --max-images) and judge it "
        "with the image rules.",
    ),
    max_images: int = typer.Option(
        20, "--max-images", min=0, help="Registry targets with --deep: at most this many images."
    ),
    stale_days: int = typer.Option(
        None,
        "--stale-days",
        envvar="ASSESSOR_STALE_DAYS",
        min=1,
        help="Registry targets: a tag whose image is older than this many days is stale. "
        "Default: 90.",
    ),
    push_probe: bool = typer.Option(
        True,
        "--push-probe/--no-push-probe",
        help="Registry targets: try an anonymous blob upload (cancelled at once, never "
        "completed) to learn whether anyone may write.",
    ),
) -> None:
    """Scan targets, store the assessment, and print its results.

    Exit codes: 0 ok; 1 findings at or above --fail-on; 2 usage or input error, or a
    target's content is invalid (a corrupt or hostile image); 3 a target could not be
    reached. The other targets are still stored.
    """
    from assessor.collectors.limits import parse_limits
    from assessor.collectors.options import CollectOptions
    from assessor.pipeline import check_period, check_system, current_period, run_scan
    from assessor.targets import default_targets, parse_target

    parsed = [parse_target(t) for t in targets] if targets else default_targets()
    period = check_period(setting(period, "period") or current_period())
    sys_name = check_system(setting(system, "system"))
    limits = setting(image_limits, "image_limits") or []
    options = CollectOptions(
        limits=parse_limits([limits] if isinstance(limits, str) else list(limits)),
        platform=_platform(setting(platform, "platform") or "linux/amd64"),
        insecure=insecure,
        creds=creds,
        authfile=str(authfile) if authfile else None,
        cert_dir=str(cert_dir) if cert_dir else None,
        timeout=float(setting(timeout, "timeout") or 30.0),
        deep=deep,
        max_images=max_images,
        stale_days=int(setting(stale_days, "stale_days") or 90),
        push_probe=push_probe,
    )
    threshold = FailOn(setting(fail_on, "fail_on") or "none")
    catalog = load(controls)
    file_waivers = None
    if waivers_file is not None:
        from datetime import UTC, datetime

        from assessor.audit.waivers import read_waivers_file

        today = datetime.now(UTC).date()
        file_waivers = read_waivers_file(waivers_file, catalog, today)  # before any scanning
    store = open_db(db)
    try:
        if file_waivers is not None:
            from assessor.audit.waivers import import_waivers

            with store.session() as s:
                outcome = import_waivers(s, file_waivers, today)
                s.commit()
            for warning in outcome.warnings:
                typer.echo(f"assessor: warning: {warning}", err=True)
        if interactive():
            from rich.console import Console

            console = Console(stderr=True)
            with console.status("scanning") as status:
                summary = run_scan(
                    store, catalog, parsed, period, lambda m: status.update(m), options, sys_name
                )
        else:
            summary = run_scan(store, catalog, parsed, period, options=options, system=sys_name)
        from assessor import readmodel
        from assessor.cli import _output
        from assessor.export import tabular

        view = readmodel.load(store, catalog, str(summary.assessment_id))
        rows = view.results
        if fmt is ScanFormat.JSON:
            print_json(tabular.document(view))
        elif fmt in (ScanFormat.SARIF, ScanFormat.JUNIT):
            from assessor.export import render

            sys.stdout.buffer.write(render(fmt.value, view))
            sys.stdout.flush()
        else:
            shown = rows if all_results else [r for r in rows if r.raw_status in ("fail", "error")]
            _output.print_table(view, shown, counted=rows)
            if not all_results and len(shown) < len(rows):
                typer.echo(
                    f"({len(rows) - len(shown)} results not shown: pass, manual, not_applicable; "
                    f"see 'assessor results {view.id}')"
                )
    finally:
        store.close()

    for warning in (w for t in summary.targets for w in t.warnings):
        typer.echo(f"assessor: warning: {warning}", err=True)
    for t in summary.unreachable:
        typer.echo(f"assessor: error: {t.error}", err=True)
    if any(t.status == "unreachable" for t in summary.unreachable):
        raise typer.Exit(EXIT_UNREACHABLE)
    if summary.unreachable:  # a target was reached but its content is invalid or hostile
        raise typer.Exit(EXIT_USAGE)
    if threshold is not FailOn.NONE:
        floor = SEVERITIES.index(threshold.value)
        if any(
            r.status in ("fail", "error")
            and r.severity in SEVERITIES
            and SEVERITIES.index(r.severity) >= floor
            for r in rows
        ):
            raise typer.Exit(EXIT_FINDINGS)


def _platform(text: str) -> str:
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise TargetError(f"--platform {text!r}: expected OS/ARCH[/VARIANT], e.g. linux/amd64")
    return text.strip()
