"""Explicit bounds on everything an image may make the reader do.

Every size, count and depth the image reader accepts is named here. A limit crossed ends
the image's analysis with an ImageError naming the limit, so a user who trusts an unusual
image can raise it: ``--image-limit max_ratio=500`` on the command line, or
``ASSESSOR_IMAGE_LIMITS="max_ratio=500,max_entries=2000000"``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assessor.errors import TargetError

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True, slots=True)
class Limits:
    # JSON documents from the image (manifests, indexes, configs)
    max_manifest_bytes: int = 4 * MiB
    max_config_bytes: int = 8 * MiB
    max_index_depth: int = 8
    max_layers: int = 512
    # layer streams
    max_layer_bytes: int = 16 * GiB  # one layer as stored (compressed)
    max_image_bytes: int = 64 * GiB  # every layer of one image, uncompressed
    max_archive_bytes: int = 64 * GiB  # a docker-archive file or stream, as stored
    max_ratio: int = 200  # uncompressed / compressed, once past ratio_floor
    ratio_floor: int = 64 * MiB
    max_entries: int = 2_000_000  # tar members over every layer of an image
    max_path_length: int = 4096
    max_header_bytes: int = 1 * MiB  # one pax or GNU long-name header
    # file contents read for evidence (secrets, package databases)
    max_secret_file_bytes: int = 256 * KiB
    max_package_db_bytes: int = 64 * MiB
    max_findings: int = 10_000  # items kept per finding list (the count is always exact)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def replace(self, settings: dict[str, int]) -> Limits:
        return dataclasses.replace(self, **settings)


_SIZE = re.compile(r"^(\d+)\s*([KMG]i?B?|[KMG])?$", re.IGNORECASE)
_UNITS = {"": 1, "k": KiB, "m": MiB, "g": GiB}


def parse_value(name: str, text: str, what: str = "image limit") -> int:
    m = _SIZE.match(text.strip())
    if not m:
        raise TargetError(f"{what} {name}: {text.strip()!r} is not a number (suffixes K, M, G)")
    unit = (m.group(2) or "")[:1].lower()
    return int(m.group(1)) * _UNITS[unit]


def parse_settings(items: Sequence[str], known: set[str], what: str) -> dict[str, int]:
    """``NAME=VALUE`` items (also comma-separated; sizes with K, M, G) naming ``what``'s
    bounds (``known``): a name not known or a value not a number is one TargetError."""
    settings: dict[str, int] = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, sep, value = part.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in known:
                raise TargetError(
                    f"{what} {part!r}: expected NAME=VALUE",
                    hint="names: " + ", ".join(sorted(known)),
                )
            settings[name] = parse_value(name, value, what)
    return settings


def parse_limits(items: list[str], base: Limits | None = None) -> Limits:
    """``NAME=VALUE`` items (also comma-separated) over the defaults."""
    return (base or Limits()).replace(parse_settings(items, set(Limits.names()), "image limit"))
