"""The control catalog: framework-neutral rules and the frameworks that reference them."""

from assessor.catalog.loader import Catalog, load_catalog, validate_path

__all__ = ["Catalog", "load_catalog", "validate_path"]
