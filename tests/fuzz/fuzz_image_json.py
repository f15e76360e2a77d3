"""Fuzz the image JSON documents: indexes, manifests and configs.

The input is one or more JSON documents separated by two NUL bytes. The first is resolved
(``resolve.resolve``: index -> manifest -> config) against a store that hands out the following
documents in turn; each document is also read as an image config (``meta.config_evidence``,
``meta.diff_ids``) and the evidence made canonical JSON, as a scan does. An ImageError is a
refusal; anything else (RecursionError, OverflowError, TypeError...) is a finding."""

from __future__ import annotations

try:
    from tests.fuzz._harness import expected, main
except ImportError:  # run as a script
    from _harness import expected, main  # type: ignore[no-redef]

DIGEST = "sha256:" + "0" * 64


class _Store:
    def __init__(self, docs: list[bytes]) -> None:
        self.docs = docs
        self.n = 0

    def fetch(self, digest: str, limit: int, what: str, *, manifest: bool = False) -> bytes:
        from assessor.errors import ImageError

        self.n += 1
        data = self.docs[self.n % len(self.docs)]
        if len(data) > limit:
            raise ImageError(f"{what}: over {limit} bytes")
        return data


def check(data: bytes) -> None:
    from datetime import UTC, datetime

    from assessor.collectors.image import meta
    from assessor.collectors.image.resolve import Platform, parse_object, resolve
    from assessor.collectors.limits import Limits
    from assessor.evidence import Redactor, canonical_json

    docs = data.split(b"\0\0")
    limits = Limits()
    now = datetime(2026, 12, 6, tzinfo=UTC)
    expected(lambda: resolve(_Store(docs), docs[0], DIGEST, "", Platform(), limits, "fuzz"))
    for doc in docs:

        def run(doc: bytes = doc) -> None:
            config = parse_object(doc, "fuzz config")
            canonical_json(meta.config_evidence(config, Redactor(), "fuzz config", now))

        expected(run)
        expected(lambda doc=doc: meta.diff_ids(parse_object(doc, "fuzz"), "fuzz"))  # type: ignore[misc]


if __name__ == "__main__":
    main(
        check,
        [
            "assessor.collectors.image.resolve",
            "assessor.collectors.image.meta",
            "assessor.evidence",
        ],
    )
