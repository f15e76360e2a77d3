"""Image analysis throughput against `zcat`, and peak memory against image size.

Writes two synthetic OCI layouts (gzip layers: one of many small files, the rest large
files of half-random, half-text content), then, in the same run:

- times ``zcat`` of every layer blob to /dev/null: the physical floor of reading the image;
- times ``assessor scan image:oci:DIR`` of the same layout (start-up, digests, diff_ids,
  tar parsing, merge, rules and the database write included);
- prints throughput = uncompressed bytes / seconds for both, and their ratio (goal >= 1.0);
- prints the scan's peak RSS for a small and a large image (goal: the same, bounded).

    .venv/bin/python tests/bench/bench_image.py        # BENCH_IMAGE_MIB=1024 by default
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
SIZE_MIB = int(os.environ.get("BENCH_IMAGE_MIB", "1024"))
SMALL_MIB = 128


def _gzip(data: bytes) -> bytes:
    from isal import igzip

    return igzip.compress(data, compresslevel=1, mtime=0)


def _content(size: int, seed: int) -> bytes:
    """Half incompressible, half text: about 2:1 under gzip, like binaries and libraries."""
    text = (b"the quick brown fox jumps over the lazy dog %d\n" % seed) * (size // 40 + 1)
    return os.urandom(size // 2) + text[: size - size // 2]


def _layer(files: list[tuple[str, int]], seed: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i, (name, size) in enumerate(files):
            info = tarfile.TarInfo(name)
            info.size = size
            info.mode = 0o755 if i % 50 == 0 else 0o644
            tar.addfile(info, io.BytesIO(_content(size, seed + i)))
    return buf.getvalue()


def write_layout(root: Path, total_mib: int) -> tuple[list[Path], int]:
    """An OCI layout of about total_mib MiB uncompressed; returns (layer blobs, bytes)."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}", len(data)

    total = total_mib << 20
    small = [(f"usr/lib/small/f{i:06d}", 4096) for i in range(min(20000, total // 4 // 4096))]
    rest = total - sum(s for _, s in small)
    big = [[(f"opt/big{n}/part{k}", rest // 12) for k in range(4)] for n in range(3)]
    layers_files = [small, *big]
    layer_paths: list[Path] = []
    layers, diff_ids, uncompressed = [], [], 0
    for n, files in enumerate(layers_files):
        tar = _layer(files, n * 100_000)
        uncompressed += len(tar)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        digest, size = put(_gzip(tar))
        del tar
        layers.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest,
                "size": size,
            }
        )
        layer_paths.append(blobs / digest.split(":")[1])
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"User": "1000"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "COPY . / # buildkit"}] * len(layers),
    }
    config_d, config_size = put(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_d,
            "size": config_size,
        },
        "layers": layers,
    }
    manifest_d, manifest_size = put(json.dumps(manifest).encode())
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": manifest_d,
                        "size": manifest_size,
                        "annotations": {"org.opencontainers.image.ref.name": "bench"},
                    }
                ],
            }
        )
    )
    return layer_paths, uncompressed


def zcat_seconds(layers: list[Path]) -> float:
    t = time.perf_counter()
    for p in layers:
        with open(p, "rb") as f:
            subprocess.run(["zcat"], stdin=f, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def scan_seconds(layout: Path, db: Path) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one scan, in a fresh process."""
    code = (
        "import resource, subprocess, sys; "
        "p = subprocess.run(sys.argv[1:], capture_output=True); "
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "sys.stderr.write(p.stderr.decode()[-500:])"
    )
    argv = [
        PYTHON, "-c", code, PYTHON, "-m", "assessor", "scan", f"image:oci:{layout}",
        "--db", f"sqlite:///{db}", "--format", "json",
    ]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - t
    rc, rss = proc.stdout.split()
    if rc not in ("0", "1"):
        raise SystemExit(f"scan failed ({rc}): {proc.stderr}")
    return elapsed, int(rss)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="assessor-bench-image-") as tmp:
        results = {}
        for label, mib in (("small", SMALL_MIB), ("large", SIZE_MIB)):
            root = Path(tmp) / label
            t = time.perf_counter()
            layers, size = write_layout(root, mib)
            made = time.perf_counter() - t
            stored = sum(p.stat().st_size for p in layers)
            print(
                f"{label}: {size / 2**20:.0f} MiB uncompressed in {len(layers)} gzip layers "
                f"({stored / 2**20:.0f} MiB stored), written in {made:.1f} s"
            )
            zcat = statistics.median(zcat_seconds(layers) for _ in range(REPEAT))
            runs = [scan_seconds(root, Path(tmp) / f"{label}-{i}.db") for i in range(REPEAT)]
            scan = statistics.median(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            results[label] = (size, zcat, scan, rss)
        print()
        print(f"{'image':6} {'MiB':>6} {'zcat s':>8} {'scan s':>8} {'zcat MiB/s':>11} "
              f"{'scan MiB/s':>11} {'ratio':>6} {'peak RSS MiB':>13}")  # fmt: skip
        for label, (size, zcat, scan, rss) in results.items():
            mib = size / 2**20
            print(
                f"{label:6} {mib:6.0f} {zcat:8.2f} {scan:8.2f} {mib / zcat:11.0f} "
                f"{mib / scan:11.0f} {zcat / scan:6.2f} {rss / 1024:13.0f}"
            )
        size, zcat, scan, rss = results["large"]
        small_rss = results["small"][3]
        print()
        print(
            f"image analysis throughput: {zcat / scan:.2f}x zcat "
            f"(goal >= 1.0; scan includes start-up and the database write)"
        )
        print(
            f"peak memory: {rss / 1024:.0f} MiB for {size / 2**20:.0f} MiB, "
            f"{small_rss / 1024:.0f} MiB for {results['small'][0] / 2**20:.0f} MiB "
            f"(ratio {rss / small_rss:.2f}; goal: independent of image size)"
        )


if __name__ == "__main__":
    main()
