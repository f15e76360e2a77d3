"""One image's evidence: config facts, build steps, the final filesystem, secrets found."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from assessor import jsonsafe
from assessor.collectors.image import fs, meta
from assessor.collectors.image.layer import LayerScan
from assessor.collectors.image.stream import short
from assessor.collectors.limits import Limits
from assessor.errors import ImageError
from assessor.evidence import Evidence, Redactor

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


def image_evidence(
    *,
    target: str,
    resource: str,
    transport: str,
    config: dict[str, Any],
    config_digest: str,
    manifest_digest: str | None,
    scans: list[LayerScan],
    limits: Limits,
    platform: str = "",
    repo_tags: list[str] | None = None,
    signatures: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Evidence:
    check_layers(config, scans, resource)
    redactor = Redactor()
    data: dict[str, Any] = {
        "reference": resource,
        "transport": transport,
        "id": config_digest,
        "digest": manifest_digest,
        "repo_tags": sorted(repo_tags or []),
    }
    data.update(meta.config_evidence(config, redactor, resource, now))
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
    return Evidence("image", target, resource, data, redactions=tuple(redactor.found))


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
