"""``assessor collect`` then ``assessor ingest``, through the real command line, on SQLite and
on PostgreSQL: the same evidence and results as a scan, stored once however often (and from
however many processes at once) a bundle is ingested, and a refused bundle stores nothing."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from assessor.sign.keys import init_keys
from tests.conftest import ROOT, Run, require_module, run_cli, sql
from tests.secretcorpus import tar_bytes, write_docker_archive

require_module("pyhanko", "the report extra")

SECRET = "AKIAZ7QW4NRT2XKP9LMB"


def _root(tmp_path: Path, name: str, icc: bool) -> Path:
    """An offline host root: a daemon.json and a docker.service unit, owned as they come."""
    root = tmp_path / name
    (root / "etc" / "docker").mkdir(parents=True)
    (root / "etc" / "docker" / "daemon.json").write_text(
        json.dumps({"icc": icc, "live-restore": True})
    )
    unit = root / "usr" / "lib" / "systemd" / "system"
    unit.mkdir(parents=True)
    (unit / "docker.service").write_text("[Service]\nExecStart=/usr/bin/dockerd -H fd://\n")
    return root


def _image(tmp_path: Path) -> Path:
    archive = tmp_path / "app.tar"
    layer = tar_bytes([("app", 0o755, None), ("app/run.sh", 0o4755, b"#!/bin/sh\n")])
    config = {"architecture": "amd64", "os": "linux", "config": {"Env": [f"AWS_KEY={SECRET}"]}}
    write_docker_archive(archive, config, [layer], "app:1")
    return archive


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    """The environment of a collector whose key directory holds a new identity."""
    folder = tmp_path / "keys"
    init_keys(folder, common_name="collector-1", organisation="fleet", passphrase=None)
    return {"ASSESSOR_KEY_DIR": str(folder)}


def _cli(*args: str, env: dict[str, str], db: str | None = None) -> Run:
    return run_cli(*args, db=db, env=env, timeout=300)


def _results(db: str, assessment: int) -> list[tuple[str, ...]]:
    return sorted(
        sql(
            db,
            "SELECT t.uri, r.rule, r.resource, r.status, r.message, COALESCE(r.evidence_hash, '') "
            "FROM result r JOIN target t ON t.id = r.target_id WHERE r.assessment_id = :a",
            a=assessment,
        )
    )


def _evidence(db: str, assessment: int) -> list[tuple[str, ...]]:
    return sorted(
        sql(
            db,
            "SELECT t.uri, t.status, te.evidence_hash, te.resource FROM target t "
            "JOIN target_evidence te ON te.target_id = t.id WHERE t.assessment_id = :a",
            a=assessment,
        )
    )


def _frames(path: Path) -> list[dict[str, Any]]:
    """The target frames of a bundle, read as any tar and gzip reader would."""
    with tarfile.open(path) as tf:
        return [
            json.loads(gzip.decompress(tf.extractfile(m).read()))  # type: ignore[union-attr]
            for m in tf
            if m.name.endswith(".json.gz")
        ]


def _sha256(doc: dict[str, Any]) -> str:
    """An evidence document's hash: SHA-256 of its canonical JSON (collected_at kept beside)."""
    body = {k: v for k, v in doc.items() if k != "collected_at"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _count(db: str, table: str) -> int:
    return int(sql(db, f"SELECT COUNT(*) FROM {table}")[0][0])


def test_collect_then_ingest_stores_what_a_scan_stores(
    store_url: str, tmp_path: Path, keys: dict[str, str]
) -> None:
    targets = [
        f"host:{_root(tmp_path, 'root', icc=True)}",
        f"image:docker-archive:{_image(tmp_path)}",
    ]
    scanned = _cli("scan", *targets, "--format", "json", env=keys, db=store_url)
    assert scanned.code == 0, scanned.err
    out = tmp_path / "web-1.bundle"
    collected = _cli("collect", *targets, "-o", str(out), env=keys)
    assert collected.code == 0, collected.err
    assert "2 target(s), 0 not collected" in collected.out
    assert "signed by collector-1 (fleet)" in collected.out
    frames = _frames(out)
    assert len(frames) == 2 and not any(SECRET in json.dumps(f) for f in frames)
    ingested = _cli("ingest", str(out), env=keys, db=store_url)
    assert ingested.code == 0, ingested.err
    assert f"{out}: stored as assessment 2 (complete)" in ingested.out
    # every document stored as the bundle carries it: the hash of its canonical JSON
    in_bundle = sorted(
        (f["target"], "collected", _sha256(d), d["resource"]) for f in frames for d in f["evidence"]
    )
    assert _evidence(store_url, 2) == in_bundle
    # and as a scan of the same targets stores them: the host's documents are the same;
    # an image's differ in when it was read (data.read_at) alone, so its results are the
    # same but for the evidence hash they cite
    host, image = targets
    scan_ev, ingest_ev = _evidence(store_url, 1), _evidence(store_url, 2)
    assert [e for e in ingest_ev if e[0] == host] == [e for e in scan_ev if e[0] == host]
    assert [e[3] for e in ingest_ev if e[0] == image] == [e[3] for e in scan_ev if e[0] == image]
    for doc in (d for f in frames for d in f["evidence"] if f["target"] == image):
        assert "read_at" in doc["data"]
    scanned_results, ingested_results = _results(store_url, 1), _results(store_url, 2)
    assert [r for r in ingested_results if r[0] == host] == [
        r for r in scanned_results if r[0] == host
    ]
    assert [r[:5] for r in ingested_results] == [r[:5] for r in scanned_results]
    assert len(scanned_results) > 50
    (host, note, scope) = sql(
        store_url, "SELECT scanner_host, note, scope FROM assessment WHERE id = 2"
    )[0]
    assert host == os.uname().nodename
    assert note.startswith("from evidence bundle ") and "signed by collector-1 (fleet)" in note
    assert (json.loads(scope) if isinstance(scope, str) else scope) == targets


def test_the_same_bundle_twice_stores_once(
    store_url: str, tmp_path: Path, keys: dict[str, str]
) -> None:
    out = tmp_path / "b.bundle"
    assert (
        _cli("collect", f"host:{_root(tmp_path, 'r', icc=False)}", "-o", str(out), env=keys).code
        == 0
    )
    first = _cli("ingest", str(out), str(out), "--system", "fleet", env=keys, db=store_url)
    assert first.code == 0, first.err
    assert f"{out}: stored as assessment 1" in first.out
    assert f"{out}: already stored as assessment 1; nothing added" in first.out
    counts = {t: _count(store_url, t) for t in ("assessment", "target", "result", "evidence")}
    again = _cli("ingest", str(out), "--format", "json", env=keys, db=store_url)
    assert again.code == 0, again.err
    assert again.json()["bundles"][0]["stored"] is False
    assert again.json()["bundles"][0]["assessment"] == 1
    assert {t: _count(store_url, t) for t in counts} == counts
    assert counts["assessment"] == 1 and _count(store_url, "ingested_bundle") == 1


def test_a_refused_bundle_stores_nothing_and_the_others_are_stored(
    store_url: str, tmp_path: Path, keys: dict[str, str]
) -> None:
    good, bad = tmp_path / "good.bundle", tmp_path / "bad.bundle"
    for path, icc in ((good, True), (bad, False)):
        root = _root(tmp_path, path.stem, icc)
        assert _cli("collect", f"host:{root}", "-o", str(path), env=keys).code == 0
    data = bytearray(bad.read_bytes())
    at = data.rindex(b"\x1f\x8b")  # inside the last gzip member: its stored bytes change
    data[at + 40] ^= 0xFF
    bad.write_bytes(bytes(data))
    run = _cli("ingest", str(bad), str(good), env=keys, db=store_url)
    assert run.code == 2
    assert (
        f"assessor: error: {bad}: refused: member target-00001.json.gz does not match its "
        "SHA-256 in the manifest (changed after collection)"
    ) in run.err
    assert "Traceback" not in run.err
    assert f"{good}: stored as assessment 1" in run.out
    assert _count(store_url, "assessment") == 1 and _count(store_url, "ingested_bundle") == 1


def test_unsigned_bundles_are_stored_only_when_allowed_and_say_so(
    store_url: str, tmp_path: Path, keys: dict[str, str]
) -> None:
    out = tmp_path / "u.bundle"
    run = _cli(
        "collect", f"host:{_root(tmp_path, 'u', icc=True)}", "-o", str(out), "--unsigned", env=keys
    )
    assert run.code == 0 and "UNSIGNED" in run.out
    refused = _cli("ingest", str(out), env=keys, db=store_url)
    assert refused.code == 2
    assert f"{out}: refused: the bundle is not signed (collected with --unsigned)" in refused.err
    assert _count(store_url, "assessment") == 0
    stored = _cli(
        "ingest", str(out), "--allow-unsigned", "--period", "2026-Q3", env=keys, db=store_url
    )
    assert stored.code == 0, stored.err
    note, period = sql(store_url, "SELECT note, period FROM assessment")[0]
    assert note.startswith("from an UNSIGNED evidence bundle ") and period == "2026-Q3"
    assert sql(store_url, "SELECT signer FROM ingested_bundle") == [(None,)]


def test_a_bundle_from_an_untrusted_collector_is_refused_until_trusted(
    store_url: str, tmp_path: Path, keys: dict[str, str]
) -> None:
    out = tmp_path / "s.bundle"
    other = {"ASSESSOR_KEY_DIR": str(tmp_path / "other")}
    init_keys(tmp_path / "other", common_name="stranger", organisation=None, passphrase=None)
    assert (
        _cli("collect", f"host:{_root(tmp_path, 's', icc=True)}", "-o", str(out), env=other).code
        == 0
    )
    refused = _cli("ingest", str(out), env=keys, db=store_url)
    assert refused.code == 2 and "is NOT trusted" in refused.err and "CN=stranger" in refused.err
    trusted = _cli(
        "ingest",
        str(out),
        "--trust",
        str(tmp_path / "other" / "signing-cert.pem"),
        env=keys,
        db=store_url,
    )
    assert trusted.code == 0, trusted.err


def test_an_unreachable_target_is_written_and_stored_with_its_error(
    tmp_path: Path, keys: dict[str, str], db: str
) -> None:
    out = tmp_path / "f.bundle"
    missing = tmp_path / "no-such-root"
    run = _cli(
        "collect",
        f"host:{_root(tmp_path, 'ok', icc=True)}",
        f"host:{missing}",
        "-o",
        str(out),
        env=keys,
    )
    assert run.code == 3, run.err
    assert "1 not collected" in run.out and str(missing) in run.err
    ingested = _cli("ingest", str(out), env=keys, db=db)
    assert ingested.code == 3
    assert sql(db, "SELECT status FROM assessment") == [("incomplete",)]
    statuses = dict(sql(db, "SELECT uri, status FROM target"))
    assert statuses[f"host:{missing}"] == "unreachable"


def test_concurrent_ingests_from_several_processes_store_each_bundle_once(
    store_url: str, tmp_path: Path, keys: dict[str, str]
) -> None:
    bundles = []
    for n in range(3):
        path = tmp_path / f"h{n}.bundle"
        assert (
            _cli(
                "collect",
                f"host:{_root(tmp_path, f'h{n}', icc=n % 2 == 0)}",
                "-o",
                str(path),
                env=keys,
            ).code
            == 0
        )
        bundles.append(str(path))
    # the store exists before the race (its migrations are tested racing elsewhere)
    assert _cli("assessments", env=keys, db=store_url).code == 0
    env = {**os.environ, **keys, "ASSESSOR_DB": store_url}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "assessor", "ingest", *bundles[n % 3 :], *bundles[: n % 3]],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(6)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [e for _, e in outs]
    assert _count(store_url, "assessment") == 3
    assert _count(store_url, "ingested_bundle") == 3
    stored = sum(o.count("stored as assessment") - o.count("already stored") for o, _ in outs)
    assert stored == 3
    assert sum(o.count("already stored as assessment") for o, _ in outs) == 15


def test_collect_reads_its_targets_from_an_inventory(
    tmp_path: Path, keys: dict[str, str], db: str
) -> None:
    roots = [_root(tmp_path, f"i{n}", icc=True) for n in range(2)]
    inventory = tmp_path / "hosts.txt"
    inventory.write_text("# two offline roots\n" + "".join(f"host:{r}\n" for r in roots))
    out = tmp_path / "i.bundle"
    run = _cli("collect", "-i", str(inventory), "-o", str(out), env=keys)
    assert run.code == 0, run.err
    assert [f["target"] for f in _frames(out)] == [f"host:{r}" for r in roots]
    assert _cli("ingest", str(out), env=keys, db=db).code == 0
    assert sorted(u for (u,) in sql(db, "SELECT uri FROM target")) == [f"host:{r}" for r in roots]


def test_jobs_judge_bundles_in_processes_and_store_the_same_in_order(
    store_url: str, tmp_path: Path, keys: dict[str, str]
) -> None:
    paths = []
    for n in range(4):
        path = tmp_path / f"j{n}.bundle"
        root = _root(tmp_path, f"j{n}", icc=n % 2 == 0)
        assert _cli("collect", f"host:{root}", "-o", str(path), env=keys).code == 0
        paths.append(str(path))
    bad = tmp_path / "bad.bundle"
    with tarfile.open(paths[0]) as tf:
        cut = tf.getmember("target-00001.json.gz").offset_data + 100
    bad.write_bytes(Path(paths[0]).read_bytes()[:cut])  # cut short inside the frame
    order = [paths[0], str(bad), *paths[1:], paths[0]]
    serial = f"sqlite:///{tmp_path / 'serial.db'}"
    one = _cli("ingest", *order, env=keys, db=serial)
    many = _cli("ingest", *order, "--jobs", "3", env=keys, db=store_url)
    assert (one.code, many.code) == (2, 2)
    assert many.out == one.out  # the same lines in the order given
    assert many.err == one.err and str(bad) in many.err
    assert f"{paths[0]}: already stored as assessment 1; nothing added" in many.out
    for n in (1, 2, 3, 4):
        assert _results(store_url, n) == _results(serial, n)
        assert _evidence(store_url, n) == _evidence(serial, n)
    assert _count(store_url, "assessment") == 4


def test_the_report_says_where_the_evidence_came_from(
    tmp_path: Path, keys: dict[str, str], db: str
) -> None:
    """The cover names the bundle and its signer; an unsigned one is a warning an auditor
    cannot miss. A scanned assessment's cover has neither."""
    require_module("weasyprint", "the report extra")
    signed, unsigned = tmp_path / "s.bundle", tmp_path / "u.bundle"
    assert (
        _cli("collect", f"host:{_root(tmp_path, 's', icc=True)}", "-o", str(signed), env=keys).code
        == 0
    )
    root = _root(tmp_path, "u", icc=False)
    assert _cli("collect", f"host:{root}", "-o", str(unsigned), "--unsigned", env=keys).code == 0
    assert _cli("ingest", str(signed), str(unsigned), "--allow-unsigned", env=keys, db=db).code == 0
    assert _cli("scan", f"host:{root}", env=keys, db=db).code == 0
    covers = {}
    for n in (1, 2, 3):
        out = tmp_path / f"r{n}.html"
        run = _cli("report", str(n), "-o", str(out), env=keys, db=db)
        assert run.code == 0, run.err
        html = out.read_text()
        covers[n] = html[
            html.index('id="cover"') : html.index("</section>", html.index('id="cover"'))
        ]
    assert 'id="bundle">from evidence bundle ' in covers[1]
    assert "signed by collector-1 (fleet), collected on " in covers[1]
    assert 'id="unsigned-bundle"' not in covers[1]
    assert 'id="bundle">from an UNSIGNED evidence bundle ' in covers[2]
    assert 'id="unsigned-bundle"' in covers[2] and "who collected it is not proven" in covers[2]
    assert 'id="bundle"' not in covers[3] and 'id="unsigned-bundle"' not in covers[3]


def test_collect_hostname_names_the_machine_the_bundle_says_it_collected(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    """A collector in a pod reading a node's root names the node (--hostname, or
    ASSESSOR_HOSTNAME), so the pod needs no host network to carry the node's hostname."""
    root = _root(tmp_path, "r", icc=False)
    out, env_out = tmp_path / "named.bundle", tmp_path / "env.bundle"
    named = _cli("collect", f"host:{root}", "--hostname", "node-7", "-o", str(out), env=keys)
    assert named.code == 0, named.err
    by_env = _cli("collect", f"host:{root}", "-o", str(env_out),
                  env={**keys, "ASSESSOR_HOSTNAME": "node-8"})  # fmt: skip
    assert by_env.code == 0, by_env.err
    db = f"sqlite:///{tmp_path / 'c.db'}"
    stored = _cli("ingest", str(out), str(env_out), env=keys, db=db)
    assert stored.code == 0, stored.err
    assert sql(db, "SELECT scanner_host FROM assessment ORDER BY id") == [("node-7",), ("node-8",)]
    bad = _cli("collect", f"host:{root}", "--hostname", "a\tb", "-o", str(tmp_path / "x"), env=keys)
    assert bad.code == 2 and "--hostname" in bad.err and "Traceback" not in bad.err
    assert not (tmp_path / "x").exists()


def test_a_folder_is_its_bundles_in_name_order(tmp_path: Path, keys: dict[str, str]) -> None:
    """What a user types first for a folder of collected bundles: the folder. Its *.bundle
    files are ingested by name (other files and sub-folders left alone); a folder without
    one is a one-line error."""
    folder = tmp_path / "bundles"
    (folder / "older").mkdir(parents=True)
    for name in ("b-web", "a-db"):
        root = _root(tmp_path, name, icc=False)
        assert (
            _cli("collect", f"host:{root}", "-o", str(folder / f"{name}.bundle"), env=keys).code
            == 0
        )
    (folder / "notes.txt").write_text("not a bundle")
    (folder / "older" / "c.bundle").write_bytes((folder / "a-db.bundle").read_bytes())
    db = f"sqlite:///{tmp_path / 'c.db'}"
    run = _cli("ingest", str(folder), env=keys, db=db)
    assert run.code == 0, run.err
    assert [line.split(":")[0] for line in run.out.splitlines()] == [
        str(folder / "a-db.bundle"),
        str(folder / "b-web.bundle"),
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    none = _cli("ingest", str(empty), env=keys, db=db)
    assert none.code == 2 and f"{empty}: a folder with no *.bundle file in it" in none.err
    assert "Traceback" not in none.err
