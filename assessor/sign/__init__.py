"""Signing reports: PAdES for PDF, a detached CMS signature (FILE.p7s) for anything else.

``keys`` makes, imports and loads signing identities; ``pdf`` and ``cms`` sign bytes in
memory; ``verify`` checks a file against trust anchors. See docs/signing.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assessor.sign.keys import SigningIdentity

__all__ = ["Signed", "sign_bytes"]


@dataclass(frozen=True)
class Signed:
    """What to write: ``content`` as FILE, and ``detached`` (when not None) as FILE.p7s."""

    content: bytes
    detached: bytes | None


def sign_bytes(data: bytes, identity: SigningIdentity, *, tsa_url: str | None = None) -> Signed:
    """Sign a report's bytes: a PDF gets an embedded signature, anything else a detached one."""
    if data.startswith(b"%PDF-"):
        from assessor.sign.pdf import sign_pdf

        return Signed(sign_pdf(data, identity, tsa_url=tsa_url), None)
    from assessor.sign.cms import sign_detached

    return Signed(data, sign_detached(data, identity, tsa_url=tsa_url))
