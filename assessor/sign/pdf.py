"""PAdES signatures with a visible stamp, made in memory with pyHanko."""

from __future__ import annotations

import io

from assessor.errors import AssessorError
from assessor.sign.cms import DIGEST, pyhanko_signer, timestamper, tsa_error
from assessor.sign.keys import SigningIdentity

FIELD_NAME = "assessor-signature"
# (x1, y1, x2, y2) in PDF points from the bottom-left corner: a strip in the bottom margin
# of an A4 or Letter page, below WeasyPrint's default 75px (56pt) margin.
DEFAULT_BOX = (36, 8, 300, 50)
STAMP_TEXT = "Digitally signed by %(signer)s\nDate: %(ts)s\nReason: %(reason)s"


def _field_name(existing: set[str]) -> str:
    name, n = FIELD_NAME, 1
    while name in existing:
        n += 1
        name = f"{FIELD_NAME}-{n}"
    return name


def sign_pdf(
    data: bytes,
    identity: SigningIdentity,
    *,
    reason: str = "assessment report issued by assessor",
    location: str | None = None,
    field_page: int = 0,
    field_box: tuple[int, int, int, int] = DEFAULT_BOX,
    tsa_url: str | None = None,
) -> bytes:
    """Sign ``data`` (a PDF) as PAdES B-B (B-T with a TSA); return the signed file's bytes.

    The signature is an incremental update covering the whole file; its field is visible on
    page ``field_page`` (0-based; negative counts from the end) and shows signer and time.
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign import fields, signers
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.timestamps import TimestampRequestError
    from pyhanko.stamp import TextStampStyle

    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        pages = int(writer.root["/Pages"]["/Count"])
        existing = {name for name, _, _ in fields.enumerate_sig_fields(writer.prev)}
    except (PdfError, KeyError, ValueError, TypeError) as e:
        raise AssessorError(f"cannot sign: not a readable PDF ({e})") from e
    page = field_page if field_page >= 0 else pages + field_page
    if not 0 <= page < pages:
        raise AssessorError(f"cannot sign: page {field_page} does not exist ({pages} pages)")
    name = _field_name(existing)
    meta = signers.PdfSignatureMetadata(
        field_name=name,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm=DIGEST,
        reason=reason,
        location=location,
    )
    signer = signers.PdfSigner(
        meta,
        pyhanko_signer(identity),
        timestamper=timestamper(tsa_url),
        stamp_style=TextStampStyle(stamp_text=STAMP_TEXT, border_width=1),
        new_field_spec=fields.SigFieldSpec(name, on_page=page, box=field_box),
    )
    try:
        out = signer.sign_pdf(writer, appearance_text_params={"reason": reason})
    except TimestampRequestError as e:
        raise tsa_error(tsa_url, e) from e
    except (SigningError, PdfError) as e:
        if isinstance(e.__cause__, TimestampRequestError):
            raise tsa_error(tsa_url, e.__cause__) from e
        raise AssessorError(f"cannot sign PDF: {e}") from e
    return bytes(out.getvalue())
