"""The validated catalog is cached as JSON (never a pickle) per exact file contents and the
code that shapes it, only trusted caches are read, and the folder is pruned."""

from __future__ import annotations

import copy
import json
import os
import shutil
from dataclasses import fields
from pathlib import Path

import pytest

from assessor import cache as cache_folder
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
    files = list(cache.glob("catalog-*.json"))
    assert len(files) == 1 and not list(cache.glob("*.pickle"))
    again = load_catalog([org])
    assert again.digest == first.digest and "org-hardened" in again.rules
    rule = org / "rules/host/org-hardened.yaml"
    rule.write_text(rule.read_text().replace("severity: ", "severity: high\n_x: ", 1))
    with pytest.raises(Exception, match="_x"):
        load_catalog([org])  # the edit is validated, not served from the cache


def test_cached_catalog_is_the_parsed_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read back from JSON, every rule and framework is equal to the parsed one, with the
    same fields set (what exports and reports see is the same)."""
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", str(tmp_path / "cache"))
    parsed = loader._parse_catalog([])
    loader._write_cache(loader._cache_path(loader._control_files([])), parsed)
    cached = loader._read_cache(loader._cache_path(loader._control_files([])))
    assert cached is not None and cached is not parsed
    for f in fields(loader.Catalog):
        assert getattr(cached, f.name) == getattr(parsed, f.name), f.name
    for rid, rule in parsed.rules.items():
        assert cached.rules[rid].model_dump(exclude_unset=True) == rule.model_dump(
            exclude_unset=True
        ), rid


def test_untrusted_or_foreign_cache_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", str(cache))
    org = _org(tmp_path)
    load_catalog([org])
    (path,) = cache.glob("catalog-*.json")
    for junk in (b"not json", b'{"rules": {"x": {"id": 1}}}', path.read_bytes()[:1000]):
        path.write_bytes(junk)
        assert "org-hardened" in load_catalog([org]).rules  # unreadable: parsed again
    path.chmod(0o666)
    assert cache_folder.trusted(path) is False
    shutil.rmtree(cache)
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", "")
    assert loader._cache_path(loader._control_files([org])) is None


def test_cache_breaking_a_rule_constraint_is_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache is validated as strictly as a control file (the models build their validators
    only when first used): well-formed JSON breaking a pattern, an unknown key or a condition's
    shape is not served."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", str(cache))
    org = _org(tmp_path)
    load_catalog([org])
    (path,) = cache.glob("catalog-*.json")
    good = json.loads(path.read_bytes())
    path.write_text(json.dumps(good))
    assert loader._read_cache(path) is not None  # rewritten as it was: served
    breaks = (
        lambda rule: rule.update(id="Org Hardened"),  # not kebab-case
        lambda rule: rule.update(unknown=1),  # extra="forbid"
        lambda rule: rule.update(applies_if={"all": []}),  # a condition needs an item at least
    )
    for bad in breaks:
        doc = copy.deepcopy(good)
        bad(doc["rules"]["org-hardened"])
        path.write_text(json.dumps(doc))
        assert loader._read_cache(path) is None
        assert load_catalog([org]).rules["org-hardened"].id == "org-hardened"


def test_key_follows_the_code_that_shapes_a_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", str(tmp_path / "cache"))
    files = loader._control_files([])
    before = loader._cache_path(files)
    schema = tmp_path / "schema.py"
    schema.write_text(loader._SHAPING_CODE[1].read_text() + "\n# a changed Rule class\n")
    monkeypatch.setattr(loader, "_SHAPING_CODE", (loader._SHAPING_CODE[0], schema))
    assert loader._cache_path(files) not in (None, before)


def test_folder_is_pruned_and_old_pickles_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("ASSESSOR_CACHE_DIR", str(cache))
    old = [cache / f"catalog-{i:032x}.json" for i in range(loader.CACHE_KEEP + 3)]
    for i, p in enumerate(old):
        p.write_text("{}")
        os.utime(p, (1_000_000 + i, 1_000_000 + i))  # the last written is the most recent
    (cache / "catalog-0123.pickle").write_bytes(b"\x80\x05N.")
    load_catalog([])
    left = sorted(cache.iterdir())
    assert len(left) == loader.CACHE_KEEP and not [p for p in left if p.suffix == ".pickle"]
    assert set(old[-(loader.CACHE_KEEP - 1) :]) <= set(left)  # the most recently used stay


def test_real_path_is_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key names each file by its real path, each folder resolved once: the same as
    Path.resolve() for plain files, linked files, files in linked folders and relative names."""
    real = tmp_path / "real"
    (real / "rules").mkdir(parents=True)
    (real / "rules/a.yaml").write_text("a")
    (tmp_path / "elsewhere.yaml").write_text("b")
    (real / "rules/b.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    (real / "rules/c.yaml").symlink_to("a.yaml")
    (tmp_path / "linked").symlink_to(real)
    monkeypatch.chdir(tmp_path)
    folders: dict[Path, Path] = {}
    for base in (real, tmp_path / "linked", Path("linked"), Path("real/../linked")):
        for name in ("a.yaml", "b.yaml", "c.yaml"):
            path = base / "rules" / name
            assert loader._real_path(path, folders) == path.resolve(), path
    assert len(folders) == 4 and all(p.is_absolute() for p in folders.values())
