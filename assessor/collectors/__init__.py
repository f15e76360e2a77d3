"""Collectors, one per target kind, chosen by an explicit table (no import side effects)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assessor.collectors.base import Collector
from assessor.targets import Target
from assessor.vocab import TargetKind

if TYPE_CHECKING:
    from assessor.collectors.options import CollectOptions


def collector_for(target: Target, options: CollectOptions | None = None) -> Collector:
    if target.kind is TargetKind.HOST:
        from assessor.collectors.host import HostCollector

        return HostCollector()
    if target.kind is TargetKind.ENGINE:
        from assessor.collectors.engine import EngineCollector

        return EngineCollector(options)
    if target.kind is TargetKind.IMAGE:
        from assessor.collectors.image import ImageCollector

        return ImageCollector(options)
    if target.kind is TargetKind.REGISTRY:
        from assessor.collectors.registry import RegistryCollector

        return RegistryCollector(options)
    raise AssertionError(f"no collector for {target.kind}")  # parse_target admits no other


__all__ = ["Collector", "collector_for"]
