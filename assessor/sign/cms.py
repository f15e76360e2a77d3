"""Detached CMS signatures (DER) for any file that is not a PDF; ``openssl cms`` verifies them."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization

from assessor.errors import AssessorError
from assessor.sign.keys import SigningIdentity

if TYPE_CHECKING:
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko.sign.timestamps import TimeStamper

DIGEST = "sha256"


def pyhanko_signer(identity: SigningIdentity) -> SimpleSigner:
    """The identity as a pyHanko signer (the key stays in memory, unencrypted)."""
    from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped, unused-ignore]
    from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped, unused-ignore]
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der = serialization.Encoding.DER
    key_der = identity.private_key.private_bytes(
        der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert = asn1_x509.Certificate.load(identity.certificate.public_bytes(der))
    chain = [asn1_x509.Certificate.load(c.public_bytes(der)) for c in identity.chain]
    return SimpleSigner(
        signing_cert=cert,
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [cert, *chain]
        ),
    )


def timestamper(tsa_url: str | None) -> TimeStamper | None:
    """An RFC 3161 client for ``tsa_url`` (None: no timestamp)."""
    if tsa_url is None:
        return None
    if not tsa_url.startswith(("http://", "https://")):
        raise AssessorError(f"timestamp authority URL must be http(s)://, not {tsa_url!r}")
    from pyhanko.sign.timestamps import HTTPTimeStamper

    return HTTPTimeStamper(tsa_url, timeout=20)


def tsa_error(tsa_url: str | None, exc: BaseException) -> AssessorError:
    """One line for a failed timestamp request."""
    cause = exc.__cause__ or exc
    return AssessorError(
        f"timestamp authority {tsa_url} failed: {str(cause) or type(cause).__name__}",
        hint="check the URL and network, or sign without --tsa",
    )


def sign_detached(data: bytes, identity: SigningIdentity, *, tsa_url: str | None = None) -> bytes:
    """A detached CMS SignedData (DER) over ``data``: SHA-256, signing time, signer cert."""
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
    from pyhanko.sign.timestamps import TimestampRequestError

    signer = pyhanko_signer(identity)
    attrs = PdfCMSSignedAttributes(signing_time=dt.datetime.now(dt.UTC).replace(microsecond=0))
    coro = signer.async_sign_general_data(
        data,
        DIGEST,
        detached=True,
        timestamper=timestamper(tsa_url),
        signed_attr_settings=attrs,
    )
    try:
        content_info = asyncio.run(coro)
    except TimestampRequestError as e:
        raise tsa_error(tsa_url, e) from e
    except SigningError as e:
        raise AssessorError(f"signing failed: {e}") from e
    return bytes(content_info.dump())
