"""CIS Docker 1.8.0 4.8 (setuid/setgid files) and 4.9 (COPY rather than ADD) on real images.

Image tarballs (docker-archive and OCI layout) are written with the build histories each
verdict turns on and scanned through the real command line; then images built by the real
dockerd (classic builder and BuildKit, ``FROM`` an imported busybox, ``ADD`` of a local tar)
are scanned as ``image:docker-daemon:NAME:TAG``. The BuildKit image's evidence is the golden
fixture ``tests/rules/image-copy-not-add/fail-dockerd-buildkit-local-tar.json``:
``ASSESSOR_WRITE_FIXTURES=1`` rewrites it from this run; otherwise the build steps the
collector records now must equal the fixture's.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from assessor.errors import EvaluationError
from assessor.evaluate.image import image_copy_not_add, image_setuid_reviewed
from tests.conftest import ROOT, Docker, run_cli
from tests.secretcorpus import tar_bytes, write_docker_archive, write_oci_layout

SLOW = pytest.mark.slow  # the scans through the command line; the evaluator tests are fast

FIXTURE = ROOT / "tests/rules/image-copy-not-add/fail-dockerd-buildkit-local-tar.json"
BASE_ROOTFS = tar_bytes([("bin", 0o755, None), ("bin/sh", 0o755, b"#!/bin/true\n")])
BASE_ADD = f"/bin/sh -c #(nop) ADD file:{hashlib.sha256(BASE_ROOTFS).hexdigest()} in / "
SETUID_LAYER = tar_bytes(
    [
        ("bin", 0o755, None),
        ("bin/su", 0o4755, b"\x7fELF su"),
        ("usr", 0o755, None),
        ("usr/bin", 0o755, None),
        ("usr/bin/newgrp", 0o2755, b"\x7fELF newgrp"),
    ]
)
APP_LAYER = tar_bytes([("opt", 0o755, None), ("opt/app.conf", 0o644, b"listen=8080\n")])
# case: (the image's own step after the base rootfs, its layer, expected 4.9 verdict, words)
ADD_CASES: dict[str, tuple[str, bytes, str, tuple[str, ...]]] = {
    "base-only": (
        '/bin/sh -c #(nop)  CMD ["sh"]',
        b"",
        "pass",
        ("base root filesystem, not judged", "step 1: /bin/sh -c #(nop) ADD file:"),
    ),
    "local-archive": (
        "ADD vendor.tar.gz /opt/ # buildkit",
        APP_LAYER,
        "fail",
        ("1 ADD unpacking a local archive", "step 2: ADD vendor.tar.gz /opt/", "not judged"),
    ),
    "remote": (
        "ADD https://downloads.example.com/tool.tgz /opt/ # buildkit",
        APP_LAYER,
        "fail",
        ("1 ADD of a remote URL", "worst case", "step 2: ADD https://downloads.example.com"),
    ),
    "copy-only": (
        "COPY app.conf /opt/app.conf # buildkit",
        APP_LAYER,
        "pass",
        ("no ADD in the image's own build steps", "base root filesystem, not judged"),
    ),
    "setuid": (
        "COPY bin usr / # buildkit",
        SETUID_LAYER,
        "pass",
        ("base root filesystem, not judged",),
    ),
}
ORG_RULE = """\
id: {id}
title: Setuid and setgid files are on our reviewed list
description: Every setuid or setgid file in an image is on the list our security team reviewed.
rationale: CIS Docker 4.8 leaves each file to the reviewer; this list is our review.
severity: medium
target: image
evidence: [files.setuid]
check:
  function: image_setuid_reviewed
  args:
    allowed: {allowed}
"""


def _config(step: str, layer: bytes) -> tuple[dict[str, Any], list[bytes]]:
    history: list[dict[str, Any]] = [{"created": "2026-11-01T00:00:00Z", "created_by": BASE_ADD}]
    history.append({"created": "2026-11-01T00:00:00Z", "created_by": step})
    if not layer:
        history[-1]["empty_layer"] = True
    config = {
        "created": "2026-11-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["sh"]},
        "history": history,
    }
    return config, [BASE_ROOTFS, *([layer] if layer else [])]


def _results(doc: dict[str, Any], rule: str) -> dict[str, tuple[str, str]]:
    return {r["resource"]: (r["status"], r["message"]) for r in doc["results"] if r["rule"] == rule}


def _on(results: dict[str, tuple[str, str]], transport: str) -> dict[str, tuple[str, str]]:
    return {k: v for k, v in results.items() if k.startswith(transport + ":")}


def _for(results: dict[str, tuple[str, str]], case: str) -> tuple[str, str]:
    (hit,) = [v for res, v in results.items() if f"/{case}." in res or f"/{case}:" in res]
    return hit


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case as a docker-archive and as an OCI layout, scanned in one run, with an
    organisation's controls folder holding two allow-lists for the setuid image."""
    work = tmp_path_factory.mktemp("image-verdicts")
    targets = []
    for case, (step, layer, _, _) in ADD_CASES.items():
        config, layers = _config(step, layer)
        write_docker_archive(work / f"{case}.tar", config, layers, f"verdicts/{case}:1")
        write_oci_layout(work / "oci" / f"{case}.d", config, layers, "1")
        targets += [f"image:docker-archive:{work / case}.tar", f"image:oci:{work}/oci/{case}.d"]
    org = work / "org-controls" / "rules" / "image"
    org.mkdir(parents=True)
    for rid, allowed in (
        ("org-setuid-su-only", ["/bin/su"]),
        ("org-setuid-both", ["/bin/su", "/usr/bin/newgrp"]),
    ):
        (org / f"{rid}.yaml").write_text(ORG_RULE.format(id=rid, allowed=json.dumps(allowed)))
    db = f"sqlite:///{work / 'a.db'}"
    run = run_cli(
        "scan", *targets, "--controls", str(work / "org-controls"), "--format", "json", db=db
    )
    assert run.code in (0, 1), run.err
    assert "Traceback" not in run.err
    return run.json()


@SLOW
@pytest.mark.parametrize("case", list(ADD_CASES))
def test_copy_not_add_verdicts(written: dict[str, Any], case: str) -> None:
    """4.9 on both transports: a later ADD of a local archive fails (it passed before), a
    remote ADD fails as the worst case, the base image's rootfs ADD is named, not judged."""
    results = _results(written, "image-copy-not-add")
    _, _, expected, words = ADD_CASES[case]
    for transport in ("docker-archive", "oci"):
        status, message = _for(_on(results, transport), case)
        assert status == expected, (transport, case, message)
        for word in words:
            assert word in message, (transport, case, message)


@SLOW
def test_setuid_is_for_the_reviewer_unless_the_organisation_set_a_list(
    written: dict[str, Any],
) -> None:
    """4.8: the built-in rule lists each setuid/setgid file (mode, owner) for the reviewer
    (manual), and passes when there is none; an organisation's allow-list fails only the
    files outside it."""
    for transport in ("docker-archive", "oci"):
        mine = _on(_results(written, "image-setuid-removed"), transport)
        status, message = _for(mine, "setuid")
        assert status == "manual", message
        assert "/bin/su (file 4755, uid 0:0, setuid)" in message, message
        assert "/usr/bin/newgrp (file 2755, uid 0:0, setgid)" in message, message
        assert "2 setuid/setgid files to review" in message, message
        status, message = _for(mine, "copy-only")
        assert status == "pass", message
        status, message = _for(_on(_results(written, "org-setuid-su-only"), transport), "setuid")
        assert status == "fail", message
        assert "1 setuid/setgid file outside the allow-list" in message
        assert "/usr/bin/newgrp (file 2755" in message and "allow-listed: /bin/su" in message
        status, message = _for(_on(_results(written, "org-setuid-both"), transport), "setuid")
        assert status == "pass", message
        assert "all 2 on the allow-list" in message, message


def _build(docker: Docker, context: Path, tag: str, buildkit: bool) -> None:
    proc = subprocess.run(
        [docker.cli, "build", "-q", "--label", f"assessor.test={docker.label}", "-t", tag, "."],
        cwd=context,
        capture_output=True,
        timeout=180,
        env={**os.environ, "DOCKER_BUILDKIT": "1" if buildkit else "0"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()


def _stored(db: str) -> list[dict[str, Any]]:
    con = sqlite3.connect(db.removeprefix("sqlite:///"))
    try:
        rows = con.execute("SELECT body FROM evidence").fetchall()
    finally:
        con.close()
    return [json.loads(zlib.decompress(body)) for (body,) in rows]


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    keep = ("instruction", "add", "empty_layer")
    return [{k: s[k] for k in keep if k in s} for s in doc["data"]["history"]]


@SLOW
@pytest.mark.docker
def test_dockerd_built_local_tar_add(docker: Docker, tmp_path: Path) -> None:
    """Images built by the real dockerd from the imported busybox with ``ADD local.tar``: both
    builders' histories fail 4.9 (BuildKit's ``ADD local.tar /opt/ # buildkit`` passed as
    "only unpacks archives" before), and the BuildKit image's evidence is the golden fixture."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "local.tar").write_bytes(APP_LAYER)
    (ctx / "Dockerfile").write_text(f"FROM {docker.image}\nADD local.tar /opt/\n")
    tag = docker.label[:12]
    built = {"buildkit": f"assessor-test/add-bk:{tag}", "classic": f"assessor-test/add-cl:{tag}"}
    try:
        for builder, ref in built.items():
            _build(docker, ctx, ref, buildkit=builder == "buildkit")
        db = f"sqlite:///{tmp_path / 'a.db'}"
        run = run_cli(
            "scan", *(f"image:docker-daemon:{r}" for r in built.values()), "--format", "json",
            db=db,
        )  # fmt: skip
        assert run.code in (0, 1), run.err
        results = _results(run.json(), "image-copy-not-add")
        for builder, ref in built.items():
            status, message = results[f"docker-daemon:{ref}"]
            assert status == "fail", (builder, message)
            assert "not judged" not in message, message  # the import layer is no ADD
        bk = results[f"docker-daemon:{built['buildkit']}"][1]
        assert "1 ADD unpacking a local archive" in bk and "ADD local.tar /opt/" in bk, bk
        cl = results[f"docker-daemon:{built['classic']}"][1]
        assert "1 ADD of local files where COPY would do" in cl, cl
        (doc,) = [
            d for d in _stored(db) if d.get("resource") == f"docker-daemon:{built['buildkit']}"
        ]
    finally:
        docker("rmi", "-f", *built.values(), check=False)
    if os.environ.get("ASSESSOR_WRITE_FIXTURES") == "1":
        FIXTURE.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    golden = json.loads(FIXTURE.read_text())
    assert _steps(doc) == _steps(golden), "the collector records other steps than the fixture"
    assert doc["data"]["history"][-1]["created_by"] == "ADD local.tar /opt/ # buildkit"


@SLOW
def test_setuid_list_cut_short_is_for_the_reviewer(tmp_path: Path) -> None:
    """When the collector names fewer files than it counted (``max_findings``), an allow-list
    covering the named ones cannot pass the rest: manual, saying how many went unnamed."""
    config, layers = _config(ADD_CASES["setuid"][0], SETUID_LAYER)
    write_docker_archive(tmp_path / "setuid.tar", config, layers, "verdicts/setuid:1")
    org = tmp_path / "org" / "rules" / "image"
    org.mkdir(parents=True)
    rule = ORG_RULE.format(id="org-setuid-both", allowed='["/bin/su", "/usr/bin/newgrp"]')
    (org / "org-setuid-both.yaml").write_text(rule)
    run = run_cli(
        "scan", f"image:docker-archive:{tmp_path / 'setuid.tar'}", "--image-limit",
        "max_findings=1", "--controls", str(tmp_path / "org"), "--format", "json",
        db=f"sqlite:///{tmp_path / 'a.db'}",
    )  # fmt: skip
    assert run.code in (0, 1), run.err
    (status, message), *_ = _results(run.json(), "org-setuid-both").values()
    assert status == "manual", message
    assert "the evidence names 1, all on the allow-list; 1 more to review" in message, message


def _fixture(rule: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "tests/rules" / rule / name).read_text())["data"]
    return data


def test_setuid_allow_list_on_collected_evidence() -> None:
    """image_setuid_reviewed on the collector's evidence of busybox with its setuid bit."""
    data = _fixture("image-setuid-removed", "manual-busybox-setuid.json")
    out = image_setuid_reviewed(data, {})
    assert out.status == "manual" and "1 setuid/setgid file to review" in out.message
    assert "/bin/busybox (file 4755, uid 0:0, setuid)" in out.message
    out = image_setuid_reviewed(data, {"allowed": ["/bin/busybox"]})
    assert out.status == "pass", out.message
    assert out.message == "1 setuid/setgid file, all 1 on the allow-list: /bin/busybox"
    out = image_setuid_reviewed(data, {"allowed": ["/bin/su"]})
    assert out.status == "fail", out.message
    assert out.message.startswith("1 setuid/setgid file outside the allow-list: /bin/busybox")
    assert out.message.endswith("| allow-listed: none")
    for bad in ("/bin/busybox", ["bin/busybox"], [1]):
        with pytest.raises(EvaluationError, match="absolute paths"):
            image_setuid_reviewed(data, {"allowed": bad})
    none = _fixture("image-setuid-removed", "pass-none.json")
    assert image_setuid_reviewed(none, {"allowed": ["/bin/su"]}).status == "pass"
    assert image_setuid_reviewed(none, {}).message == "no setuid or setgid file in the image"
    # more files counted than named (max_findings), all named ones allowed: for the reviewer
    cut = {"files": {"setuid": {**data["files"]["setuid"], "count": 3, "truncated": True}}}
    out = image_setuid_reviewed(cut, {"allowed": ["/bin/busybox"]})
    assert out.status == "manual", out.message
    assert "the evidence names 1, all on the allow-list; 2 more to review" in out.message


def test_copy_not_add_on_collected_evidence() -> None:
    """image_copy_not_add on the dockerd BuildKit image's evidence, and on its steps as the
    collector classifies the other ADD forms."""
    data = _fixture("image-copy-not-add", "fail-dockerd-buildkit-local-tar.json")
    out = image_copy_not_add(data, {})
    assert out.status == "fail"
    assert out.message == (
        "1 ADD unpacking a local archive (COPY it and unpack in a RUN step): "
        "step 2: ADD local.tar /opt/ # buildkit"
    )
    base = {
        "step": 1,
        "instruction": "ADD",
        "created_by": BASE_ADD,
        "add": {"source": "base-rootfs"},
    }
    only = image_copy_not_add({"history": [base]}, {})
    assert only.status == "pass"
    assert only.message.startswith("no ADD in the image's own build steps (base root filesystem")
    steps = [base, *data["history"]]
    with_base = image_copy_not_add({"history": steps}, {})
    assert with_base.status == "fail" and with_base.message.endswith(
        f"| base root filesystem, not judged: step 1: {BASE_ADD}"
    )
    odd = {**base, "add": {"source": "elsewhere"}}
    with pytest.raises(EvaluationError, match="no known source"):
        image_copy_not_add({"history": [odd]}, {})
    assert image_copy_not_add({"history": []}, {}).message == (
        "no ADD instruction in the recorded build steps"
    )
