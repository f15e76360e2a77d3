"""The registry collector: the posture of an OCI registry itself (SP 800-190 4.2, NIST IR 8176
section 7), not only the images pulled from it.

``registry:https://HOST[:PORT]`` (or ``registry:http://`` to record that it is plain HTTP)
gives one ``registry`` resource with:

- ``transport``: the TLS negotiated and the certificate (``tls.py``), and what plain HTTP
  gets at the same endpoint;
- ``api`` and ``anonymous``: what a client without credentials may do: ``/v2/``, the
  catalog, reading a repository, and starting a blob upload (cancelled at once, never
  completed);
- ``content``: repositories and tags (bounded), each tag's image age and signatures, and
  whether ``latest`` is the newest image;
- ``daemon``: how the local Docker engine is configured for this registry (insecure or not,
  mirrors) and its CA files under ``/etc/docker/certs.d``.

With ``--deep`` every tag's image (up to ``--max-images``) also goes through the image reader
and is its own ``image`` resource. Credentials come from ``--creds``, the environment or the
Docker config file; they are sent only over verified TLS (or to a loopback registry), and only
their source is recorded.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from assessor import jsonsafe
from assessor.collectors.base import Collector
from assessor.errors import CollectorError, ImageError, TargetError, TargetUnreachableError
from assessor.evidence import Evidence
from assessor.targets import Target

if TYPE_CHECKING:
    import httpx

    from assessor.collectors.image.registry import Registry
    from assessor.collectors.options import CollectOptions

import ipaddress

from assessor.collectors._rootfs import RootFS
from assessor.collectors.engine import EngineCollector
from assessor.collectors.engine_api import engine_client
from assessor.collectors.image import collection_error, registry_image
from assessor.collectors.image.registry import (
    ImageRef,
    Registry,
    RegistryOptions,
    is_loopback,
    registry_creds,
)
from assessor.collectors.image.resolve import ACCEPT, Platform, resolve
from assessor.collectors.options import CollectOptions
from assessor.collectors.registry.tls import probe_plain_http, probe_tls, split_endpoint
from assessor.targets import DEFAULT_DOCKER_SOCKET, parse_target

API_HEADER = "Docker-Distribution-API-Version"
# cosign's signature, attestation and SBOM tags, and the OCI referrers tag schema: artifacts
# attached to an image, not images to judge
ARTIFACT_TAG = re.compile(r"^sha256-[0-9a-f]{64}(\.(sig|att|sbom|[a-z0-9]{1,16}))?$")
MAX_JSON = 4 << 20  # one catalog or tag-list page
ERROR_KEY = "error"  # the key of a failed probe's message in registry evidence
JSON_BOUND = "the bound on a registry's JSON answer"
MAX_REPOSITORIES = 1000
PAGE = 100
WORKERS = 8


def registry_error(target: str, message: str) -> Evidence:
    """The registry could not be assessed: every registry rule reports ``error`` with why."""
    return Evidence(
        "registry", target, target.removeprefix("registry:"), {"collection_error": message}
    )


class RegistryCollector(Collector):
    kinds = frozenset({"registry"})

    def __init__(self, options: CollectOptions | None = None) -> None:
        self.options = options or CollectOptions()
        if self.options.deep:  # the tags' images are judged by the image rules too
            self.kinds = frozenset({"registry", "image"})
        self._identity: dict[str, Any] = {}

    def identity(self) -> dict[str, Any]:
        return self._identity

    def failure_evidence(self, target: Target, message: str) -> list[Evidence]:
        return [registry_error(str(target), message)]

    def collect(self, target: Target) -> Iterator[Evidence]:
        opts = self.options
        endpoint, scheme = target.location, target.scheme
        url = f"{scheme}://{endpoint}"
        where = f"registry {url}"
        loopback = is_loopback(endpoint)
        data: dict[str, Any] = {"url": url, "endpoint": endpoint, "scheme": scheme}
        self._identity = {"url": url}

        data["transport"] = transport = _transport(endpoint, scheme, url, where, opts)
        tls = transport["tls"]
        if scheme == "https":
            self._identity["certificate_sha256"] = (tls.get("certificate") or {}).get("sha256")
        verified = _verified(scheme, tls)

        # anonymous access --------------------------------------------------------------
        anon_options = RegistryOptions(
            insecure=False, timeout=opts.timeout, anonymous=True, cert_dir=opts.cert_dir
        )
        verify = verified or scheme == "http"
        with Registry(
            endpoint, anon_options, opts.limits, scheme=scheme, verify=verify, label=where
        ) as anon:
            api = _api(anon, where)
            data["api"] = api
            self._identity["api_version"] = api.get("version")
            # credentials: only over verified TLS, or to a loopback registry
            auth_client: Registry | None = None
            creds_options = _creds_options(
                opts, insecure=opts.insecure and loopback and not verified
            )
            creds, source = registry_creds(creds_options, endpoint)
            data["credentials"] = {"given": creds is not None, "source": source}
            # --insecure (loopback only) also lets them go over TLS that did not verify
            allowed = verified or (loopback and (scheme == "http" or opts.insecure))
            if creds is not None and not allowed:
                data["credentials"]["sent"] = False
                data["credentials"]["why_not"] = "not sent: " + _unverified(scheme, tls)
            elif creds is not None:
                auth_client = Registry(
                    endpoint, creds_options, opts.limits, scheme=scheme, label=where
                )
                data["credentials"]["sent"] = True
            try:
                if auth_client is not None:
                    data["credentials"]["accepted"] = _credentials_accepted(auth_client)
                reader = auth_client if auth_client and data["credentials"]["accepted"] else anon
                content = _content(reader, opts)
                _credentials_note(content, data["credentials"])
                data["content"] = content
                data["anonymous"] = _anonymous(anon, content, opts)
                data["content"]["reader"] = "credentials" if reader is auth_client else "anonymous"
                yield from _deep(reader, str(target), content, opts)
            finally:
                if auth_client is not None:
                    auth_client.close()
        data["daemon"], data["docker"] = _daemon_view(endpoint, scheme, data)
        data["files"] = {}
        yield Evidence("registry", str(target), url, data)


def _creds_options(opts: CollectOptions, *, insecure: bool) -> RegistryOptions:
    """The options of a client that sends the credentials given (``insecure``: --insecure to a
    loopback registry whose TLS did not verify)."""
    return RegistryOptions(
        insecure=insecure,
        creds=opts.creds,
        authfile=opts.authfile,
        cert_dir=opts.cert_dir,
        timeout=opts.timeout,
    )


def _transport(
    endpoint: str, scheme: str, url: str, where: str, opts: CollectOptions
) -> dict[str, Any]:
    """How the registry is reached: its TLS (probed over https) and whether plain HTTP is
    served beside it."""
    transport: dict[str, Any] = {"plain_http": scheme == "http"}
    if scheme == "https":
        transport["tls"] = probe_tls(endpoint, opts.cert_dir, opts.timeout, where)
        transport["http"] = probe_plain_http(
            endpoint,
            tls_port_default=urlsplit(url).port is None,
            timeout=min(opts.timeout, 10.0),
        )
    else:
        transport["tls"] = {"checked": False, "reason": "the target is plain HTTP"}
        transport["http"] = {"url": f"{url}/v2/", "outcome": "served"}
    return transport


def _verified(scheme: str, tls: dict[str, Any]) -> bool:
    """TLS a client trusts: the certificate verifies, names the host and is in date."""
    cert = tls.get("certificate") or {}
    return (
        scheme == "https"
        and bool(tls.get("trusted"))
        and bool(cert.get("hostname_match"))
        and not cert.get("expired")
        and not cert.get("not_yet_valid")
    )


def _credentials_note(content: dict[str, Any], credentials: dict[str, Any]) -> None:
    """A content error says when credentials were given but not sent, or refused."""
    if content.get(ERROR_KEY) and credentials.get("sent") is False:
        why = credentials["why_not"]
        content[ERROR_KEY] += f" (credentials were given but {why})"
    elif content.get(ERROR_KEY) and credentials.get("accepted") is False:
        content[ERROR_KEY] += " (the credentials given were refused: 401 on /v2/)"


def _unverified(scheme: str, tls: dict[str, Any]) -> str:
    """Why the channel is not one credentials may cross."""
    if scheme == "http":
        return "the registry is plain HTTP (credentials go in clear only to a loopback registry)"
    cert = tls.get("certificate") or {}
    if not tls.get("trusted"):
        return f"the certificate does not verify ({tls.get('verify_error')})"
    if not cert.get("hostname_match"):
        return f"the certificate does not name {cert.get('hostname')}"
    if cert.get("expired"):
        return f"the certificate expired on {str(cert.get('not_after'))[:10]}"
    return f"the certificate is not valid before {str(cert.get('not_before'))[:10]}"


def _json(registry: Registry, r: httpx.Response, what: str) -> Any:
    body = registry.read(r, MAX_JSON, what, JSON_BOUND)
    try:
        return jsonsafe.loads(body)
    except jsonsafe.JSONBoundError as e:
        raise CollectorError(f"{registry.name}: {what}: {e}") from None
    except ValueError as e:
        raise CollectorError(f"{registry.name}: {what}: malformed JSON ({e})") from None


def _api(anon: Registry, where: str) -> dict[str, Any]:
    """``GET /v2/`` without credentials: is this a registry, and does it ask who we are? The
    bare request: a token registry hands anonymous tokens to anyone, so answering its challenge
    would hide that it asks."""
    with anon.stream("/v2/", auth=False) as r:
        anon.read(r, MAX_JSON, "/v2/", JSON_BOUND)
        status = r.status_code
        version = r.headers.get(API_HEADER)
        challenge = r.headers.get("WWW-Authenticate", "")
        redirects = [str(h.url) for h in r.history][:5]
    if status == 429:
        after = r.headers.get("Retry-After")
        wait = f", retry after {after[:20]} s" if after else ""
        raise TargetUnreachableError(f"{where}: rate limited (429{wait})")
    if status >= 500:
        raise TargetUnreachableError(f"{where}: GET /v2/ answered HTTP {status} (server error)")
    if status not in (200, 401, 403) or (version is None and not challenge):
        raise TargetUnreachableError(
            f"{where}: not a registry: GET /v2/ answered {status} without the {API_HEADER} header"
        )
    scheme, _, params = challenge.partition(" ")
    return {
        "status": status,
        "version": version,
        "anonymous_access": status == 200,
        "challenge": {"scheme": scheme, "params": params[:300]} if challenge else None,
        "redirects": redirects,
    }


def _credentials_accepted(client: Registry) -> bool:
    with client.stream("/v2/") as r:
        client.read(r, MAX_JSON, "/v2/", JSON_BOUND)
        return r.status_code == 200


def _paged(
    registry: Registry, path: str, key: str, limit: int, what: str
) -> tuple[list[str], bool, int]:
    """Every name of a paginated list (``Link: <...>; rel="next"``), up to ``limit``.
    Returns (names, truncated, status of the first page)."""
    names: list[str] = []
    url: str | None = f"{path}?n={PAGE}"
    first_status = 0
    seen: set[str] = set()
    while url and len(names) < limit:
        if url in seen:
            raise CollectorError(f"{registry.name}: {what}: pagination loops on {url}")
        seen.add(url)
        with registry.stream(url) as r:
            if not first_status:
                first_status = r.status_code
            if r.status_code != 200:
                if names:  # a later page failed: what was listed stands, marked truncated
                    return names, True, first_status
                registry.read(r, MAX_JSON, what, JSON_BOUND)
                registry.check(r, what)
            doc = _json(registry, r, what)
            link = r.headers.get("Link", "")
        values = doc.get(key) if isinstance(doc, dict) else None
        if values is None:
            values = []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise CollectorError(f"{registry.name}: {what}: {key!r} is not a list of names")
        names.extend(v[:256] for v in values)
        url = None
        if 'rel="next"' in link and "<" in link:
            target = link[link.index("<") + 1 : link.index(">")]
            parts = urlsplit(target)
            url = f"{parts.path}?{parts.query}" if parts.query else parts.path
            if not url.startswith("/v2/") or parts.netloc not in ("", registry.host):
                url = None  # never another host, never outside the API
    return names[:limit], bool(url) or len(names) > limit, first_status


def _content(reader: Registry, opts: CollectOptions) -> dict[str, Any]:
    """Repositories and tags, each tag's image age and signatures. A failure here is recorded
    (the content rules then report it as their error); the other sections still stand."""
    content: dict[str, Any] = {"stale_days": opts.stale_days}
    try:
        repositories, truncated, _ = _paged(
            reader, "/v2/_catalog", "repositories", MAX_REPOSITORIES, "catalog"
        )
    except (CollectorError, TargetUnreachableError) as e:
        content[ERROR_KEY] = e.message
        return content
    content["repositories"] = len(repositories)
    content["repositories_truncated"] = truncated
    tags: list[dict[str, Any]] = []
    errors: list[str] = []
    for repo in repositories:
        if len(tags) >= opts.max_tags:
            content["tags_truncated"] = True
            break
        try:
            names, more, _ = _paged(
                reader, f"/v2/{repo}/tags/list", "tags", opts.max_tags - len(tags), f"{repo} tags"
            )
        except (CollectorError, TargetUnreachableError) as e:
            errors.append(e.message)
            continue
        if more:
            content["tags_truncated"] = True
        artifacts = [t for t in names if ARTIFACT_TAG.match(t)]
        if artifacts:
            content["artifact_tags"] = content.get("artifact_tags", 0) + len(artifacts)
        tags.extend({"repository": repo, "tag": t} for t in sorted(names) if t not in artifacts)
    content["tags_truncated"] = bool(content.get("tags_truncated"))
    with ThreadPoolExecutor(WORKERS) as pool:
        inspected = list(pool.map(lambda t: _inspect_tag(reader, t, opts), tags))
    content["tags"] = inspected
    content["errors"] = errors[:50]
    content["latest"] = _latest(inspected)
    return content


def _inspect_tag(reader: Registry, item: dict[str, Any], opts: CollectOptions) -> dict[str, Any]:
    out = dict(item)
    ref = ImageRef(reader.host, item["repository"], item["tag"], None)
    client = reader.repository(ref)
    try:
        raw, digest, media = client.manifest(item["tag"])
        out["digest"] = digest
        resolved = resolve(
            client, raw, digest, media, Platform.parse(opts.platform), opts.limits, str(ref)
        )
        created = resolved.config.get("created") if isinstance(resolved.config, dict) else None
        out["created"] = created if isinstance(created, str) else None
        out["age_days"] = _age_days(out["created"])
        signatures = client.signatures(digest, suffixes=("sig",))  # signatures only
        out["signed"] = bool(signatures.get("present"))
        out["signature_kinds"] = signatures.get("kinds", [])
    except (ImageError, CollectorError) as e:
        out[ERROR_KEY] = e.message
    return out


def _age_days(created: str | None) -> int | None:
    if not created or created < "1980":
        return None
    try:
        when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (datetime.now(UTC) - when).days


def _latest(tags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per repository with a ``latest`` tag: does it point at the newest image there?"""
    out = []
    for item in tags:
        if item["tag"] != "latest" or "digest" not in item:
            continue
        others = [
            t
            for t in tags
            if t["repository"] == item["repository"] and t["tag"] != "latest" and t.get("created")
        ]
        newest = max(others, key=lambda t: str(t["created"]), default=None)
        out.append(
            {
                "repository": item["repository"],
                "digest": item["digest"],
                "created": item.get("created"),
                "newest_tag": newest["tag"] if newest else None,
                "newest_created": newest["created"] if newest else None,
                "current": newest is None
                or newest["digest"] == item["digest"]
                or str(item.get("created") or "") >= str(newest["created"]),
            }
        )
    return out


def _status(
    registry: Registry, method: str, path: str, what: str, accept: str | None = None
) -> tuple[int, httpx.Response]:
    with registry.stream(path, accept, method=method) as r:
        registry.read(r, MAX_JSON, what, JSON_BOUND)
        return r.status_code, r


def _anonymous(anon: Registry, content: dict[str, Any], opts: CollectOptions) -> dict[str, Any]:
    """What a client without credentials may do. The push probe starts a blob upload and
    cancels it at once: nothing is ever written to a repository."""
    out: dict[str, Any] = {}
    try:
        status, _ = _status(anon, "GET", f"/v2/_catalog?n={PAGE}", "anonymous catalog")
        out["catalog"] = {"status": status, "allowed": status == 200}
    except (CollectorError, TargetUnreachableError) as e:
        out["catalog"] = {ERROR_KEY: e.message}
    known = [t for t in content.get("tags", []) if "digest" in t]
    probe_repo = f"assessor-probe-{secrets.token_hex(4)}"
    if known:
        repo, tag = known[0]["repository"], known[0]["tag"]
    else:
        repo, tag = probe_repo, None
    pull: dict[str, Any] = {"repository": repo, "probe_repository": repo == probe_repo}
    try:
        status, _ = _status(anon, "GET", f"/v2/{repo}/tags/list", "anonymous tag list")
        pull["tags_status"] = status
        pull["allowed"] = status == 200 or (status == 404 and repo == probe_repo)
        if tag is not None:
            status, _ = _status(
                anon, "HEAD", f"/v2/{repo}/manifests/{tag}", "anonymous pull", ACCEPT
            )
            pull["manifest_status"] = status
            pull["allowed"] = status == 200
            pull["tag"] = tag
    except (CollectorError, TargetUnreachableError) as e:
        pull[ERROR_KEY] = e.message
    out["pull"] = pull
    push: dict[str, Any] = {"repository": repo, "probe_repository": repo == probe_repo}
    if not opts.push_probe:
        push["skipped"] = "the push probe is disabled (--no-push-probe)"
    else:
        try:
            with anon.stream(f"/v2/{repo}/blobs/uploads/", method="POST") as r:
                anon.read(r, MAX_JSON, "anonymous push", JSON_BOUND)
                push["status"] = r.status_code
                location = r.headers.get("Location")
            push["allowed"] = push["status"] == 202
            if push["allowed"] and location:
                path = urljoin(f"/v2/{repo}/blobs/uploads/", location)
                parts = urlsplit(path)
                cancel = f"{parts.path}?{parts.query}" if parts.query else parts.path
                status, _ = _status(anon, "DELETE", cancel, "cancel the probe upload")
                push["cancelled"] = status in (200, 202, 204)
        except (CollectorError, TargetUnreachableError) as e:
            push[ERROR_KEY] = e.message
    out["push"] = push
    return out


def _deep(
    reader: Registry, target: str, content: dict[str, Any], opts: CollectOptions
) -> Iterator[Evidence]:
    """--deep: each tag's image through the image reader (bounded by --max-images)."""
    if not opts.deep:
        return

    tags = [t for t in content.get("tags", []) if "digest" in t]
    content["deep"] = {"images": min(len(tags), opts.max_images), "of": len(tags)}
    for item in tags[: opts.max_images]:
        ref = ImageRef(reader.host, item["repository"], item["tag"], None)
        try:
            yield registry_image(reader.repository(ref), target, opts)
        except ImageError as e:
            yield collection_error(target, f"docker://{ref}", e.message)


def _daemon_view(
    endpoint: str, scheme: str, data: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """How the local Docker engine treats this registry, and its CA files for it."""
    certs_dir = f"/etc/docker/certs.d/{endpoint}"
    fs = RootFS("/")
    files = [fs.stat(f"{certs_dir}/{name}") for name in fs.listdir(certs_dir)][:100]
    docker = {"certs_dir": certs_dir, "registry_certs": files}
    view: dict[str, Any] = {"certs_dir": certs_dir, "ca_files": [f["path"] for f in files]}
    info = _engine_info()
    if isinstance(info, str):
        view.update(checked=False, reason=info)
        return view, docker
    config = info.get("RegistryConfig") or {}
    cidrs = [str(c) for c in config.get("InsecureRegistryCIDRs") or []]
    index = config.get("IndexConfigs") or {}
    entry = index.get(endpoint) if isinstance(index, dict) else None
    host = split_endpoint(endpoint, 443)[0]
    matched = _in_cidrs(host, cidrs)
    insecure = bool(isinstance(entry, dict) and entry.get("Secure") is False) or matched is not None
    view.update(
        checked=True,
        engine=str(info.get("Name") or ""),
        insecure=insecure,
        insecure_by=(
            f"insecure-registries entry {endpoint}"
            if isinstance(entry, dict) and entry.get("Secure") is False
            else (f"insecure-registries CIDR {matched}" if matched else None)
        ),
        default_loopback_cidr=matched == "127.0.0.0/8" and is_loopback(endpoint),
        mirrors=[str(m) for m in config.get("Mirrors") or []][:20],
        mirror_of_this=any(endpoint in str(m) for m in config.get("Mirrors") or []),
    )
    return view, docker


def _in_cidrs(host: str, cidrs: list[str]) -> str | None:
    try:
        ip = ipaddress.ip_address(host if host != "localhost" else "127.0.0.1")
    except ValueError:
        return None
    for cidr in cidrs:
        try:
            if ip in ipaddress.ip_network(cidr, strict=False):
                return cidr
        except ValueError:
            continue
    return None


def _engine_info() -> dict[str, Any] | str:
    """The local engine's ``/info``, or why it could not be read."""
    host = os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_DOCKER_SOCKET}"
    try:
        engine = parse_target(f"engine:{host}")
    except TargetError:
        return f"DOCKER_HOST {host!r} is not an engine address"
    try:
        collector = EngineCollector()
        with engine_client(engine) as client:
            info = collector._get(client, engine, "/info")
    except (CollectorError, TargetUnreachableError) as e:
        return f"no local Docker engine: {e.message}"
    return info if isinstance(info, dict) else "the engine's /info is not an object"
