"""A real OCI registry (distribution 2.8, Debian's `docker-registry`) on 127.0.0.1 for tests.

    reg = start_registry(tmp_path, tls=True, auth="token")
    try:
        digest = write_oci_layout(tmp_path / "img", {"etc/os-release": b"ID=test\n"})
        skopeo_copy(f"oci:{tmp_path / 'img'}:latest", f"docker://{reg.host}/demo:1", reg)
    finally:
        reg.stop()

Modes:
- auth="none": anyone may pull and push.
- auth="basic": htpasswd (bcrypt) with one user. Distribution 2.8 does not require TLS for it
  (it answers plain HTTP with `WWW-Authenticate: Basic`), so tls=False works, but real clients
  (docker, skopeo) send passwords only to TLS registries unless told the registry is insecure.
- auth="token": the Docker token protocol. An in-process token server (HTTPS with the same test
  CA when tls=True) checks HTTP Basic credentials and issues RS256 JWTs whose header carries an
  `x5c` chain (the signing certificate, issued by the test CA that is the registry's
  `rootcertbundle`). Anonymous requests get a token with no access; wrong credentials get 401.

TLS server certificates (tls=True), by `cert=`; `Registry.cert_not_after` is the notAfter:
- "valid": for IP 127.0.0.1, signed by the test CA, valid from 5 minutes ago for 90 days.
- "expired": as "valid", but notBefore = now - 400 days and notAfter = now - 30 days.
- "expiring": as "valid", but notAfter = now + 10 days.
- "wrong-host": as "valid", but the only subject alternative name is DNS:registry.invalid.
- "self-signed": for IP 127.0.0.1, its own issuer; `ca_file` and `cert_dir` hold it, not the CA.
The token server (auth="token", tls=True) serves the same certificate as the registry. Startup
checks only that the registry answers, not its certificate, except in the "valid" mode.

`min_tls` sets distribution's `http.tls.minimumtls`: "tls1.0", "tls1.1", "tls1.2" or "tls1.3"
(lower case only; anything else makes distribution 2.8 exit with "unknown minimum TLS level").
Observed with distribution 2.8.2 (Debian) and `openssl s_client`: unset, the minimum is TLS 1.2
(TLS 1.0 and 1.1 get a protocol_version alert; 1.2 and 1.3 connect). With "tls1.0" or "tls1.1"
the older versions are allowed but still fail, with a handshake_failure alert: the default
cipher suites have none that TLS 1.0 or 1.1 can use (ECDHE with AES-GCM or ChaCha20-Poly1305 is
accepted, ECDHE-ECDSA-AES128-SHA is refused even over TLS 1.2). With a CBC suite added through
the registry's `ciphersuites` key (not set here), TLS 1.0 and 1.1 connect. With "tls1.3", a
TLS 1.2 client gets a protocol_version alert.

Keys and certificates come from the `cryptography` package when it is importable, otherwise from
the `openssl` command (which makes only the "valid" certificate: other modes need
`cryptography`). A missing binary (docker-registry, skopeo, openssl, a bcrypt implementation)
or library raises ComponentMissing; tests turn that into `tests.conftest.missing(name)`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import gzip
import hashlib
import http.client
import http.server
import io
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGISTRY_BIN = "docker-registry"
SKOPEO_BIN = "skopeo"
START_TIMEOUT = 15.0
TOKEN_SERVICE = "assessor-test-registry"
TOKEN_ISSUER = "assessor-test-token-issuer"
TOKEN_TTL = 300
AUTH_MODES = ("none", "basic", "token")
CERT_MODES = ("valid", "expired", "expiring", "wrong-host", "self-signed")
TLS_VERSIONS = ("tls1.0", "tls1.1", "tls1.2", "tls1.3")  # http.tls.minimumtls values


class ComponentMissing(RuntimeError):
    """A binary or library the registry helper needs is not installed."""

    def __init__(self, name: str, hint: str = "") -> None:
        self.name = name
        super().__init__(f"missing: {name}" + (f" ({hint})" if hint else ""))


def _which(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ComponentMissing(name, f"install the Debian package {package}")
    return path


# --------------------------------------------------------------------------------------------
# keys and certificates


@dataclass
class _KeyPair:
    key: Path  # PEM private key
    cert: Path  # PEM certificate


class _Pki:
    """A test CA that issues a TLS server certificate and a token-signing certificate."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca = self._make_ca()

    # The same three operations, with the `cryptography` package or the `openssl` command.
    def _make_ca(self) -> _KeyPair:
        if _have_cryptography():
            return _crypto_ca(self.dir)
        return _openssl_ca(self.dir)

    def issue(self, name: str, *, server_ip: str | None, rsa: bool) -> _KeyPair:
        if _have_cryptography():
            return _crypto_leaf(self.dir, name, self.ca, server_ip=server_ip, rsa=rsa)
        return _openssl_leaf(self.dir, name, self.ca, server_ip=server_ip, rsa=rsa)

    def server(self, cert: str) -> _KeyPair:
        """The registry's TLS certificate for a `start_registry(cert=...)` mode."""
        if cert == "valid":
            return self.issue("server", server_ip="127.0.0.1", rsa=False)
        if not _have_cryptography():
            raise ComponentMissing("cryptography", f"needed for cert={cert!r}: pip install it")
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)  # X.509 has seconds
        day = datetime.timedelta(days=1)
        validity = {
            "expired": (now - 400 * day, now - 30 * day),
            "expiring": (now - datetime.timedelta(minutes=5), now + 10 * day),
        }.get(cert)
        return _crypto_leaf(
            self.dir,
            f"server-{cert}",
            None if cert == "self-signed" else self.ca,
            server_ip=None if cert == "wrong-host" else "127.0.0.1",
            dns_name="registry.invalid" if cert == "wrong-host" else None,
            rsa=False,
            validity=validity,
        )


def _cert_not_after(cert: Path) -> datetime.datetime:
    """The notAfter of a PEM certificate, UTC-aware."""
    if _have_cryptography():
        from cryptography import x509

        return x509.load_pem_x509_certificate(cert.read_bytes()).not_valid_after_utc
    out = _openssl("x509", "-in", str(cert), "-noout", "-enddate", cwd=cert.parent).decode()
    seconds = ssl.cert_time_to_seconds(out.strip().removeprefix("notAfter="))
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def _have_cryptography() -> bool:
    if os.environ.get("ASSESSOR_TEST_PKI") == "openssl":  # lets a test force the other path
        return False
    try:
        import cryptography.x509  # noqa: F401
    except ImportError:
        return False
    return True


def _crypto_ca(directory: Path) -> _KeyPair:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "assessor test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _write_pair(directory, "ca", key, cert)


def _write_pair(directory: Path, name: str, key: Any, cert: Any) -> _KeyPair:
    """Write a private key (PKCS#8 PEM) and its certificate as NAME.key and NAME.crt."""
    from cryptography.hazmat.primitives import serialization

    pair = _KeyPair(directory / f"{name}.key", directory / f"{name}.crt")
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pair


def _crypto_leaf(
    directory: Path,
    name: str,
    ca: _KeyPair | None,
    *,
    server_ip: str | None,
    rsa: bool,
    dns_name: str | None = None,
    validity: tuple[datetime.datetime, datetime.datetime] | None = None,
) -> _KeyPair:
    """A leaf signed by `ca`, or self-signed when `ca` is None; `validity` is (notBefore, notAfter).

    The subject alternative names are `server_ip` and `dns_name` (either may be None); with
    either, the certificate also gets the serverAuth extended key usage.
    """
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key: Any = (
        rsa_keys.generate_private_key(public_exponent=65537, key_size=2048)
        if rsa
        else ec.generate_private_key(ec.SECP256R1())
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_ip or dns_name or name)])
    if ca is None:
        signing_key, issuer, issuer_public = key, subject, key.public_key()
    else:
        signing_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
        issuer, issuer_public = ca_cert.subject, ca_cert.public_key()
    if validity is None:
        now = datetime.datetime.now(datetime.UTC)
        validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=90))
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public),
            critical=False,
        )
    )
    names: list[x509.GeneralName] = []
    if server_ip is not None:
        names.append(x509.IPAddress(ipaddress.ip_address(server_ip)))
    if dns_name is not None:
        names.append(x509.DNSName(dns_name))
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(names), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    cert = builder.sign(signing_key, hashes.SHA256())
    return _write_pair(directory, name, key, cert)


def _openssl(*args: str, cwd: Path, input: bytes | None = None) -> bytes:
    exe = _which("openssl", "openssl (or pip install cryptography)")
    proc = subprocess.run(
        [exe, *args], cwd=cwd, input=input, capture_output=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


_REQ_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = {cn}
[ext]
{ext}
"""


def _openssl_ca(directory: Path) -> _KeyPair:
    cnf = directory / "ca.cnf"
    cnf.write_text(
        _REQ_CONFIG.format(
            cn="assessor test CA",
            ext="basicConstraints = critical,CA:TRUE,pathlen:0\n"
            "keyUsage = critical,digitalSignature,keyCertSign,cRLSign\n"
            "subjectKeyIdentifier = hash\n",
        )
    )
    pair = _KeyPair(directory / "ca.key", directory / "ca.crt")
    # EC keys: RSA key generation takes a noticeable fraction of a second on slow cores
    _openssl(
        "req", "-x509", "-config", cnf.name, "-extensions", "ext", "-newkey", "ec",
        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", pair.key.name,
        "-out", pair.cert.name, "-days", "90",
        cwd=directory,
    )  # fmt: skip
    return pair


def _openssl_leaf(
    directory: Path, name: str, ca: _KeyPair, *, server_ip: str | None, rsa: bool
) -> _KeyPair:
    ext = "basicConstraints = critical,CA:FALSE\nauthorityKeyIdentifier = keyid\n"
    if rsa:
        ext += "keyUsage = critical,digitalSignature,keyEncipherment\n"
    else:
        ext += "keyUsage = critical,digitalSignature\n"
    if server_ip is not None:
        ext += f"subjectAltName = IP:{server_ip}\nextendedKeyUsage = serverAuth\n"
    cnf = directory / f"{name}.cnf"
    cnf.write_text(_REQ_CONFIG.format(cn=server_ip or name, ext=ext))
    pair = _KeyPair(directory / f"{name}.key", directory / f"{name}.crt")
    newkey = (
        ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    )
    _openssl(
        "req", "-new", "-config", cnf.name, *newkey, "-nodes", "-keyout", pair.key.name,
        "-out", f"{name}.csr",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-set_serial", str(int.from_bytes(secrets.token_bytes(8), "big")), "-days", "90",
        "-extfile", cnf.name, "-extensions", "ext", "-out", pair.cert.name,
        cwd=directory,
    )  # fmt: skip
    return pair


def _rs256_signer(key: Path) -> Callable[[bytes], bytes]:
    """RSASSA-PKCS1-v1_5 with SHA-256 over the given bytes, with the RSA key in the PEM file."""
    if _have_cryptography():
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        private: Any = serialization.load_pem_private_key(key.read_bytes(), password=None)

        def sign(data: bytes) -> bytes:
            return private.sign(data, padding.PKCS1v15(), hashes.SHA256())

        return sign

    def sign_openssl(data: bytes) -> bytes:
        return _openssl("dgst", "-sha256", "-binary", "-sign", str(key), cwd=key.parent, input=data)

    return sign_openssl


# --------------------------------------------------------------------------------------------
# passwords


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash for an htpasswd file (the only format distribution's htpasswd accepts)."""
    try:
        import bcrypt
    except ImportError:
        pass
    else:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    # the stdlib `crypt` module (Python < 3.13) with libxcrypt, as on Debian 12, does bcrypt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            crypt = None
    if crypt is not None and crypt.METHOD_BLOWFISH in crypt.methods:
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        if hashed and hashed.startswith("$2"):
            return hashed
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:
        raise ComponentMissing(
            "bcrypt", "pip install bcrypt, or install apache2-utils for `htpasswd -B`"
        )
    proc = subprocess.run(
        [htpasswd, "-Bbn", "-C", "4", "user", password],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"htpasswd -Bbn: {proc.stderr}")
    return proc.stdout.strip().split(":", 1)[1]


# --------------------------------------------------------------------------------------------
# token server


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _TokenServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        username: str,
        password: str,
        signing: _KeyPair,
        tls: _KeyPair | None,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _TokenHandler)
        self.username = username
        self.password = password
        self.sign = _rs256_signer(signing.key)
        self.x5c = [base64.b64encode(ssl.PEM_cert_to_DER_cert(signing.cert.read_text())).decode()]
        self.issued: list[tuple[str, list[dict[str, Any]]]] = []  # (subject, access) per token
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls.cert), str(tls.key))
            self.socket = ctx.wrap_socket(self.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.realm = f"{scheme}://127.0.0.1:{self.server_address[1]}/token"
        self.thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self.thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # failed TLS handshakes (e.g. a client that rejects the CA) are not our concern

    def make_token(self, subject: str, access: list[dict[str, Any]], service: str) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": self.x5c}
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": subject,
            "aud": service,
            "exp": now + TOKEN_TTL,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self.sign(signing_input.encode())
        self.issued.append((subject, access))
        return f"{signing_input}.{_b64url(signature)}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(timeout=5)


def _parse_scope(scope: str) -> dict[str, Any] | None:
    """`repository:name:pull,push` (the name itself may contain colons, e.g. a port)."""
    kind, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not name:
        return None
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}


class _TokenHandler(http.server.BaseHTTPRequestHandler):
    server: _TokenServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self._reply(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
            return
        query = urllib.parse.parse_qs(url.query)
        subject = ""  # anonymous
        header = self.headers.get("Authorization", "")
        if header:
            user = password = None
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "basic":
                with contextlib.suppress(ValueError, UnicodeDecodeError):
                    user, _, password = (
                        base64.b64decode(value, validate=True).decode().partition(":")
                    )
            if not (
                user is not None
                and secrets.compare_digest(user, self.server.username)
                and secrets.compare_digest(password or "", self.server.password)
            ):
                self._reply(
                    401,
                    {"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]},
                    {"WWW-Authenticate": 'Basic realm="assessor-test-token"'},
                )
                return
            subject = user
        access: list[dict[str, Any]] = []
        if subject:  # the one valid user gets every action it asks for; anonymous gets nothing
            for scope in query.get("scope", []):
                for part in scope.split(" "):
                    parsed = _parse_scope(part)
                    if parsed is not None:
                        access.append(parsed)
        service = query.get("service", [TOKEN_SERVICE])[0]
        token = self.server.make_token(subject, access, service)
        self._reply(
            200,
            {
                "token": token,
                "access_token": token,
                "expires_in": TOKEN_TTL,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )


# --------------------------------------------------------------------------------------------
# the registry


@dataclass
class Registry:
    host: str  # "127.0.0.1:PORT"
    url: str  # "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT"
    tls: bool
    ca_file: Path | None  # PEM to trust: the test CA, or with cert="self-signed" the cert itself
    cert_dir: Path | None  # for skopeo --dest-cert-dir / --src-cert-dir: holds ca.crt
    username: str | None
    password: str | None
    auth: str  # "none" | "basic" | "token"
    token_realm: str | None  # token mode: the token server's URL
    token_service: str | None = None
    workdir: Path | None = None
    log_file: Path | None = None
    cert: str | None = None  # tls: the `cert=` mode of the server certificate
    cert_not_after: datetime.datetime | None = None  # tls: the server certificate's notAfter
    min_tls: str | None = None  # the http.tls.minimumtls the registry was started with
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    _token_server: _TokenServer | None = field(default=None, repr=False, compare=False)
    _finalizer: weakref.finalize | None = field(default=None, repr=False, compare=False)

    def stop(self) -> None:
        """Kill the registry process and the token server; safe to call twice."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        if self.log_file is None or not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    @property
    def tokens_issued(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Token mode: (subject, access) of every token issued so far ("" = anonymous)."""
        return list(self._token_server.issued) if self._token_server is not None else []


def _shutdown(proc: subprocess.Popen[bytes] | None, token_server: _TokenServer | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if token_server is not None:
        token_server.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int, ctx: ssl.SSLContext | None) -> bool:
    conn: http.client.HTTPConnection
    if ctx is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=0.5, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
    try:
        conn.request("GET", "/v2/")
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
    return True


def start_registry(
    workdir: Path,
    *,
    tls: bool = False,
    auth: str = "none",
    cert: str = "valid",
    min_tls: str | None = None,
) -> Registry:
    """Start `docker-registry serve` on 127.0.0.1 with its own config and storage under workdir.

    `cert` (one of CERT_MODES) and `min_tls` (one of TLS_VERSIONS) apply only with tls=True.
    Returns once GET /v2/ answers. The caller must call `stop()` (or use it as a context manager).
    """
    if auth not in AUTH_MODES:
        raise ValueError(f"auth must be one of {AUTH_MODES}, not {auth!r}")
    if cert not in CERT_MODES:
        raise ValueError(f"cert must be one of {CERT_MODES}, not {cert!r}")
    if min_tls is not None and min_tls not in TLS_VERSIONS:
        raise ValueError(f"min_tls must be one of {TLS_VERSIONS} or None, not {min_tls!r}")
    if not tls and (min_tls is not None or cert != "valid"):
        raise ValueError("cert and min_tls need tls=True")
    exe = _which(REGISTRY_BIN, "docker-registry")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "storage").mkdir(exist_ok=True)

    pki = _Pki(workdir / "pki") if tls or auth == "token" else None
    server_pair = pki.server(cert) if pki is not None and tls else None
    not_after = _cert_not_after(server_pair.cert) if server_pair is not None else None
    # what a client should trust: the test CA, or the self-signed certificate itself
    trust: Path | None = None
    cert_dir: Path | None = None
    if pki is not None and server_pair is not None:
        trust = server_pair.cert if cert == "self-signed" else pki.ca.cert
        cert_dir = workdir / "certs.d"
        cert_dir.mkdir(exist_ok=True)
        shutil.copyfile(trust, cert_dir / "ca.crt")

    username = password = None
    if auth != "none":
        username, password = "tester", "s3cret-" + secrets.token_hex(6)

    config: dict[str, Any] = {
        "version": "0.1",
        "log": {"level": "error", "formatter": "text", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(workdir / "storage")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"secret": secrets.token_hex(16)},
    }
    if server_pair is not None:
        config["http"]["tls"] = {
            "certificate": str(server_pair.cert),
            "key": str(server_pair.key),
        }
        if min_tls is not None:
            config["http"]["tls"]["minimumtls"] = min_tls

    token_server: _TokenServer | None = None
    proc: subprocess.Popen[bytes] | None = None
    try:  # from here on, a failure stops whatever has started
        if auth == "basic":
            assert username is not None and password is not None
            htpasswd = workdir / "htpasswd"
            htpasswd.write_text(f"{username}:{bcrypt_hash(password)}\n")
            config["auth"] = {"htpasswd": {"realm": "assessor-test", "path": str(htpasswd)}}
        elif auth == "token":
            assert pki is not None and username is not None and password is not None
            signing = pki.issue("token-signer", server_ip=None, rsa=True)
            token_server = _TokenServer(username, password, signing, server_pair)
            config["auth"] = {
                "token": {
                    "realm": token_server.realm,
                    "service": TOKEN_SERVICE,
                    "issuer": TOKEN_ISSUER,
                    "rootcertbundle": str(pki.ca.cert),
                }
            }

        ctx: ssl.SSLContext | None = None
        if trust is not None and cert == "valid":
            ctx = ssl.create_default_context(cafile=str(trust))
        elif trust is not None:  # readiness must not depend on a certificate meant to fail
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE

        log_file = workdir / "registry.log"
        config_file = workdir / "config.yml"
        for _attempt in range(3):  # another process may grab the free port before the registry
            port = _free_port()
            config["http"]["addr"] = f"127.0.0.1:{port}"
            config_file.write_text(yaml.safe_dump(config, sort_keys=False))
            with log_file.open("wb") as log:
                proc = subprocess.Popen(
                    [exe, "serve", str(config_file)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    start_new_session=True,
                )
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if proc.poll() is not None or _answers(port, ctx):
                    break
                time.sleep(0.05)
            if proc.poll() is None and _answers(port, ctx):
                break
            log_text = log_file.read_text(errors="replace")
            _shutdown(proc, None)
            if "address already in use" in log_text:
                continue
            tail = "\n".join(log_text.splitlines()[-30:])
            raise RuntimeError(
                f"docker-registry did not answer GET /v2/ on 127.0.0.1:{port} within "
                f"{START_TIMEOUT:.0f} s (exit code {proc.returncode}); log tail:\n{tail}"
            )
        else:
            raise RuntimeError("docker-registry: no free port after 3 attempts")
    except BaseException:
        _shutdown(proc, token_server)
        raise

    scheme = "https" if tls else "http"
    reg = Registry(
        host=f"127.0.0.1:{port}",
        url=f"{scheme}://127.0.0.1:{port}",
        tls=tls,
        ca_file=trust,
        cert_dir=cert_dir,
        username=username,
        password=password,
        auth=auth,
        token_realm=token_server.realm if token_server is not None else None,
        token_service=TOKEN_SERVICE if token_server is not None else None,
        workdir=workdir,
        log_file=log_file,
        cert=cert if tls else None,
        cert_not_after=not_after,
        min_tls=min_tls,
        _proc=proc,
        _token_server=token_server,
    )
    reg._finalizer = weakref.finalize(reg, _shutdown, proc, token_server)
    return reg


# --------------------------------------------------------------------------------------------
# skopeo


def skopeo_copy(src: str, dest: str, reg: Registry | None = None, *, timeout: float = 120) -> None:
    """`skopeo copy src dest`, with TLS and credential flags for whichever side is `reg`.

    Only 127.0.0.1 is contacted: no proxies, an empty registries.conf (no mirrors, no
    search registries), no auth file, no signature policy.
    """
    exe = _which(SKOPEO_BIN, "skopeo")
    with tempfile.TemporaryDirectory(prefix="assessor-skopeo-") as tmp:
        isolation = Path(tmp)
        (isolation / "registries.conf").write_text("unqualified-search-registries = []\n")
        (isolation / "registries.d").mkdir()
        (isolation / "auth.json").write_text('{"auths": {}}\n')
        args = [exe, "--insecure-policy", "--registries.d", str(isolation / "registries.d")]
        args += ["--tmpdir", str(isolation), "copy", "--retry-times", "0"]
        for side, ref in (("src", src), ("dest", dest)):
            if not ref.startswith("docker://"):
                continue
            args += [f"--{side}-authfile", str(isolation / "auth.json")]
            if reg is None or not ref.startswith(f"docker://{reg.host}/"):
                continue
            if reg.tls:
                args.append(f"--{side}-tls-verify=true")
                if reg.cert_dir is not None:
                    args += [f"--{side}-cert-dir", str(reg.cert_dir)]
            else:
                args.append(f"--{side}-tls-verify=false")
            if reg.username is not None and reg.password is not None:
                args += [f"--{side}-creds", f"{reg.username}:{reg.password}"]
            else:
                args.append(f"--{side}-no-creds")
        args += [src, dest]
        env = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
            and k not in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "CONTAINERS_REGISTRIES_CONF")
        }
        env["NO_PROXY"] = "*"
        env["CONTAINERS_REGISTRIES_CONF"] = str(isolation / "registries.conf")
        env["DOCKER_CONFIG"] = str(isolation)  # holds no config.json: no stored credentials
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    if proc.returncode != 0:
        raise RuntimeError(
            f"skopeo copy {src} {dest} failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
        )


# --------------------------------------------------------------------------------------------
# OCI image layouts


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for path in sorted(files):
            name = path.lstrip("/")
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d in dirs:
                    continue
                dirs.add(d)
                info = tarfile.TarInfo(d)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                info.mtime = 0
                tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size = len(files[path])
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(files[path]))
    return buf.getvalue()


def write_oci_layout(
    dest: Path,
    files: dict[str, bytes],
    *,
    tag: str = "latest",
    config: dict[str, Any] | None = None,
    created: str | None = None,
) -> str:
    """Write a one-layer linux/amd64 image into an OCI image layout; return the manifest digest.

    `created` is the image's build time (RFC 3339); the default is the epoch, as reproducible
    builds record.

    The layer holds `files` (mode 0644, mtime 0; parent directories 0755). `config` is merged
    into the image config's "config" (e.g. {"User": "1000", "Env": [...]}). Writing a second tag
    into the same layout adds (or replaces) that tag in index.json. Deterministic: the same
    arguments give the same digest.
    """
    dest = Path(dest)
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> str:
        digest = _sha256(data)
        (blobs / digest.removeprefix("sha256:")).write_bytes(data)
        return digest

    raw = _layer_tar(files)
    layer = gzip.compress(raw, mtime=0)
    image_config = {
        "created": created or "1970-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
        | (config or {}),
        "rootfs": {"type": "layers", "diff_ids": [_sha256(raw)]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "tests.registry"}],
    }
    config_bytes = json.dumps(image_config, sort_keys=True).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": put(config_bytes),
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": put(layer),
                "size": len(layer),
            }
        ],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    manifest_digest = put(manifest_bytes)

    (dest / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    index_file = dest / "index.json"
    entries: list[dict[str, Any]] = []
    if index_file.exists():
        entries = [
            m
            for m in json.loads(index_file.read_text()).get("manifests", [])
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag
        ]
    entries.append(
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": len(manifest_bytes),
            "annotations": {"org.opencontainers.image.ref.name": tag},
            "platform": {"architecture": "amd64", "os": "linux"},
        }
    )
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }
    index_file.write_text(json.dumps(index, indent=2))
    return manifest_digest
