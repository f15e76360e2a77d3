"""The real-registry helper (tests/registry.py) in each of its modes: push with skopeo, read back."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import os
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import tests.registry as registry_module
from tests.conftest import missing
from tests.registry import (
    ComponentMissing,
    Registry,
    skopeo_copy,
    start_registry,
    write_oci_layout,
)

pytestmark = pytest.mark.slow

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = {"Accept": OCI_MANIFEST}
FILES = {"etc/os-release": b"ID=assessor-test\n", "app/run.sh": b"#!/bin/sh\necho hi\n"}


def _start(
    workdir: Path, *, tls: bool, auth: str, cert: str = "valid", min_tls: str | None = None
) -> Registry:
    try:
        return start_registry(workdir, tls=tls, auth=auth, cert=cert, min_tls=min_tls)
    except ComponentMissing as exc:
        missing(exc.name)
        raise  # unreachable: missing() skips or fails


@pytest.fixture
def image(tmp_path: Path) -> tuple[Path, str]:
    layout = tmp_path / "layout"
    return layout, write_oci_layout(layout, FILES, tag="v1", config={"User": "1000"})


def _client(reg: Registry) -> httpx.Client:
    verify: ssl.SSLContext | bool = False
    if reg.ca_file is not None:
        verify = ssl.create_default_context(cafile=str(reg.ca_file))
    return httpx.Client(verify=verify, trust_env=False, timeout=10)


def _push(reg: Registry, image: tuple[Path, str], repo: str = "demo/app") -> str:
    layout, _ = image
    try:
        skopeo_copy(f"oci:{layout}:v1", f"docker://{reg.host}/{repo}:v1", reg)
    except ComponentMissing as exc:
        missing(exc.name)
    return f"{reg.url}/v2/{repo}/manifests/v1"


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    return scheme, dict(re.findall(r'(\w+)="([^"]*)"', rest))


def _bearer_token(client: httpx.Client, challenge: str, auth: tuple[str, str] | None) -> str:
    scheme, params = _challenge(challenge)
    assert scheme == "Bearer"
    query = {"service": params["service"]}
    if "scope" in params:
        query["scope"] = params["scope"]
    resp = client.get(params["realm"], params=query, auth=auth)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token"] == body["access_token"]
    return str(body["token"])


@pytest.fixture
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    tls, auth = request.param
    reg = _start(tmp_path / "registry", tls=tls, auth=auth)
    try:
        yield reg
    finally:
        reg.stop()


@pytest.mark.parametrize("registry", [(False, "none")], indirect=True, ids=["http"])
def test_plain_http(registry: Registry, image: tuple[Path, str], tmp_path: Path) -> None:
    assert registry.url.startswith("http://127.0.0.1:")
    assert registry.ca_file is None and registry.username is None
    assert registry.cert is None and registry.cert_not_after is None
    url = _push(registry, image)
    with _client(registry) as client:
        assert client.get(f"{registry.url}/v2/").status_code == 200
        resp = client.get(url, headers=ACCEPT)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Docker-Content-Digest"] == image[1]
    assert json.loads(resp.content)["mediaType"] == OCI_MANIFEST
    # and back out of the registry (the --src-* side of skopeo_copy)
    skopeo_copy(f"docker://{registry.host}/demo/app:v1", f"oci:{tmp_path / 'pulled'}:v1", registry)
    index = json.loads((tmp_path / "pulled" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == image[1]


@pytest.mark.parametrize("registry", [(True, "none")], indirect=True, ids=["tls"])
def test_tls(registry: Registry, image: tuple[Path, str]) -> None:
    assert registry.url.startswith("https://127.0.0.1:")
    assert registry.ca_file is not None and registry.cert_dir is not None
    assert (registry.cert_dir / "ca.crt").read_bytes() == registry.ca_file.read_bytes()
    assert registry.cert == "valid"
    assert registry.cert_not_after == _verified_not_after(registry)
    url = _push(registry, image)
    with _client(registry) as client:
        resp = client.get(url, headers=ACCEPT)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Docker-Content-Digest"] == image[1]
    # the server certificate is only trusted through the test CA
    with httpx.Client(trust_env=False, timeout=10) as untrusting, pytest.raises(httpx.ConnectError):
        untrusting.get(f"{registry.url}/v2/")


@pytest.mark.parametrize("registry", [(True, "basic")], indirect=True, ids=["tls-basic"])
def test_tls_basic(registry: Registry, image: tuple[Path, str]) -> None:
    assert registry.username and registry.password
    creds = (registry.username, registry.password)
    url = _push(registry, image)
    with _client(registry) as client:
        anonymous = client.get(f"{registry.url}/v2/")
        assert anonymous.status_code == 401
        assert _challenge(anonymous.headers["WWW-Authenticate"])[0] == "Basic"
        assert client.get(url, headers=ACCEPT).status_code == 401
        assert (
            client.get(f"{registry.url}/v2/", auth=(registry.username, "wrong")).status_code == 401
        )
        assert client.get(f"{registry.url}/v2/", auth=creds).status_code == 200
        resp = client.get(url, headers=ACCEPT, auth=creds)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Docker-Content-Digest"] == image[1]
    wrong = dataclasses.replace(registry, password="wrong", _finalizer=None)
    with pytest.raises(RuntimeError, match=r"unauthorized|401"):
        skopeo_copy(f"oci:{image[0]}:v1", f"docker://{registry.host}/demo/other:v1", wrong)


def _token_round_trip(reg: Registry, image: tuple[Path, str]) -> None:
    assert reg.token_realm and reg.token_realm.startswith("https://127.0.0.1:")
    assert reg.username and reg.password
    creds = (reg.username, reg.password)
    url = _push(reg, image)
    assert any(sub == reg.username and access for sub, access in reg.tokens_issued)
    with _client(reg) as client:
        # GET /v2/ without a token: a Bearer challenge naming our token server
        ping = client.get(f"{reg.url}/v2/")
        assert ping.status_code == 401
        scheme, params = _challenge(ping.headers["WWW-Authenticate"])
        assert scheme == "Bearer"
        assert params["realm"] == reg.token_realm and params["service"] == reg.token_service
        # the real challenge for the manifest: 401 -> token with basic credentials -> Bearer
        first = client.get(url, headers=ACCEPT)
        assert first.status_code == 401
        challenge = first.headers["WWW-Authenticate"]
        assert 'scope="repository:demo/app:pull"' in challenge
        token = _bearer_token(client, challenge, creds)
        resp = client.get(url, headers={**ACCEPT, "Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        assert resp.headers["Docker-Content-Digest"] == image[1]

        # wrong credentials: the token server refuses them
        _, params = _challenge(challenge)
        refused = client.get(
            params["realm"],
            params={"service": params["service"], "scope": params["scope"]},
            auth=(reg.username, "wrong"),
        )
        assert refused.status_code == 401
        # anonymous: a token the registry accepts for /v2/ but that grants no pull
        anon = _bearer_token(client, challenge, None)
        bearer = {"Authorization": f"Bearer {anon}"}
        assert client.get(f"{reg.url}/v2/", headers=bearer).status_code == 200
        assert client.get(url, headers={**ACCEPT, **bearer}).status_code == 401
        # the registry checks the signature: the anonymous token with pull access written in
        header, claims, signature = anon.split(".")
        forged_claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        forged_claims["access"] = [{"type": "repository", "name": "demo/app", "actions": ["pull"]}]
        forged = ".".join(
            [
                header,
                base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode(),
                signature,
            ]
        )
        resp = client.get(url, headers={**ACCEPT, "Authorization": f"Bearer {forged}"})
        assert resp.status_code == 401


@pytest.mark.parametrize("registry", [(True, "token")], indirect=True, ids=["tls-token"])
def test_tls_token(registry: Registry, image: tuple[Path, str]) -> None:
    _token_round_trip(registry, image)
    wrong = dataclasses.replace(registry, password="wrong", _finalizer=None)
    with pytest.raises(RuntimeError, match=r"unauthorized|401|invalid"):
        skopeo_copy(f"oci:{image[0]}:v1", f"docker://{registry.host}/demo/other:v1", wrong)


def test_tls_token_with_openssl_pki(
    tmp_path: Path, image: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Certificates and JWT signatures from the `openssl` command instead of `cryptography`."""
    monkeypatch.setenv("ASSESSOR_TEST_PKI", "openssl")
    reg = _start(tmp_path / "registry", tls=True, auth="token")
    try:
        assert reg.cert_not_after == _verified_not_after(reg)
        _token_round_trip(reg, image)
    finally:
        reg.stop()


def test_stop_ends_everything(tmp_path: Path) -> None:
    reg = _start(tmp_path / "registry", tls=False, auth="token")
    proc, server = reg._proc, reg._token_server
    assert proc is not None and server is not None
    reg.stop()
    reg.stop()  # idempotent
    assert proc.poll() is not None
    assert not server.thread.is_alive()
    with httpx.Client(trust_env=False, timeout=2) as client, pytest.raises(httpx.ConnectError):
        client.get(f"{reg.url}/v2/")


def test_bad_auth_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="auth must be"):
        start_registry(tmp_path / "r", auth="ldap")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tls": True, "cert": "revoked"}, "cert must be"),
        ({"tls": True, "min_tls": "TLS1.2"}, "min_tls must be"),
        ({"cert": "expired"}, "need tls=True"),
        ({"min_tls": "tls1.3"}, "need tls=True"),
    ],
)
def test_bad_tls_options(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        start_registry(tmp_path / "r", **kwargs)  # type: ignore[arg-type]


def test_bad_certificates_need_cryptography(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the openssl back end, only the "valid" certificate can be made."""
    monkeypatch.setenv("ASSESSOR_TEST_PKI", "openssl")
    with pytest.raises(ComponentMissing) as info:
        start_registry(tmp_path / "r", tls=True, cert="expired")
    if info.value.name == "openssl":  # the test CA is made before the certificate
        missing("openssl")
    assert info.value.name == "cryptography"
    assert not (tmp_path / "r" / "config.yml").exists()  # nothing was started


# --------------------------------------------------------------------------------------------
# server certificates meant to fail verification, and the minimum TLS version


def _port(reg: Registry) -> int:
    return int(reg.host.rpartition(":")[2])


def _handshake(
    reg: Registry, ctx: ssl.SSLContext, server_hostname: str = "127.0.0.1"
) -> tuple[str, bytes, dict[str, object]]:
    """TLS version, DER certificate and (when verified) decoded certificate of the server."""
    with (
        socket.create_connection(("127.0.0.1", _port(reg)), timeout=5) as sock,
        ctx.wrap_socket(sock, server_hostname=server_hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return str(tls.version()), der, dict(tls.getpeercert() or {})


def _unverified() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _verified_not_after(reg: Registry) -> datetime.datetime:
    """The notAfter of the certificate the registry serves, read through a verified handshake."""
    assert reg.ca_file is not None
    _, _, decoded = _handshake(reg, ssl.create_default_context(cafile=str(reg.ca_file)))
    seconds = ssl.cert_time_to_seconds(str(decoded["notAfter"]))
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def _served_certificate(reg: Registry) -> Any:
    """The registry's certificate, unverified, as a `cryptography` x509.Certificate."""
    from cryptography import x509

    return x509.load_der_x509_certificate(_handshake(reg, _unverified())[1])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


@pytest.mark.parametrize(
    ("cert", "failure"),
    [
        ("expired", "certificate has expired"),
        ("wrong-host", r"IP address mismatch|Hostname mismatch"),
        ("self-signed", r"self.signed certificate"),
    ],
)
def test_bad_server_certificate(tmp_path: Path, cert: str, failure: str) -> None:
    """Python's default verification rejects the certificate; the registry still answers."""
    before = _now()
    reg = _start(tmp_path / "registry", tls=True, auth="none", cert=cert)
    after = _now()
    try:
        assert reg.cert == cert and reg.ca_file is not None and reg.cert_dir is not None
        assert (reg.cert_dir / "ca.crt").read_bytes() == reg.ca_file.read_bytes()
        test_ca = tmp_path / "registry" / "pki" / "ca.crt"  # what signs every other mode
        with pytest.raises(ssl.SSLCertVerificationError, match=failure):
            _handshake(reg, ssl.create_default_context(cafile=str(test_ca)))
        served = _served_certificate(reg)
        assert reg.cert_not_after == served.not_valid_after_utc
        assert reg.cert_not_after is not None and reg.cert_not_after.tzinfo is not None
        with httpx.Client(verify=False, trust_env=False, timeout=10) as client:
            assert client.get(f"{reg.url}/v2/").status_code == 200

        if cert == "expired":
            assert before - datetime.timedelta(days=30) <= reg.cert_not_after
            assert reg.cert_not_after <= after - datetime.timedelta(days=30)
            assert served.not_valid_before_utc == reg.cert_not_after - datetime.timedelta(days=370)
        elif cert == "wrong-host":
            from cryptography import x509

            san = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert list(san) == [x509.DNSName("registry.invalid")]
            # signed by the test CA: only the name is wrong
            ctx = ssl.create_default_context(cafile=str(reg.ca_file))
            assert _handshake(reg, ctx, server_hostname="registry.invalid")[0]
        else:  # self-signed: its own issuer, and trusted when pinned through ca_file
            assert served.issuer == served.subject
            assert reg.ca_file.read_bytes() != test_ca.read_bytes()
            _handshake(reg, ssl.create_default_context(cafile=str(reg.ca_file)))
    finally:
        reg.stop()


def test_expiring_server_certificate(tmp_path: Path) -> None:
    """Valid now (the test CA verifies it), with notAfter ten days ahead."""
    before = _now()
    reg = _start(tmp_path / "registry", tls=True, auth="none", cert="expiring")
    after = _now()
    try:
        assert reg.cert_not_after == _verified_not_after(reg)
        ten_days = datetime.timedelta(days=10)
        assert before + ten_days <= reg.cert_not_after <= after + ten_days
        with _client(reg) as client:
            assert client.get(f"{reg.url}/v2/").status_code == 200
    finally:
        reg.stop()


@pytest.mark.parametrize("min_tls", [None, "tls1.3"])
def test_min_tls(tmp_path: Path, min_tls: str | None) -> None:
    """minimumtls reaches the registry's config: with "tls1.3" a TLS 1.2-only client fails."""
    reg = _start(tmp_path / "registry", tls=True, auth="none", min_tls=min_tls)
    try:
        assert reg.min_tls == min_tls and reg.ca_file is not None
        config = yaml.safe_load((tmp_path / "registry" / "config.yml").read_text())
        assert config["http"]["tls"].get("minimumtls") == min_tls
        tls12 = ssl.create_default_context(cafile=str(reg.ca_file))
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        if min_tls == "tls1.3":
            with pytest.raises(ssl.SSLError, match=r"PROTOCOL_VERSION|protocol version"):
                _handshake(reg, tls12)
        else:
            assert _handshake(reg, tls12)[0] == "TLSv1.2"
        default = ssl.create_default_context(cafile=str(reg.ca_file))
        assert _handshake(reg, default)[0] == "TLSv1.3"
    finally:
        reg.stop()


@pytest.mark.parametrize("behaviour", ["exits", "hangs"])
def test_startup_failure_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behaviour: str
) -> None:
    """A registry that dies or never answers: RuntimeError with its log, nothing left running."""
    fake = tmp_path / "fake-registry"
    pidfile = tmp_path / "pid"
    tail = "exit 3" if behaviour == "exits" else "exec sleep 60"
    fake.write_text(f"#!/bin/sh\necho $$ > {pidfile}\necho 'boom: bad config' >&2\n{tail}\n")
    fake.chmod(0o755)
    real_which = registry_module._which
    monkeypatch.setattr(
        registry_module,
        "_which",
        lambda name, package: str(fake) if name == "docker-registry" else real_which(name, package),
    )
    monkeypatch.setattr(registry_module, "START_TIMEOUT", 1.0)
    threads = threading.active_count()
    with pytest.raises(RuntimeError, match="boom: bad config"):
        _start(tmp_path / "r", tls=False, auth="token")
    assert threading.active_count() == threads  # the token server thread is gone
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)


def test_write_oci_layout_is_deterministic(tmp_path: Path) -> None:
    a = write_oci_layout(tmp_path / "a", FILES, tag="x")
    b = write_oci_layout(tmp_path / "b", FILES, tag="x")
    assert a == b and a.startswith("sha256:")
    c = write_oci_layout(tmp_path / "a", {"f": b"other"}, tag="y")
    index = json.loads((tmp_path / "a" / "index.json").read_text())
    refs = {
        m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
        for m in index["manifests"]
    }
    assert refs == {"x": a, "y": c}


def test_port_taken_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The free port is grabbed by someone else before the registry binds it: it retries."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real_free_port = registry_module._free_port
        monkeypatch.setattr(registry_module, "_free_port", lambda: next(ports, real_free_port()))
        reg = _start(tmp_path / "registry", tls=False, auth="none")
        try:
            assert reg.host != f"127.0.0.1:{taken}"
            with _client(reg) as client:
                assert client.get(f"{reg.url}/v2/").status_code == 200
        finally:
            reg.stop()
