"""Images in a registry (``docker://HOST[:PORT]/REPO[:TAG|@DIGEST]``), over the OCI
distribution API.

TLS is verified (the system's CAs, plus ``*.crt`` in ``--cert-dir`` or
``/etc/docker/certs.d/HOST:PORT/``). ``--insecure`` (plain HTTP or unverified TLS) is
accepted only for a loopback registry. Credentials come from ``--creds USER:PASS`` or the
Docker config file (``~/.docker/config.json`` or ``--authfile``); Basic and Bearer token
challenges are answered by an httpx auth flow. Every response body is bounded, and layers
stream straight into the layer reader.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import ssl
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from assessor import jsonsafe
from assessor.collectors.image.layer import LayerScan, scan_layer
from assessor.collectors.image.resolve import ACCEPT, OCI_INDEX
from assessor.collectors.image.stream import (
    CHUNK,
    Budget,
    check_digest,
    digest_of,
    iter_reader,
    short,
)
from assessor.collectors.limits import Limits
from assessor.errors import ImageError, TargetError, TargetUnreachableError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_REPO = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class ImageRef:
    host: str  # as written, e.g. 127.0.0.1:5000 or docker.io
    repository: str
    tag: str | None
    digest: str | None

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.host == DOCKER_HUB else self.host

    @property
    def reference(self) -> str:
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.host}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_ref(text: str) -> ImageRef:
    """``HOST[:PORT]/REPO[:TAG][@DIGEST]``; a name without a registry host is Docker Hub's."""
    rest = text
    digest = None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        try:
            check_digest(digest, "digest")
        except ImageError:
            raise TargetError(f"image reference {text!r}: invalid digest") from None
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, path = first, remainder
    else:
        host, path = DOCKER_HUB, rest
    tag = None
    name, colon, maybe_tag = path.rpartition(":")
    if colon and "/" not in maybe_tag:
        path, tag = name, maybe_tag
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not _REPO.match(path):
        raise TargetError(f"image reference {text!r}: invalid repository name {path!r}")
    if tag is not None and not _TAG.match(tag):
        raise TargetError(f"image reference {text!r}: invalid tag {tag!r}")
    if tag is None and digest is None:
        tag = "latest"
    return ImageRef(host, path, tag, digest)


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass
class RegistryOptions:
    insecure: bool = False
    creds: str | None = None  # USER:PASS
    authfile: str | None = None
    cert_dir: str | None = None
    timeout: float = TIMEOUT
    anonymous: bool = False  # send no credentials at all (the registry collector's probes)


def registry_creds(options: RegistryOptions, host: str) -> tuple[tuple[str, str] | None, str]:
    """The credentials for ``host`` and where they came from (never the values themselves)."""
    if options.anonymous:
        return None, "none (anonymous probe)"
    if options.creds:
        user, sep, password = options.creds.partition(":")
        if not sep:
            raise TargetError("--creds: expected USER:PASSWORD")
        return (user, password), "the command line (--creds) or ASSESSOR_REGISTRY_CREDS"
    found = _docker_config_creds(options.authfile, host)
    if found is None:
        return None, "none"
    return found[0], found[1]


def _docker_config_creds(path: str | None, host: str) -> tuple[tuple[str, str], str] | None:
    if path is None:
        base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
        path = os.path.join(base, "config.json")
        if not os.path.exists(path):
            return None
    try:
        with open(path, "rb") as f:
            doc = jsonsafe.loads(f.read(1 << 20))
    except (OSError, ValueError) as e:
        raise TargetError(f"{path}: cannot read registry credentials: {e}") from None
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        return None
    keys = [host, f"https://{host}", f"http://{host}"]
    if host == DOCKER_HUB:
        keys += ["https://index.docker.io/v1/", "index.docker.io"]
    for key in keys:
        entry = auths.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("auth"), str):
            try:
                user, sep, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise TargetError(f"{path}: auths[{key!r}].auth is not base64 USER:PASS") from None
            if sep:
                return (user, password), f"{path} (auths[{key!r}])"
    return None


class ChallengeAuth(httpx.Auth):
    """Answers registry 401 challenges: Basic, or a Bearer token from the realm it names.

    Tokens are kept per repository path, so one scan asks for each token once.
    """

    def __init__(self, creds: tuple[str, str] | None) -> None:
        self.basic = (
            "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            if creds
            else None
        )
        self._headers: dict[str, str] = {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        key = request.url.path.split("/manifests/")[0].split("/blobs/")[0]
        if key in self._headers:
            request.headers["Authorization"] = self._headers[key]
        response = yield request
        if response.status_code != 401:
            return
        scheme, _, params = response.headers.get("WWW-Authenticate", "").partition(" ")
        if scheme.lower() == "basic" and self.basic:
            self._headers[key] = self.basic
        elif scheme.lower() == "bearer":
            values = dict(_CHALLENGE.findall(params))
            realm = values.pop("realm", "")
            if not realm.startswith(("https://", "http://")):
                return
            query = urlencode({k: v for k, v in values.items() if v})
            token_request = httpx.Request("GET", f"{realm}?{query}")
            if self.basic:
                token_request.headers["Authorization"] = self.basic
            token_response = yield token_request
            if token_response.status_code != 200:
                return
            token_response.read()
            try:
                doc = jsonsafe.loads(token_response.content[: 1 << 20])
            except ValueError:
                return
            token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
            if not isinstance(token, str):
                return
            self._headers[key] = f"Bearer {token}"
        else:
            return
        request.headers["Authorization"] = self._headers[key]
        yield request


class Registry:
    """One connection to a registry: TLS, credentials, bounded reads. ``repository()`` gives
    the view of one repository that the image reader uses."""

    def __init__(
        self,
        host: str,
        options: RegistryOptions,
        limits: Limits,
        *,
        scheme: str | None = None,
        verify: bool = True,
        label: str | None = None,
    ) -> None:
        """``verify=False`` is for the registry collector's anonymous probes of an endpoint
        whose certificate did not verify (the transport rules judge it): never with
        credentials."""
        self.host = host
        self.options = options
        self.limits = limits
        self.name = name = label or f"registry {host}"
        if options.insecure and not is_loopback(host):
            raise TargetError(
                f"{name}: --insecure is allowed only for a loopback registry "
                "(127.0.0.1, ::1, localhost); give the CA with --cert-dir instead"
            )
        creds, self.creds_source = registry_creds(options, host)
        self.referrers_api: bool | None = None  # learnt from the first referrers request
        self.auth = ChallengeAuth(creds)
        if not verify and creds is not None:
            raise TargetError(f"{name}: credentials are never sent over unverified TLS")
        context: ssl.SSLContext | bool = ssl_context(host, options.cert_dir) if verify else False
        self.scheme = scheme or "https"
        if options.insecure:
            context = False
            if scheme is None:
                self.scheme = self._probe_scheme(host)
        self.http = httpx.Client(
            base_url=f"{self.scheme}://{host}",
            verify=context,
            timeout=httpx.Timeout(options.timeout, connect=min(options.timeout, 10.0)),
            follow_redirects=True,
            max_redirects=5,
            auth=self.auth,
            headers={"User-Agent": "assessor"},
            trust_env=False,
        )

    def _probe_scheme(self, host: str) -> str:
        """A loopback test registry with --insecure: HTTPS unverified if it answers, else HTTP."""
        try:
            with httpx.Client(verify=False, timeout=5, trust_env=False) as c:  # noqa: S501
                c.get(f"https://{host}/v2/")
            return "https"
        except httpx.HTTPError:
            return "http"

    def repository(self, ref: ImageRef) -> RegistryClient:
        return RegistryClient(ref, self)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fail(self, e: Exception) -> TargetUnreachableError:
        return TargetUnreachableError(f"{self.name}: {describe_http_error(e)}")

    @contextmanager
    def stream(
        self, path: str, accept: str | None = None, method: str = "GET", *, auth: bool = True
    ) -> Iterator[httpx.Response]:
        """``auth=False``: the bare request, without answering a challenge (not even with an
        anonymous token)."""
        headers = {"Accept": accept} if accept else {}
        try:
            with self.http.stream(
                method, path, headers=headers, auth=httpx.USE_CLIENT_DEFAULT if auth else None
            ) as r:
                yield r
        except httpx.HTTPError as e:
            raise self.fail(e) from None

    def read(self, r: httpx.Response, limit: int, what: str, name: str) -> bytes:
        """The body, at most ``limit`` bytes, within one timeout overall (a trickle is a stall)."""
        deadline = time.monotonic() + self.options.timeout
        data = bytearray()
        try:
            for chunk in r.iter_bytes():
                data += chunk
                if len(data) > limit:
                    raise ImageError(f"{what}: larger than {name} ({limit} bytes)")
                if time.monotonic() > deadline:
                    raise TargetUnreachableError(
                        f"{self.name}: {what}: the response did not complete within "
                        f"{self.options.timeout:g} s"
                    )
        except httpx.HTTPError as e:
            raise self.fail(e) from None
        return bytes(data)

    def check(self, r: httpx.Response, what: str) -> None:
        if r.status_code == 200:
            return
        if r.status_code in (401, 403):
            how = "credentials refused" if self.auth.basic else "no credentials"
            raise ImageError(f"{self.name}: {what}: access denied ({r.status_code}, {how})")
        if r.status_code == 404:
            raise ImageError(f"{self.name}: {what}: not found (404)")
        if r.status_code == 429:
            after = r.headers.get("Retry-After")
            wait = f", retry after {after[:20]} s" if after else ""
            raise ImageError(f"{self.name}: {what}: rate limited (429{wait})")
        raise ImageError(f"{self.name}: {what}: HTTP {r.status_code}")


def describe_http_error(e: Exception) -> str:
    """One line for a transport failure: what happened, in the words a user searches for."""
    if isinstance(e, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(e, httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout):
        return "no response within the timeout (the registry stalled)"
    if isinstance(e, httpx.TooManyRedirects):
        return "too many redirects (a redirect loop?)"
    if isinstance(e, httpx.ConnectError):
        text = str(e)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            reason = text.split("certificate verify failed:")[-1]
            reason = re.sub(r"\s*\(_ssl\.c:\d+\)?", "", reason).strip()
            return f"TLS certificate not trusted: {reason}"
        if "SSL" in text or "TLS" in text:
            return f"TLS handshake failed: {text[:200]}"
        if "Connection refused" in text or "Errno 111" in text:
            return "connection refused"
        return f"cannot connect: {text[:200]}"
    if isinstance(e, httpx.RemoteProtocolError | httpx.ReadError):
        return f"connection closed or reset by the registry ({type(e).__name__}: {str(e)[:120]})"
    return f"{type(e).__name__}: {str(e)[:200]}"


def ssl_context(host: str, cert_dir: str | None) -> ssl.SSLContext:
    """The system's CAs plus ``*.crt`` in ``cert_dir`` (default /etc/docker/certs.d/HOST)."""
    context = ssl.create_default_context()
    directory = cert_dir or f"/etc/docker/certs.d/{host}"
    if os.path.isdir(directory):
        for crt in sorted(Path(directory).glob("*.crt")):
            try:
                context.load_verify_locations(cafile=str(crt))
            except (OSError, ssl.SSLError) as e:
                raise TargetError(f"{crt}: not a PEM CA certificate: {e}") from None
    elif cert_dir:
        raise TargetError(f"--cert-dir {cert_dir}: not a directory")
    return context


def open_image(ref: ImageRef, options: RegistryOptions, limits: Limits) -> RegistryClient:
    """A connection to the image's registry and the view of its repository."""
    return Registry(ref.api_host, options, limits).repository(ref)


@dataclass
class RegistryClient:
    """One repository of a registry, as the image reader sees it."""

    ref: ImageRef
    registry: Registry

    @property
    def limits(self) -> Limits:
        return self.registry.limits

    def close(self) -> None:
        self.registry.close()

    def _stream(self, path: str, accept: str | None = None) -> Any:
        return self.registry.stream(path, accept)

    def _check(self, r: httpx.Response, what: str) -> None:
        self.registry.check(r, what)

    def _read(self, r: httpx.Response, limit: int, what: str, name: str) -> bytes:
        return self.registry.read(r, limit, what, name)

    def _fail(self, e: Exception) -> TargetUnreachableError:
        return self.registry.fail(e)

    def manifest(self, reference: str) -> tuple[bytes, str, str]:
        """(bytes, digest, media type) of the manifest or index at a tag or digest."""
        what = f"docker://{self.ref}: manifest {reference}"
        path = f"/v2/{self.ref.repository}/manifests/{reference}"
        with self._stream(path, ACCEPT) as r:
            self._check(r, f"manifest {reference}")
            data = self._read(r, self.limits.max_manifest_bytes, what, "max_manifest_bytes")
            media = r.headers.get("Content-Type", "").split(";")[0].strip()
            claimed = r.headers.get("Docker-Content-Digest")
        digest = digest_of(data)
        if (
            reference.startswith("sha")
            and digest_of(data, reference.partition(":")[0]) != reference
        ):
            raise ImageError(f"{what}: content does not match the requested digest")
        if claimed and claimed.startswith("sha256:") and claimed != digest:
            raise ImageError(
                f"{what}: content is {short(digest)}, the registry claims {short(claimed)}"
            )
        return data, digest, media

    def fetch(self, digest: str, limit: int, what: str, *, manifest: bool = False) -> bytes:
        if manifest:
            return self.manifest(digest)[0]
        with self._stream(f"/v2/{self.ref.repository}/blobs/{digest}") as r:
            self._check(r, f"blob {short(digest)}")
            data = self._read(r, limit, what, "max_config_bytes")
        if digest_of(data, digest.partition(":")[0]) != digest:
            raise ImageError(f"{what}: blob {short(digest)} does not match its digest")
        return data

    def scan(self, d: dict[str, Any], index: int, budget: Budget, what: str) -> LayerScan:
        with self._stream(f"/v2/{self.ref.repository}/blobs/{d['digest']}") as r:
            self._check(r, f"layer {short(d['digest'])}")
            try:
                return scan_layer(
                    iter_reader(r.iter_raw(CHUNK)),
                    index=index,
                    digest=d["digest"],
                    size=d.get("size"),
                    budget=budget,
                    what=what,
                )
            except httpx.HTTPError as e:
                raise self._fail(e) from None

    def signatures(
        self, digest: str, suffixes: tuple[str, ...] = ("sig", "att", "sbom")
    ) -> dict[str, Any]:
        """Signatures and other referrers attached to the image in this registry: cosign's
        ``sha256-DIGEST.SUFFIX`` tags, and OCI referrers from the referrers API or, where the
        registry has none (remembered for the rest of the scan), the referrers tag schema."""
        algorithm, _, hexpart = digest.partition(":")
        found: dict[str, Any] = {"checked": True, "cosign": [], "referrers": [], "kinds": []}
        for suffix in suffixes:
            tag = f"{algorithm}-{hexpart}.{suffix}"
            try:
                r = self.registry.http.head(
                    f"/v2/{self.ref.repository}/manifests/{tag}", headers={"Accept": ACCEPT}
                )
            except httpx.HTTPError as e:
                raise self._fail(e) from None
            if r.status_code == 200:
                found["cosign"].append(tag)
        referrers: list[Any] = []
        source = "referrers API"
        if self.registry.referrers_api is not False:
            with self._stream(f"/v2/{self.ref.repository}/referrers/{digest}", OCI_INDEX) as r:
                if r.status_code == 200:
                    self.registry.referrers_api = True
                    body = self._read(
                        r, self.limits.max_manifest_bytes, "referrers", "max_manifest_bytes"
                    )
                    referrers = _manifests(body)
                elif r.status_code in (404, 405):
                    self.registry.referrers_api = False
        if not self.registry.referrers_api:  # the referrers tag schema, for registries without
            source = "referrers tag"
            with self._stream(
                f"/v2/{self.ref.repository}/manifests/{algorithm}-{hexpart}", OCI_INDEX
            ) as r:
                if r.status_code == 200:
                    body = self._read(
                        r, self.limits.max_manifest_bytes, "referrers", "max_manifest_bytes"
                    )
                    referrers = _manifests(body)
        found["referrers"] = [
            {"artifactType": str(m.get("artifactType", "")), "digest": str(m.get("digest", ""))}
            for m in referrers[:100]
            if isinstance(m, dict)
        ]
        if found["referrers"]:
            found["referrers_source"] = source
        kinds = set()
        if any(t.endswith(".sig") for t in found["cosign"]):
            kinds.add("cosign")
        for m in found["referrers"]:
            t = m["artifactType"]
            if "notary" in t:
                kinds.add("notation")
            elif "sigstore" in t or "cosign" in t:
                kinds.add("cosign")
        found["kinds"] = sorted(kinds)
        found["present"] = bool(kinds)
        found["notary_v1"] = "not checked (Docker Content Trust data lives on a Notary server)"
        return found


def _manifests(body: bytes) -> list[Any]:
    try:
        doc = jsonsafe.loads(body)
    except ValueError:
        return []
    manifests = doc.get("manifests") if isinstance(doc, dict) else None
    return manifests if isinstance(manifests, list) else []
