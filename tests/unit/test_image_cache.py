"""The engine image cache (assessor.collectors.image.cache): an image's content, read once and
kept by image ID, comes back identical; a stale, foreign, damaged or differently keyed entry
is read again; nothing in it is a secret's value."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assessor.collectors.engine import EngineCollector
from assessor.collectors.image import cache as image_cache
from assessor.collectors.image.analyze import ImageContent, image_content, named_evidence
from assessor.collectors.image.archive import read_archive
from assessor.collectors.image.cache import ImageCache
from assessor.collectors.limits import Limits
from assessor.collectors.options import CollectOptions
from assessor.targets import parse_target
from tests.secretcorpus import tar_bytes, write_docker_archive
from tests.unit.test_engine_overlap import FakeEngine, engine  # noqa: F401 - the fixture

SECRET = "s3cr3t-Value-that-is-long-enough-9f2c"


def _content(tmp_path: Path, user: str = "1000") -> ImageContent:
    """An image read now: a config with a password in its environment, a key file, one layer."""
    archive = tmp_path / f"image-{user}.tar"
    layer = tar_bytes(
        [
            ("etc", 0o755, None),
            ("etc/os-release", 0o644, b"ID=cachetest\n"),
            ("root/.aws/credentials", 0o600, f"aws_secret_access_key = {SECRET}\n".encode()),
        ]
    )
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"User": user, "Env": [f"DB_PASSWORD={SECRET}", "PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    write_docker_archive(archive, config, [layer], "cache/test:1")
    with archive.open("rb") as f:
        (img,) = read_archive(f.read, Limits(), "test")
    return image_content(
        transport="docker-daemon",
        config=img.config,
        config_digest=img.config_digest,
        manifest_digest=None,
        scans=img.scans,
        limits=Limits(),
        where="docker-daemon:cache/test:1",
    )


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", str(where))
    return where / "images"


def _open(days: int = 7, limits: Limits | None = None) -> ImageCache:
    cache = ImageCache.open(days, limits or Limits())
    assert cache is not None
    return cache


def test_content_comes_back_as_it_was_read(tmp_path: Path, folder: Path) -> None:
    content = _content(tmp_path)
    image_id = content.data["id"]
    cache = _open()
    cache.put(image_id, content)
    again = cache.get(image_id)
    assert again is not None
    assert again.read_at == content.read_at
    now = datetime(2026, 12, 7, tzinfo=UTC)
    fresh = named_evidence(content, target="t", resource="docker-daemon:cache/test:1", now=now)
    reused = named_evidence(again, target="t", resource="docker-daemon:cache/test:1", now=now)
    assert reused.canonical() == fresh.canonical()
    assert reused.data["read_at"] == content.read_at
    assert reused.redactions  # the environment's password was found, and is still listed


def test_no_secret_value_is_kept(tmp_path: Path, folder: Path) -> None:
    content = _content(tmp_path)
    _open().put(content.data["id"], content)
    (entry,) = folder.glob("*.json")
    text = entry.read_text()  # what lies on the user's disk: plain JSON
    assert SECRET not in text
    assert SECRET[:12] not in text
    assert "DB_PASSWORD" in text  # the key is kept, redacted
    assert oct(entry.stat().st_mode & 0o777) == "0o600"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"


def test_an_old_reading_is_read_again(tmp_path: Path, folder: Path) -> None:
    content = _content(tmp_path)
    image_id = content.data["id"]
    cache = _open(days=7)
    cache.put(image_id, content)
    read_at = datetime.fromisoformat(content.read_at)
    assert cache.get(image_id, now=read_at + timedelta(days=6, hours=23)) is not None
    assert cache.get(image_id, now=read_at + timedelta(days=7, seconds=1)) is None


def test_off_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", str(tmp_path))
    assert ImageCache.open(0, Limits()) is None  # --image-cache-days 0
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", "")
    assert ImageCache.open(7, Limits()) is None  # every cache off


def test_other_limits_or_code_read_again(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = _content(tmp_path)
    image_id = content.data["id"]
    _open().put(image_id, content)
    assert _open(limits=replace(Limits(), max_entries=10)).get(image_id) is None
    assert _open().get(image_id) is not None
    image_cache._code_key.cache_clear()
    monkeypatch.setattr(image_cache, "__version__", "0.0.0-other")
    try:
        assert _open().get(image_id) is None  # another assessor: another key
    finally:
        image_cache._code_key.cache_clear()


def test_foreign_damaged_or_mislabelled_entries_are_ignored(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = _content(tmp_path)
    image_id = content.data["id"]
    cache = _open()
    cache.put(image_id, content)
    (entry,) = folder.glob("*.json")
    good = entry.read_bytes()

    entry.chmod(0o664)  # others may write it
    assert cache.get(image_id) is None
    entry.chmod(0o600)
    folder.chmod(0o777)
    assert cache.get(image_id) is None
    folder.chmod(0o700)
    assert cache.get(image_id) is not None

    doc = json.loads(good)
    other = "sha256:" + "0" * 64
    for damaged in (
        b"not json",
        good[: len(good) // 2],
        json.dumps({**doc, "format": 99}).encode(),
        json.dumps({**doc, "data": {**doc["data"], "id": other}}).encode(),
        json.dumps({**doc, "read_at": "yesterday"}).encode(),
        json.dumps({**doc, "redactions": [{"location": 1, "key": "x"}]}).encode(),
    ):
        entry.write_bytes(damaged)
        assert cache.get(image_id) is None, damaged[:60]
    entry.write_bytes(good)
    monkeypatch.setattr(image_cache, "MAX_ENTRY", len(good) - 1)
    assert cache.get(image_id) is None  # bigger than any entry may be
    assert cache.get("sha256:../../etc/passwd") is None  # never a path


def test_only_the_most_recently_used_are_kept(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_cache, "KEEP", 2)
    cache = _open()
    ids = []
    for i, user in enumerate(("1", "2", "3")):
        content = _content(tmp_path, user)
        cache.put(content.data["id"], content)
        ids.append(content.data["id"])
        for p in folder.glob("*.json"):  # older files look older
            os.utime(p, (p.stat().st_mtime - 10 * (3 - i),) * 2)
    assert len(list(folder.glob("*.json"))) == 2
    assert cache.get(ids[0]) is None
    assert cache.get(ids[2]) is not None


def test_an_engine_image_read_before_is_not_exported_again(
    engine: FakeEngine,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    target = parse_target(f"engine:unix://{tmp_path / 'engine.sock'}")
    first = [e for e in EngineCollector().collect(target) if e.kind == "image"]
    assert "/images/get" in engine.arrived
    engine.arrived.clear()
    second = [e for e in EngineCollector().collect(target) if e.kind == "image"]
    assert "/images/get" not in engine.arrived  # nothing exported
    assert [e.canonical() for e in second] == [e.canonical() for e in first]
    # --image-cache-days 0: read again, at a new time
    fresh = CollectOptions(image_cache_days=0)
    third = [e for e in EngineCollector(fresh).collect(target) if e.kind == "image"]
    assert "/images/get" in engine.arrived
    assert {k: v for k, v in third[0].data.items() if k != "read_at"} == {
        k: v for k, v in first[0].data.items() if k != "read_at"
    }
