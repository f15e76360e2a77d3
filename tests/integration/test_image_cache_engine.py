"""On a real dockerd: an engine scan reuses the content of an image it read before (same
evidence, same read_at), reads a new image, reads everything again with
--image-cache-days 0, and keeps no secret's value in its cache."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from assessor.store import open_store, queries
from tests.conftest import SOCKET, Docker, busybox_rootfs_tar, run_cli

pytestmark = pytest.mark.docker

ENGINE = f"engine:unix://{SOCKET}"
SECRET = "cache-test-" + uuid.uuid4().hex  # 43 characters: fingerprinted, never kept


def _image(docker: Docker, name: str, env: str) -> str:
    """A labelled image of its own content (a file of its own), with ``env`` in its config."""
    buf = io.BytesIO(busybox_rootfs_tar())
    with tarfile.open(fileobj=buf, mode="a") as tar:
        mark = uuid.uuid4().hex.encode()
        info = tarfile.TarInfo("etc/mark")
        info.size = len(mark)
        tar.addfile(info, io.BytesIO(mark))
    ref = f"assessor-test/{name}:{docker.label[:12]}"
    docker(
        "import",
        "--change",
        f"LABEL assessor.test={docker.label}",
        "--change",
        f"ENV {env}",
        "-",
        ref,
        input=buf.getvalue(),
    )
    return ref


def _images(db: str, ref: str) -> dict[str, Any]:
    """The stored evidence of the image ``ref`` in the newest assessment: {read_at, hash, doc}."""
    store = open_store(db)
    try:
        with store.session() as s:
            row = s.execute(
                text(
                    "select te.evidence_hash from target_evidence te join target t "
                    "on t.id = te.target_id where te.resource = :r order by t.assessment_id desc"
                ),
                {"r": f"docker-daemon:{ref}"},
            ).first()
        assert row is not None, ref
        doc = queries.get_evidence(store, row[0])
    finally:
        store.close()
    assert doc is not None
    return {"hash": row[0], "read_at": doc["data"]["read_at"], "data": doc["data"]}


def _scan(db: str, cache: Path, *flags: str) -> None:
    run = run_cli("scan", ENGINE, *flags, db=db, env={"ASSESSOR_CACHE_DIR": str(cache)})
    assert run.code in (0, 1), run.err


def test_engine_images_are_read_once_and_reused(docker: Docker, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    db = f"sqlite:///{tmp_path / 'a.db'}"
    first_ref = _image(docker, "cached", f"DB_PASSWORD={SECRET}")
    try:
        _scan(db, cache)
        first = _images(db, first_ref)
        assert "DB_PASSWORD=<redacted" in json.dumps(first["data"]["config"]["Env"])
        kept = list((cache / "images").glob("*.json"))
        assert kept
        for entry in kept:  # what lies on the disk: plain JSON, no secret in it
            assert SECRET not in entry.read_text()

        time.sleep(1.1)  # a new reading would have a later read_at
        second_ref = _image(docker, "cached-new", "MODE=plain")
        _scan(db, cache)
        again = _images(db, first_ref)
        assert again["hash"] == first["hash"]  # the same evidence: reused, not read again
        assert again["read_at"] == first["read_at"]
        new = _images(db, second_ref)
        assert new["read_at"] > first["read_at"]  # an image not seen before is read

        time.sleep(1.1)
        _scan(db, cache, "--image-cache-days", "0")
        fresh = _images(db, first_ref)
        assert fresh["read_at"] > again["read_at"]  # read again
        same = {k: v for k, v in fresh["data"].items() if k != "read_at"}
        assert same == {k: v for k, v in first["data"].items() if k != "read_at"}
    finally:
        docker("rmi", "-f", first_ref, check=False)
        docker("rmi", "-f", f"assessor-test/cached-new:{docker.label[:12]}", check=False)


def test_a_bad_cache_setting_is_one_line(tmp_path: Path) -> None:
    run = run_cli(
        "scan",
        "host:/nonexistent",
        "--image-cache-days",
        "-1",
        db=f"sqlite:///{tmp_path / 'a.db'}",
    )
    assert run.code == 2
    assert "Traceback" not in run.err
    assert "--image-cache-days" in run.err
