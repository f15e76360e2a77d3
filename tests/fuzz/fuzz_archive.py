"""Fuzz a whole docker-archive (``docker save`` output): the outer tar, manifest.json and the
layers it names, through ``assessor.collectors.image.archive.read_archive``. An ImageError is
a refusal; anything else, a hang or a memory blow-up is a finding."""

from __future__ import annotations

import io

try:
    from tests.fuzz._harness import expected, main
    from tests.fuzz.fuzz_layer import limits
except ImportError:  # run as a script
    from _harness import expected, main  # type: ignore[no-redef]
    from fuzz_layer import limits  # type: ignore[no-redef]


def check(data: bytes) -> None:
    from assessor.collectors.image.archive import read_archive

    expected(lambda: read_archive(io.BytesIO(data).read, limits(), "fuzz archive"))  # type: ignore[arg-type]


if __name__ == "__main__":
    main(check, ["assessor.collectors.image.archive", "assessor.collectors.image.layer"])
