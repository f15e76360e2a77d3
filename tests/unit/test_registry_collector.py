"""Registry collector pieces that need no registry: name matching, certificate facts, the
catalog's pagination (against an in-memory transport), and 'latest' judgement."""

from __future__ import annotations

import datetime
from typing import Any

import httpx
import pytest

from assessor.collectors.image.registry import Registry, RegistryOptions, describe_http_error
from assessor.collectors.limits import Limits
from assessor.collectors.registry import MAX_JSON, _latest, _paged
from assessor.collectors.registry.tls import describe_certificate, hostname_matches, split_endpoint
from assessor.errors import CollectorError, TargetUnreachableError


@pytest.mark.parametrize(
    ("host", "dns", "ips", "match"),
    [
        ("reg.example", ["reg.example"], [], True),
        ("REG.example.", ["reg.example"], [], True),
        ("a.reg.example", ["*.reg.example"], [], True),
        ("a.b.reg.example", ["*.reg.example"], [], False),  # one label only
        ("reg.example", ["*.reg.example"], [], False),
        ("example", ["*.example"], [], False),  # no wildcard over a single label
        ("127.0.0.1", ["127.0.0.1"], [], False),  # an IP needs an IP SAN
        ("127.0.0.1", [], ["127.0.0.1"], True),
        ("::1", [], ["0:0:0:0:0:0:0:1"], True),
        ("reg.example", [], ["10.0.0.1"], False),
    ],
)
def test_hostname_matches(host: str, dns: list[str], ips: list[str], match: bool) -> None:
    assert hostname_matches(host, dns, ips) is match


def test_split_endpoint() -> None:
    assert split_endpoint("reg.example", 443) == ("reg.example", 443)
    assert split_endpoint("reg.example:5000", 443) == ("reg.example", 5000)
    assert split_endpoint("[::1]:5443", 443) == ("::1", 5443)
    assert split_endpoint("[::1]", 443) == ("::1", 443)


def test_describe_certificate_expired_and_names() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reg.example")])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("reg.example")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    now = datetime.datetime(2025, 3, 2, tzinfo=datetime.UTC)
    facts = describe_certificate(der, "reg.example", now=now)
    assert facts["expired"] is True and facts["days_left"] == -30
    assert facts["not_after"].startswith("2025-01-31")
    assert facts["self_signed"] is True and facts["hostname_match"] is True
    assert facts["key"] == "EC secp256r1" and facts["signature_hash"] == "sha256"
    assert describe_certificate(der, "other.example", now=now)["hostname_match"] is False


def _registry(handler: Any, timeout: float = 5.0) -> Registry:
    reg = Registry(
        "reg.test", RegistryOptions(timeout=timeout, anonymous=True), Limits(), scheme="https"
    )
    reg.http.close()
    reg.http = httpx.Client(transport=httpx.MockTransport(handler), base_url="https://reg.test")
    return reg


def test_catalog_pagination_follows_link_headers() -> None:
    pages = {
        "/v2/_catalog?n=100": (["a", "b"], '</v2/_catalog?last=b&n=100>; rel="next"'),
        "/v2/_catalog?last=b&n=100": (["c"], ""),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        key = request.url.raw_path.decode()
        names, link = pages[key]
        return httpx.Response(200, json={"repositories": names}, headers={"Link": link})

    with _registry(handler) as reg:
        assert _paged(reg, "/v2/_catalog", "repositories", 1000, "catalog") == (
            ["a", "b", "c"],
            False,
            200,
        )
        names, truncated, _ = _paged(reg, "/v2/_catalog", "repositories", 2, "catalog")
        assert (names, truncated) == (["a", "b"], True)


def test_catalog_pagination_loop_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        link = '</v2/_catalog?n=100>; rel="next"'
        return httpx.Response(200, json={"repositories": ["a"]}, headers={"Link": link})

    with _registry(handler) as reg, pytest.raises(CollectorError, match="pagination loops"):
        _paged(reg, "/v2/_catalog", "repositories", 1000, "catalog")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"repositories": "all"}', "'repositories' is not a list of names"),
        (b'{"repositories": [1, 2]}', "'repositories' is not a list of names"),
        (b"[", "malformed JSON"),
        (b" " * (MAX_JSON + 1), "larger than the bound"),
    ],
)
def test_hostile_catalog_answers(body: bytes, error: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    with _registry(handler) as reg, pytest.raises((CollectorError, Exception), match=error):
        _paged(reg, "/v2/_catalog", "repositories", 1000, "catalog")


def test_a_link_to_another_host_is_not_followed() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        link = '<https://evil.example/v2/_catalog?last=a&n=100>; rel="next"'
        return httpx.Response(200, json={"repositories": ["a"]}, headers={"Link": link})

    with _registry(handler) as reg:
        assert _paged(reg, "/v2/_catalog", "repositories", 1000, "catalog")[0] == ["a"]
    assert seen == ["https://reg.test/v2/_catalog?n=100"]


def test_transport_errors_are_one_line_causes() -> None:
    request = httpx.Request("GET", "https://reg.test/v2/")
    assert (
        describe_http_error(httpx.ConnectError("[Errno 111] Connection refused", request=request))
        == "connection refused"
    )
    assert "stalled" in describe_http_error(httpx.ReadTimeout("timed out", request=request))
    text = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)"
    assert describe_http_error(httpx.ConnectError(text, request=request)) == (
        "TLS certificate not trusted: certificate has expired"
    )
    with pytest.raises(TargetUnreachableError):
        raise Registry("reg.test", RegistryOptions(), Limits()).fail(
            httpx.ReadError("x", request=request)
        )


def _tag(tag: str, digest: str, created: str) -> dict[str, Any]:
    return {"repository": "app", "tag": tag, "digest": digest, "created": created}


def test_latest_is_judged_against_the_newest_tag() -> None:
    tags = [
        _tag("1.0", "sha256:a", "2025-01-01T00:00:00Z"),
        _tag("2.0", "sha256:b", "2026-06-01T00:00:00Z"),
        _tag("latest", "sha256:a", "2025-01-01T00:00:00Z"),
    ]
    (judged,) = _latest(tags)
    assert judged["current"] is False and judged["newest_tag"] == "2.0"
    tags[2] = _tag("latest", "sha256:b", "2026-06-01T00:00:00Z")
    assert _latest(tags)[0]["current"] is True
    assert _latest(tags[:2]) == []


def test_where_credentials_came_from_is_kept_in_the_evidence() -> None:
    """The description of the credentials' origin names a flag; the redactor must not take the
    word after it for the flag's value (it did: '--creds <redacted: secret, 2 chars> ...')."""
    from assessor.collectors.image.registry import registry_creds
    from assessor.evidence import Evidence

    creds, source = registry_creds(RegistryOptions(creds="u:pw-value-1234"), "127.0.0.1:5000")
    assert creds == ("u", "pw-value-1234")
    doc = Evidence("registry", "registry:https://127.0.0.1:5000", "r", {"source": source})
    assert doc.data["source"] == source and "redacted" not in source
    assert "--creds" in source and "ASSESSOR_REGISTRY_CREDS" in source
