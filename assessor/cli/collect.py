"""``assessor collect``: collect targets into a signed evidence bundle, for ``assessor ingest``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from typer import echo

from assessor.cli import uncollected_imports
from assessor.cli._common import CERT_OPTION, KEY_OPTION, PKCS12_OPTION, check_output, setting
from assessor.cli._progress import ProgressMode, ScanProgress, mode_of
from assessor.cli.scan import (
    _AUTHFILE,
    _CERT_DIR,
    _CREDS,
    _IMAGE_CACHE_DAYS,
    _IMAGE_LIMITS,
    _INSECURE,
    _INVENTORY,
    _JOBS,
    _KNOWN_HOSTS,
    _PLATFORM,
    _PROGRESS,
    _SSH_KEY,
    _SSH_SUDO,
    _SSH_TIMEOUT,
    _TARGET_TIMEOUT,
    _TARGETS,
    _TIMEOUT,
    _cache_days,
    _options,
    _pace,
    _registry_checks,
    _ssh,
    _targets,
)
from assessor.errors import (
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    AssessorError,
    TargetUnreachableError,
)
from assessor.extras import require

if TYPE_CHECKING:
    from assessor.bundle import Collect
    from assessor.sign.keys import SigningIdentity

_OUTPUT = typer.Option(
    ...,
    "--output",
    "-o",
    metavar="BUNDLE",
    help="The bundle file to write (whole or not at all; a symlink there is replaced, never "
    "followed).",
)
_UNSIGNED = typer.Option(
    False,
    "--unsigned",
    help="Write the bundle unsigned, on purpose: 'assessor ingest' then refuses it unless "
    "given --allow-unsigned, and its assessment says it came from an unsigned bundle.",
)

_HOSTNAME = typer.Option(
    None,
    "--hostname",
    metavar="NAME",
    envvar="ASSESSOR_HOSTNAME",
    help="The machine the bundle says it collected (reports name the host by it). Default: "
    "this machine's hostname. In a container reading a node's root mounted read-only "
    "(host:/host), give the node's name.",
)


def collect(
    targets: list[str] = _TARGETS,
    inventory: list[Path] = _INVENTORY,
    output: Path = _OUTPUT,
    key: Path = KEY_OPTION,
    cert: Path = CERT_OPTION,
    pkcs12: Path = PKCS12_OPTION,
    unsigned: bool = _UNSIGNED,
    hostname: str | None = _HOSTNAME,
    platform: str = _PLATFORM,
    image_limits: list[str] = _IMAGE_LIMITS,
    image_cache_days: int = _IMAGE_CACHE_DAYS,
    jobs: int = _JOBS,
    target_timeout: float = _TARGET_TIMEOUT,
    progress: ProgressMode = _PROGRESS,
    creds: str = _CREDS,
    authfile: Path = _AUTHFILE,
    cert_dir: Path = _CERT_DIR,
    insecure: bool = _INSECURE,
    timeout: float = _TIMEOUT,
    known_hosts: Path = _KNOWN_HOSTS,
    ssh_key: Path = _SSH_KEY,
    ssh_timeout: float = _SSH_TIMEOUT,
    ssh_sudo: bool = _SSH_SUDO,
) -> None:
    """Collect targets into one signed evidence bundle (no database, no evaluation).

    The bundle holds each target's evidence as collected (secrets redacted), and a manifest
    of SHA-256 hashes signed with the collector's key (--key/--cert, --pkcs12, else the key
    of 'assessor keys init'). 'assessor ingest BUNDLE' verifies, evaluates and stores it
    elsewhere. See docs/bundles.md. Exit codes: 0 ok; 2 usage or input error, or a target's
    content is invalid; 3 a target could not be reached (the bundle is written in both cases,
    with the target's error).
    """
    with uncollected_imports():
        from assessor import bundle, collection

    check_output(output)
    if hostname is not None and not (0 < len(hostname) <= 255 and hostname.isprintable()):
        raise AssessorError(
            f"--hostname {hostname[:40]!r}: expected a name of 1 to 255 printable characters"
        )
    identity = None if unsigned else _identity(key, cert, pkcs12)
    options = _options(platform, image_limits, insecure, creds, authfile, cert_dir, timeout)
    _registry_checks(options, False, 20, None, True)
    options.image_cache_days = _cache_days(setting(image_cache_days, "image_cache_days"))
    parsed = _targets(targets, inventory)
    options.ssh = _ssh(parsed, known_hosts, ssh_key, ssh_timeout, ssh_sudo)
    pace = _pace(setting(jobs, "jobs"), setting(target_timeout, "target_timeout"))
    show = ScanProgress([str(t) for t in parsed], mode_of(setting(progress, "progress")))
    started = datetime.now(UTC)
    collecting = collection.start(parsed, options, child=True, pace=pace, watch=show.event)
    with show.start():
        done = bundle.collect(output, collecting, identity, started, hostname)
    _print(done)
    if code := _exit_code(done):
        raise typer.Exit(code)


def _identity(key: Path | None, cert: Path | None, pkcs12: Path | None) -> SigningIdentity:
    """The collector's signing identity, loaded before anything is collected."""
    require("report", "signed bundles")
    from assessor.sign.keys import load_identity

    return load_identity(key=key, cert=cert, pkcs12=pkcs12)


def _print(done: Collect) -> None:
    w = done.written
    signed = f"signed by {w.signer}" if w.signer else "UNSIGNED"
    echo(
        f"wrote {w.path}: {len(done.targets)} target(s), {len(done.failed)} not collected, "
        f"{w.size} bytes, {signed}; manifest sha256 {w.digest}"
    )
    for _, c in done.failed:
        assert c.error is not None
        echo(f"assessor: error: {c.error.message}", err=True)


def _exit_code(done: Collect) -> int:
    """3 when a target could not be reached, 2 when one failed otherwise, else 0."""
    errors = [c.error for _, c in done.failed]
    if any(isinstance(e, TargetUnreachableError) for e in errors):
        return EXIT_UNREACHABLE
    return EXIT_USAGE if errors else EXIT_OK
