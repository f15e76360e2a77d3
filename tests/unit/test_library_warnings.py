"""A library's deprecation note to its own developers does not reach a user's terminal."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

IMPORT_PYHANKO = "import pyhanko.sign.signers.pdf_cms, pyhanko.sign.validation"


def _stderr(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-W", "default", "-c", code],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stderr  # fmt: skip


def test_pyhanko_import_warns_nothing_once_the_cli_has_set_its_filters() -> None:
    quiet = _stderr(
        f"from assessor.cli import quiet_library_warnings\nquiet_library_warnings()\n"
        f"{IMPORT_PYHANKO}"
    )
    assert "DSA is deprecated" not in quiet, quiet


def test_asyncssh_import_warns_nothing_once_the_cli_has_set_its_filters() -> None:
    # the ssh extra (engine:ssh:// targets): asyncssh imports cryptography's DSA types too
    loud = _stderr("import asyncssh")
    assert "DSA is deprecated" in loud, "the import no longer warns: this test proves nothing"
    quiet = _stderr(
        "from assessor.cli import quiet_library_warnings\nquiet_library_warnings()\nimport asyncssh"
    )
    assert "DSA is deprecated" not in quiet, quiet
