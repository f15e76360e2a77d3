"""Write the sample image `make demo` scans: a small OCI layout with typical findings.

    python tools/sample_image.py OUTDIR

The image is deterministic (same bytes every run) and made of plain data, nothing in it is
ever run: a base layer with a shell-like tree, an application layer that runs as root with no
health check, a setuid helper, a world-writable directory, an ADD of a URL in its history,
and an .env file holding a token (a fake one, so the demo shows redaction at work).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

MTIME = 1_767_225_600  # 2026-01-01T00:00:00Z
PASSWD = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"


def _layer(files: list[tuple[str, int, bytes | None]]) -> tuple[bytes, bytes]:
    """(gzip blob, uncompressed tar) of entries (path, mode, data; None for a directory)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, mode, data in files:
            info = tarfile.TarInfo(path)
            info.mtime = MTIME
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    plain = raw.getvalue()
    blob = io.BytesIO()
    with gzip.GzipFile(fileobj=blob, mode="wb", mtime=0) as gz:
        gz.write(plain)
    return blob.getvalue(), plain


def write(out: Path) -> str:
    if out.exists():
        shutil.rmtree(out)
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict[str, object]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    base = _layer(
        [
            ("bin", 0o755, None),
            ("bin/sh", 0o755, b"#!placeholder shell, never executed\n"),
            ("etc", 0o755, None),
            (
                "etc/passwd",
                0o644,
                b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n",
            ),
            ("tmp", 0o1777, None),
            ("usr/bin/passwd", 0o4755, b"placeholder setuid helper\n"),
        ]
    )
    app = _layer(
        [
            ("app", 0o755, None),
            ("app/server.py", 0o644, b"print('hello')\n"),
            ("app/.env", 0o600, b"DEBUG=0\nAPI_TOKEN=demo-not-a-real-token-1234\n"),
            ("app/uploads", 0o777, None),
        ]
    )
    layers = []
    diff_ids = []
    for blob, plain in (base, app):
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **put(blob)})
        diff_ids.append("sha256:" + hashlib.sha256(plain).hexdigest())
    config = {
        "created": "2026-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/bin:/bin", "APP_ENV=demo"],
            "Cmd": ["python3", "/app/server.py"],
            "ExposedPorts": {"8080/tcp": {}},
            "WorkingDir": "/app",
            "Labels": {"org.opencontainers.image.title": "assessor demo app"},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": "2026-01-01T00:00:00Z", "created_by": "ADD rootfs.tar.gz / # buildkit"},
            {
                "created": "2026-01-01T00:00:00Z",
                "created_by": "ADD https://example.com/app.tgz /app/ # buildkit",
            },
            {
                "created": "2026-01-01T00:00:00Z",
                "created_by": 'CMD ["python3", "/app/server.py"]',
                "empty_layer": True,
            },
        ],
    }
    config_d = {"mediaType": "application/vnd.oci.image.config.v1+json", **put(_json(config))}
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_d,
        "layers": layers,
    }
    manifest_d = put(_json(manifest))
    (out / "oci-layout").write_bytes(_json({"imageLayoutVersion": "1.0.0"}))
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **manifest_d,
                "annotations": {"org.opencontainers.image.ref.name": "demo"},
            }
        ],
    }
    (out / "index.json").write_bytes(_json(index))
    return str(manifest_d["digest"])


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(f"{sys.argv[1]}: sample image {write(Path(sys.argv[1]))}")
