"""What every fuzz target shares: the rule for expected errors, and the atheris entry point.

Each ``fuzz_<parser>.py`` defines ``check(data: bytes) -> None``, which runs one input through
a parser of untrusted input. ``assessor.errors.AssessorError`` (and its subclasses) is the
expected way to refuse an input; any other exception, a hang or a blown memory limit is a
finding. ``check`` imports assessor lazily so that ``main`` can instrument those imports for
coverage; the regression tests (tests/unit/test_fuzz_regressions.py) call ``check`` directly
with no atheris installed.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable

INSTRUMENT = ("assessor", "yaml", "tarfile", "json", "urllib", "gzip", "re")


def expected(run: Callable[[], object]) -> None:
    """Run ``run``; an AssessorError is a refusal, which is fine."""
    from assessor.errors import AssessorError

    with contextlib.suppress(AssessorError):
        run()


def main(check: Callable[[bytes], None], modules: Iterable[str]) -> None:
    """Instrument ``modules`` (imported here, under atheris) and fuzz ``check``."""
    try:
        import atheris
    except ImportError:
        sys.exit("atheris is not installed: pip install -e '.[fuzz]'")
    import importlib

    with atheris.instrument_imports(include=list(INSTRUMENT)):
        for name in modules:
            importlib.import_module(name)
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()
