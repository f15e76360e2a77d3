"""Collectors, one per target kind, chosen by the table assessor.extensions.COLLECTORS (or an
installed plugin's, entry point group ``assessor.collectors``); no import side effects."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assessor import extensions
from assessor.collectors.base import Collector
from assessor.targets import Target

if TYPE_CHECKING:
    from assessor.collectors.options import CollectOptions


def collector_for(target: Target, options: CollectOptions | None = None) -> Collector:
    """A new collector of the target's kind (its module is imported now, not before)."""
    found = extensions.load(extensions.COLLECTORS_GROUP, str(target.kind))
    if not (isinstance(found, type) and issubclass(found, Collector)):
        raise extensions.PluginError(
            f"the collector of {str(target.kind)!r} targets is a {type(found).__name__}, not a "
            "subclass of assessor.collectors.base.Collector"
        )
    return found(options)


__all__ = ["Collector", "collector_for"]
