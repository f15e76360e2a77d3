"""Evidence paths: ``HostConfig.Privileged``, ``files["/etc/docker"].mode``, ``Mounts[0]``."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

_SEGMENT = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\["([^"]+)"\]|\[([0-9]+)\]')


@lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if not m or m.end() == pos:
            raise ValueError(f"invalid evidence path {path!r} at offset {pos}")
        name, quoted, index = m.groups()
        parts.append(int(index) if index is not None else (name or quoted))
        pos = m.end()
    return tuple(parts)


def resolve(data: Any, parts: tuple[str | int, ...]) -> Any:
    """The value at ``parts`` in ``data``, or MISSING."""
    node = data
    for part in parts:
        if isinstance(node, dict):
            if part not in node:
                return MISSING
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int):
            if part >= len(node):
                return MISSING
            node = node[part]
        else:
            return MISSING
    return node
