"""An engine image's content, kept by image ID so the next scan need not export it again.

An image ID is the SHA-256 of the image's config, and the config names every layer by the
SHA-256 of its content (``rootfs.diff_ids``): an ID stands for one content. Once an engine's
image has been exported and every layer checked against those digests, its redacted content
(``analyze.ImageContent``: never a secret's value, only what the evidence holds) is kept in
``<cache>/images/`` and reused by an engine scan that lists the same ID, for ``days`` days
(``--image-cache-days``, default 7; 0 reads every image again). The evidence says when the
layers were read (``read_at``).

What a reused reading cannot notice: a layer changed on the engine's disk after it was
read, which an export would show as a ``diff_id`` mismatch. A fresh reading at least every
``days`` days bounds that.

An entry is keyed by the ID and by what shapes the content: this assessor's version, the
source of the modules that read and redact an image, and the limits. A file that is not
ours, not private, too big, or of another shape is ignored (and read again).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from assessor import __version__, cache, jsonsafe
from assessor.collectors.image.analyze import ImageContent
from assessor.collectors.limits import Limits
from assessor.evidence import Redaction

FORMAT = 1
KEEP = 512  # images kept (the most recently used)
MAX_ENTRY = 64 << 20  # bytes of one entry read back
_ID = "sha256:"


@functools.cache
def _code_key() -> str:
    """The hash of the source that shapes an image's content: the image reader, evidence
    redaction and the JSON rules (a change to any reads every image again)."""
    root = Path(__file__).resolve().parents[2]  # the assessor package
    key = hashlib.sha256(f"{__version__}\0".encode())
    files = sorted((root / "collectors" / "image").glob("*.py"))
    files += [root / n for n in ("evidence.py", "redact.py", "jsonsafe.py")]
    files.append(root / "collectors" / "limits.py")
    for f in files:
        key.update(f.name.encode() + b"\0" + f.read_bytes())
    return key.hexdigest()


@dataclass
class ImageCache:
    """The cached contents of one folder, valid for ``days`` days, read with ``limits``."""

    folder: Path
    days: int
    limits: Limits

    @classmethod
    def open(cls, days: int, limits: Limits) -> ImageCache | None:
        """The cache, or None when it is off (``days`` 0, or ``ASSESSOR_CACHE_DIR=``)."""
        where = cache.folder("images")
        if where is None or days <= 0:
            return None
        try:
            _code_key()
        except OSError:  # the source is not readable: no key, no cache
            return None
        return cls(where, days, limits)

    def _key(self, image_id: str) -> str:
        limits = json.dumps(asdict(self.limits), sort_keys=True)
        return hashlib.sha256(f"{_code_key()}\0{limits}\0{image_id}".encode()).hexdigest()

    def _path(self, image_id: str) -> Path:
        return self.folder / f"{image_id.removeprefix(_ID)[:64]}-{self._key(image_id)[:16]}.json"

    def get(self, image_id: str, now: datetime | None = None) -> ImageContent | None:
        """The content of ``image_id`` read within ``days`` days, or None."""
        if not _is_id(image_id):
            return None
        body = cache.read(self._path(image_id), MAX_ENTRY)
        if body is None:
            return None
        try:
            entry = jsonsafe.loads(body)
            content = _content(entry, self._key(image_id), image_id)
        except (ValueError, TypeError, KeyError):
            return None
        if content is None:
            return None
        read_at = datetime.fromisoformat(content.read_at)
        if (now or datetime.now(UTC)) - read_at > timedelta(days=self.days):
            return None
        return content

    def put(self, image_id: str, content: ImageContent) -> None:
        """Keep ``content`` (read now, its layers checked) for ``image_id``."""
        if not _is_id(image_id) or content.data.get("id") != image_id:
            return
        entry = {
            "format": FORMAT,
            "key": self._key(image_id),
            "image": image_id,
            "read_at": content.read_at,
            "data": content.data,
            "redactions": [r.to_json() for r in content.redactions],
        }
        path = self._path(image_id)
        body = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
        if cache.write(path, body):
            cache.prune(path, "*.json", KEEP)


def _is_id(image_id: str) -> bool:
    hexpart = image_id.removeprefix(_ID)
    return (
        image_id.startswith(_ID)
        and len(hexpart) == 64
        and all(c in "0123456789abcdef" for c in hexpart)
    )


def _content(entry: Any, key: str, image_id: str) -> ImageContent | None:
    """The ImageContent an entry holds, when it is of this format, key and image."""
    if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("key") != key:
        return None
    data, redactions, read_at = entry["data"], entry["redactions"], entry["read_at"]
    if (
        entry.get("image") != image_id
        or not isinstance(data, dict)
        or data.get("id") != image_id
        or not isinstance(read_at, str)
        or not isinstance(redactions, list)
    ):
        return None
    datetime.fromisoformat(read_at)  # ValueError when it is not a time
    return ImageContent(data, tuple(_redaction(r) for r in redactions), read_at)


def _redaction(item: Any) -> Redaction:
    fields = ("location", "key", "fingerprint", "kind")
    if not isinstance(item, dict) or set(item) - set(fields):
        raise ValueError("not a redaction")
    values = [item.get(f) for f in fields]
    if not all(v is None or isinstance(v, str) for v in values):
        raise ValueError("not a redaction")
    location, key, fingerprint, kind = values
    if location is None or key is None:
        raise ValueError("not a redaction")
    return Redaction(location, key, fingerprint, kind)
