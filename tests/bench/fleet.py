"""A synthetic fleet for the fleet benchmark (issue 21, item 6): what ``assessor collect`` would
write on each of N Docker hosts, built from evidence captured from real collectors.

Every document starts from a captured golden fixture (tests/rules/*/*-captured-*.json: a real
host root, real dockerd engines, containers on the real dockerd, real image archives) and is
varied per host the way a fleet varies:

- each host is ``host:/`` plus ``engine:unix:///var/run/docker.sock`` (``collect``'s default
  targets), so every host's targets are named alike and only its documents differ;
- the host document is one of the captured host states (the real machine, a hardened and a
  loose root), with the host's own hostname, machine id and kernel release;
- the engine document is one of the captured daemon states (defaults, hardened, loose, flags),
  with the host's engine id, name and container/image counters;
- about 10 containers (8-12), drawn from the captured container states: a compliant host
  (about a third of the fleet) runs only the hardened ones, the others any; each with its own
  id, name, hostname, start time and image;
- about 10 images (8-12) drawn from a pool of 60 shared by the fleet (popular ones on most
  hosts, as base and platform images are), each from a captured image: the same image (id,
  layers, config, files) on every host that has it; its ``read_at`` (when this host's collector
  read it) and ``age_days`` differ per host and per collection, as the collectors record them.

Quarter ``q`` (0, 1, ...) is a later collection of the same fleet: 5% of the hosts changed
(containers redeployed on a new image version); the rest keep their host, container and image
contents, and only what a collector records anew each time changes (the engine's clock and an
image's ``read_at``/``age_days``).

Deterministic: the same (seed, host, quarter) gives the same documents and hashes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from assessor.evidence import Evidence

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "tests" / "rules"
HOST_TARGET = "host:/"
ENGINE_TARGET = "engine:unix:///var/run/docker.sock"
IMAGE_POOL = 60
CHANGED_SHARE = 0.05
COMPLIANT_SHARE = 0.33
QUARTER_START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
HARDENED_CONTAINERS = ("capture-hardened", "capture-read-only-user", "capture-limits")


@dataclass(frozen=True)
class SyntheticTarget:
    uri: str
    kind: str
    identity: dict[str, Any]
    evidence: list[Evidence]


@dataclass(frozen=True)
class SyntheticHost:
    name: str
    collected_at: datetime
    targets: list[SyntheticTarget]

    @property
    def documents(self) -> int:
        return sum(len(t.evidence) for t in self.targets)


def _captured() -> dict[str, list[dict[str, Any]]]:
    """The distinct captured documents by kind (registries left out: not part of a host)."""
    seen: dict[str, dict[str, Any]] = {}
    for path in sorted(RULES.glob("*/*-captured-*.json")):
        doc = json.loads(path.read_text())
        key = hashlib.sha256(path.read_bytes()).hexdigest()
        seen.setdefault(key, doc)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in seen.values():
        by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def _digest(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Fleet:
    """``hosts`` synthetic hosts; :meth:`host` builds one host's targets for a quarter."""

    def __init__(self, hosts: int = 1000, seed: int = 21) -> None:
        self.hosts = hosts
        self.seed = seed
        captured = _captured()
        # every host is read live (collect's host:/): an offline root's document gets the
        # live machine's kernel and listening sockets (what only a live host shows)
        live = next(d["data"] for d in captured["host"] if d["data"].get("live"))
        self._hosts = [_as_live(d, live) for d in captured["host"]]
        # engines read on their own socket (daemon.json and dockerd's flags with them)
        self._engines = [
            d
            for d in captured["engine"]
            if d["data"].get("connection", {}).get("scheme") == "unix"
            and d["data"].get("daemon", {}).get("effective") is not None
            and d["data"].get("info")
        ]
        self._containers = sorted(captured["container"], key=lambda d: d["resource"])
        self._hardened = [
            d for d in self._containers if d["resource"].split(" ")[0] in HARDENED_CONTAINERS
        ]
        templates = sorted(captured["image"], key=lambda d: d["resource"])
        self._images = [
            self._pool_image(i, templates[i % len(templates)]) for i in range(IMAGE_POOL)
        ]
        # popular images first: image i is picked with weight 1/(i+1) (a few base and platform
        # images on most hosts, a long tail of team images)
        self._weights = [1.0 / (i + 1) for i in range(IMAGE_POOL)]

    # --- the shared image pool ----------------------------------------------------------------

    def _pool_image(self, i: int, template: dict[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(template["data"])
        team = ("platform", "payments", "search", "web", "batch", "ml")[i % 6]
        tag = f"registry.example.com/{team}/svc{i:02d}:1.{i % 7}.0"
        image_id = "sha256:" + _digest(self.seed, "image", i)
        data.update(
            id=image_id,
            reference=f"docker-daemon:{tag}",
            repo_tags=[tag],
            transport="docker-daemon",
            digest="sha256:" + _digest(self.seed, "manifest", i),
            created=_stamp(QUARTER_START - timedelta(days=30 + 11 * i)),
        )
        return {"tag": tag, "id": image_id, "data": data, "created_days": 30 + 11 * i}

    def _image_version(self, image: dict[str, Any], version: int) -> dict[str, Any]:
        """A new build of a pool image (a changed host redeploys on it)."""
        if version == 0:
            return image
        out = copy.deepcopy(image)
        repo, _, _ = image["tag"].rpartition(":")
        out["tag"] = f"{repo}:2.{version}.0"
        out["id"] = "sha256:" + _digest(self.seed, image["id"], version)
        out["created_days"] = 3
        out["data"].update(
            id=out["id"], reference=f"docker-daemon:{out['tag']}", repo_tags=[out["tag"]]
        )
        return out

    # --- one host -----------------------------------------------------------------------------

    def host(self, h: int, quarter: int = 0) -> SyntheticHost:
        rng = random.Random(f"{self.seed}/{h}")
        name = f"docker-{h:04d}.fleet.example.com"
        # the host's changes up to this quarter: each quarter 5% of hosts redeploy
        version = sum(
            1
            for q in range(1, quarter + 1)
            if random.Random(f"{self.seed}/{h}/q{q}").random() < CHANGED_SHARE
        )
        at = QUARTER_START + timedelta(days=91 * quarter, seconds=37 * h)
        compliant = rng.random() < COMPLIANT_SHARE
        host_doc = self._host_doc(rng, h, name)
        picks = self._image_picks(rng)
        images = [self._image_version(self._images[i], version) for i in picks]
        containers = self._container_docs(rng, h, name, images, compliant, version, at)
        engine_doc = self._engine_doc(rng, h, name, len(containers), len(images), at)
        image_docs = [self._image_doc(img, at) for img in images]
        return SyntheticHost(
            name,
            at,
            [
                SyntheticTarget(
                    HOST_TARGET,
                    "host",
                    {"hostname": name, "machine_id": host_doc["system"]["machine_id"]},
                    [_evidence("host", HOST_TARGET, name, host_doc, at)],
                ),
                SyntheticTarget(
                    ENGINE_TARGET,
                    "engine",
                    {"engine_id": engine_doc["info"]["ID"], "name": name, "product": "docker"},
                    [
                        _evidence("engine", ENGINE_TARGET, name, engine_doc, at),
                        *(_evidence("container", ENGINE_TARGET, r, d, at) for r, d in containers),
                        *(
                            _evidence("image", ENGINE_TARGET, d["reference"], d, at)
                            for d in image_docs
                        ),
                    ],
                ),
            ],
        )

    def _host_doc(self, rng: random.Random, h: int, name: str) -> dict[str, Any]:
        data = copy.deepcopy(rng.choice(self._hosts)["data"])
        system = data.setdefault("system", {})
        system["hostname"] = name
        system["machine_id"] = _digest(self.seed, "machine", h)[:32]
        if isinstance(data.get("kernel"), dict):  # None on an offline root
            data["kernel"]["release"] = f"6.1.0-{rng.choice((18, 21, 25, 26))}-amd64"
        return data

    def _image_picks(self, rng: random.Random) -> list[int]:
        picks: list[int] = []
        want = rng.randint(8, 12)
        while len(picks) < want:
            i = rng.choices(range(IMAGE_POOL), self._weights)[0]
            if i not in picks:
                picks.append(i)
        return picks

    def _container_docs(
        self,
        rng: random.Random,
        h: int,
        name: str,
        images: list[dict[str, Any]],
        compliant: bool,
        version: int,
        at: datetime,
    ) -> list[tuple[str, dict[str, Any]]]:
        pool = self._hardened if compliant else self._containers
        out = []
        for j in range(rng.randint(8, 12)):
            data = copy.deepcopy(rng.choice(pool)["data"])
            cid = _digest(self.seed, "container", h, j, version)
            image = images[j % len(images)]
            service = image["tag"].rsplit("/", 1)[-1].split(":")[0]
            cname = f"{service}-{j}"
            data.update(Id=cid, Name=f"/{cname}", Image=image["id"])
            data.setdefault("Config", {}).update(Image=image["tag"], Hostname=cid[:12])
            state = data.setdefault("State", {})
            if state.get("Running"):
                # started at the host's last redeployment, the same in every later quarter
                deployed = QUARTER_START + timedelta(days=91 * version)
                started = deployed - timedelta(
                    days=rng.randint(1, 80), seconds=rng.randint(0, 86399)
                )
                state.update(StartedAt=_stamp(started), Pid=rng.randint(1000, 4_000_000))
            out.append((f"{cname} ({cid[:12]})", data))
        return out

    def _engine_doc(
        self, rng: random.Random, h: int, name: str, containers: int, images: int, at: datetime
    ) -> dict[str, Any]:
        data = copy.deepcopy(rng.choice(self._engines)["data"])
        info = data["info"]
        running = max(0, containers - rng.randint(0, 2))
        info.update(
            ID=":".join(
                _digest(self.seed, "engine", h)[i : i + 4].upper() for i in range(0, 48, 4)
            ),
            Name=name,
            SystemTime=_stamp(at),
            Containers=containers,
            ContainersRunning=running,
            ContainersStopped=containers - running,
            Images=images,
        )
        if isinstance(data.get("containers"), dict):
            data["containers"] = {
                "running": running,
                "stopped": containers - running,
                "total": containers,
            }
        return data

    def _image_doc(self, image: dict[str, Any], at: datetime) -> dict[str, Any]:
        data = dict(image["data"])  # the shared content; only this host's reading differs
        data["read_at"] = _stamp(at)
        data["age_days"] = image["created_days"] + (at - QUARTER_START).days
        return data

    def __iter__(self) -> Iterator[SyntheticHost]:
        return (self.host(h) for h in range(self.hosts))


def _as_live(doc: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    if doc["data"].get("live"):
        return doc
    data = {**doc["data"], "live": True, "root": "/"}
    for key in ("kernel", "listening"):
        if data.get(key) is None:
            data[key] = live[key]
    return {**doc, "data": data}


def _evidence(
    kind: str, target: str, resource: str, data: dict[str, Any], at: datetime
) -> Evidence:
    # captured documents are already swept; the values varied here hold no secret's shape
    return Evidence(kind, target, resource, data, collected_at=at, sweep=False)


__all__ = ["Fleet", "SyntheticHost", "SyntheticTarget"]
