"""Shared fixtures. Under CI=true a missing component fails the test instead of skipping it."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOCKET = "/var/run/docker.sock"
CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own download cannot work here
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    """Skip locally; fail under CI, where every component must be there."""
    if IN_CI:
        pytest.fail(f"required component missing under CI=true: {what}")
    pytest.skip(f"missing: {what}")


def require_module(name: str, extra: str) -> None:
    """Import ``name`` or, at a module's top or in a test, skip locally and fail under CI
    (pytest.importorskip would skip under CI too)."""
    try:
        __import__(name)
    except ImportError:
        if IN_CI:
            pytest.fail(f"required component missing under CI=true: {name} ({extra})")
        pytest.skip(f"missing: {name} ({extra})", allow_module_level=True)


@pytest.fixture(autouse=True, scope="session")
def _cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' caches (catalog, engine images) in a folder of this session, never the
    user's ~/.cache; shared by the session's tests, as one user's scans share theirs."""
    if "ASSESSOR_CACHE_DIR" in os.environ:
        yield
        return
    os.environ["ASSESSOR_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    try:
        yield
    finally:
        os.environ.pop("ASSESSOR_CACHE_DIR", None)


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict:  # type: ignore[type-arg]
        return json.loads(self.out)


def run_cli(
    *args: str,
    db: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> Run:
    """Run the real command line in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("ASSESSOR_DB", None)
    if db is not None:
        full_env["ASSESSOR_DB"] = db
    proc = subprocess.run(
        [sys.executable, "-m", "assessor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd or ROOT,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'assessor.db'}"


# The PostgreSQL server scripts/test-setup.sh starts (a unix socket in this folder, trust
# authentication); ASSESSOR_TEST_PG names another one: a URL whose database the tests may
# use to create and drop their own.
PG_SOCKET_DIR = "/run/assessor-test-pg"
PG_ADMIN_URL = os.environ.get(
    "ASSESSOR_TEST_PG", f"postgresql+psycopg://postgres@/postgres?host={PG_SOCKET_DIR}"
)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Any]:
    """An engine on the test PostgreSQL server's maintenance database, in autocommit."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg (pip install -e '.[dev,all]')")
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as e:
        engine.dispose()
        why = str(getattr(e, "orig", e)).splitlines()[0]
        missing(f"a PostgreSQL server at {PG_ADMIN_URL} (run scripts/test-setup.sh as root): {why}")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def pg_url(pg_admin: Any) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database of this test's own, dropped after it."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"assessor_test_{uuid.uuid4().hex[:16]}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with pg_admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sql(db: str, *statements: str, **params: object) -> list[tuple[Any, ...]]:
    """Run SQL on a database URL on a connection of its own, as another program editing the
    database behind assessor's back would (SQLite with its foreign keys on), in one
    transaction; the rows of the last statement. ``:name`` parameters on every backend."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    if engine.dialect.name == "sqlite":
        statements = ("PRAGMA foreign_keys=ON", *statements)
    try:
        with engine.begin() as conn:
            for st in statements:
                result = conn.execute(text(st), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database on each backend the store supports: a test that takes it runs twice."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'assessor.db'}"
    return str(request.getfixturevalue("pg_url"))


def docker_cli() -> str | None:
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class Docker:
    """The docker CLI, restricted to objects this test session labelled."""

    def __init__(self, cli: str, label: str) -> None:
        self.cli = cli
        self.label = label

    def __call__(self, *args: str, check: bool = True, input: bytes | None = None) -> str:
        proc = subprocess.run(
            [self.cli, *args], capture_output=True, input=input, timeout=120, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {proc.stderr.decode()}")
        return proc.stdout.decode().strip()

    def create(
        self,
        name: str,
        *flags: str,
        start: bool = False,
        image: str | None = None,
        command: tuple[str, ...] = ("sleep", "600"),
    ) -> str:
        cid = self(
            "create",
            "--label",
            f"assessor.test={self.label}",
            "--name",
            f"{name}-{self.label[:8]}",
            *flags,
            image or self.image,
            *command,
        )
        if start:
            self("start", cid)
        return cid

    image = ""

    def cleanup(self) -> None:
        ids = self(
            "ps", "-aq", "--filter", f"label=assessor.test={self.label}", check=False
        ).split()
        if ids:
            self("rm", "-f", *ids, check=False)
        if self.image:
            self("rmi", "-f", self.image, check=False)


def busybox_rootfs_tar() -> bytes:
    """A tiny rootfs: busybox-static and the applets tests use."""
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        missing("busybox-static (/bin/busybox)")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "etc", "usr", "usr/sbin"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        tar.add(str(busybox), "bin/busybox")
        for applet in ("sh", "sleep", "true", "ls"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        # stands in for an SSH daemon: the kernel names the script's shell "sshd"
        script = b"#!/bin/sh\nwhile :; do sleep 60; done\n"
        info = tarfile.TarInfo("usr/sbin/sshd")
        info.mode = 0o755
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    return buf.getvalue()


@pytest.fixture(scope="session")
def docker() -> Iterator[Docker]:
    cli = docker_cli()
    if cli is None or not os.path.exists(SOCKET):
        missing("docker (run `make test` as root, which installs and starts dockerd)")
    assert cli is not None
    label = uuid.uuid4().hex
    d = Docker(cli, label)
    try:
        d("info")
    except AssertionError:
        missing("a running dockerd")
    d.image = f"assessor-test/busybox:{label[:12]}"
    d(
        "import",
        "--change",
        f"LABEL assessor.test={label}",
        "-",
        d.image,
        input=busybox_rootfs_tar(),
    )
    try:
        yield d
    finally:
        d.cleanup()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's) driven by Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        missing("chromium (apt-get install -y chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield b
        finally:
            b.close()


@dataclass
class Exported:
    """One real assessment to export: this host, the sample image and (when dockerd runs) its
    engine, scanned by the real CLI; one image failure waived, one requirement attested."""

    db: str
    id: str
    waived_rule: str
    attested: str  # FRAMEWORK:ID
    tmp: Path

    def cli(self, *args: str, **kw: Any) -> Run:
        return run_cli(*args, db=self.db, **kw)

    def export(self, fmt: str, name: str | None = None, *extra: str) -> Path:
        out = self.tmp / (name or f"export-{fmt}.out")
        r = self.cli("export", self.id, "--format", fmt, "-o", str(out), *extra)
        assert r.code == 0, r.err
        return out


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    import datetime as _dt

    tmp = tmp_path_factory.mktemp("exported")
    image = tmp / "sample-image"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sample_image.py"), str(image)],
        check=True,
        capture_output=True,
    )
    db = f"sqlite:///{tmp / 'assessor.db'}"
    targets = ["host:/", f"image:oci:{image}"]
    if os.path.exists(SOCKET):
        targets.append(f"engine:unix://{SOCKET}")
    scan = run_cli("scan", *targets, "--system", "export-test", "--format", "json", db=db)
    assert scan.code in (0, 1), scan.err
    doc = scan.json()
    aid = str(doc["assessment"]["id"])
    fails = sorted(r["rule"] for r in doc["results"] if r["status"] == "fail")
    image_fails = [r for r in fails if r.startswith("image-")]
    assert image_fails, "the sample image should fail some image rules"
    expires = (_dt.datetime.now(_dt.UTC).date() + _dt.timedelta(days=200)).isoformat()
    w = run_cli(
        "waive", image_fails[0], "--reason", "accepted <risk> & \"quoted\"",
        "--approver", "CISO", "--expires", expires, "--system", "export-test", db=db,
    )  # fmt: skip
    assert w.code == 0, w.err
    attested = "nistir-8176:3.3"
    a = run_cli(
        "attest", attested, "--status", "pass", "--by", "auditor",
        "--note", "checked by hand", "--system", "export-test",
        "--period", doc["assessment"]["period"], db=db,
    )  # fmt: skip
    assert a.code == 0, a.err
    return Exported(db, aid, image_fails[0], attested, tmp)
