"""Registry targets against real distribution registries on 127.0.0.1, each with its own config.

- anonymous, plain HTTP: fails SP 800-190 4.2.1 and 4.2.3 (and NIST IR 8176 7-a/7-b), and
  says why; the anonymous push probe is cancelled and leaves nothing behind;
- htpasswd over TLS with a test CA: passes them; content is read with the credentials, which
  appear nowhere assessor writes;
- expired, wrong-host and self-signed certificates: fail with the date or the reason;
- a Docker token-auth registry with credentials from a Docker config file, and --deep.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Run, missing, run_cli
from tests.registry import (
    ComponentMissing,
    Registry,
    skopeo_copy,
    start_registry,
    write_oci_layout,
)

pytestmark = [pytest.mark.slow]

OLD = "2025-01-10T08:00:00Z"  # older than 90 days on any date this suite runs
TRANSPORT = (
    "registry-tls-required",
    "registry-tls-strong",
    "registry-certificate-valid",
    "registry-certificate-hostname",
    "registry-certificate-trusted",
)
ACCESS = (
    "registry-auth-required",
    "registry-catalog-not-anonymous",
    "registry-pull-not-anonymous",
    "registry-push-not-anonymous",
)


def _start(workdir: Path, **kwargs: Any) -> Registry:
    try:
        return start_registry(workdir, **kwargs)
    except ComponentMissing as e:
        missing(str(e))
        raise


def _push(reg: Registry, tmp: Path, repo: str, tag: str, created: str | None = None) -> str:
    """Push a one-layer image; its manifest digest (skopeo copies an OCI layout unchanged)."""
    layout = tmp / f"layout-{repo.replace('/', '_')}-{tag}"
    digest = write_oci_layout(layout, {"etc/os-release": f"ID={repo}\n".encode()}, created=created)
    skopeo_copy(f"oci:{layout}:latest", f"docker://{reg.host}/{repo}:{tag}", reg)
    return digest


def _sign(reg: Registry, tmp: Path, repo: str, digest: str) -> None:
    """A cosign-style signature: an artifact tagged sha256-HEX.sig in the image's repository."""
    layout = tmp / f"signature-{digest[7:19]}"
    write_oci_layout(layout, {"payload.json": b'{"critical": {}}'})
    tag = digest.replace(":", "-") + ".sig"
    skopeo_copy(f"oci:{layout}:latest", f"docker://{reg.host}/{repo}:{tag}", reg)


def _run(
    reg: Registry,
    db: Path,
    *extra: str,
    creds: str | None = "",
    cert_dir: bool = True,
    env: dict[str, str] | None = None,
) -> Run:
    """``assessor scan registry:...`` as a user types it: the test CA unless ``cert_dir`` is
    False, the registry's own credentials unless ``creds`` says others (None: none)."""
    scheme = "https" if reg.tls else "http"
    args = ["scan", f"registry:{scheme}://{reg.host}", "--format", "json", "--timeout", "10"]
    if cert_dir and reg.cert_dir is not None:
        args += ["--cert-dir", str(reg.cert_dir)]
    if creds == "" and reg.username:
        creds = f"{reg.username}:{reg.password}"
    if creds:
        args += ["--creds", creds]
    run = run_cli(*args, *extra, db=f"sqlite:///{db}", env=env)
    assert run.out, run.err
    return run


def _scan(reg: Registry, db: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    run = _run(reg, db, *extra)
    return run.code, run.json()


def _verdicts(doc: dict[str, Any], kind_prefix: str = "registry-") -> dict[str, dict[str, Any]]:
    return {r["rule"]: r for r in doc["results"] if r["rule"].startswith(kind_prefix)}


@pytest.fixture(scope="module")
def open_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, Path]]:
    tmp = tmp_path_factory.mktemp("open-registry")
    reg = _start(tmp / "reg", tls=False, auth="none")
    try:
        _push(reg, tmp, "team/app", "1.0", created=OLD)
        _push(reg, tmp, "team/app", "latest", created=OLD)
        recent = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        _sign(reg, tmp, "team/signed", _push(reg, tmp, "team/signed", "1", created=recent))
        yield reg, tmp
    finally:
        reg.stop()


@pytest.fixture(scope="module")
def open_scan(open_registry: tuple[Registry, Path]) -> dict[str, Any]:
    reg, tmp = open_registry
    code, doc = _scan(reg, tmp / "a.db")
    assert code == 0, doc
    return doc


def test_plain_http_anonymous_registry_fails_421_and_423(open_scan: dict[str, Any]) -> None:
    v = _verdicts(open_scan)
    assert v["registry-tls-required"]["status"] == "fail"
    assert "plain HTTP" in v["registry-tls-required"]["message"]
    for rule in ACCESS:
        assert v[rule]["status"] == "fail", (rule, v[rule]["message"])
    assert "answers 200 without credentials" in v["registry-auth-required"]["message"]
    assert "team/app:1.0 answered 200" in v["registry-pull-not-anonymous"]["message"]
    push = v["registry-push-not-anonymous"]
    assert push["severity"] == "critical"
    assert (
        "anonymous blob upload to team/app was accepted (202; cancelled at once" in push["message"]
    )
    # the TLS rules do not pile on: one finding says the registry is plain HTTP
    for rule in TRANSPORT[1:]:
        assert v[rule]["status"] == "not_applicable", (rule, v[rule])


def test_registry_results_reference_sp800_190_and_nistir(open_scan: dict[str, Any]) -> None:
    v = _verdicts(open_scan)
    assert v["registry-tls-required"]["references"]["sp800-190"] == ["4.2.1"]
    assert v["registry-tls-required"]["references"]["nistir-8176"] == ["7-b"]
    assert v["registry-auth-required"]["references"]["sp800-190"] == ["4.2.3"]
    assert v["registry-auth-required"]["references"]["nistir-8176"] == ["7-a"]
    assert "4.2.3" in v["registry-push-not-anonymous"]["references"]["sp800-190"]
    assert v["registry-images-not-stale"]["references"]["sp800-190"] == ["4.2.2"]
    assert v["registry-daemon-secure"]["references"]["cis-docker-1.8.0"] == ["2.5"]
    assert "4.5" in v["registry-images-signed"]["references"]["cis-docker-1.8.0"]


def test_content_age_latest_and_signatures(open_scan: dict[str, Any]) -> None:
    v = _verdicts(open_scan)
    stale = v["registry-images-not-stale"]
    assert stale["status"] == "fail"
    # the signature's tag (sha256-HEX.sig) is an artifact, not an image to judge
    assert "2 of 3 tag(s) older than 90 days" in stale["message"], stale["message"]
    assert "team/app:1.0 (" in stale["message"] and "built 2025-01-10" in stale["message"]
    assert v["registry-latest-is-current"]["status"] == "pass"
    signed = v["registry-images-signed"]
    assert signed["status"] == "fail"
    assert "2 of 3 tag(s) unsigned: team/app:1.0, team/app:latest" in signed["message"]
    assert ".sig" not in signed["message"]


def test_push_probe_leaves_nothing_behind(open_registry: tuple[Registry, Path]) -> None:
    reg, _ = open_registry
    assert reg.workdir is not None
    repos = reg.workdir / "storage" / "docker" / "registry" / "v2" / "repositories"
    # the upload was cancelled (DELETE): its data and start time are gone, so it cannot be
    # resumed. (distribution 2.8 re-creates an empty 'hashstates' folder after a cancel; its
    # upload purging removes it.)
    uploads = repos / "team" / "app" / "_uploads"
    left = [p.relative_to(uploads) for p in uploads.rglob("*") if p.name in ("data", "startedat")]
    assert left == [], left
    assert sorted(p.name for p in (repos / "team").iterdir()) == ["app", "signed"]


def test_stale_days_is_the_scans_setting(open_registry: tuple[Registry, Path]) -> None:
    reg, tmp = open_registry
    code, doc = _scan(reg, tmp / "b.db", "--stale-days", "100000", "--no-push-probe")
    assert code == 0
    v = _verdicts(doc)
    assert v["registry-images-not-stale"]["status"] == "pass"
    assert "(limit 100000)" in v["registry-images-not-stale"]["message"]
    assert v["registry-push-not-anonymous"]["status"] == "not_applicable"
    assert "--no-push-probe" in v["registry-push-not-anonymous"]["message"]


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, Path]]:
    tmp = tmp_path_factory.mktemp("tls-registry")
    reg = _start(tmp / "reg", tls=True, auth="basic")
    try:
        _push(reg, tmp, "app", "2.0")
        yield reg, tmp
    finally:
        reg.stop()


def test_htpasswd_tls_registry_passes_421_and_423(tls_registry: tuple[Registry, Path]) -> None:
    reg, tmp = tls_registry
    db = tmp / "a.db"
    code, doc = _scan(reg, db)
    assert code == 0, doc
    v = _verdicts(doc)
    for rule in (*TRANSPORT, "registry-certificate-not-expiring", *ACCESS):
        assert v[rule]["status"] == "pass", (rule, v[rule]["message"])
    assert "refused (401)" in v["registry-push-not-anonymous"]["message"]
    assert "verified against system CA store" in v["registry-certificate-trusted"]["message"]
    # content was read with the credentials: the tag is there, judged
    assert v["registry-images-signed"]["status"] == "fail"
    assert "app:2.0" in v["registry-images-signed"]["message"]
    # the password is nowhere in what assessor printed or stored
    assert reg.password is not None
    assert reg.password not in json.dumps(doc)
    raw = db.read_bytes() + b"".join(
        p.read_bytes() for p in db.parent.glob(db.name + "-*") if p.is_file()
    )
    assert reg.password.encode() not in raw
    with sqlite3.connect(db) as c:
        rows = c.execute("select count(*) from evidence where kind = 'registry'").fetchone()
    assert rows[0] == 1


def test_wrong_credentials_are_reported_and_content_is_an_error(
    tls_registry: tuple[Registry, Path],
) -> None:
    reg, tmp = tls_registry
    run = _run(reg, tmp / "wrong.db", creds=f"{reg.username}:wrong-password")
    assert run.code == 0, run.err
    v = _verdicts(run.json())
    assert v["registry-images-signed"]["status"] == "error"
    assert "access denied (401" in v["registry-images-signed"]["message"]
    assert "the credentials given were refused" in v["registry-images-signed"]["message"]
    assert v["registry-auth-required"]["status"] == "pass"


def test_unverified_certificate_gets_no_credentials(tls_registry: tuple[Registry, Path]) -> None:
    # without --cert-dir the test CA is unknown: the transport rules fail, the anonymous probes
    # still run, and the password is not sent over a channel that did not verify
    reg, tmp = tls_registry
    run = _run(reg, tmp / "unverified.db", cert_dir=False)
    assert run.code == 0, run.err
    v = _verdicts(run.json())
    trusted = v["registry-certificate-trusted"]
    assert trusted["status"] == "fail"
    assert "unable to get local issuer certificate" in trusted["message"]
    assert v["registry-push-not-anonymous"]["status"] == "pass"
    content = v["registry-images-signed"]
    assert content["status"] == "error" and "access denied (401" in content["message"]
    assert (
        "credentials were given but not sent: the certificate does not verify "
        "(unable to get local issuer certificate)" in content["message"]
    )


@pytest.mark.parametrize(
    ("cert", "rule", "expected"),
    [
        ("expired", "registry-certificate-valid", "the certificate expired on "),
        (
            "wrong-host",
            "registry-certificate-hostname",
            "names DNS:registry.invalid, not 127.0.0.1",
        ),
        ("self-signed", "registry-certificate-trusted", "self-signed certificate"),
        ("expiring", "registry-certificate-not-expiring", "under 30 days"),
    ],
)
def test_bad_certificates_fail_with_the_reason(
    tmp_path: Path, cert: str, rule: str, expected: str
) -> None:
    reg = _start(tmp_path / "reg", tls=True, auth="none", cert=cert)
    try:
        run = _run(reg, tmp_path / "a.db", cert_dir=cert != "self-signed")
    finally:
        reg.stop()
    assert run.code == 0, run.err
    v = _verdicts(run.json())
    assert v[rule]["status"] == "fail", v[rule]
    assert expected in v[rule]["message"], v[rule]["message"]
    if cert == "expired":
        assert reg.cert_not_after is not None
        assert reg.cert_not_after.date().isoformat() in v[rule]["message"]
        # the chain itself is fine: expiry is judged once, not also as distrust
        assert v["registry-certificate-trusted"]["status"] == "pass"
        assert v["registry-certificate-not-expiring"]["status"] == "fail"
    if cert == "expiring":
        assert v["registry-certificate-valid"]["status"] == "pass"


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, Path]]:
    tmp = tmp_path_factory.mktemp("token-registry")
    reg = _start(tmp / "reg", tls=True, auth="token")
    try:
        _push(reg, tmp, "svc/api", "3.1")
        _push(reg, tmp, "svc/web", "1.0")
        yield reg, tmp
    finally:
        reg.stop()


def test_token_registry_with_docker_config_and_deep(
    token_registry: tuple[Registry, Path],
) -> None:
    reg, tmp = token_registry
    config = tmp / "docker-config"
    config.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
    run = _run(reg, tmp / "a.db", "--deep", creds=None, env={"DOCKER_CONFIG": str(config)})
    assert run.code == 0, run.err
    doc = run.json()
    v = _verdicts(doc)
    for rule in ACCESS:
        assert v[rule]["status"] == "pass", (rule, v[rule]["message"])
    assert (
        "2 of 2 tag(s) unsigned: svc/api:3.1, svc/web:1.0" in v["registry-images-signed"]["message"]
    )
    # --deep: each tag's image is its own resource, judged by the image rules
    images = {r["resource"] for r in doc["results"] if r["rule"] == "image-user-not-root"}
    assert images == {f"docker://{reg.host}/svc/api:3.1", f"docker://{reg.host}/svc/web:1.0"}
    assert reg.password is not None and reg.password not in run.out


def test_deep_is_bounded_by_max_images(token_registry: tuple[Registry, Path]) -> None:
    reg, tmp = token_registry
    run = _run(reg, tmp / "b.db", "--deep", "--max-images", "1")
    assert run.code == 0, run.err
    images = {r["resource"] for r in run.json()["results"] if r["rule"] == "image-user-not-root"}
    assert images == {f"docker://{reg.host}/svc/api:3.1"}


def test_engine_ca_files_for_the_registry_are_correlated(
    tls_registry: tuple[Registry, Path],
) -> None:
    # the engine's CA for this registry (certs.d/HOST:PORT) is what verifies it without
    # --cert-dir, and its owner and mode are judged (CIS 3.7, 3.8)
    if os.geteuid() != 0:
        missing("root, to write /etc/docker/certs.d")  # fails under CI=true
    reg, tmp = tls_registry
    assert reg.ca_file is not None
    parent = Path("/etc/docker/certs.d")
    made_parent = not parent.exists()  # other checks (and the peer) see whether it exists
    certs = parent / reg.host
    certs.mkdir(parents=True, exist_ok=False)
    try:
        (certs / "ca.crt").write_bytes(reg.ca_file.read_bytes())
        os.chmod(certs / "ca.crt", 0o644)
        run = _run(reg, tmp / "certs.db", cert_dir=False)
    finally:
        (certs / "ca.crt").unlink(missing_ok=True)
        certs.rmdir()
        if made_parent:
            parent.rmdir()
    assert run.code == 0, run.err
    v = _verdicts(run.json())
    assert v["registry-certificate-trusted"]["status"] == "pass"
    assert str(certs / "ca.crt") in v["registry-certificate-trusted"]["message"]
    mode = v["registry-daemon-ca-files-mode"]
    assert mode["status"] == "fail" and "ca.crt: mode 0644" in mode["message"]
    assert v["registry-daemon-ca-files-owned"]["status"] == "pass"
    assert v["registry-images-signed"]["status"] == "fail"  # credentials were sent: verified
