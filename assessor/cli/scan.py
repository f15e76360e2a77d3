"""``assessor scan``: collect, evaluate and store an assessment of one or more targets."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from typer import echo

from assessor.cli import uncollected_imports
from assessor.cli._common import (
    CONTROLS_OPTION,
    DB_OPTION,
    PERIOD_OPTION,
    ProgressMode,
    controls_dirs,
    print_json,
    setting,
)
from assessor.errors import TargetError
from assessor.extras import require
from assessor.vocab import FAILING_STATUSES, Severity

if TYPE_CHECKING:
    from assessor.collection import Collection, Pace
    from assessor.collectors.options import CollectOptions, SshSettings
    from assessor.pipeline import ScanRun
    from assessor.readmodel import AssessmentView
    from assessor.targets import Target


class FailOn(StrEnum):
    """--fail-on: none, or a severity (vocab.Severity; Typer's choices are an enum)."""

    NONE = "none"
    INFO = Severity.INFO.value
    LOW = Severity.LOW.value
    MEDIUM = Severity.MEDIUM.value
    HIGH = Severity.HIGH.value
    CRITICAL = Severity.CRITICAL.value


class ScanFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"


_TARGETS = typer.Argument(
    None,
    metavar="[TARGET]...",
    help="host:/ , host:/some/root , engine:unix:///var/run/docker.sock , "
    "engine:tcp://h:2376 , engine:ssh://USER@HOST[:PORT] , ssh://USER@HOST[:PORT][?sudo=1] "
    "(that machine and its engine, over SSH) , image:docker-archive:PATH[:REF] , "
    "image:oci:DIR[:TAG] , "
    "image:docker-daemon:NAME:TAG , image:docker://HOST[:PORT]/REPO:TAG , "
    "registry:https://HOST[:PORT] , registry:http://HOST[:PORT]. "
    "Default: this host, plus the local engine (and its images) when its socket exists.",
)
_INVENTORY = typer.Option(
    None,
    "--inventory",
    "-i",
    envvar="ASSESSOR_INVENTORY",
    metavar="FILE",
    help="Add the targets of FILE (repeatable): one target per line (a bare HOST, USER@HOST "
    "or HOST:PORT is that machine over SSH, ssh://), or an Ansible inventory, INI or YAML, "
    "whose hosts become ssh://ansible_user@ansible_host:ansible_port (?sudo=1 with "
    "ansible_become). ASSESSOR_INVENTORY names one file. See docs/fleet.md.",
)
_SYSTEM = typer.Option(
    None,
    "--system",
    envvar="ASSESSOR_SYSTEM",
    help="The system under assessment these targets belong to (its history, waivers and "
    "attestations are kept per system). Default: none.",
)
_WAIVERS_FILE = typer.Option(
    None,
    "--waivers",
    metavar="FILE",
    help="A reviewed YAML list of waivers, validated and stored before scanning (a malformed "
    "file stops the scan). See docs/audit.md.",
)
_FAIL_ON = typer.Option(
    None,
    "--fail-on",
    envvar="ASSESSOR_FAIL_ON",
    help="Exit 1 when a fail or error result has this severity or higher. Default: none.",
)
_FMT = typer.Option(
    ScanFormat.TABLE,
    "--format",
    help="table, json (as 'assessor results --format json'), or the stored assessment as "
    "sarif or junit on standard output (the bytes 'assessor export --format FORMAT -o -' "
    "writes).",
)
_ALL_RESULTS = typer.Option(False, "--all", help="Table: list every result, not only findings.")
_PLATFORM = typer.Option(
    None,
    "--platform",
    envvar="ASSESSOR_PLATFORM",
    help="Images: the platform picked from a multi-platform index, OS/ARCH[/VARIANT]. "
    "Default: linux/amd64.",
)
_IMAGE_LIMITS = typer.Option(
    None,
    "--image-limit",
    envvar="ASSESSOR_IMAGE_LIMITS",
    metavar="NAME=VALUE",
    help="Images: raise or lower one bound of the image reader (repeatable), e.g. "
    "max_ratio=500, max_entries=3000000, max_layer_bytes=32G. See docs/images.md.",
)
_IMAGE_CACHE_DAYS = typer.Option(
    None,
    "--image-cache-days",
    envvar="ASSESSOR_IMAGE_CACHE_DAYS",
    min=0,
    metavar="DAYS",
    help="Engine images: an image (by its ID) read within DAYS days is not exported again; "
    "its content as read then is judged, and the evidence says when (read_at). 0 reads every "
    "image again. Default: 7. See docs/images.md.",
)
_JOBS = typer.Option(
    None,
    "--jobs",
    envvar="ASSESSOR_JOBS",
    min=1,
    help="Targets read at once. Default: 4.",
)
_TARGET_TIMEOUT = typer.Option(
    None,
    "--target-timeout",
    envvar="ASSESSOR_TARGET_TIMEOUT",
    min=1,
    metavar="SECONDS",
    help="Give up a target not read within SECONDS of its start: it is stored as "
    "unreachable with that reason, and the other targets go on. Default: no bound.",
)
_PROGRESS = typer.Option(
    None,
    "--progress",
    envvar="ASSESSOR_PROGRESS",
    help="On standard error while the scan runs: auto (on a terminal, the targets being read, "
    "done and failed; nothing when not a terminal), plain (one line per target as it ends, "
    "for CI logs), none. Default: auto.",
)
_CREDS = typer.Option(
    None,
    "--creds",
    envvar="ASSESSOR_REGISTRY_CREDS",
    metavar="USER:PASSWORD",
    help="Registry images: credentials (else ~/.docker/config.json or --authfile).",
)
_AUTHFILE = typer.Option(
    None, "--authfile", help="Registry images: a Docker config.json holding credentials."
)
_CERT_DIR = typer.Option(
    None,
    "--cert-dir",
    help="Registry images: a directory of *.crt CA certificates to trust "
    "(default /etc/docker/certs.d/HOST:PORT).",
)
_INSECURE = typer.Option(
    False,
    "--insecure",
    help="Registry images: plain HTTP or unverified TLS, for a loopback registry only.",
)
_TIMEOUT = typer.Option(
    None,
    "--timeout",
    envvar="ASSESSOR_TIMEOUT",
    min=0.5,
    help="Registries: seconds to wait for a connection, a response, and a whole JSON body. "
    "Default: 30.",
)
_DEEP = typer.Option(
    False,
    "--deep",
    help="Registry targets: also read every tag's image (up to --max-images) and judge it "
    "with the image rules.",
)
_MAX_IMAGES = typer.Option(
    20, "--max-images", min=0, help="Registry targets with --deep: at most this many images."
)
_STALE_DAYS = typer.Option(
    None,
    "--stale-days",
    envvar="ASSESSOR_STALE_DAYS",
    min=1,
    help="Registry targets: a tag whose image is older than this many days is stale. Default: 90.",
)
_PUSH_PROBE = typer.Option(
    True,
    "--push-probe/--no-push-probe",
    help="Registry targets: try an anonymous blob upload (cancelled at once, never "
    "completed) to learn whether anyone may write.",
)


_KNOWN_HOSTS = typer.Option(
    None,
    "--known-hosts",
    envvar="ASSESSOR_SSH_KNOWN_HOSTS",
    metavar="FILE",
    help="ssh:// and engine:ssh:// targets: the known_hosts file their host keys are checked "
    "against "
    "(an unknown or changed key is refused). Default: ~/.ssh/known_hosts.",
)
_SSH_KEY = typer.Option(
    None,
    "--ssh-key",
    envvar="ASSESSOR_SSH_KEY",
    metavar="FILE",
    help="ssh:// and engine:ssh:// targets: log in with this unencrypted private key only (an "
    "encrypted one: load it into ssh-agent instead). Default: the ssh agent (SSH_AUTH_SOCK) "
    "and ~/.ssh's default keys.",
)
_SSH_TIMEOUT = typer.Option(
    None,
    "--ssh-timeout",
    envvar="ASSESSOR_SSH_TIMEOUT",
    min=0.5,
    metavar="SECONDS",
    help="ssh:// and engine:ssh:// targets: seconds to connect, again to log in and reach the "
    "engine's socket, and for each read or command on the host. Default: 15.",
)
_SSH_SUDO = typer.Option(
    False,
    "--ssh-sudo",
    envvar="ASSESSOR_SSH_SUDO",
    help="ssh:// targets: read files and run commands as root with 'sudo -n' (the login must "
    "be allowed sudo without a password); one target asks with ?sudo=1.",
)


def scan(
    targets: list[str] = _TARGETS,
    inventory: list[Path] = _INVENTORY,
    period: str = PERIOD_OPTION,
    system: str = _SYSTEM,
    db: str = DB_OPTION,
    controls: list[Path] = CONTROLS_OPTION,
    waivers_file: Path = _WAIVERS_FILE,
    fail_on: FailOn = _FAIL_ON,
    fmt: ScanFormat = _FMT,
    all_results: bool = _ALL_RESULTS,
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
    deep: bool = _DEEP,
    max_images: int = _MAX_IMAGES,
    stale_days: int = _STALE_DAYS,
    push_probe: bool = _PUSH_PROBE,
    known_hosts: Path = _KNOWN_HOSTS,
    ssh_key: Path = _SSH_KEY,
    ssh_timeout: float = _SSH_TIMEOUT,
    ssh_sudo: bool = _SSH_SUDO,
) -> None:
    """Scan targets, store the assessment, and print its results.

    Exit codes: 0 ok; 1 findings at or above --fail-on; 2 usage or input error, or a
    target's content is invalid (a corrupt or hostile image); 3 a target could not be
    reached. The other targets are still stored.
    """
    with uncollected_imports():
        from assessor import collection
        from assessor.cli._progress import ScanProgress, mode_of

    options = _options(platform, image_limits, insecure, creds, authfile, cert_dir, timeout)
    _registry_checks(options, deep, max_images, stale_days, push_probe)
    options.image_cache_days = _cache_days(setting(image_cache_days, "image_cache_days"))
    parsed = _targets(targets, inventory)
    options.ssh = _ssh(parsed, known_hosts, ssh_key, ssh_timeout, ssh_sudo)
    threshold = FailOn(setting(fail_on, "fail_on") or "none")
    # the targets are read in a process of their own from now on, while this one checks the
    # rest of the request and loads the catalog and the store
    pace = _pace(setting(jobs, "jobs"), setting(target_timeout, "target_timeout"))
    show = ScanProgress([str(t) for t in parsed], mode_of(setting(progress, "progress")))
    collecting = collection.start(parsed, options, child=True, pace=pace, watch=show.event)
    with show.start():
        request = (period, system, waivers_file, controls, db, fmt)
        done = _scan(collecting, parsed, options, *request, say=show.say)
    _print(done, all_results)
    if code := done.exit_code(None if threshold is FailOn.NONE else Severity(threshold.value)):
        raise typer.Exit(code)


def _scan(
    collecting: Collection,
    targets: list[Target],
    options: CollectOptions,
    period: str | None,
    system: str | None,
    waivers_file: Path | None,
    controls: list[Path] | None,
    db: str | None,
    fmt: ScanFormat,
    *,
    say: Callable[[str], None] | None,
) -> ScanRun:
    """The rest of the request checked, then the scan run and stored (the collection ends
    with it, whatever happens)."""
    with uncollected_imports():
        from assessor import pipeline

    try:
        request = pipeline.ScanRequest(
            targets,
            pipeline.check_period(setting(period, "period") or pipeline.current_period()),
            pipeline.check_system(setting(system, "system")),
            options,
            waivers_file,
            controls_dirs(controls),
            setting(db, "db"),
            output=None if fmt is ScanFormat.TABLE else fmt.value,
        )
    except BaseException:
        collecting.close()
        raise
    return pipeline.scan(request, say, _warn, collecting)


def _targets(texts: list[str] | None, inventories: list[Path] | None) -> list[Target]:
    """The targets given, then those of the inventory files (or ``assessor.toml``'s
    ``inventory``), each once; none at all: this host and its engine."""
    from assessor.inventory import gather
    from assessor.targets import default_targets

    files = setting(inventories, "inventory") or []
    if isinstance(files, str):
        files = [files]
    if not texts and not files:
        return default_targets()
    gathered = gather(texts or [], [Path(f) for f in files])
    for warning in gathered.warnings:
        _warn(warning)
    return gathered.targets


def _warn(warning: str) -> None:
    echo(f"assessor: warning: {warning}", err=True)


def _options(
    platform: str | None,
    image_limits: list[str] | None,
    insecure: bool,
    creds: str | None,
    authfile: Path | None,
    cert_dir: Path | None,
    timeout: float | None,
) -> CollectOptions:
    """How images are read and registries reached: the flags (or their environment variables,
    or ``assessor.toml``), with their defaults."""
    from assessor.collectors.limits import parse_limits
    from assessor.collectors.options import CollectOptions

    limits = setting(image_limits, "image_limits") or []
    return CollectOptions(
        limits=parse_limits([limits] if isinstance(limits, str) else list(limits)),
        platform=_platform(setting(platform, "platform") or "linux/amd64"),
        insecure=insecure,
        creds=creds,
        authfile=str(authfile) if authfile else None,
        cert_dir=str(cert_dir) if cert_dir else None,
        timeout=float(setting(timeout, "timeout") or 30.0),
    )


def _ssh(
    targets: list[Target],
    known_hosts: Path | None,
    key: Path | None,
    timeout: float | None,
    sudo: bool,
) -> SshSettings:
    """How ssh:// and engine:ssh:// targets log in; with such a target, the ssh extra must
    be installed."""
    from assessor.collectors.options import DEFAULT_SSH_TIMEOUT, SshSettings

    if any(t.kind == "host" and t.scheme == "ssh" for t in targets):
        require("ssh", "ssh:// targets")
    if any(t.kind == "engine" and t.scheme == "ssh" for t in targets):
        require("ssh", "engine:ssh:// targets")
    return SshSettings(
        str(known_hosts) if known_hosts else None,
        str(key) if key else None,
        DEFAULT_SSH_TIMEOUT if timeout is None else timeout,
        sudo,
    )


def _pace(jobs: object, timeout: object) -> Pace:
    """--jobs and --target-timeout (or assessor.toml's jobs and target_timeout), checked."""
    from assessor.collection import AHEAD, Pace

    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise TargetError(f"jobs: {jobs!r} is not a number of targets (1 or more)")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 1
    ):
        raise TargetError(f"target_timeout: {timeout!r} is not a number of seconds (1 or more)")
    return Pace(AHEAD if jobs is None else jobs, None if timeout is None else float(timeout))


def _cache_days(days: object) -> int:
    """--image-cache-days (or assessor.toml's image_cache_days): a whole number of days."""
    from assessor.collectors.options import DEFAULT_IMAGE_CACHE_DAYS

    if days is None:
        return DEFAULT_IMAGE_CACHE_DAYS
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise TargetError(
            f"image_cache_days: {days!r} is not a number of days (0 or more; 0 reads every "
            "image again)"
        )
    return days


def _registry_checks(
    options: CollectOptions, deep: bool, max_images: int, stale_days: int | None, push_probe: bool
) -> None:
    """What registry targets check: every tag's image (--deep), stale tags, anonymous push."""
    options.deep = deep
    options.max_images = max_images
    options.stale_days = int(setting(stale_days, "stale_days") or 90)
    options.push_probe = push_probe


def _print(done: ScanRun, all_results: bool) -> None:
    """The JSON document, the export or the table, then the targets' warnings and errors."""
    if done.document is not None:
        print_json(done.document)
    elif done.body is not None:
        sys.stdout.buffer.write(done.body)
        sys.stdout.flush()
    else:
        _print_table(done.view, all_results)
    for warning in done.warnings:
        echo(f"assessor: warning: {warning}", err=True)
    for t in done.summary.unreachable:
        echo(f"assessor: error: {t.error}", err=True)


def _print_table(view: AssessmentView, all_results: bool) -> None:
    """The findings (every result with --all), then what was left out."""
    from assessor.cli import _output

    rows = view.results
    shown = rows if all_results else [r for r in rows if r.raw_status in FAILING_STATUSES]
    _output.print_table(view, shown, counted=rows)
    if not all_results and len(shown) < len(rows):
        echo(
            f"({len(rows) - len(shown)} results not shown: pass, manual, not_applicable; "
            f"see 'assessor results {view.id}')"
        )


def _platform(text: str) -> str:
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise TargetError(f"--platform {text!r}: expected OS/ARCH[/VARIANT], e.g. linux/amd64")
    return text.strip()
