"""From an index or manifest to one image: platform choice, loops and sizes bounded.

Used for every content-addressed transport (OCI layouts, OCI archives, registries): the
store fetches a blob by digest and verifies it; this module decides which blobs to fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from assessor import jsonsafe
from assessor.collectors.image.stream import check_digest, short
from assessor.collectors.limits import Limits
from assessor.errors import ImageError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_V1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
LAYER_TYPES = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    }
)
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])


class BlobStore(Protocol):
    def fetch(self, digest: str, limit: int, what: str, *, manifest: bool = False) -> bytes:
        """The blob's (or, with ``manifest``, the manifest's) bytes, at most ``limit``,
        its digest verified."""


@dataclass(frozen=True, slots=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ImageError(f"platform {text!r}: expected OS/ARCH[/VARIANT], e.g. linux/amd64")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, p: dict[str, Any]) -> bool:
        if p.get("os") != self.os or p.get("architecture") != self.architecture:
            return False
        return not self.variant or p.get("variant", "") == self.variant


@dataclass
class Resolved:
    manifest_digest: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    config_digest: str
    layers: list[dict[str, Any]]  # descriptors: digest, size, mediaType
    platform: str


def parse_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = jsonsafe.loads(data)
    except jsonsafe.JSONBoundError as e:
        raise ImageError(f"{what}: {e}") from None
    except ValueError as e:
        raise ImageError(f"{what}: not valid JSON: {str(e)[:120]}") from None
    if not isinstance(doc, dict):
        raise ImageError(f"{what}: expected a JSON object, found {type(doc).__name__}")
    return doc


def descriptor(d: Any, what: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ImageError(f"{what}: descriptor is not an object")
    check_digest(d.get("digest"), what)
    size = d.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ImageError(f"{what}: descriptor size {size!r} is not a byte count")
    media = d.get("mediaType", "")
    if not isinstance(media, str):
        raise ImageError(f"{what}: descriptor mediaType is not a string")
    return d


def _kind(doc: dict[str, Any], hint: str) -> str:
    media = doc.get("mediaType") or hint
    if media in DOCKER_V1 or doc.get("schemaVersion") == 1:
        return "v1"
    if media in INDEX_TYPES or (not media and "manifests" in doc):
        return "index"
    if media in MANIFEST_TYPES or (not media and "config" in doc and "layers" in doc):
        return "manifest"
    return str(media) or "unknown"


def select(index: dict[str, Any], platform: Platform, what: str) -> dict[str, Any]:
    manifests = index.get("manifests")
    if not isinstance(manifests, list) or not manifests:
        raise ImageError(f"{what}: index lists no manifests")
    candidates = [descriptor(m, what) for m in manifests]
    for d in candidates:
        p = d.get("platform")
        if isinstance(p, dict) and platform.matches(p):
            return d
    without = [d for d in candidates if not isinstance(d.get("platform"), dict)]
    if len(without) == 1 and len(candidates) == 1:
        return without[0]  # a one-image index that names no platform
    offered = sorted(
        {
            "/".join(str(p.get(k, "")) for k in ("os", "architecture") if p.get(k))
            for d in candidates
            if isinstance(p := d.get("platform"), dict)
        }
    )
    raise ImageError(
        f"{what}: no image for platform {platform} (offered: {', '.join(offered) or 'none'})"
    )


def resolve(
    store: BlobStore,
    data: bytes,
    digest: str,
    media_hint: str,
    platform: Platform,
    limits: Limits,
    what: str,
    _seen: tuple[str, ...] = (),
) -> Resolved:
    """Follow indexes to one manifest, then fetch its config."""
    if digest in _seen:
        raise ImageError(f"{what}: index loop: {short(digest)} refers back to itself")
    if len(_seen) >= limits.max_index_depth:
        raise ImageError(
            f"{what}: indexes nested deeper than max_index_depth ({limits.max_index_depth})"
        )
    doc = parse_object(data, f"{what}: {short(digest)}")
    kind = _kind(doc, media_hint)
    if kind == "index":
        d = select(doc, platform, what)
        child = store.fetch(
            d["digest"], limits.max_manifest_bytes, f"{what}: manifest", manifest=True
        )
        return resolve(
            store,
            child,
            d["digest"],
            d.get("mediaType", ""),
            platform,
            limits,
            what,
            (*_seen, digest),
        )
    if kind == "v1":
        raise ImageError(f"{what}: Docker schema 1 manifests are not supported (deprecated)")
    if kind != "manifest":
        raise ImageError(f"{what}: {short(digest)} is not an image manifest ({kind[:80]})")
    config_d = descriptor(doc.get("config"), f"{what}: config")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ImageError(f"{what}: manifest has no layers list")
    if len(layers) > limits.max_layers:
        raise ImageError(
            f"{what}: {len(layers)} layers, more than max_layers ({limits.max_layers})"
        )
    layer_ds = [descriptor(d, f"{what}: layer {i + 1}") for i, d in enumerate(layers)]
    for i, d in enumerate(layer_ds):
        media = d.get("mediaType", "")
        if media not in LAYER_TYPES:
            raise ImageError(f"{what}: layer {i + 1} has unsupported media type {media[:80]!r}")
    config_bytes = store.fetch(config_d["digest"], limits.max_config_bytes, f"{what}: config")
    config = parse_object(config_bytes, f"{what}: config {short(config_d['digest'])}")
    return Resolved(digest, doc, config, config_d["digest"], layer_ds, str(platform))
