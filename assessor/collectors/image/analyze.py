"""One image's evidence: config facts, build steps, the final filesystem, secrets found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from assessor import jsonsafe
from assessor.collectors.image import fs, meta
from assessor.collectors.image.layer import LayerScan
from assessor.collectors.image.stream import short
from assessor.collectors.limits import Limits
from assessor.errors import ImageError
from assessor.evidence import Evidence, Redaction, Redactor

NOT_CHECKED = {
    "checked": False,
    "reason": "only images read from a registry (docker://) are checked",
}


BASE_NAME = "org.opencontainers.image.base.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"


def base_image(labels: dict[str, Any], annotations: dict[str, Any]) -> dict[str, Any]:
    """The base image the builder recorded (OCI annotations or labels), if any."""
    found = {}
    for key, name in ((BASE_NAME, "name"), (BASE_DIGEST, "digest")):
        value = annotations.get(key) or labels.get(key)
        if isinstance(value, str) and value:
            found[name] = value[:300]
    return {"recorded": bool(found), **found}


def check_layers(config: dict[str, Any], scans: list[LayerScan], where: str) -> None:
    """The config's diff_ids must be exactly the uncompressed layers that were read."""
    ids = meta.diff_ids(config, where)
    if len(ids) != len(scans):
        raise ImageError(f"{where}: the config lists {len(ids)} layers, the manifest {len(scans)}")
    for i, (want, scan) in enumerate(zip(ids, scans, strict=True)):
        if want != scan.diff_id:
            raise ImageError(
                f"{where}: layer {i + 1}: uncompressed content is {short(scan.diff_id)}, "
                f"the config says {short(want)} (diff_id mismatch)"
            )


@dataclass(frozen=True)
class ImageContent:
    """What an image's config and layers say, redacted: the same under every name the image
    has, so it is kept by image ID (``cache``). ``read_at`` is when the config and every
    layer were read and checked against their digests."""

    data: dict[str, Any]
    redactions: tuple[Redaction, ...]
    read_at: str


def image_content(
    *,
    transport: str,
    config: dict[str, Any],
    config_digest: str,
    manifest_digest: str | None,
    scans: list[LayerScan],
    limits: Limits,
    where: str,
    platform: str = "",
    signatures: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> ImageContent:
    """The content of one image read now: config facts, build steps, the final filesystem
    and the secrets found, redacted (``where`` names the image in errors)."""
    now = now or datetime.now(UTC)
    check_layers(config, scans, where)
    redactor = Redactor()
    data: dict[str, Any] = {
        "transport": transport,
        "id": config_digest,
        "digest": manifest_digest,
    }
    data.update(meta.config_evidence(config, redactor, where, now))
    data["platform"] = platform or "/".join(
        p for p in (data["os"], data["architecture"], data["variant"]) if p
    )
    final = fs.merge(scans)
    data.update(fs.file_evidence(scans, final, limits))
    data["layers"] = [_layer(s) for s in scans]
    # every string once more by its shape (what the Evidence would sweep anyway), so a secret
    # the config's own redaction did not expect there counts as a finding too
    data = redactor.sweep(data)
    data["secrets"] = _secrets(redactor, data.pop("file_secrets"), limits)
    data["signatures"] = signatures or NOT_CHECKED
    data["base_image"] = base_image(data["config"]["Labels"], annotations or {})
    # file names are bytes: the ones that are not UTF-8 are written with \xHH escapes
    data = jsonsafe.escape_tree(data)
    return ImageContent(data, tuple(redactor.found), _iso(now))


def named_evidence(
    content: ImageContent,
    *,
    target: str,
    resource: str,
    repo_tags: list[str] | None = None,
    now: datetime | None = None,
) -> Evidence:
    """The evidence of an image's ``content`` under the name ``resource`` and its tags, with
    its age counted today."""
    data = content.data
    created = meta.parse_created(data.get("created"))
    named: dict[str, Any] = {
        "reference": jsonsafe.escape(resource),
        "transport": data["transport"],
        "id": data["id"],
        "digest": data["digest"],
        "repo_tags": [jsonsafe.escape(t) for t in sorted(repo_tags or [])],
        "read_at": content.read_at,
        **data,
        "age_days": ((now or datetime.now(UTC)) - created).days if created else None,
    }
    return Evidence("image", target, resource, named, redactions=content.redactions)


def image_evidence(
    *,
    target: str,
    resource: str,
    repo_tags: list[str] | None = None,
    now: datetime | None = None,
    **read: Any,
) -> Evidence:
    """The evidence of one image read now (``read``: the arguments of ``image_content``)."""
    content = image_content(where=resource, now=now, **read)
    return named_evidence(content, target=target, resource=resource, repo_tags=repo_tags, now=now)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _layer(s: LayerScan) -> dict[str, Any]:
    return {
        "digest": s.digest,
        "diff_id": s.diff_id,
        "compression": s.compression,
        "stored_bytes": s.stored_bytes,
        "size": s.size,
        "entries": len(s.entries),
    }


def _secrets(redactor: Redactor, file_secrets: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """The secrets found: in the configuration (redacted there), then in the files; all
    counted, at most max_findings listed."""
    items: list[dict[str, Any]] = [
        {
            "where": r.location,
            "key": r.key,
            "kind": "config",
            "secret": r.kind,
            "fingerprint": r.fingerprint,
        }
        for r in redactor.found
    ]
    count = len(items) + file_secrets["count"]
    items.extend(
        {
            "where": f["path"],
            "key": f["detail"],
            "kind": f["kind"],
            "fingerprint": f["fingerprint"],
            "layer": f["layer"],
        }
        for f in file_secrets["items"]
    )
    return {"count": count, "items": items[: limits.max_findings]}
