"""Collectors, one per target kind, chosen by an explicit table (no import side effects)."""

from __future__ import annotations

from assessor.collectors.base import Collector
from assessor.targets import Target, TargetKind


def collector_for(target: Target) -> Collector:
    if target.kind is TargetKind.HOST:
        from assessor.collectors.host import HostCollector

        return HostCollector()
    if target.kind is TargetKind.ENGINE:
        from assessor.collectors.engine import EngineCollector

        return EngineCollector()
    raise AssertionError(f"no collector for {target.kind}")  # parse_target admits no other


__all__ = ["Collector", "collector_for"]
