"""Where the data folders (controls/, reports/, migrations/) are: in the wheel or the checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """``assessor/_data/<name>`` in an installed wheel, else ``<checkout>/<name>``."""
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"assessor data folder {name!r} not found (broken installation?)")
