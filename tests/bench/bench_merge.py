"""Layer reading and merging on many small files, against a bare tarfile walk of the same layers.

Makes (in memory) an image of BENCH_MERGE_FILES small files (50,000 by default) over
BENCH_MERGE_LAYERS gzip layers (10 by default); every upper layer whites out a seventh of the
files below it and makes every tenth directory opaque. Then, in the same run:

- the physical floor: isal gzip decompression of every layer plus a bare ``tarfile`` walk of
  its members (what any reader must at least do);
- assessor's reader: every layer streamed through ``scan_layer`` (digest, diff_id, bounded
  headers, the member index), then ``fs.merge`` and ``fs.file_evidence``;
- ``fs.merge`` alone, and the merge it replaced (tests/unit/test_image_merge.py keeps it as the
  reference), on the same layers.

Prints entries/s for each and the ratio of assessor's read + merge to the floor.

    .venv/bin/python tests/bench/bench_merge.py
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assessor.collectors.image import fs  # noqa: E402
from assessor.collectors.image.layer import LayerScan, scan_layer  # noqa: E402
from assessor.collectors.image.stream import Budget, digest_of  # noqa: E402
from assessor.collectors.limits import Limits  # noqa: E402

FILES = int(os.environ.get("BENCH_MERGE_FILES", "50000"))
LAYERS = int(os.environ.get("BENCH_MERGE_LAYERS", "10"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
DIRS = 50


def _info(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


def layer_tar(n: int, files: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in range(DIRS):
            tar.addfile(_info(f"usr/share/d{d:02d}", tarfile.DIRTYPE))
            if n and d % 10 == 0:
                tar.addfile(_info(f"usr/share/d{d:02d}/.wh..wh..opq"))
        for i in range(files):
            data = b"x" * (i % 200)
            tar.addfile(_info(f"usr/share/d{i % DIRS:02d}/f{n}_{i:06d}", size=len(data)),
                        io.BytesIO(data))  # fmt: skip
            if n and i % 7 == 0:
                tar.addfile(_info(f"usr/share/d{i % DIRS:02d}/.wh.f{n - 1}_{i:06d}"))
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    from isal import igzip

    return bytes(igzip.compress(data, compresslevel=1, mtime=0))


def floor(blobs: list[bytes]) -> int:
    """Decompress and walk every member, as a bare reader would; returns the member count."""
    from isal import igzip

    count = 0
    for blob in blobs:
        with tarfile.open(fileobj=io.BytesIO(igzip.decompress(blob)), mode="r:") as tar:
            for _ in tar:
                count += 1
    return count


def read(blobs: list[bytes]) -> list[LayerScan]:
    budget = Budget(Limits())
    return [
        scan_layer(
            io.BytesIO(b).read,
            index=i,
            digest=digest_of(b),
            size=len(b),
            budget=budget,
            what=f"layer {i + 1}",
        )
        for i, b in enumerate(blobs)
    ]


def seconds(fn: Callable[[], object]) -> float:
    runs = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests" / "unit"))
    from test_image_merge import reference_merge

    start = time.perf_counter()
    blobs = [_gzip(layer_tar(n, FILES // LAYERS)) for n in range(LAYERS)]
    members = floor(blobs)
    scans = read(blobs)
    entries = sum(len(s.entries) + len(s.whiteouts) + len(s.opaque) for s in scans)
    print(
        f"{FILES} small files, {members} tar members in {LAYERS} gzip layers "
        f"({sum(map(len, blobs)) / 2**20:.1f} MiB stored), made in {time.perf_counter() - start:.1f} s"
    )
    t_floor = seconds(lambda: floor(blobs))

    def read_and_merge() -> None:
        layers = read(blobs)
        fs.file_evidence(layers, fs.merge(layers), Limits())

    t_read = seconds(read_and_merge)
    t_merge = seconds(lambda: fs.merge(scans))
    t_old = seconds(lambda: reference_merge(scans))
    final = len(fs.merge(scans))
    print(f"{'stage':44} {'seconds':>8} {'entries/s':>11}")
    print(
        f"{'floor: isal gunzip + bare tarfile walk':44} {t_floor:8.3f} {members / t_floor:11,.0f}"
    )
    print(f"{'assessor: scan_layer + merge + evidence':44} {t_read:8.3f} {members / t_read:11,.0f}")
    print(f"{'fs.merge alone':44} {t_merge:8.3f} {entries / t_merge:11,.0f}")
    print(f"{'the merge it replaced (reference)':44} {t_old:8.3f} {entries / t_old:11,.0f}")
    print()
    print(f"final filesystem: {final} entries")
    print(f"layer read + merge: {t_floor / t_read:.2f}x the bare tarfile walk (goal >= 0.5)")
    print(f"merge: {t_old / t_merge:.1f}x faster than the merge it replaced")


if __name__ == "__main__":
    main()
