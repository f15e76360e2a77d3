"""A registry endpoint's transport: the TLS it negotiates, its certificate, and what it does
with plain HTTP.

Every handshake here is made by this module with the ``ssl`` module, so what is recorded is
what a client sees: the negotiated protocol and cipher, the leaf certificate (parsed with
``cryptography``), whether the chain verifies against the CAs a Docker client would use
(system store plus ``/etc/docker/certs.d/HOST``), and whether the name matches. Nothing is
sent but a TLS ClientHello and, for plain HTTP, one ``GET /v2/``.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from assessor.collectors.image.registry import describe_http_error, ssl_context
from assessor.errors import TargetUnreachableError

OLD_PROTOCOLS = (("TLSv1", ssl.TLSVersion.TLSv1), ("TLSv1.1", ssl.TLSVersion.TLSv1_1))
API_HEADER = "Docker-Distribution-API-Version"
X509_V_FLAG_NO_CHECK_TIME = 0x200000  # OpenSSL's flag; the ssl module has no name for it


def split_endpoint(endpoint: str, default_port: int) -> tuple[str, int]:
    """``HOST[:PORT]`` (``[v6]:PORT`` too) as host and port."""
    if endpoint.startswith("["):
        host, _, rest = endpoint[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    host, sep, port = endpoint.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return endpoint, default_port


def _connect(host: str, port: int, timeout: float, where: str) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise TargetUnreachableError(f"{where}: connection timed out") from None
    except ConnectionRefusedError:
        raise TargetUnreachableError(f"{where}: connection refused") from None
    except OSError as e:
        raise TargetUnreachableError(f"{where}: cannot connect: {e.strerror or e}") from None


def _handshake(
    host: str, port: int, context: ssl.SSLContext, timeout: float, where: str
) -> ssl.SSLSocket:
    raw = _connect(host, port, timeout, where)
    try:
        server_name = None if _is_ip(host) else host
        return context.wrap_socket(raw, server_hostname=server_name)
    except BaseException:
        raw.close()
        raise


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def probe_tls(endpoint: str, cert_dir: str | None, timeout: float, where: str) -> dict[str, Any]:
    """The TLS the endpoint negotiates and its certificate. Raises TargetUnreachableError when
    no TLS connection can be made at all."""
    host, port = split_endpoint(endpoint, 443)
    try:
        with _handshake(host, port, _unverified(), timeout, where) as tls:
            protocol = tls.version()
            cipher = tls.cipher()
            der = tls.getpeercert(binary_form=True)
    except (ssl.SSLError, ConnectionResetError, TimeoutError, OSError) as e:
        if isinstance(e, TargetUnreachableError):
            raise
        reason = getattr(e, "reason", None) or str(e) or type(e).__name__
        raise TargetUnreachableError(f"{where}: TLS handshake failed: {reason}") from None
    out: dict[str, Any] = {
        "checked": True,
        "protocol": protocol,
        "cipher": cipher[0] if cipher else None,
        "cipher_bits": cipher[2] if cipher else None,
        "forward_secret": _forward_secret(protocol, cipher[0] if cipher else ""),
        "aead": _aead(cipher[0] if cipher else ""),
    }
    out["certificate"] = describe_certificate(der, host) if der else None
    out.update(_verify(host, port, cert_dir, timeout, where))
    out["old_protocols"] = {
        name: _accepts(host, port, version, timeout, where) for name, version in OLD_PROTOCOLS
    }
    return out


def _forward_secret(protocol: str | None, cipher: str) -> bool:
    return protocol == "TLSv1.3" or cipher.startswith(("ECDHE", "DHE"))


def _aead(cipher: str) -> bool:
    return any(part in cipher for part in ("GCM", "CHACHA20", "CCM"))


def _verify(
    host: str, port: int, cert_dir: str | None, timeout: float, where: str
) -> dict[str, Any]:
    """Does the chain verify against the CAs a Docker client trusts for this registry?"""
    directory = cert_dir or f"/etc/docker/certs.d/{host}:{port}"
    if not cert_dir and not Path(directory).is_dir() and port == 443:
        directory = f"/etc/docker/certs.d/{host}"
    ca_files = (
        sorted(str(p) for p in Path(directory).glob("*.crt")) if Path(directory).is_dir() else []
    )
    context = ssl_context(f"{host}:{port}", directory if Path(directory).is_dir() else None)
    # the name and the dates are judged on their own, from the certificate: this is the chain
    context.check_hostname = False
    context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
    result: dict[str, Any] = {"trust_anchors": ["system CA store", *ca_files]}
    try:
        with _handshake(host, port, context, timeout, where):
            pass
        result.update(trusted=True, verify_error=None)
    except ssl.SSLCertVerificationError as e:
        result.update(trusted=False, verify_error=str(e.verify_message or e.reason))
    except (ssl.SSLError, OSError) as e:
        if isinstance(e, TargetUnreachableError):
            raise
        result.update(trusted=False, verify_error=f"handshake failed: {e}")
    return result


def _accepts(
    host: str, port: int, version: ssl.TLSVersion, timeout: float, where: str
) -> bool | None:
    """Whether the server completes a handshake at ``version``; None when this machine's
    OpenSSL cannot even offer it (then it was not tested)."""
    context = _unverified()
    try:
        context.minimum_version = version
        context.maximum_version = version
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        return None
    try:
        with _handshake(host, port, context, timeout, where) as tls:
            return tls.version() is not None
    except ssl.SSLError as e:
        if "NO_PROTOCOLS_AVAILABLE" in str(e) or "no protocols available" in str(e):
            return None
        return False
    except (OSError, TargetUnreachableError):
        return False


def describe_certificate(der: bytes, host: str, now: datetime | None = None) -> dict[str, Any]:
    """The facts an auditor reads off a certificate, and whether ``host`` matches it."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    now = now or datetime.now(UTC)
    cert = x509.load_der_x509_certificate(der)
    dns: list[str] = []
    ips: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        ips = [str(n) for n in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key_text = f"RSA {key.key_size}"
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_text = f"EC {key.curve.name}"
    else:
        key_text = type(key).__name__.removesuffix("PublicKey")
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    algorithm = cert.signature_hash_algorithm
    return {
        "subject": cert.subject.rfc4514_string()[:300],
        "issuer": cert.issuer.rfc4514_string()[:300],
        "self_signed": cert.subject == cert.issuer,
        "serial": format(cert.serial_number, "x")[:64],
        "not_before": not_before.isoformat(),
        "not_after": not_after.isoformat(),
        "expired": now > not_after,
        "not_yet_valid": now < not_before,
        "days_left": (not_after - now).days,
        "dns_names": dns[:50],
        "ip_addresses": ips[:50],
        "hostname": host,
        "hostname_match": hostname_matches(host, dns, ips),
        "key": key_text,
        "signature_hash": algorithm.name if algorithm is not None else None,
        "sha256": cert.fingerprint(_sha256()).hex(),
    }


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def hostname_matches(host: str, dns: list[str], ips: list[str]) -> bool:
    """RFC 6125 as browsers apply it: an IP must be an IP SAN; a name matches a DNS SAN
    exactly or through one left-most ``*`` label. The subject CN is not consulted."""
    if _is_ip(host):
        wanted = ipaddress.ip_address(host)
        return any(ipaddress.ip_address(ip) == wanted for ip in ips)
    name = host.lower().rstrip(".")
    for pattern in (d.lower().rstrip(".") for d in dns):
        if pattern == name:
            return True
        wildcard = pattern.startswith("*.") and pattern.count(".") >= 2
        if wildcard and "." in name and name.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def probe_plain_http(endpoint: str, tls_port_default: bool, timeout: float) -> dict[str, Any]:
    """What a client gets asking for ``/v2/`` in plain HTTP at the TLS endpoint (or at port
    80 when the registry is on 443): refused, redirected to HTTPS, or served."""
    host, port = split_endpoint(endpoint, 443)
    http_port = 80 if tls_port_default or port == 443 else port
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{http_port}/v2/"
    out: dict[str, Any] = {"url": url}
    try:
        with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
            r = client.get(url)
    except httpx.HTTPError as e:
        out.update(outcome="refused", detail=describe_http_error(e))
        return out
    location = r.headers.get("Location", "")
    out["status"] = r.status_code
    if r.is_redirect and location.startswith("https://"):
        out.update(outcome="redirected to https", detail=location[:200])
    elif r.status_code in (200, 401) and API_HEADER in r.headers:
        out.update(outcome="served", detail=f"GET {url} answered {r.status_code} in plain HTTP")
    else:
        out.update(
            outcome="refused",
            detail=f"GET {url} answered {r.status_code} without the registry API",
        )
    return out
