"""Fuzz the layer reader: one layer blob (tar, gzip or zstd) streamed through
``assessor.collectors.image.layer.scan_layer``, then merged and turned into file evidence
(``fs.merge``, ``fs.file_evidence``) and canonical JSON, as a scan does. An ImageError (an
AssessorError) is a refusal; anything else, a hang or a memory blow-up is a finding."""

from __future__ import annotations

import io

try:
    from tests.fuzz._harness import expected, main
except ImportError:  # run as a script
    from _harness import expected, main  # type: ignore[no-redef]

MiB = 1024 * 1024


def limits() -> object:
    from assessor.collectors.limits import Limits

    # small bounds, so the fuzzer spends its time on headers rather than on inflating bombs
    return Limits(
        max_layer_bytes=4 * MiB,
        max_image_bytes=32 * MiB,
        ratio_floor=1 * MiB,
        max_entries=20_000,
        max_header_bytes=256 * 1024,
    )


def check(data: bytes) -> None:
    from assessor.collectors.image import fs
    from assessor.collectors.image.layer import scan_layer
    from assessor.collectors.image.stream import Budget
    from assessor.evidence import canonical_json

    bounds = limits()

    def run() -> None:
        scan = scan_layer(
            io.BytesIO(data).read,
            index=0,
            digest=None,
            size=None,
            budget=Budget(bounds),  # type: ignore[arg-type]
            what="fuzz layer",
        )
        final = fs.merge([scan])
        canonical_json(fs.file_evidence([scan], final, bounds))  # type: ignore[arg-type]

    expected(run)


if __name__ == "__main__":
    main(
        check,
        [
            "assessor.collectors.image.layer",
            "assessor.collectors.image.fs",
            "assessor.collectors.image.stream",
            "assessor.collectors.image.content",
        ],
    )
