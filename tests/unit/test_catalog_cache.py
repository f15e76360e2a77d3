"""The validated catalog is cached per exact file contents, and only trusted caches are read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assessor.catalog import load_catalog, loader


def _org(tmp_path: Path) -> Path:
    org = tmp_path / "org"
    (org / "rules/host").mkdir(parents=True)
    src = Path(loader.data_dir("controls")) / "rules/host/host-hardened.yaml"
    text = src.read_text().replace("id: host-hardened", "id: org-hardened")
    (org / "rules/host/org-hardened.yaml").write_text(text.replace("cis-docker-1.8.0:1.2.1", "org"))
    return org


def test_cache_is_used_and_follows_edits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", str(cache))
    org = _org(tmp_path)
    first = load_catalog([org])
    files = list(cache.glob("catalog-*.pickle"))
    assert len(files) == 1
    again = load_catalog([org])
    assert again.digest == first.digest and "org-hardened" in again.rules
    rule = org / "rules/host/org-hardened.yaml"
    rule.write_text(rule.read_text().replace("severity: ", "severity: high\n_x: ", 1))
    with pytest.raises(Exception, match="_x"):
        load_catalog([org])  # the edit is validated, not served from the cache


def test_untrusted_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", str(cache))
    org = _org(tmp_path)
    load_catalog([org])
    (path,) = cache.glob("catalog-*.pickle")
    path.write_bytes(b"not a pickle")
    assert "org-hardened" in load_catalog([org]).rules  # unreadable: parsed again
    path.chmod(0o666)
    assert loader._trusted(path) is False
    shutil.rmtree(cache)
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", "")
    assert loader._cache_path(loader._control_files([org])) is None
