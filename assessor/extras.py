"""The optional parts of an install (pyproject.toml's extras) and the check a command makes
before it does any work that needs one.

The core install scans, stores, diffs and exports JSON, CSV, SARIF, JUnit, XCCDF and ARF.
``assessor[report]`` adds PDF and HTML reports and signing (``report``, ``export --sign``,
``verify``); ``assessor[oscal]`` adds the OSCAL formats (``export --format oscal``,
``controls export --format oscal``); ``assessor[postgresql]`` the psycopg driver for a
``postgresql://`` database; ``assessor[ssh]`` asyncssh for ``engine:ssh://`` targets;
``assessor[all]`` all four.
"""

from __future__ import annotations

import importlib.util

from assessor.errors import AssessorError

# extra -> the top-level modules it installs that assessor imports
EXTRAS: dict[str, tuple[str, ...]] = {
    "report": ("jinja2", "weasyprint", "pyhanko", "pyhanko_certvalidator"),
    "oscal": ("trestle",),
    "postgresql": ("psycopg",),
    "ssh": ("asyncssh",),
}


class MissingExtraError(AssessorError):
    """A command needs an optional part of assessor that is not installed."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` this interpreter cannot import (found, not imported)."""
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def require(extra: str, what: str) -> None:
    """Stop with one line naming the extra to install when ``extra`` is not fully installed;
    ``what`` is what needs it, as the subject of "need" ("PDF and HTML reports")."""
    if missing(extra):
        raise MissingExtraError(f"{what} need the '{extra}' extra: pip install 'assessor[{extra}]'")


__all__ = ["EXTRAS", "MissingExtraError", "missing", "require"]
