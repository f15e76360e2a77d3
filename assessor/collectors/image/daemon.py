"""Images in a Docker engine, streamed from its image export (``GET /images/get``).

The export is the ``docker save`` archive, read as it arrives, so an image is never copied
to disk. Several images are exported in one request, each shared layer once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from assessor.collectors.image.archive import ArchiveImage, read_archive
from assessor.collectors.image.stream import CHUNK, iter_reader
from assessor.collectors.limits import Limits
from assessor.errors import ImageError, TargetUnreachableError

if TYPE_CHECKING:
    import httpx


def export(client: httpx.Client, names: list[str], limits: Limits, what: str) -> list[ArchiveImage]:
    """The named images (tags or IDs), scanned from one export stream."""
    params: list[tuple[str, str | int | float | bool | None]] = [("names", n) for n in names]
    try:
        with client.stream("GET", "/images/get", params=params) as r:
            if r.status_code == 404:
                raise ImageError(f"{what}: no such image in the engine")
            if r.status_code != 200:
                r.read()
                detail = r.text[:200].strip()
                raise ImageError(f"{what}: image export failed: HTTP {r.status_code} {detail}")
            return read_archive(iter_reader(r.iter_raw(CHUNK)), limits, what)
    except httpx.HTTPError as e:
        raise TargetUnreachableError(
            f"{what}: export interrupted: {type(e).__name__}: {e}"
        ) from None
