"""Every image of the hostile corpus ends in a clear error, and nothing is written outside.

The corpus is tests/fixtures/hostile (made by tests/fixtures/make_hostile.py; its two large
cases are written here, on demand). Each case is scanned by the real command line, in a
working directory of its own, with HOME pointing into it: the scan must exit 2 with one
``assessor: error:`` line per image naming the image and its defect, print no traceback,
write nothing but its database, create none of the files the case aims at, and leave the
assessments already stored intact.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
LISTING = json.loads((CORPUS / "cases.json").read_text())
CASES: dict[str, dict[str, Any]] = LISTING["cases"]
# what the one-line error must say, by case: the reader names the defect, not just "error"
REASON = {
    "path-traversal": "escapes the image root",
    "path-absolute": "absolute member path",
    "path-blob-digest": "invalid digest",
    "link-symlink-escape": "escapes the image root",
    "link-hardlink-outside": "escapes the image root",
    "link-hardlink-forward": "a path in no layer below",
    "bomb-entry-count": "more than max_entries (100000)",
    "bomb-gzip": "max_ratio",
    "bomb-zstd": "max_ratio",
    "corrupt-truncated-gzip": "ended",
    "corrupt-gzip-garbage": "corrupt",
    "integrity-digest": "digest mismatch",
    "integrity-diff-id": "diff_id mismatch",
    "header-huge-pax": "max_header_bytes",
    "header-huge-path-pax": "max_header_bytes",
    "header-huge-path-gnu": "max_header_bytes",
    "loop-index-self": "does not match its digest",
    "loop-index-mutual": "does not match its digest",
    "loop-index-deep": "max_index_depth",
    "size-config": "max_config_bytes",
    "size-manifest": "max_manifest_bytes",
    "json-config-malformed": "not valid JSON",
    "json-config-not-object": "expected a JSON object",
    "missing-layer-blob": "missing",
    "format-layer-media-type": "unsupported media type",
    "docker-path-manifest-layer": "escapes the image root",
    "docker-path-outer-member": "escapes the image root",
    "docker-corrupt-truncated": "truncated",
    "docker-format-no-manifest": "no manifest.json",
    "docker-corrupt-layer-not-tar": "corrupt",
}
# where the cases try to write, if a reader were to extract them
SENTINELS = ["/tmp/assessor-pwned", "/etc/assessor-pwned", "/etc/evil", "/dev/evil-null"]


def _generator() -> Any:
    path = CORPUS.parent / "make_hostile.py"
    spec = importlib.util.spec_from_file_location("make_hostile", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the corpus plus the on-demand cases (the originals are never scanned in place)."""
    root = tmp_path_factory.mktemp("hostile") / "corpus"
    shutil.copytree(CORPUS, root)
    gen = _generator()
    for name, entry in CASES.items():
        if entry.get("on_demand"):
            gen.CASES[name].build(root / gen.CASES[name].path)
    return root


def _target(corpus: Path, entry: dict[str, Any]) -> str:
    transport, _, rel = entry["target"].partition(":")
    return f"image:{transport}:{corpus / rel}"


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_every_case_is_listed_with_a_reason() -> None:
    assert set(REASON) | {"device-nodes"} == set(CASES)


@pytest.mark.slow
def test_each_hostile_image_ends_in_a_clear_error(corpus: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    db = f"sqlite:///{work / 'a.db'}"
    env = {"HOME": str(work), "ASSESSOR_CACHE_DIR": ""}
    control = run_cli("scan", f"image:oci:{corpus / 'valid-oci'}", db=db, env=env, cwd=work)
    assert control.code in (0, 1), control.err
    before = _tree(work)
    corpus_before = {p: (corpus / p).stat().st_mtime_ns for p in _tree(corpus)}

    names = sorted(REASON)
    targets = [_target(corpus, CASES[n]) for n in names]
    run = run_cli(
        "scan", *targets, "--image-limit", "max_entries=100000", db=db, env=env, cwd=work,
        timeout=600,
    )  # fmt: skip
    assert run.code == 2, run.err
    assert "Traceback" not in run.err and "Traceback" not in run.out
    errors = [line for line in run.err.splitlines() if line.startswith("assessor: error:")]
    assert len(errors) == len(names), run.err
    for name, target, line in zip(names, targets, errors, strict=True):
        assert target in line, (name, line)
        assert REASON[name] in line, (name, line)
        assert len(line) < 600, (name, line)

    # nothing written outside the database, nothing created where the cases aim
    assert _tree(work) - before <= {"a.db-wal", "a.db-shm", "a.db-journal"}
    assert {p: (corpus / p).stat().st_mtime_ns for p in _tree(corpus)} == corpus_before
    for path in SENTINELS:
        assert not os.path.lexists(path), path

    # what was stored before is intact; the hostile scan is stored, incomplete, with reasons
    listing = run_cli("assessments", "--format", "json", db=db, env=env, cwd=work)
    assert listing.code == 0, listing.err
    rows = json.loads(listing.out)
    rows = rows if isinstance(rows, list) else rows["assessments"]
    assert [r["status"] for r in sorted(rows, key=lambda r: r["id"])] == ["complete", "incomplete"]


@pytest.mark.slow
def test_device_nodes_are_reported_never_created(corpus: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    run = run_cli("scan", _target(corpus, CASES["device-nodes"]), "--format", "json", db=db)
    assert run.code == 0, run.err
    (result,) = [r for r in run.json()["results"] if r["rule"] == "image-no-device-files"]
    assert result["status"] == "fail"
    assert "/dev/evil-null (char device" in result["message"]
    assert "/dev/evil-sda (block device" in result["message"]
    assert not os.path.lexists("/dev/evil-null")


@pytest.mark.slow
def test_the_entry_count_bomb_passes_only_under_the_default_limit(
    corpus: Path, tmp_path: Path
) -> None:
    """200,000 empty files are within the default max_entries: the limit is what stops them."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    run = run_cli("scan", _target(corpus, CASES["bomb-entry-count"]), db=db, timeout=300)
    assert run.code in (0, 1), run.err
