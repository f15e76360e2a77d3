"""Wall time of `assessor scan registry:http://HOST` beside a skopeo script, same registry, same run.

Starts a real registry (distribution, ``tests/registry.py``) on 127.0.0.1 and fills it with
BENCH_REGISTRY_TAGS tags (200 by default) spread across 10 repositories: one image pushed with
skopeo, then, through the registry API, a new image config (a distinct ``created`` time) and
manifest per tag, sharing the one layer (mounted across repositories). Then, in the same run:

- the baseline, what a user's script does today for the same facts, sequentially:
  ``skopeo list-tags`` per repository and ``skopeo inspect --config`` (the created time) per
  tag, with ``--tls-verify=false``. It does not look for signatures at all. With
  BENCH_REGISTRY_SAMPLE=K (0, the default, inspects every tag) only K tags are inspected and the
  per-tag cost is extrapolated to all of them (the output says so);
- ``assessor scan registry:http://HOST --no-push-probe`` (catalog, tag lists and, on 8
  threads, each tag's manifest, config and signature look-ups: a HEAD for the cosign tag and
  a GET for OCI referrers, by the API or, once the registry has shown it has none, the tag
  schema), whose JSON output must count every tag;
- prints median wall times, tags/s for both and their ratio baseline/assessor (higher is better).

    .venv/bin/python tests/bench/bench_registry.py     # BENCH_REGISTRY_TAGS=200 by default
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.registry import Registry, skopeo_copy, start_registry, write_oci_layout  # noqa: E402

PYTHON = sys.executable
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
TAGS = int(os.environ.get("BENCH_REGISTRY_TAGS", "200"))
SAMPLE = int(os.environ.get("BENCH_REGISTRY_SAMPLE", "0"))
REPOSITORIES = 10
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SIGNED_RULE = "registry-images-signed"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _upload(client: httpx.Client, repo: str, data: bytes) -> str:
    """A monolithic blob upload (POST, then PUT with the digest); returns the digest."""
    digest = _digest(data)
    r = client.post(f"/v2/{repo}/blobs/uploads/")
    r.raise_for_status()
    location = r.headers["Location"]
    sep = "&" if "?" in location else "?"
    r = client.put(
        f"{location}{sep}digest={digest}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    r.raise_for_status()
    return digest


def populate(reg: Registry, work: Path, tags: int) -> list[tuple[str, str]]:
    """Push one image with skopeo, then a distinct config and manifest per tag through the API.

    Returns the (repository, tag) pairs; tag k's image was created k hours after tag 0's.
    """
    layout = work / "layout"
    write_oci_layout(layout, {"etc/os-release": b"ID=bench\n"}, created="2025-01-01T00:00:00Z")
    seed, seed_tag = "bench/app00", "1.0.0"  # tag 0, pushed with skopeo
    skopeo_copy(f"oci:{layout}:latest", f"docker://{reg.host}/{seed}:{seed_tag}", reg)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    pairs: list[tuple[str, str]] = []
    with httpx.Client(base_url=reg.url, timeout=30) as client:
        r = client.get(f"/v2/{seed}/manifests/{seed_tag}", headers={"Accept": OCI_MANIFEST})
        r.raise_for_status()
        manifest = r.json()
        r = client.get(f"/v2/{seed}/blobs/{manifest['config']['digest']}")
        r.raise_for_status()
        config = r.json()
        mounted: set[str] = {seed}
        pairs.append((seed, seed_tag))
        for k in range(1, tags):
            repo = f"bench/app{k % REPOSITORIES:02d}"
            tag = f"1.0.{k // REPOSITORIES}"
            if repo not in mounted:
                for layer in manifest["layers"]:
                    r = client.post(
                        f"/v2/{repo}/blobs/uploads/",
                        params={"mount": layer["digest"], "from": seed},
                    )
                    if r.status_code != 201:
                        raise SystemExit(
                            f"cross-repository mount into {repo}: HTTP {r.status_code}"
                        )
                mounted.add(repo)
            created = (start + timedelta(hours=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
            config_bytes = json.dumps({**config, "created": created}, sort_keys=True).encode()
            config_digest = _upload(client, repo, config_bytes)
            body = json.dumps(
                {
                    **manifest,
                    "config": {
                        "mediaType": OCI_CONFIG,
                        "digest": config_digest,
                        "size": len(config_bytes),
                    },
                },
                sort_keys=True,
            ).encode()
            r = client.put(
                f"/v2/{repo}/manifests/{tag}", content=body, headers={"Content-Type": OCI_MANIFEST}
            )
            if r.status_code != 201:
                raise SystemExit(f"PUT {repo}:{tag}: HTTP {r.status_code}: {r.text[:300]}")
            pairs.append((repo, tag))
    return pairs


class Skopeo:
    """skopeo with no proxies, no mirrors, no stored credentials: as `tests.registry` runs it."""

    def __init__(self, work: Path) -> None:
        self.exe = shutil.which("skopeo") or "skopeo"
        work.mkdir(parents=True, exist_ok=True)
        (work / "registries.conf").write_text("unqualified-search-registries = []\n")
        (work / "registries.d").mkdir(exist_ok=True)
        (work / "auth.json").write_text('{"auths": {}}\n')
        self.prefix = [self.exe, "--registries.d", str(work / "registries.d")]
        self.flags = ["--tls-verify=false", "--authfile", str(work / "auth.json")]
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
            and k not in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG")
        }
        self.env.update(
            NO_PROXY="*",
            CONTAINERS_REGISTRIES_CONF=str(work / "registries.conf"),
            DOCKER_CONFIG=str(work),
        )

    def run(self, *args: str) -> str:
        proc = subprocess.run(
            [*self.prefix, args[0], *self.flags, *args[1:]],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"skopeo {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
        return proc.stdout


def baseline_seconds(
    skopeo: Skopeo, host: str, repos: list[str], sample: int
) -> tuple[float, float, int]:
    """The sequential script: list-tags per repository, inspect --config for every tag (or the
    first `sample`). Returns (list-tags seconds, inspect seconds, tags inspected); every
    inspected config must carry a created time."""
    t = time.perf_counter()
    refs = []
    for repo in repos:
        listed = json.loads(skopeo.run("list-tags", f"docker://{host}/{repo}"))
        refs += [f"{repo}:{tag}" for tag in listed["Tags"]]
    listing = time.perf_counter() - t
    inspected = refs[:sample] if sample else refs
    t = time.perf_counter()
    for ref in inspected:
        config = json.loads(skopeo.run("inspect", "--config", f"docker://{host}/{ref}"))
        if not config.get("created"):
            raise SystemExit(f"skopeo inspect --config {ref}: no created time")
    return listing, time.perf_counter() - t, len(inspected)


def scan_seconds(host: str, db: Path, tags: int) -> float:
    argv = [
        PYTHON, "-m", "assessor", "scan", f"registry:http://{host}", "--db", f"sqlite:///{db}",
        "--format", "json", "--no-push-probe",
    ]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({proc.returncode}): {proc.stderr[-500:]}")
    doc: dict[str, Any] = json.loads(proc.stdout)
    messages = [r.get("message", "") for r in doc["results"] if r.get("rule") == SIGNED_RULE]
    want = f"{tags} of {tags} tag(s) unsigned"
    if not messages or not re.match(re.escape(want), str(messages[0])):
        raise SystemExit(f"{SIGNED_RULE}: expected {want!r}, got {messages[:1]}")
    return elapsed


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="assessor-bench-registry-"))
    reg = None
    try:
        reg = start_registry(tmp / "registry", tls=False, auth="none")
        t = time.perf_counter()
        pairs = populate(reg, tmp, TAGS)
        made = time.perf_counter() - t
        repos = sorted({repo for repo, _ in pairs})
        print(f"registry {reg.host}: {len(pairs)} tags in {len(repos)} repositories, "
              f"pushed in {made:.1f} s")  # fmt: skip
        skopeo = Skopeo(tmp / "skopeo")
        base_runs = [baseline_seconds(skopeo, reg.host, repos, SAMPLE) for _ in range(REPEAT)]
        ours = [scan_seconds(reg.host, tmp / f"scan{i}.db", len(pairs)) for i in range(REPEAT)]
    finally:
        if reg is not None:
            reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    n = len(pairs)
    inspected = base_runs[0][2]
    listing = statistics.median(r[0] for r in base_runs)
    inspecting = statistics.median(r[1] for r in base_runs)
    # extrapolated: the list-tags calls are the same; the inspections scale with the tag count
    base = listing + inspecting * n / inspected
    scan = statistics.median(ours)
    extrapolated = inspected < n
    print(
        f"runs per tool: {REPEAT}; skopeo list-tags: {listing:.2f} s for {len(repos)} repositories"
    )
    print(f"{'tool':36} {'tags':>5} {'median s':>9} {'tags/s':>8}")
    if extrapolated:
        print(
            f"{'skopeo inspect --config (measured)':36} {inspected:5} {inspecting:9.2f} "
            f"{inspected / inspecting:8.1f}"
        )
    label = "skopeo script" + (" (EXTRAPOLATED)" if extrapolated else "")
    runs = "" if extrapolated else f"  ({', '.join(f'{r[0] + r[1]:.2f}' for r in base_runs)})"
    print(f"{label:36} {n:5} {base:9.2f} {n / base:8.1f}{runs}")
    print(
        f"{'assessor scan registry:':36} {n:5} {scan:9.2f} {n / scan:8.1f}  "
        f"({', '.join(f'{x:.2f}' for x in ours)})"
    )
    print()
    note = f"; baseline extrapolated from {inspected} of {n} tags" if extrapolated else ""
    print(
        f"registry content throughput: {base / scan:.2f}x the sequential skopeo script "
        f"(higher is better; assessor also looks for signatures{note})"
    )


if __name__ == "__main__":
    main()
