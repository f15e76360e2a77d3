"""Real images built by dockerd, read through every transport, judged on CIS section 4.

A risky image (no USER, no HEALTHCHECK, a setuid binary, ADD of a URL, a token in ENV and
a private key in a layer) and a well-built one are built with ``docker build`` from the
session's busybox image, then read as a ``docker save`` archive, from the daemon, as an OCI
layout (written by skopeo) and from a real registry (TLS and htpasswd, pushed by skopeo).
"""

from __future__ import annotations

import http.server
import os
import shutil
import sqlite3
import threading
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Docker, missing, run_cli
from tests.registry import (
    ComponentMissing,
    Registry,
    skopeo_copy,
    start_registry,
    write_oci_layout,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SECRET = f"tok-{uuid.uuid4().hex}"  # planted in ENV: must appear nowhere assessor writes
KEY_BODY = uuid.uuid4().hex * 3  # the body of a planted private key file
CIS = {
    "4.1": "image-user-not-root",
    "4.6": "image-healthcheck",
    "4.8": "image-setuid-removed",
    "4.9": "image-copy-not-add",
    "4.10": "image-no-secrets",
}
# what each failing rule's message must name in the risky image
NAMED = {
    "image-user-not-root": "no USER instruction",
    "image-healthcheck": "no HEALTHCHECK",
    "image-setuid-removed": "/bin/busybox (file 4755",
    "image-copy-not-add": "ADD of a remote URL",
    "image-no-secrets": "config.Env.API_TOKEN",
}


@pytest.fixture(scope="module")
def payload_server() -> Iterator[str]:
    """A loopback HTTP server for the risky image's ADD of a URL (dockerd fetches it)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"downloaded payload\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/payload.bin"
    finally:
        server.shutdown()
        server.server_close()


def _build(docker: Docker, context: Path, dockerfile: str, tag: str) -> None:
    (context / "Dockerfile").write_text(dockerfile)
    import subprocess

    proc = subprocess.run(
        [docker.cli, "build", "-q", "--label", f"assessor.test={docker.label}", "-t", tag, "."],
        cwd=context,
        capture_output=True,
        timeout=180,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()


@pytest.fixture(scope="module")
def images(
    docker: Docker, payload_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    work = tmp_path_factory.mktemp("images")
    tag = docker.label[:12]
    risky, good = f"assessor-test/risky:{tag}", f"assessor-test/good:{tag}"
    ctx = work / "risky"
    ctx.mkdir()
    (ctx / "id_rsa").write_text(
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{KEY_BODY}\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    _build(
        docker,
        ctx,
        f"FROM {docker.image}\n"
        f"ENV API_TOKEN={SECRET}\n"
        "RUN chmod 4755 /bin/busybox\n"
        f"ADD {payload_server} /opt/payload.bin\n"
        "COPY id_rsa /root/.ssh/id_rsa\n",
        risky,
    )
    ctx = work / "good"
    ctx.mkdir()
    (ctx / "app.conf").write_text("listen=8080\n")
    _build(
        docker,
        ctx,
        f"FROM {docker.image}\n"
        "COPY app.conf /etc/app.conf\n"
        'HEALTHCHECK --interval=30s CMD ["/bin/true"]\n'
        "USER 1000:1000\n",
        good,
    )
    try:
        yield {"risky": risky, "good": good, "work": str(work)}
    finally:
        docker("rmi", "-f", risky, good, check=False)


def _verdicts(doc: dict[str, Any]) -> dict[str, dict[str, tuple[str, str]]]:
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for r in doc["results"]:
        out.setdefault(r["resource"], {})[r["rule"]] = (r["status"], r["message"])
    return out


def _scan(db: str, *args: str) -> dict[str, Any]:
    run = run_cli("scan", *args, "--format", "json", db=db)
    assert run.code == 0, run.err
    assert "Traceback" not in run.err
    return run.json()


def _check_pair(
    doc: dict[str, Any], risky_res: str, good_res: str, healthcheck_kept: bool = True
) -> None:
    verdicts = _verdicts(doc)
    assert risky_res in verdicts, sorted(verdicts)
    assert good_res in verdicts, sorted(verdicts)
    for req, rule in CIS.items():
        status, message = verdicts[risky_res][rule]
        # 4.8 lists the setuid files for the reviewer (manual) when no allow-list is set
        assert status == ("manual" if rule == "image-setuid-removed" else "fail"), (req, message)
        assert NAMED[rule] in message, (rule, message)
        good = "pass" if healthcheck_kept or rule != "image-healthcheck" else "fail"
        assert verdicts[good_res][rule][0] == good, (req, rule, verdicts[good_res][rule])
    secrets = verdicts[risky_res]["image-no-secrets"][1]
    assert "/root/.ssh/id_rsa" in secrets and "private key" in secrets
    assert SECRET not in str(doc)


def _assert_secret_absent(db: str, *also: str) -> None:
    con = sqlite3.connect(db.removeprefix("sqlite:///"))
    try:
        bodies = [zlib.decompress(b).decode() for (b,) in con.execute("SELECT body FROM evidence")]
        rows = "\n".join(str(r) for r in con.execute("SELECT * FROM result"))
    finally:
        con.close()
    everything = "\n".join([*bodies, rows, *also])
    assert "API_TOKEN=<redacted: token, " in everything
    for planted in (SECRET, KEY_BODY):
        assert planted not in everything
    raw = Path(db.removeprefix("sqlite:///")).read_bytes()
    assert SECRET.encode() not in raw and KEY_BODY.encode() not in raw


def test_docker_archive(docker: Docker, images: dict[str, str], db: str, tmp_path: Path) -> None:
    archive = tmp_path / "both.tar"
    docker("save", "-o", str(archive), images["risky"], images["good"])
    doc = _scan(db, f"image:docker-archive:{archive}")
    _check_pair(
        doc,
        f"docker-archive:{archive}:{images['risky']}",
        f"docker-archive:{archive}:{images['good']}",
    )
    csv = run_cli("results", "--format", "csv", db=db)
    js = run_cli("results", "--format", "json", db=db)
    _assert_secret_absent(db, csv.out, js.out)
    # one image of the archive by its reference
    doc = _scan(db, f"image:docker-archive:{archive}:{images['good']}")
    assert set(_verdicts(doc)) == {f"docker-archive:{archive}:{images['good']}", "*"}


def test_docker_daemon(images: dict[str, str], db: str) -> None:
    doc = _scan(
        db, f"image:docker-daemon:{images['risky']}", f"image:docker-daemon:{images['good']}"
    )
    _check_pair(doc, f"docker-daemon:{images['risky']}", f"docker-daemon:{images['good']}")
    _assert_secret_absent(db)


def test_oci_layout(docker: Docker, images: dict[str, str], db: str, tmp_path: Path) -> None:
    if shutil.which("skopeo") is None:
        missing("skopeo")
    layout = tmp_path / "layout"
    for name in ("risky", "good"):
        skopeo_copy(f"docker-daemon:{images[name]}", f"oci:{layout}:{name}")
    doc = _scan(db, f"image:oci:{layout}")
    # skopeo's conversion to an OCI config drops HEALTHCHECK (the OCI config has no such
    # field), so the image as written has none: the good image fails 4.6 here, truthfully
    _check_pair(doc, f"oci:{layout}:risky", f"oci:{layout}:good", healthcheck_kept=False)
    _assert_secret_absent(db)
    # skopeo wrote gzip layers: the compressed digests and diff_ids were both verified
    doc = _scan(db, f"image:oci:{layout}:good")
    assert set(_verdicts(doc)) == {f"oci:{layout}:good", "*"}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    try:
        reg = start_registry(tmp_path_factory.mktemp("registry"), tls=True, auth="basic")
    except ComponentMissing as e:
        missing(str(e))
        raise
    try:
        yield reg
    finally:
        reg.stop()


def test_registry(images: dict[str, str], registry: Registry, db: str) -> None:
    for name in ("risky", "good"):
        skopeo_copy(
            f"docker-daemon:{images[name]}", f"docker://{registry.host}/app/{name}:1", registry
        )
    assert registry.cert_dir is not None
    creds = f"{registry.username}:{registry.password}"
    args = ["--cert-dir", str(registry.cert_dir), "--creds", creds]
    doc = _scan(
        db,
        f"image:docker://{registry.host}/app/risky:1",
        f"image:docker://{registry.host}/app/good:1",
        *args,
    )
    risky, good = f"docker://{registry.host}/app/risky:1", f"docker://{registry.host}/app/good:1"
    _check_pair(doc, risky, good)
    verdicts = _verdicts(doc)
    # registry images are checked for signatures; none were pushed
    assert verdicts[good]["image-signed"][0] == "fail"
    _assert_secret_absent(db)

    # a cosign-style signature (an artifact tagged sha256-<digest>.sig) is found
    import subprocess

    digest = subprocess.run(
        ["skopeo", "inspect", "--cert-dir", str(registry.cert_dir), "--creds", creds,
         "--format", "{{.Digest}}", good],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    signature = Path(images["work"]) / "signature"
    write_oci_layout(signature, {"payload.json": b'{"critical": {}}'}, tag="sig")
    sig_tag = digest.replace(":", "-") + ".sig"
    skopeo_copy(f"oci:{signature}:sig", f"docker://{registry.host}/app/good:{sig_tag}", registry)
    doc = _scan(db, f"image:docker://{registry.host}/app/good:1", *args)
    status, message = _verdicts(doc)[good]["image-signed"]
    assert status == "pass", message

    # TLS is verified: without the test CA the registry is refused
    run = run_cli("scan", f"image:docker://{registry.host}/app/good:1", "--creds", creds, db=db)
    assert run.code == 3, run.err
    assert "CERTIFICATE_VERIFY_FAILED" in run.err or "certificate" in run.err.lower()
    # wrong credentials: a clear error naming the registry, exit 2
    run = run_cli(
        "scan",
        f"image:docker://{registry.host}/app/good:1",
        "--cert-dir",
        str(registry.cert_dir),
        "--creds",
        "tester:wrong",
        db=db,
    )
    assert run.code == 2, run.err
    assert "access denied (401, credentials refused)" in run.err
    assert "Traceback" not in run.err


def test_insecure_is_loopback_only(db: str) -> None:
    run = run_cli("scan", "image:docker://registry.example.com/app:1", "--insecure", db=db)
    assert run.code == 2
    assert "--insecure is allowed only for a loopback registry" in run.err


def test_engine_scan_includes_local_images(images: dict[str, str], db: str) -> None:
    from tests.conftest import SOCKET

    doc = _scan(db, f"engine:unix://{SOCKET}")
    verdicts = _verdicts(doc)
    risky = verdicts[f"docker-daemon:{images['risky']}"]
    assert risky["image-setuid-removed"][0] == "manual"
    assert verdicts[f"docker-daemon:{images['good']}"]["image-user-not-root"][0] == "pass"
    _assert_secret_absent(db)


def test_registry_with_token_auth(
    images: dict[str, str], db: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Docker token auth: assessor answers the Bearer challenge with the token server's token."""
    try:
        reg = start_registry(tmp_path_factory.mktemp("token-registry"), tls=True, auth="token")
    except ComponentMissing as e:
        missing(str(e))
        raise
    try:
        skopeo_copy(f"docker-daemon:{images['good']}", f"docker://{reg.host}/app/good:1", reg)
        assert reg.cert_dir is not None
        ref = f"docker://{reg.host}/app/good:1"
        args = ["--cert-dir", str(reg.cert_dir), "--creds", f"{reg.username}:{reg.password}"]
        doc = _scan(db, f"image:{ref}", *args)
        assert _verdicts(doc)[ref]["image-user-not-root"][0] == "pass"
        empty = tmp_path_factory.mktemp("no-docker-config")  # no credentials to fall back on
        run = run_cli(
            "scan", f"image:{ref}", "--cert-dir", str(reg.cert_dir), db=db,
            env={"DOCKER_CONFIG": str(empty)},
        )  # fmt: skip
        assert run.code == 2 and "access denied (401, no credentials)" in run.err, run.err
    finally:
        reg.stop()
